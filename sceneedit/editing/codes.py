"""Starting codes from seeds (the only place the editing layer runs the generator's map)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..generators.base import Generator


def codes_for_seeds(generator: Generator, seeds: Sequence[int], truncation_psi: float | None = None) -> np.ndarray:
    """Mapped codes float32 ``[len(seeds), L, D]``; row i is seed ``seeds[i]``'s code.

    ``z`` for each seed is ``generator.sample_z(1, seed)`` (drawn on the CPU, identical on
    every device); truncation uses ``truncation_psi`` (generator default when None) on the
    generator's default truncation layers. Seeds are mapped one at a time so a seed's code
    does not depend on which other seeds share the call (batched matrix products may
    round differently), keeping exports and the editor bit-identical.
    """
    out = np.zeros((len(seeds), generator.num_layers, generator.w_dim), dtype=np.float32)
    with torch.inference_mode():
        for row, seed in enumerate(seeds):
            wp = generator.map(generator.sample_z(1, int(seed)), truncation_psi=truncation_psi)
            out[row] = wp[0].detach().float().cpu().numpy()
    return out


def code_for_seed(generator: Generator, seed: int, truncation_psi: float | None = None) -> np.ndarray:
    """Mapped code float32 ``[L, D]`` for one seed (see :func:`codes_for_seeds`)."""
    return codes_for_seeds(generator, [seed], truncation_psi)[0].copy()


def read_code(path: str | Path, num_layers: int, w_dim: int) -> np.ndarray:
    """Read a ``.npy`` code as float32 ``[L, D]`` (``[1, L, D]`` and ``[1, D]`` / ``[D]``,
    broadcast to every layer, are accepted). Raises NpyFileError naming the file and shape."""
    from ..semantics.safe_npy import NpyFileError, load_npy_array

    path = Path(path)
    array = load_npy_array(path, max_bytes=None)  # a user error naming the file for a malformed or foreign file
    if not np.issubdtype(array.dtype, np.floating):
        raise NpyFileError(f"{path}: expected a float array, got {array.dtype}")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 1:
        array = array[None]
    if array.ndim == 2 and array.shape[0] == 1 and array.shape[1] == w_dim:
        array = np.repeat(array, num_layers, axis=0)
    if array.shape != (num_layers, w_dim):
        raise NpyFileError(f"{path}: code has shape {list(array.shape)}, this generator needs [{num_layers}, {w_dim}]")
    with np.errstate(over="ignore"):
        array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise NpyFileError(f"{path}: code contains NaN or infinite values (or values beyond float32 range)")
    return array
