"""The boundary bundle file: one ``.safetensors`` holding every concept of one generator.

Layout:

* tensors: one per concept, keyed by the concept name, float32 ``[1, D]`` (space ``w``:
  one unit normal shared by the layers) or ``[L, D]`` (space ``wp``: one per layer).
* metadata key ``sceneedit_bundle``: a JSON manifest::

    {"format": "sceneedit-boundary-bundle", "format_version": 1,
     "generator": {"arch", "resolution", "num_layers", "w_dim", "weights_hash"},
     "source": str | null, "extra": {...},
     "concepts": [{"name", "level", "space", "layers", "distance_range",
                   "delta_s", "delta_s_all", "accuracy", "num_samples",
                   "predictor", "extra"}, ...]}

  ``layers`` are 0-based manipulation layers; ``delta_s`` the per-layer re-scoring
  response (length ``num_layers``) or null; ``extra`` holds provenance such as sample
  counts (``extra["sample_counts"]``) and the layer-selection rule.

Loading validates strictly (version, dims, layer indices, finite unit normals); writing is
atomic (temp file in the same folder, then rename).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingFileError, SceneeditError
from ..files import atomic_path
from ..safetensors_metadata import read_json_metadata
from .concepts import LEVELS, BoundaryBundle, Concept

FORMAT_NAME = "sceneedit-boundary-bundle"
FORMAT_VERSION = 1
METADATA_KEY = "sceneedit_bundle"
SPACES = ("w", "wp")
#: Normals whose norm differs from 1 by at most this are silently renormalized.
NORM_TOLERANCE = 1e-2
_FINGERPRINT_KEYS = ("arch", "resolution", "num_layers", "w_dim", "weights_hash")


class BundleError(SceneeditError, ValueError):
    """A bundle is malformed or does not fit a generator."""


class BundleHashMismatch(BundleError):
    """Only the weights hash differs: the shapes fit, the weights may not. Overridable
    with ``allow_hash_mismatch=True`` (the check then returns the message as a warning)."""


# ----- validation --------------------------------------------------------------------------
def _clip(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (error messages quote values from files)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _where(path: Path | None, name: str | None = None) -> str:
    prefix = f"{path}: " if path is not None else ""
    return prefix + (f"concept {_clip(name)}: " if name is not None else "")


def validate_fingerprint(fingerprint: Any, path: Path | None = None) -> dict[str, Any]:
    """Check ``{arch, resolution, num_layers, w_dim, weights_hash}``; return a clean copy."""
    if not isinstance(fingerprint, dict):
        raise BundleError(f"{_where(path)}generator fingerprint missing or not an object")
    clean: dict[str, Any] = {}
    for key in ("num_layers", "w_dim"):
        value = fingerprint.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BundleError(
                f"{_where(path)}generator fingerprint: {key!r} must be a positive integer, got {str(value)[:40]!r}"
            )
        clean[key] = value
    resolution = fingerprint.get("resolution")
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        raise BundleError(f"{_where(path)}generator fingerprint: 'resolution' must be a positive integer or null")
    clean["resolution"] = resolution
    for key in ("arch", "weights_hash"):
        value = fingerprint.get(key)
        if value is not None and not isinstance(value, str):
            raise BundleError(f"{_where(path)}generator fingerprint: {key!r} must be a string or null")
        clean[key] = value
    return clean


def validate_normal(
    normal: Any, space: str, fingerprint: dict[str, Any], name: str, path: Path | None = None
) -> np.ndarray:
    """Shape-check a normal for ``space``, refuse NaN/inf/zero, renormalize tiny drift.

    Returns float32 ``[1, D]`` (``w``) or ``[L, D]`` (``wp``) with unit-norm rows.
    """
    where = _where(path, name)
    array = np.asarray(normal)
    if array.dtype.kind not in "fiu":
        raise BundleError(f"{where}normal has dtype {array.dtype}, expected floats")
    array = array.astype(np.float64)
    num_layers, w_dim = fingerprint["num_layers"], fingerprint["w_dim"]
    expected_rows = 1 if space == "w" else num_layers
    if array.ndim != 2 or array.shape != (expected_rows, w_dim):
        raise BundleError(
            f"{where}normal has shape {list(array.shape)}, expected [{expected_rows}, {w_dim}] "
            f"for space {space!r} (generator: {num_layers} layers of {w_dim} dims)"
        )
    if not np.all(np.isfinite(array)):
        raise BundleError(f"{where}normal contains NaN or infinite values")
    norms = np.linalg.norm(array, axis=1)
    for row, norm in enumerate(norms):
        if norm < 1e-8:
            raise BundleError(f"{where}normal row {row} is zero (a boundary needs a direction)")
        if abs(norm - 1.0) > NORM_TOLERANCE:
            raise BundleError(f"{where}normal row {row} has norm {norm:.6g}; expected a unit vector")
    return (array / norms[:, None]).astype(np.float32)


def _finite_float(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BundleError(f"{where}{what} must be a finite number, got {str(value)[:40]!r}")
    return float(value)


def validate_concept(concept: Concept, fingerprint: dict[str, Any], path: Path | None = None) -> Concept:
    """Return a validated copy of ``concept`` (normal renormalized, fields type-checked)."""
    name = concept.name
    if not isinstance(name, str) or not name.strip() or name == "__metadata__":
        raise BundleError(f"{_where(path)}invalid concept name {_clip(name)}")
    where = _where(path, name)
    if concept.level not in LEVELS:
        raise BundleError(f"{where}level {_clip(concept.level)} is not one of {', '.join(LEVELS)}")
    if concept.space not in SPACES:
        raise BundleError(f"{where}space {_clip(concept.space)} is not one of {', '.join(SPACES)}")
    normal = validate_normal(concept.normal, concept.space, fingerprint, name, path)
    num_layers = fingerprint["num_layers"]
    layers = concept.layers
    if not isinstance(layers, (list, tuple)) or not layers:
        raise BundleError(f"{where}layers must be a non-empty list of layer indices")
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise BundleError(f"{where}layer index {_clip(layer)} is not an integer")
        if not 0 <= int(layer) < num_layers:
            raise BundleError(f"{where}layer index {layer} is out of range for a generator with {num_layers} layers")
    layers = [int(x) for x in layers]
    if layers != sorted(set(layers)):
        raise BundleError(f"{where}layers {layers} must be sorted and unique")
    if not isinstance(concept.distance_range, (list, tuple)) or len(concept.distance_range) != 2:
        raise BundleError(f"{where}distance_range must be two numbers")
    lo = _finite_float(concept.distance_range[0], "distance_range[0]", where)
    hi = _finite_float(concept.distance_range[1], "distance_range[1]", where)
    if not lo < hi:
        raise BundleError(f"{where}distance_range ({lo}, {hi}) must be increasing")
    delta_s = concept.delta_s
    if delta_s is not None:
        if not isinstance(delta_s, (list, tuple, np.ndarray)) or len(delta_s) != num_layers:
            raise BundleError(f"{where}delta_s must list one value per layer ({num_layers})")
        delta_s = [
            _finite_float(float(v) if isinstance(v, np.floating) else v, "delta_s entry", where) for v in delta_s
        ]
    delta_s_all = None if concept.delta_s_all is None else _finite_float(concept.delta_s_all, "delta_s_all", where)
    accuracy = None if concept.accuracy is None else _finite_float(concept.accuracy, "accuracy", where)
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise BundleError(f"{where}accuracy {accuracy} is outside [0, 1]")
    num_samples = concept.num_samples
    if num_samples is not None and (
        isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0
    ):
        raise BundleError(f"{where}num_samples must be a non-negative integer")
    if concept.predictor is not None and not isinstance(concept.predictor, str):
        raise BundleError(f"{where}predictor must be a string or null")
    if not isinstance(concept.extra, dict):
        raise BundleError(f"{where}extra must be an object")
    return Concept(
        name=name,
        normal=normal,
        layers=layers,
        level=concept.level,
        space=concept.space,
        distance_range=(lo, hi),
        delta_s=delta_s,
        delta_s_all=delta_s_all,
        accuracy=accuracy,
        num_samples=num_samples,
        predictor=concept.predictor,
        extra=dict(concept.extra),
    )


def validate_bundle(bundle: BoundaryBundle, path: Path | None = None) -> BoundaryBundle:
    """A validated copy of ``bundle`` (raises :class:`BundleError` naming the first problem)."""
    fingerprint = validate_fingerprint(bundle.generator_fingerprint, path)
    concepts: dict[str, Concept] = {}
    for key, concept in bundle.concepts.items():
        if key != concept.name:
            raise BundleError(f"{_where(path)}concept stored under {key!r} is named {concept.name!r}")
        concepts[key] = validate_concept(concept, fingerprint, path)
    return BoundaryBundle(
        concepts=concepts, generator_fingerprint=fingerprint, source=bundle.source, extra=dict(bundle.extra)
    )


# ----- manifest ----------------------------------------------------------------------------
def _concept_entry(concept: Concept) -> dict[str, Any]:
    return {
        "name": concept.name,
        "level": concept.level,
        "space": concept.space,
        "layers": list(concept.layers),
        "distance_range": [float(concept.distance_range[0]), float(concept.distance_range[1])],
        "delta_s": None if concept.delta_s is None else [float(v) for v in concept.delta_s],
        "delta_s_all": concept.delta_s_all,
        "accuracy": concept.accuracy,
        "num_samples": concept.num_samples,
        "predictor": concept.predictor,
        "extra": concept.extra,
    }


def bundle_manifest(bundle: BoundaryBundle) -> dict[str, Any]:
    """The JSON manifest written into the file's metadata (``source``: where the concepts
    came from — a probe run or imported files; a loaded bundle's is its ``made_from``)."""
    extra = dict(bundle.extra)
    source = extra.pop("made_from", None) or bundle.source
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "generator": bundle.generator_fingerprint,
        "source": source,
        "extra": extra,
        "concepts": [_concept_entry(c) for c in bundle.concepts.values()],
    }


