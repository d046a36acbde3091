"""Starting codes from seeds (the only place the editing layer runs the generator's map)."""

from __future__ import annotations

from collections.abc import Sequence

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
