"""Checks on the tensors a foreign checkpoint holds, before anything copies them.

A pickle can describe a tensor as a view that is far larger than the bytes in the file
(``expand``: stride 0 over one stored element; 114 KB -> 3 GB once copied), in a sparse,
quantized or other layout our networks cannot take, or with NaN / infinite values that
render black. :func:`check_payload_tensors` walks a loaded payload (a bounded number of
nodes) and refuses such tensors by name *without materializing them*;
:func:`check_finite` refuses non-finite weights, naming the tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

#: Most containers and values a payload walk visits (a real checkpoint has a few thousand).
MAX_NODES = 1_000_000
#: Largest single tensor (elements) we accept from a foreign file: 1 GB of float32.
MAX_TENSOR_ELEMENTS = 1 << 28
_NUMERIC = {
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.int8,
    torch.uint8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.bool,
}


def describe_tensor_problem(tensor: torch.Tensor) -> str | None:
    """Why ``tensor`` cannot be used as a weight, or None. Looks only at its metadata."""
    if tensor.layout != torch.strided:
        layout = str(tensor.layout).replace("torch.", "")
        return f"has layout {layout} (sparse or other non-dense tensors are not supported)"
    if tensor.is_quantized or tensor.dtype not in _NUMERIC:
        return f"has dtype {str(tensor.dtype).replace('torch.', '')}, not a plain real number type"
    if tensor.device.type != "cpu":
        return f"is on device {tensor.device.type!r}"
    numel = tensor.numel()
    if numel > MAX_TENSOR_ELEMENTS:
        return f"declares {numel:,} elements (shape {list(tensor.shape)}), more than a generator weight can hold"
    stored = tensor.untyped_storage().nbytes() // max(tensor.element_size(), 1)
    if numel > stored:
        return (
            f"is a view of shape {list(tensor.shape)} over only {stored:,} stored elements "
            "(an expanded or overlapping tensor); refusing to materialize it"
        )
    return None


def _name(prefix: str, key: Any) -> str:
    text = key if isinstance(key, str) else repr(key)
    text = text if len(text) <= 80 else text[:80] + "..."
    return f"{prefix}.{text}" if prefix else text


def check_payload_tensors(payload: Any, path: Path, error: type[Exception]) -> None:
    """Raise ``error`` naming ``path`` and the tensor's key for the first unusable tensor."""
    stack: list[tuple[str, Any]] = [("", payload)]
    seen: set[int] = set()
    visited = 0
    while stack:
        where, value = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise error(f"{path}: holds more than {MAX_NODES:,} objects; not a generator checkpoint")
        if isinstance(value, torch.Tensor):
            problem = describe_tensor_problem(value)
            if problem is not None:
                raise error(f"{path}: tensor {where or '(top level)'!r} {problem}")
            continue
        if isinstance(value, (str, bytes, int, float, bool, type(None))):
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            stack.extend((_name(where, k), v) for k, v in value.items())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((_name(where, i), v) for i, v in enumerate(value))
        else:
            attributes = getattr(value, "__dict__", None)
            if isinstance(attributes, dict):
                stack.extend((_name(where, k), v) for k, v in attributes.items())


def check_finite(state: dict[str, torch.Tensor], path: Path, error: type[Exception]) -> None:
    """Raise ``error`` naming ``path`` and the first tensor holding NaN or infinite values."""
    for key, tensor in state.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise error(
                f"{path}: tensor {key!r} holds {bad} NaN or infinite value{'s' if bad != 1 else ''}; "
                "the file is corrupt (it would render black images)"
            )
