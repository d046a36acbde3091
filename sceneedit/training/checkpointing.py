"""Training checkpoints in a run folder: atomic writes, verification, fallback, rotation.

Layout::

    RUN/checkpoints/ckpt-0001200.pt     torch.save of a dict (tensors, numbers, strings only)
    RUN/checkpoints/ckpt-0001200.json   manifest: iteration, byte size, SHA-256 of the .pt

Both files are written to a temporary name and renamed into place, the manifest last, so a
checkpoint without a matching manifest was interrupted mid-write. Loading verifies size and
hash, then reads the payload with ``torch.load(weights_only=True)`` (nothing is executed).
A corrupt newest checkpoint is reported and the next older good one is used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import SceneeditError
from ..files import atomic_write_bytes

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^ckpt-(\d{7,})\.pt$")


class TrainingCheckpointError(SceneeditError, ValueError):
    """No usable checkpoint, or one that does not fit the run."""


@dataclass(frozen=True)
class LoadedCheckpoint:
    path: Path
    iteration: int
    payload: dict[str, Any]
    #: One line per newer checkpoint that was skipped, saying why.
    skipped: list[str]


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def checkpoint_path(run_dir: str | os.PathLike, iteration: int) -> Path:
    return checkpoint_dir(run_dir) / f"ckpt-{iteration:07d}.pt"


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every checkpoint file in the run, newest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found, reverse=True)


#: Temporary names :func:`atomic_path` gives checkpoint files (``.ckpt-0001200.pt.x1y2.partial.pt``).
_TEMPORARY = re.compile(r"^\.ckpt-\d{7,}\.(pt|json)\..+\.partial\.(pt|json)$")


def _torch_bytes(payload: dict[str, Any]) -> bytes:
    """``torch.save`` into memory, written by one plain write: a full disk gives an ``OSError``
    with its errno (torch's own writer reports it as an opaque ``RuntimeError``)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def remove_temporaries(run_dir: str | os.PathLike) -> list[Path]:
    """Delete checkpoint temporaries a killed run left behind; returns what was removed."""
    folder = checkpoint_dir(run_dir)
    removed = []
    if folder.is_dir():
        for entry in folder.iterdir():
            if _TEMPORARY.match(entry.name) or re.match(r"^ckpt-.*\.tmp$", entry.name):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def _is_verified(path: Path) -> bool:
    """Whether ``path`` has a manifest whose size and hash it matches (the payload is not read)."""
    try:
        manifest = json.loads(_manifest_path(path).read_text())
        return path.stat().st_size == int(manifest["bytes"]) and _sha256(path) == str(manifest["sha256"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return False


def save_checkpoint(run_dir: str | os.PathLike, iteration: int, payload: dict[str, Any], keep: int = 3) -> Path:
    """Write ``payload`` as the checkpoint of ``iteration``; keep the newest ``keep`` good ones.

    Older checkpoints are deleted only after the new one is completely on disk, and only
    once ``keep`` newer *verified* checkpoints exist: a corrupt or unverified checkpoint
    never counts towards ``keep``, so it can never push out the last good one. A full disk
    is a :class:`~sceneedit.files.WriteError` naming the file.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    path = checkpoint_path(run_dir, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(run_dir)  # left by a run killed mid-write
    atomic_write_bytes(path, _torch_bytes(payload))
    manifest = {
        "iteration": int(iteration),
        "bytes": path.stat().st_size,
        "sha256": _sha256(path),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    atomic_write_bytes(_manifest_path(path), json.dumps(manifest, indent=1).encode("utf-8"))
    verified = 0
    for _, old in list_checkpoints(run_dir):
        if verified >= keep:
            old.unlink(missing_ok=True)
            _manifest_path(old).unlink(missing_ok=True)
        elif _is_verified(old):
            verified += 1
    return path


def verify_checkpoint(path: Path) -> dict[str, Any]:
    """Read and check one checkpoint; raises :class:`TrainingCheckpointError` saying why not."""
    manifest_file = _manifest_path(path)
    if not manifest_file.exists():
        raise TrainingCheckpointError(f"{path}: no manifest {manifest_file.name} (write interrupted?)")
    try:
        manifest = json.loads(manifest_file.read_text())
        expected_size, expected_hash = int(manifest["bytes"]), str(manifest["sha256"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise TrainingCheckpointError(f"{manifest_file}: unreadable manifest ({str(exc)[:200]})") from None
    size = path.stat().st_size
    if size != expected_size:
        raise TrainingCheckpointError(f"{path}: {size} bytes, manifest says {expected_size} (truncated?)")
    if _sha256(path) != expected_hash:
        raise TrainingCheckpointError(f"{path}: SHA-256 does not match its manifest (corrupt)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged archives
        raise TrainingCheckpointError(f"{path}: cannot be read ({exc})") from exc
    if not isinstance(payload, dict) or "iteration" not in payload:
        raise TrainingCheckpointError(f"{path}: not a sceneedit training checkpoint (no 'iteration')")
    return payload


def load_latest_checkpoint(
    run_dir: str | os.PathLike, validate: Callable[[dict[str, Any], Path], None] | None = None
) -> LoadedCheckpoint:
    """The newest checkpoint that verifies (and passes ``validate``), skipping corrupt ones.

    Raises :class:`TrainingCheckpointError` when the run has none usable, listing why each
    candidate was rejected.
    """
    skipped: list[str] = []
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise TrainingCheckpointError(f"{checkpoint_dir(run_dir)}: no checkpoints to resume from")
    for iteration, path in candidates:
        try:
            payload = verify_checkpoint(path)
            if validate is not None:
                validate(payload, path)
        except TrainingCheckpointError as exc:
            skipped.append(str(exc))
            continue
        return LoadedCheckpoint(path=path, iteration=iteration, payload=payload, skipped=skipped)
    raise TrainingCheckpointError(f"{checkpoint_dir(run_dir)}: no usable checkpoint; " + "; ".join(skipped))
