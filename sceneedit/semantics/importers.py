"""Import boundaries made by other tools into a :class:`BoundaryBundle`.

Accepted inputs:

* **HiGAN boundary folders** (``boundaries/<model>/<concept>_boundary.npy``). Each file is
  either a plain float array ``(1, 512)`` or a pickled 0-d object array holding
  ``{'boundary': (1, 512), 'meta_data': {'type': 'attribute', 'manipulate_layers': '6-11'}}``.
  The pickle is read by :mod:`.safe_npy` (NumPy arrays, dicts, lists, strings, numbers only).
* **HiGAN boundary lists**: text lines ``(name, space): path``; a line starting with
  ``DISABLE`` is skipped (as HiGAN's ``parse_boundary_list``); blank lines and ``#``
  comments are ignored. Relative paths are resolved against the list's folder, then the
  current folder.
* **InterFaceGAN arrays** ``(1, D)`` / ``(D,)`` (space ``w``) and **per-layer arrays**
  ``(L, D)`` / ``(1, L, D)`` (space ``wp``, as HiGAN's ``train_boundary.py`` saves them).

Layers: taken from the file's ``meta_data['manipulate_layers']`` when present; otherwise
HiGAN's default for the concept's level (:func:`.layers.default_layers`: ``view`` and
other layout concepts 0-4, everything else 6-11 on a 14-layer generator — the rule of
HiGAN's notebooks and ``simple_manipulate.py``). Levels come from :mod:`.levels`.

Every normal is checked finite and non-zero and scaled to unit norm (the original norm is
kept in ``extra['original_norm']`` when it was not 1).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingFileError
from .bundle import BundleError, load_bundle, validate_bundle
from .concepts import BoundaryBundle, Concept
from .layers import LayerSpecError, default_layers, format_layer_spec, parse_layer_spec
from .levels import infer_level
from .safe_npy import load_npy_untrusted

BOUNDARY_SUFFIX = "_boundary.npy"

#: HiGAN's released models (``models/model_settings.py`` / ``models/README.md``): all are
#: 256 px with 512-dim codes, hence 14 layer-wise codes. ``distance_range`` is the slider
#: range of HiGAN's Colab notebooks (bedroom: -3..3; stylegan2 church: -8..8).
HIGAN_MODELS: dict[str, dict[str, Any]] = {
    **{
        f"stylegan_{scene}": {
            "arch": "stylegan",
            "resolution": 256,
            "num_layers": 14,
            "w_dim": 512,
            "distance_range": (-3.0, 3.0),
        }
        for scene in (
            "bedroom",
            "livingroom",
            "kitchen",
            "diningroom",
            "bridge",
            "churchoutdoor",
            "tower",
            "apartment",
            "restaurant",
            "classroom",
            "conferenceroom",
        )
    },
    "stylegan2_church": {
        "arch": "stylegan2",
        "resolution": 256,
        "num_layers": 14,
        "w_dim": 512,
        "distance_range": (-8.0, 8.0),
    },
}


class ImportError_(BundleError):
    """A boundary file or list could not be imported (names the file)."""


@dataclass
class RawBoundary:
    """What one boundary file holds: ``normal`` ``[1, D]`` or ``[L, D]`` (float64, as
    stored), the file's layers (or None), its type hint and any other metadata."""

    normal: np.ndarray
    layers: list[int] | None = None
    type_hint: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = "array"


def _as_normal(value: Any, path: Path) -> np.ndarray:
    array = np.asarray(value) if isinstance(value, np.ndarray) else None
    if array is None:
        raise ImportError_(f"{path}: boundary is a {type(value).__name__}, expected a numeric array")
    if array.dtype.kind not in "fiu":
        raise ImportError_(f"{path}: boundary has dtype {array.dtype}, expected floats")
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite values are refused later
        array = array.astype(np.float64)
    if array.ndim == 1:
        array = array[None]
    elif array.ndim == 3 and array.shape[0] == 1:
        array = array[0]  # HiGAN's layer-wise boundaries: [1, L, D]
    if array.ndim != 2 or array.shape[1] < 1 or array.shape[0] < 1:
        raise ImportError_(
            f"{path}: boundary has shape {list(np.shape(value))}; expected [D], [1, D], [L, D] or [1, L, D]"
        )
    return array


