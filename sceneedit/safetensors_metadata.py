"""Reading the JSON document our safetensors files (generators, boundary bundles) keep in
their string metadata, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Metadata keys of our other safetensors kinds -> a hint for a file passed in the wrong place.
_OTHER_KINDS = {
    "sceneedit": "it is a sceneedit generator: pass it as --generator, or to sceneedit info",
    "sceneedit_bundle": "it is a boundary bundle: pass it as --bundle, or to sceneedit bundle info",
}


def read_json_metadata(path: Path, key: str, error: type[Exception], what: str, label: str = "metadata") -> Any:
    """Parse the JSON stored under metadata ``key`` of the safetensors file ``path``.

    Raises ``error`` when the file is not readable safetensors, lacks ``key`` (the message
    says the file is not ``what``, e.g. "a sceneedit generator") or the value is not JSON
    (the message calls it ``label``), nests too deep, or holds a non-finite or oversized
    number. Tensors are not read.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise error(f"{path}: not a readable safetensors file ({exc})") from exc
    if key not in meta:
        other = next((hint for known, hint in _OTHER_KINDS.items() if known != key and known in meta), None)
        raise error(f"{path}: safetensors file has no {key!r} metadata; not {what}" + (f" ({other})" if other else ""))
    from .json_input import parse_json

    return parse_json(meta[key], str(path), error, what=label)
