"""Export inputs from text and files: sweeps (``NAME=START:END@LAYERS``), layer lists, codes files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..generators.base import Generator
from ..semantics.layers import LayerSpecError, parse_layer_spec
from .jobs import ConceptSweep, ExportError

_SWEEP = re.compile(r"\s*([^=]+?)\s*=\s*([^:@]+):([^@]+?)\s*(?:@\s*(.+))?")


def parse_sweep(text: str) -> ConceptSweep:
    """``"NAME=START:END"`` or ``"NAME=START:END@LAYERS"`` (layers like ``2-5`` or ``1,3``)."""
    match = _SWEEP.fullmatch(text or "")
    if not match:
        raise ExportError(f"bad sweep {text!r}; expected NAME=START:END or NAME=START:END@LAYERS, e.g. wall=-3:3@2-5")
    name, start, end, layers = match.groups()
    try:
        start_value, end_value = float(start), float(end)
    except ValueError:
        raise ExportError(f"bad sweep {text!r}: start and end must be numbers") from None
    return ConceptSweep(name, start_value, end_value, None if layers is None else tuple(parse_layers(layers)))


def parse_layers(text: str) -> list[int]:
    """``"2-5"`` -> [2, 3, 4, 5]; ``"0,3,7"`` -> [0, 3, 7] (0-based layer indices, sorted, unique).

    Checked against the generator's layer count later, when the job is planned."""
    try:
        return parse_layer_spec(text)
    except LayerSpecError as exc:
        raise ExportError(f"bad layer list: {exc}") from None


def load_codes(path: str | os.PathLike, generator: Generator) -> np.ndarray:
    """Read a codes file (``.npy``): ``[N, L, D]`` codes, one ``[L, D]`` code, or ``[N, D]``
    ``w`` codes (repeated on every layer). Returns float32 ``[N, L, D]``."""
    p = Path(path)
    if p.suffix.lower() != ".npy":
        raise ExportError(f"{p}: codes must be a .npy file")
    codes = _read_npy(p)
    num_layers, dim = generator.num_layers, generator.w_dim
    if codes.ndim == 2 and codes.shape == (num_layers, dim):
        codes = codes[None]
    elif codes.ndim == 2 and codes.shape[1] == dim:
        codes = np.repeat(codes[:, None], num_layers, axis=1)
    if codes.ndim != 3 or tuple(codes.shape[1:]) != (num_layers, dim) or len(codes) == 0:
        raise ExportError(
            f"{p}: expected codes of shape [N, {num_layers}, {dim}], [{num_layers}, {dim}] or [N, {dim}], "
            f"got {list(codes.shape)}"
        )
    if not np.issubdtype(codes.dtype, np.floating):
        raise ExportError(f"{p}: codes must be finite floating-point numbers")
    with np.errstate(over="ignore"):
        codes = codes.astype(np.float32)
    if not np.all(np.isfinite(codes)):
        raise ExportError(f"{p}: codes must be finite floating-point numbers (within float32 range)")
    return codes


def _read_npy(path: Path) -> np.ndarray:
    from ..semantics.safe_npy import load_npy_array

    try:
        return load_npy_array(path, max_bytes=None)
    except FileNotFoundError:
        raise ExportError(f"{path}: no such file") from None
    except (ValueError, OSError) as exc:  # a malformed header, a truncated or foreign file
        raise ExportError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