def read_boundary_file(path: str | os.PathLike) -> RawBoundary:
    """Read one ``.npy`` boundary (plain array or HiGAN's dict form), safely."""
    path = Path(path)
    content = load_npy_untrusted(path)
    if isinstance(content, dict):
        if "boundary" not in content:
            keys = ", ".join(repr(k) for k in content) or "none"
            raise ImportError_(f"{path}: dict-form boundary lacks key 'boundary' (keys: {keys})")
        meta = content.get("meta_data")
        meta = {} if meta is None else meta
        if not isinstance(meta, dict):
            raise ImportError_(f"{path}: 'meta_data' is a {type(meta).__name__}, expected a dict")
        layers = None
        spec = meta.get("manipulate_layers")
        if spec is not None and not (isinstance(spec, str) and spec == ""):
            try:
                layers = parse_layer_spec(meta["manipulate_layers"])
            except LayerSpecError as exc:
                raise ImportError_(f"{path}: meta_data['manipulate_layers']: {exc}") from None
        type_hint = meta.get("type") if isinstance(meta.get("type"), str) else None
        plain_meta = {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool))}
        return RawBoundary(_as_normal(content["boundary"], path), layers, type_hint, plain_meta, "higan-dict")
    if not isinstance(content, np.ndarray):
        raise ImportError_(f"{path}: holds a {type(content).__name__}, expected an array or a boundary dict")
    return RawBoundary(_as_normal(content, path), kind="array")


def _unit_rows(normal: np.ndarray, path: Path) -> tuple[np.ndarray, float | None]:
    if not np.all(np.isfinite(normal)):
        raise ImportError_(f"{path}: boundary contains NaN or infinite values")
    with np.errstate(over="ignore"):
        norms = np.linalg.norm(normal, axis=1)
    if not np.all(np.isfinite(norms)):
        raise ImportError_(
            f"{path}: boundary row {int(np.argmax(~np.isfinite(norms)))} has values too large to normalize"
        )
    if np.any(norms < 1e-8):
        raise ImportError_(f"{path}: boundary row {int(np.argmin(norms))} is zero (no direction)")
    original = None if np.allclose(norms, 1.0, atol=1e-4) else float(norms.mean())
    return (normal / norms[:, None]).astype(np.float32), original


def concept_from_raw(
    name: str,
    raw: RawBoundary,
    num_layers: int,
    path: Path,
    space: str | None = None,
    layers: list[int] | None = None,
    level: str | None = None,
    distance_range: tuple[float, float] = (-3.0, 3.0),
) -> Concept:
    """Build a concept from a raw boundary (layers and level by the rules in the module doc)."""
    rows = raw.normal.shape[0]
    if space is None:
        space = "w" if rows == 1 else "wp"
    if space == "w" and rows != 1:
        raise ImportError_(f"{path}: space 'w' needs a [1, D] boundary, got {rows} rows")
    if space == "wp":
        if rows == 1:
            raise ImportError_(f"{path}: space 'wp' needs one row per layer ([{num_layers}, D]), got 1 row")
        if rows != num_layers:
            raise ImportError_(f"{path}: per-layer boundary has {rows} rows, but the generator has {num_layers} layers")
    normal, original_norm = _unit_rows(raw.normal, path)
    level = level or infer_level(name, raw.type_hint)
    extra: dict[str, Any] = {"imported_from": str(path), "import_format": raw.kind}
    if raw.meta:
        extra["file_meta_data"] = raw.meta
    if original_norm is not None:
        extra["original_norm"] = original_norm
    try:
        if layers is not None:
            chosen = parse_layer_spec(layers, num_layers)
            extra["layer_rule"] = "given on import"
        elif raw.layers is not None:
            chosen = parse_layer_spec(raw.layers, num_layers)
            extra["layer_rule"] = "file meta_data['manipulate_layers']"
        else:
            chosen = default_layers(level, num_layers)
            extra["layer_rule"] = f"HiGAN default for level {level!r} ({format_layer_spec(chosen)})"
    except LayerSpecError as exc:
        raise ImportError_(f"{path}: {exc}") from None
    return Concept(
        name=name,
        normal=normal,
        layers=chosen,
        level=level,
        space=space,
        distance_range=(float(distance_range[0]), float(distance_range[1])),
        extra=extra,
    )


