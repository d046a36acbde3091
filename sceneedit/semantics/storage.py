"""On-disk store of a probe run: sampled codes and their scores in fixed-size chunks.

Layout of a run folder::

    probe.json                 manifest (generator fingerprint, predictor, N, seed, ...)
    chunks/000000.z.npy        [n, z_dim]  float32  the sampled noise
    chunks/000000.w.npy        [n, w_dim]  float32  untruncated W codes (when W is shared)
    chunks/000000.wp.npy       [n, L, w_dim]        truncated W+ codes (optional)
    chunks/000000.scores.npy   [n, S]      float32  predictor scores (written last)

Chunk ``c`` holds samples ``[c * chunk_size, min((c + 1) * chunk_size, N))``, drawn from
the seed ``SeedSequence([seed, c])``, so any chunk can be (re)made alone: a run resumes by
skipping chunks whose scores file exists, and shard ``i/n`` makes the chunks with
``c % n == i``. Every file is written to a temp name and renamed, and the scores file is
written last, so an interrupted chunk is simply redone. Reads go through memory maps, so
memory stays bounded by one chunk whatever N is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SceneeditError
from ..files import atomic_copy, atomic_write_json, atomic_write_npy, remove_stale_temporaries
from ..json_input import parse_json

MANIFEST_NAME = "probe.json"
CHUNK_DIR = "chunks"
STORE_FORMAT = "sceneedit-probe"
STORE_VERSION = 1
ARRAY_KINDS = ("z", "w", "wp", "scores")
#: Manifest fields that must agree between a resumed run (or merged shards) and its config.
IDENTITY_KEYS = (
    "num",
    "seed",
    "chunk_size",
    "generator",
    "predictor",
    "score_names",
    "truncation_psi",
    "truncation_layers",
    "w_shared",
    "store_wp",
)


class StoreError(SceneeditError, ValueError):
    """A probe folder is missing, corrupt, or belongs to a different run."""


def chunk_seed(seed: int, chunk: int) -> int:
    """The RNG seed of chunk ``chunk`` of a run seeded with ``seed`` (a uint32)."""
    return int(np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1)[0])


def parse_shard(text: str) -> tuple[int, int]:
    """``'2/8'`` -> ``(2, 8)``; shards are numbered from 0."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise StoreError(f"invalid shard {text!r}: expected 'i/n', e.g. '0/4'") from None
    if count < 1 or not 0 <= index < count:
        raise StoreError(f"invalid shard {text!r}: need 0 <= i < n")
    return index, count


