"""Starting a run from a trained generator file, grown to a higher resolution if asked.

StyleGAN v1 (like PGGAN) grows by adding a block at twice the resolution and fading it in:
the output is ``lerp(upsample(rgb_old), rgb_new, alpha)`` with ``alpha`` rising from 0 to 1,
which in genforce's layout is the synthesis buffer ``lod`` falling from 1 to 0
(:func:`~sceneedit.generators.layers.blend_lod`). Here a run can start
from a generator alone (the shipped default, say): every block it has is carried over
unchanged, new blocks start fresh, and the discriminator and optimizers start fresh too.

    sceneedit train --run-dir RUN --init-from resources/default_generator.safetensors \
        --resolution 128 --fade-kimg 60 --name sceneedit-rooms128
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import SettingsError
from ..generators.stylegan import StyleGANGenerator

#: TrainConfig fields read from the starting generator (``--init-from``) unless given.
ARCHITECTURE_FROM_FILE = {
    "z_dim": "z_dim",
    "w_dim": "w_dim",
    "mapping_layers": "mapping_layers",
    "mapping_lr_mul": "mapping_lr_mul",
    "g_fmaps_base": "fmaps_base",
    "g_fmaps_max": "fmaps_max",
    "truncation_psi": "truncation_psi",
}


def load_start_generator(path: str | os.PathLike) -> StyleGANGenerator:
    """The StyleGAN v1 generator in ``path`` (a sceneedit ``.safetensors`` or any loadable
    StyleGAN file); one clear error naming the file for anything else."""
    from ..generators import load_generator

    generator = load_generator(Path(path))
    if not isinstance(generator, StyleGANGenerator):
        raise SettingsError(
            f"--init-from {path}: a {type(generator).__name__} ({generator.arch}); "
            f"training starts only from a StyleGAN (v1) generator"
        )
    return generator


def architecture_settings(path: str | os.PathLike) -> dict[str, Any]:
    """TrainConfig architecture fields of the generator in ``path`` (see ARCHITECTURE_FROM_FILE)."""
    config = load_start_generator(path).config
    return {field: config[key] for field, key in ARCHITECTURE_FROM_FILE.items()}


def check_fits(generator: StyleGANGenerator, wanted: dict[str, Any], path: str | os.PathLike) -> None:
    """Refuse a start generator whose architecture differs from the run's settings ``wanted``
    (TrainConfig generator kwargs), or whose resolution is above the run's."""
    config = generator.config
    differ = [
        f"{key} {config[key]} vs {wanted[key]}"
        for key in ("z_dim", "w_dim", "mapping_layers", "mapping_lr_mul", "fmaps_base", "fmaps_max")
        if config[key] != wanted[key]
    ]
    if differ:
        raise SettingsError(
            f"--init-from {path}: the file's architecture differs from the run's "
            f"({'; '.join(differ)}); leave those options out to take the file's"
        )
    if config["resolution"] > wanted["resolution"]:
        raise SettingsError(
            f"--init-from {path}: the file is {config['resolution']} px, above the run's "
            f"{wanted['resolution']} px (a generator grows, never shrinks)"
        )


def grow_generator(source: StyleGANGenerator, resolution: int, **overrides: Any) -> StyleGANGenerator:
    """A copy of ``source`` at ``resolution`` (``source``'s resolution times a power of two).

    Every tensor of ``source`` is carried over (same names: ``layer0..``, ``output0..``, the
    mapping network, ``w_avg``); the new blocks are freshly initialised; ``lod`` is set to
    ``log2(resolution / source resolution)``, so the grown generator draws exactly the source's
    images upsampled (nearest) until ``lod`` is lowered. ``overrides``: other constructor
    kwargs (``name``, ``truncation_layers``, ...).
    """
    old = int(source.config["resolution"])
    steps = math.log2(resolution / old) if resolution >= old else -1.0
    if steps < 0 or steps != int(steps):
        raise SettingsError(
            f"cannot grow a {old} px generator to {resolution} px "
            f"(the new resolution must be {old} px times a power of two)"
        )
    kwargs = {**source.config, **overrides, "resolution": int(resolution)}
    grown = StyleGANGenerator(**kwargs)
    target = grown.state_dict()
    carried = {}
    for key, tensor in source.state_dict().items():
        if key in ("truncation.truncation", "synthesis.lod"):
            continue  # rebuilt for the new number of layers / set below
        if key not in target or target[key].shape != tensor.shape:
            raise ValueError(
                f"cannot grow: {key} {list(tensor.shape)} has no counterpart in the {resolution} px generator"
            )
        carried[key] = tensor
    grown.load_state_dict(carried, strict=False)
    with torch.no_grad():
        grown.synthesis.lod.fill_(steps)
    grown.randomize_noise = source.randomize_noise
    return grown


def fade_lod(start_lod: float, images_seen: int, fade_kimg: float) -> float:
    """The ``lod`` after ``images_seen`` images of a fade from ``start_lod`` down to 0 that
    takes ``fade_kimg`` thousand images per doubling (0: no fade, lod 0 at once)."""
    if start_lod <= 0 or fade_kimg <= 0:
        return 0.0
    return max(0.0, start_lod - images_seen / (fade_kimg * 1000.0))