def _fingerprint(
    num_layers: int | None, w_dim: int, fingerprint: dict[str, Any] | None, path: Path, hint: dict | None = None
) -> dict[str, Any]:
    if fingerprint is not None:
        fp = dict(fingerprint)
    else:
        fp = {"arch": None, "resolution": None, "num_layers": num_layers, "w_dim": w_dim, "weights_hash": None}
        if hint:
            fp.update({k: hint[k] for k in ("arch", "resolution", "num_layers", "w_dim")})
    if num_layers is not None and fp.get("num_layers") not in (None, num_layers):
        raise ImportError_(f"{path}: --num-layers {num_layers} contradicts the generator's {fp['num_layers']}")
    if fp.get("num_layers") is None:
        raise ImportError_(
            f"{path}: the number of layers of the target generator is unknown; give the generator (or --num-layers)"
        )
    if fp.get("w_dim") != w_dim:
        raise ImportError_(f"{path}: boundaries have {w_dim} dims, but the generator's codes have {fp.get('w_dim')}")
    return fp


def _concept_name(path: Path) -> str:
    name = path.name
    return name[: -len(BOUNDARY_SUFFIX)] if name.endswith(BOUNDARY_SUFFIX) else path.stem


def import_higan_folder(
    folder: str | os.PathLike,
    num_layers: int | None = None,
    fingerprint: dict[str, Any] | None = None,
) -> BoundaryBundle:
    """Import every ``<concept>_boundary.npy`` in a HiGAN boundary folder.

    The generator shape comes from ``fingerprint`` (of the generator the bundle is for),
    else from the folder name when it is one of :data:`HIGAN_MODELS`, else from
    ``num_layers`` (``w_dim`` is read from the files).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(f"{folder}: no such folder")
    files = sorted(folder.glob("*" + BOUNDARY_SUFFIX))
    if not files:
        raise ImportError_(f"{folder}: no *{BOUNDARY_SUFFIX} files (not a HiGAN boundary folder)")
    raws = {_concept_name(f): (f, read_boundary_file(f)) for f in files}
    dims = {raw.normal.shape[1] for _, raw in raws.values()}
    if len(dims) != 1:
        raise ImportError_(f"{folder}: boundaries of different dimensions {sorted(dims)}")
    known = HIGAN_MODELS.get(folder.name)
    fp = _fingerprint(
        num_layers, dims.pop(), fingerprint, folder, known if fingerprint is None and num_layers is None else None
    )
    distance = known["distance_range"] if known else (-3.0, 3.0)
    concepts = {
        name: concept_from_raw(name, raw, fp["num_layers"], path, distance_range=distance)
        for name, (path, raw) in raws.items()
    }
    warnings = []
    if known and fingerprint is not None:
        for key in ("arch", "resolution", "num_layers"):
            if fingerprint.get(key) not in (None, known[key]):
                warnings.append(
                    f"{folder.name} boundaries were made for a {known['arch']} {known['resolution']} px generator "
                    f"with {known['num_layers']} layers; the target's {key} is {fingerprint.get(key)!r}"
                )
                break
    bundle = BoundaryBundle(
        concepts=concepts,
        generator_fingerprint=fp,
        source=str(folder),
        extra={"imported": "higan-folder", "higan_model": folder.name if known else None, "import_warnings": warnings},
    )
    return validate_bundle(bundle)


_LIST_LINE = re.compile(r"^\(\s*([^,()]+?)\s*,\s*([A-Za-z+]+)\s*\)\s*:\s*(.+?)\s*$")


def parse_boundary_list(path: str | os.PathLike) -> list[tuple[str, str, Path]]:
    """``[(name, space, file path)]`` from a HiGAN boundary list (``(name, space): path``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such boundary list")
    entries: list[tuple[str, str, Path]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#") or text.startswith("DISABLE"):
            continue
        match = _LIST_LINE.match(text)
        if not match:
            raise ImportError_(f"{path}:{number}: expected '(name, space): path', got {text!r}")
        name, space, target = match.group(1), match.group(2).lower(), Path(match.group(3))
        if space not in ("z", "w", "wp"):
            raise ImportError_(f"{path}:{number}: space {space!r} is not one of z, w, wp")
        if not target.is_absolute():
            candidates = [path.parent / target, Path.cwd() / target]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                tried = " or ".join(str(c) for c in candidates)
                raise ImportError_(f"{path}:{number}: boundary file not found ({tried})")
            target = found
        entries.append((name, space, target))
    if not entries:
        raise ImportError_(f"{path}: no enabled boundaries in the list")
    return entries


def import_boundary_list(
    path: str | os.PathLike,
    num_layers: int | None = None,
    fingerprint: dict[str, Any] | None = None,
) -> BoundaryBundle:
    """Import the boundaries a HiGAN boundary list names."""
    path = Path(path)
    entries = parse_boundary_list(path)
    raws = []
    for name, space, target in entries:
        raw = read_boundary_file(target)
        raws.append((name, space, target, raw))
    dims = {raw.normal.shape[1] for *_, raw in raws}
    if len(dims) != 1:
        raise ImportError_(f"{path}: listed boundaries have different dimensions {sorted(dims)}")
    hint = None
    if fingerprint is None and num_layers is None:
        parents = {t.parent.name for _, _, t, _ in raws}
        hint = HIGAN_MODELS.get(parents.pop()) if len(parents) == 1 else None
    fp = _fingerprint(num_layers, dims.pop(), fingerprint, path, hint)
    concepts: dict[str, Concept] = {}
    for name, space, target, raw in raws:
        if space == "z":
            if fp["num_layers"] != 1:
                raise ImportError_(
                    f"{target}: boundary {name!r} is in Z space, which cannot be applied to layer-wise "
                    f"codes of a {fp['num_layers']}-layer generator; fit it in W (sceneedit probe)"
                )
            space = "w"
        if name in concepts:
            raise ImportError_(f"{path}: concept {name!r} listed twice")
        distance = hint["distance_range"] if hint else (-3.0, 3.0)
        concepts[name] = concept_from_raw(name, raw, fp["num_layers"], target, space=space, distance_range=distance)
    bundle = BoundaryBundle(
        concepts=concepts, generator_fingerprint=fp, source=str(path), extra={"imported": "higan-list"}
    )
    return validate_bundle(bundle)


def import_array(
    path: str | os.PathLike,
    name: str | None = None,
    num_layers: int | None = None,
    fingerprint: dict[str, Any] | None = None,
    layers: Any = None,
    level: str | None = None,
) -> BoundaryBundle:
    """Import one InterFaceGAN ``(1, D)`` or per-layer ``(L, D)`` array as a one-concept bundle."""
    path = Path(path)
    raw = read_boundary_file(path)
    rows = raw.normal.shape[0]
    if num_layers is None and fingerprint is None and rows > 1:
        num_layers = rows
    fp = _fingerprint(num_layers, raw.normal.shape[1], fingerprint, path)
    concept = concept_from_raw(name or _concept_name(path), raw, fp["num_layers"], path, layers=layers, level=level)
    bundle = BoundaryBundle(
        concepts={concept.name: concept}, generator_fingerprint=fp, source=str(path), extra={"imported": raw.kind}
    )
    return validate_bundle(bundle)


def import_any(
    path: str | os.PathLike,
    num_layers: int | None = None,
    fingerprint: dict[str, Any] | None = None,
) -> BoundaryBundle:
    """Dispatch on what ``path`` is: a folder (HiGAN), a ``.safetensors`` bundle, a text
    list, or one ``.npy`` array."""
    path = Path(path)
    if path.is_dir():
        return import_higan_folder(path, num_layers=num_layers, fingerprint=fingerprint)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder")
    if path.suffix == ".safetensors":
        return load_bundle(path)
    if path.suffix == ".npy":
        return import_array(path, num_layers=num_layers, fingerprint=fingerprint)
    return import_boundary_list(path, num_layers=num_layers, fingerprint=fingerprint)
