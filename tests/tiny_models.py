"""The one factory of the tiny real generators the tests edit, probe and load.

Fixtures in ``conftest.py`` (``make_tiny_stylegan``, ``tiny_stylegan_file``) wrap it; module-level helpers
and module-scoped fixtures import it directly: ``from tiny_models import tiny_stylegan``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sceneedit.generators.stylegan import StyleGANGenerator

#: ``sceneedit train`` flags of a tiny network (16 px, 16-number codes, batch 4) that trains in seconds.
TINY_TRAIN_NETWORK: list[str] = [
    "--resolution",
    "16",
    "--z-dim",
    "16",
    "--w-dim",
    "16",
    "--mapping-layers",
    "2",
    "--g-fmaps-base",
    "128",
    "--g-fmaps-max",
    "16",
    "--d-fmaps-base",
    "128",
    "--d-fmaps-max",
    "16",
    "--batch-size",
    "4",
]

#: A 16 px StyleGAN with 6 layer-wise codes of 32 numbers (about 50 k parameters).
TINY_STYLEGAN: dict[str, Any] = dict(resolution=16, z_dim=32, w_dim=32, mapping_layers=2, fmaps_base=64, fmaps_max=32)


def tiny_stylegan(
    seed: int = 0, *, w_dim: int | None = None, eval_mode: bool = True, frozen: bool = False, **overrides: Any
) -> StyleGANGenerator:
    """A real StyleGAN with random weights drawn after ``torch.manual_seed(seed)``.

    ``w_dim`` sets both ``z_dim`` and ``w_dim``; ``overrides`` replace any other constructor argument of
    :data:`TINY_STYLEGAN` (``fmaps_max``, ``truncation_psi``, ``name``, ...). ``eval_mode`` puts it in eval
    mode; ``frozen`` also turns its gradients off.
    """
    config = dict(TINY_STYLEGAN)
    if w_dim is not None:
        config.update(z_dim=w_dim, w_dim=w_dim)
    config.update(overrides)
    torch.manual_seed(seed)
    generator = StyleGANGenerator(**config)
    if eval_mode:
        generator.eval()
    if frozen:
        generator.requires_grad_(False)
    return generator


def save_tiny_stylegan(path: str | Path, seed: int = 0, dataset: str | None = None, **options: Any) -> Path:
    """:func:`tiny_stylegan` written to ``path`` (our safetensors format); returns the path."""
    from sceneedit.generators import save_generator

    extra = {} if dataset is None else {"dataset": dataset}
    return save_generator(tiny_stylegan(seed, **options), Path(path), **extra)
