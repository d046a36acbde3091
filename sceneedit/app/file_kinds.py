"""What a file or folder dropped on (or opened in) the editor is, judged without loading it."""

from __future__ import annotations

import json
import struct
from pathlib import Path

#: Suffixes of foreign generator checkpoints (genforce .pth, NVIDIA .pkl, rosinality .pt).
GENERATOR_SUFFIXES = (".pth", ".pkl", ".pt", ".bin")
#: Suffixes of pictures (opened by inverting them into the generator's codes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Safetensors metadata keys: ours for generators, the bundle format's for bundles.
GENERATOR_METADATA_KEY = "sceneedit"
BUNDLE_METADATA_KEY = "sceneedit_bundle"
#: A safetensors header larger than this is not worth reading to classify a file.
MAX_HEADER_BYTES = 100 * 1024 * 1024


def safetensors_metadata(path: Path) -> dict[str, str] | None:
    """The ``__metadata__`` of a safetensors file read from its header (no tensors),
    or None when the file is not a readable safetensors file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) != 8:
                return None
            (length,) = struct.unpack("<Q", head)
            if not 0 < length <= MAX_HEADER_BYTES:
                return None
            header = json.loads(handle.read(length).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, struct.error):
        return None
    if not isinstance(header, dict):
        return None
    meta = header.get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}


def classify_path(path: str | Path) -> str:
    """``"generator"``, ``"bundle"``, ``"recipe"`` or ``"image"`` for ``path``.

    Folders holding ``pytorch_model.bin`` are generators (BigGAN); other folders are HiGAN
    boundary folders (bundles). ``.json`` files are recipes. A safetensors file is a
    generator when its metadata has our generator key, else a bundle (the bundle loader
    then gives the precise error). Foreign checkpoint suffixes are generators.
    """
    path = Path(path)
    if path.is_dir():
        return "generator" if (path / "pytorch_model.bin").is_file() else "bundle"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "recipe"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in GENERATOR_SUFFIXES:
        return "generator"
    meta = safetensors_metadata(path)
    if meta is not None and GENERATOR_METADATA_KEY in meta and BUNDLE_METADATA_KEY not in meta:
        return "generator"
    return "bundle"