@dataclass
class ProbeStore:
    """A probe run folder; ``manifest`` is the parsed ``probe.json``."""

    root: Path
    manifest: dict[str, Any]

    # ----- creation / opening ---------------------------------------------------------------
    @classmethod
    def create_or_resume(cls, root: str | os.PathLike, manifest: dict[str, Any]) -> ProbeStore:
        """Open ``root`` for writing ``manifest``'s run: a fresh folder gets the manifest; an
        existing run must be the same run (same :data:`IDENTITY_KEYS`), else an error."""
        root = Path(root)
        path = root / MANIFEST_NAME
        manifest = {"format": STORE_FORMAT, "format_version": STORE_VERSION, **manifest}
        if path.exists():
            existing = cls.open(root)
            for key in IDENTITY_KEYS:
                if existing.manifest.get(key) != manifest.get(key):
                    raise StoreError(
                        f"{root} holds a different probe run ({key}: {existing.manifest.get(key)!r} there, "
                        f"{manifest.get(key)!r} now); use another output folder"
                    )
            if existing.manifest.get("shard") != manifest.get("shard"):
                raise StoreError(f"{root} holds shard {existing.manifest.get('shard')}, not {manifest.get('shard')}")
            for folder in (root, root / CHUNK_DIR):  # half-written files of a killed run
                remove_stale_temporaries(folder)
            return existing
        if root.exists() and any(root.iterdir()):
            raise StoreError(f"{root} exists and is not empty (and is not a probe run); use another output folder")
        (root / CHUNK_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, manifest, indent=2, sort_keys=True)
        return cls(root, manifest)

    @classmethod
    def open(cls, root: str | os.PathLike) -> ProbeStore:
        """Open an existing run folder (read)."""
        root = Path(root)
        path = root / MANIFEST_NAME
        if not path.is_file():
            raise StoreError(f"{root}: no {MANIFEST_NAME}; not a probe run folder")
        try:
            manifest = parse_json(path.read_bytes(), str(path), StoreError, what="manifest")
        except OSError as exc:
            raise StoreError(f"{path}: unreadable manifest ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
            raise StoreError(f"{path}: not a sceneedit probe manifest")
        version = manifest.get("format_version", 0)
        if isinstance(version, bool) or not isinstance(version, int):
            raise StoreError(f"{path}: 'format_version' must be a whole number")
        if version > STORE_VERSION:
            raise StoreError(f"{path}: probe format {manifest.get('format_version')} is newer than supported")
        for key in ("num", "chunk_size", "seed", "score_names"):
            if key not in manifest:
                raise StoreError(f"{path}: manifest lacks {key!r}")
        return cls(root, manifest)

    # ----- geometry -------------------------------------------------------------------------
    @property
    def num(self) -> int:
        return int(self.manifest["num"])

    @property
    def chunk_size(self) -> int:
        return int(self.manifest["chunk_size"])

    @property
    def num_chunks(self) -> int:
        return -(-self.num // self.chunk_size)

    @property
    def score_names(self) -> list[str]:
        return list(self.manifest["score_names"])

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        start = chunk * self.chunk_size
        return start, min(start + self.chunk_size, self.num)

    def shard_chunks(self, shard: tuple[int, int] | None = None) -> list[int]:
        index, count = shard or (0, 1)
        return [c for c in range(self.num_chunks) if c % count == index]

    def chunk_path(self, chunk: int, kind: str) -> Path:
        if kind not in ARRAY_KINDS:
            raise ValueError(f"unknown array kind {kind!r}")
        return self.root / CHUNK_DIR / f"{chunk:06d}.{kind}.npy"

    # ----- completeness ---------------------------------------------------------------------
    def is_complete(self, chunk: int) -> bool:
        """Scores exist (they are written last) with the expected number of rows."""
        path = self.chunk_path(chunk, "scores")
        if not path.is_file():
            return False
        start, stop = self.chunk_range(chunk)
        try:
            scores = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return False
        return scores.shape == (stop - start, len(self.score_names))

    def missing_chunks(self, shard: tuple[int, int] | None = None) -> list[int]:
        return [c for c in self.shard_chunks(shard) if not self.is_complete(c)]

    def require_complete(self) -> None:
        missing = self.missing_chunks()
        if missing:
            raise StoreError(
                f"{self.root}: {len(missing)} of {self.num_chunks} chunks are missing (first: {missing[0]}); "
                "finish the run (rerun the same command) or merge all shards"
            )

    # ----- writing --------------------------------------------------------------------------
    def write_chunk(self, chunk: int, arrays: dict[str, np.ndarray]) -> None:
        """Write one chunk's arrays; ``scores`` goes last (it marks the chunk complete)."""
        start, stop = self.chunk_range(chunk)
        for kind, array in arrays.items():
            if array.shape[0] != stop - start:
                raise StoreError(f"chunk {chunk}: {kind} has {array.shape[0]} rows, expected {stop - start}")
        for kind in sorted(arrays, key=lambda k: k == "scores"):
            atomic_write_npy(self.chunk_path(chunk, kind), arrays[kind].astype(np.float32, copy=False))

    # ----- reading --------------------------------------------------------------------------
    def load_chunk(self, chunk: int, kind: str) -> np.ndarray:
        path = self.chunk_path(chunk, kind)
        if not path.is_file():
            raise StoreError(f"{path}: missing (the run stored no {kind!r} codes or is incomplete)")
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable ({exc})") from exc

    def has_kind(self, kind: str) -> bool:
        return self.chunk_path(0, kind).is_file()

    def score_column(self, name: str) -> np.ndarray:
        """Scores of one concept for all N samples, ``[N]`` float32."""
        try:
            index = self.score_names.index(name)
        except ValueError:
            raise StoreError(
                f"concept {name!r} was not scored in this run; scored: {', '.join(self.score_names)}"
            ) from None
        return np.concatenate([np.asarray(self.load_chunk(c, "scores")[:, index]) for c in range(self.num_chunks)])

    def gather(self, kind: str, indices: np.ndarray, layer: int | None = None) -> np.ndarray:
        """Rows ``indices`` (global sample indices, any order) of ``kind``, in that order;
        for ``wp``, ``layer`` picks one layer's codes (read without loading the others)."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num):
            raise StoreError(f"sample index out of range [0, {self.num})")
        chunks = indices // self.chunk_size
        result = None
        for chunk in np.unique(chunks):
            rows = np.nonzero(chunks == chunk)[0]
            data = self.load_chunk(int(chunk), kind)
            local = indices[rows] - chunk * self.chunk_size
            block = np.asarray(data[local] if layer is None else data[local, layer])
            if result is None:
                result = np.empty((indices.size, *block.shape[1:]), dtype=np.float32)
            result[rows] = block
        if result is None:
            shape = self.load_chunk(0, kind).shape[1 if layer is None else 2 :]
            result = np.empty((0, *shape), dtype=np.float32)
        return result

    def iter_chunks(self, kind: str) -> Iterator[tuple[int, np.ndarray]]:
        for chunk in range(self.num_chunks):
            yield self.chunk_range(chunk)[0], self.load_chunk(chunk, kind)

    # ----- side files -----------------------------------------------------------------------
    def read_json(self, name: str) -> dict[str, Any] | None:
        path = self.root / name
        if not path.is_file():
            return None
        try:
            return parse_json(path.read_bytes(), str(path), StoreError)
        except OSError as exc:
            raise StoreError(f"{path}: unreadable ({exc})") from exc

    def write_json(self, name: str, data: Any) -> None:
        atomic_write_json(self.root / name, data, indent=2, sort_keys=True)


def merge_runs(sources: list[str | os.PathLike], out: str | os.PathLike) -> ProbeStore:
    """Combine the chunks of shard runs into one complete run folder ``out``.

    All sources must be the same run (:data:`IDENTITY_KEYS`); chunks are hard-linked
    (copied when links are impossible). Raises when any chunk is missing from all sources.
    """
    if not sources:
        raise StoreError("no shard folders to merge")
    stores = [ProbeStore.open(s) for s in sources]
    reference = stores[0].manifest
    for store in stores[1:]:
        for key in IDENTITY_KEYS:
            if store.manifest.get(key) != reference.get(key):
                raise StoreError(
                    f"cannot merge {store.root} with {stores[0].root}: {key} differs "
                    f"({store.manifest.get(key)!r} vs {reference.get(key)!r})"
                )
    manifest = {k: v for k, v in reference.items() if k not in ("format", "format_version")}
    manifest["shard"] = None
    manifest["merged_from"] = [str(s.root) for s in stores]
    target = ProbeStore.create_or_resume(out, manifest)
    for chunk in range(target.num_chunks):
        if target.is_complete(chunk):
            continue
        source = next((s for s in stores if s.is_complete(chunk)), None)
        if source is None:
            raise StoreError(
                f"chunk {chunk} (samples {target.chunk_range(chunk)[0]}-{target.chunk_range(chunk)[1] - 1}) "
                f"is in none of the shard folders; run the missing shard first"
            )
        kinds = [k for k in ARRAY_KINDS if source.chunk_path(chunk, k).is_file()]
        for kind in sorted(kinds, key=lambda k: k == "scores"):
            src, dst = source.chunk_path(chunk, kind), target.chunk_path(chunk, kind)
            atomic_copy(src, dst, link=True)
    return target