# ----- save / load -------------------------------------------------------------------------
def save_bundle(bundle: BoundaryBundle, path: str | os.PathLike) -> Path:
    """Validate and write ``bundle`` to ``path`` atomically. Returns the path."""
    from safetensors.numpy import save_file

    path = Path(path)
    checked = validate_bundle(bundle, path)
    if not checked.concepts:
        raise BundleError(f"{path}: refusing to write a bundle with no concepts")
    try:
        manifest = json.dumps(bundle_manifest(checked), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{path}: manifest is not JSON-serializable ({exc})") from exc
    tensors = {name: np.ascontiguousarray(c.normal, dtype=np.float32) for name, c in checked.concepts.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={METADATA_KEY: manifest})
    return path


def _concept_from_entry(entry: Any, normal: np.ndarray | None, path: Path) -> Concept:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BundleError(f"{path}: manifest concept entry {entry!r:.80} lacks a name")
    name = entry["name"]
    required = ("level", "space", "layers")
    missing = [k for k in required if k not in entry]
    if missing:
        raise BundleError(f"{_where(path, name)}manifest entry lacks {', '.join(missing)}")
    if normal is None:
        raise BundleError(f"{path}: concept {name!r} has no normal tensor")
    extra = entry.get("extra")
    distance = entry.get("distance_range", (-3.0, 3.0))
    if not isinstance(distance, (list, tuple)):
        raise BundleError(f"{_where(path, name)}distance_range must be two numbers")
    return Concept(
        name=name,
        normal=normal,
        layers=entry["layers"],
        level=entry["level"],
        space=entry["space"],
        distance_range=tuple(distance),
        delta_s=entry.get("delta_s"),
        delta_s_all=entry.get("delta_s_all"),
        accuracy=entry.get("accuracy"),
        num_samples=entry.get("num_samples"),
        predictor=entry.get("predictor"),
        extra=extra if extra is not None else {},
    )


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed, version-checked JSON manifest of a bundle file (tensors not read)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such bundle file")
    manifest = read_json_metadata(path, METADATA_KEY, BundleError, "a sceneedit boundary bundle", label="manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"{path}: manifest format is not {FORMAT_NAME!r}")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BundleError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version} is newer than this sceneedit supports "
            f"({FORMAT_VERSION}); upgrade sceneedit"
        )
    if not isinstance(manifest.get("concepts"), list):
        raise BundleError(f"{path}: manifest has no concept list")
    return manifest


def load_bundle(path: str | os.PathLike) -> BoundaryBundle:
    """Read and strictly validate a bundle file."""
    from safetensors.numpy import load_file

    path = Path(path)
    manifest = read_manifest(path)
    fingerprint = validate_fingerprint(manifest.get("generator"), path)
    try:
        tensors = load_file(str(path))
    except Exception as exc:
        raise BundleError(f"{path}: could not read tensors ({exc})") from exc
    entries = manifest["concepts"]
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    duplicates = sorted({n for n in names if n is not None and names.count(n) > 1})
    if duplicates:
        raise BundleError(f"{path}: concept {duplicates[0]!r} appears more than once")
    missing = [n for n in names if isinstance(n, str) and n not in tensors]
    if missing:
        raise BundleError(f"{path}: concept {missing[0]!r} has no normal tensor")
    extra = sorted(set(tensors) - {n for n in names if isinstance(n, str)})
    if extra:
        raise BundleError(f"{path}: tensor {extra[0]!r} is not described in the manifest")
    concepts: dict[str, Concept] = {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        concept = _concept_from_entry(entry, tensors.get(name) if isinstance(name, str) else None, path)
        concepts[concept.name] = validate_concept(concept, fingerprint, path)
    bundle_extra = manifest.get("extra") or {}
    if not isinstance(bundle_extra, dict):
        raise BundleError(f"{path}: manifest 'extra' must be an object")
    made_from = manifest.get("source")
    if isinstance(made_from, str) and made_from != str(path):
        bundle_extra = {**bundle_extra, "made_from": made_from}
    return BoundaryBundle(concepts=concepts, generator_fingerprint=fingerprint, source=str(path), extra=bundle_extra)


# ----- compatibility -----------------------------------------------------------------------
def check_compatible(bundle: BoundaryBundle, generator: Any, allow_hash_mismatch: bool = False) -> list[str]:
    """Check that ``bundle`` applies to ``generator``.

    Raises :class:`BundleError` when ``w_dim`` or ``num_layers`` differ or a concept's
    layers fall outside the generator; raises :class:`BundleHashMismatch` when only the
    weights hash differs (unless ``allow_hash_mismatch``). Returns warnings (strings):
    the hash mismatch when allowed, an unknown hash, a different architecture name.
    """
    from ..generators.fingerprint import generator_fingerprint

    own = validate_fingerprint(bundle.generator_fingerprint)
    other = generator_fingerprint(generator)
    where = f"bundle {bundle.source or ''}".rstrip()
    if own["w_dim"] != other["w_dim"]:
        raise BundleError(f"{where} is for codes of {own['w_dim']} dims; this generator's are {other['w_dim']}")
    if own["num_layers"] != other["num_layers"]:
        raise BundleError(
            f"{where} is for a generator with {own['num_layers']} layers; this one has {other['num_layers']}"
        )
    for concept in bundle:
        bad = [layer for layer in concept.layers if not 0 <= layer < other["num_layers"]]
        if bad:
            raise BundleError(f"{where}: concept {concept.name!r} uses layer {bad[0]}, outside this generator")
        if concept.dim != other["w_dim"]:
            raise BundleError(f"{where}: concept {concept.name!r} has {concept.dim}-dim normals")
    warnings: list[str] = [str(w) for w in (bundle.extra or {}).get("import_warnings", []) or []]
    if own["arch"] and own["arch"] != other["arch"]:
        warnings.append(f"{where} was made for arch {own['arch']!r}; this generator is {other['arch']!r}")
    if own["resolution"] and own["resolution"] != other["resolution"]:
        warnings.append(f"{where} was made at {own['resolution']} px; this generator renders {other['resolution']} px")
    if own["weights_hash"] is None:
        warnings.append(f"{where} records no weights hash; cannot verify it was made for these weights")
    elif own["weights_hash"] != other["weights_hash"]:
        message = (
            f"{where} was made for weights {own['weights_hash']}, this generator's are "
            f"{other['weights_hash']}: shapes fit, but the directions may not mean the same"
        )
        if not allow_hash_mismatch:
            raise BundleHashMismatch(message)
        warnings.append(message)
    return warnings


def fingerprint_for(generator: Any) -> dict[str, Any]:
    """The generator's fingerprint in bundle form (see ``generator_fingerprint``)."""
    from ..generators.fingerprint import generator_fingerprint

    fp = generator_fingerprint(generator)
    return {key: fp.get(key) for key in _FINGERPRINT_KEYS}


# ----- merge -------------------------------------------------------------------------------
def merge_bundles(bundles: list[BoundaryBundle], replace: bool = False) -> BoundaryBundle:
    """Concepts of all ``bundles`` in one bundle (same generator shape required).

    A concept name present twice is an error unless ``replace`` (the later one wins).
    Fingerprints must agree on ``num_layers`` and ``w_dim``; a known weights hash wins over
    an unknown one, and two different known hashes are an error.
    """
    if not bundles:
        raise BundleError("nothing to merge")
    fingerprint = validate_fingerprint(bundles[0].generator_fingerprint)
    concepts: dict[str, Concept] = {}
    sources = []
    for bundle in bundles:
        other = validate_fingerprint(bundle.generator_fingerprint)
        for key in ("num_layers", "w_dim"):
            if other[key] != fingerprint[key]:
                raise BundleError(
                    f"cannot merge {bundle.source or 'bundle'}: {key} is {other[key]}, expected {fingerprint[key]}"
                )
        for key in ("weights_hash", "arch", "resolution"):
            if other[key] is not None:
                if fingerprint[key] is None:
                    fingerprint[key] = other[key]
                elif fingerprint[key] != other[key]:
                    raise BundleError(
                        f"cannot merge {bundle.source or 'bundle'}: {key} {other[key]!r} differs from "
                        f"{fingerprint[key]!r}"
                    )
        for name, concept in bundle.concepts.items():
            if name in concepts and not replace:
                raise BundleError(
                    f"concept {name!r} appears in more than one bundle (pass replace=True, or --replace on the command "
                    "line, to keep the last)"
                )
            concepts[name] = concept
        sources.append(bundle.source or "?")
    merged = BoundaryBundle(
        concepts=concepts, generator_fingerprint=fingerprint, source=None, extra={"merged_from": sources}
    )
    return validate_bundle(merged)
