"""The architectures and foreign checkpoint readers, listed explicitly.

Nothing registers itself on import: each architecture module defines its generator class and
each reader module a ``FORMATS`` tuple, and this module names them all. Foreign formats are
tried in the order of :data:`FOREIGN_FORMATS`; the first whose ``detect`` accepts a payload
builds the generator.
"""

from __future__ import annotations

from . import biggan, nvidia_pickle, pggan, rosinality, stylegan, stylegan2, stylegan_genforce, tf_pickle
from .base import ForeignFormat, Generator

_GENERATOR_CLASSES: tuple[type[Generator], ...] = (
    stylegan.StyleGANGenerator,
    stylegan2.StyleGAN2Generator,
    pggan.PGGANGenerator,
    biggan.BigGANGenerator,
)

#: Architecture name (``Generator.arch``, as stored in our checkpoints) -> class.
ARCHITECTURES: dict[str, type[Generator]] = {cls.arch: cls for cls in _GENERATOR_CLASSES}

#: Foreign checkpoint layouts, in detection order.
FOREIGN_FORMATS: tuple[ForeignFormat, ...] = (
    *stylegan_genforce.FORMATS,
    *stylegan2.FORMATS,
    *nvidia_pickle.FORMATS,
    *rosinality.FORMATS,
    *pggan.FORMATS,
    *biggan.FORMATS,
    *tf_pickle.FORMATS,
)
