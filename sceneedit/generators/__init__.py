"""Generators with layer-wise latent codes behind one interface.

The architectures and foreign checkpoint readers are listed in :mod:`.registry`.
"""

from .base import CheckpointError, Generator, GeneratorError, SynthesisResult, to_uint8_images
from .checkpoints import load_generator, read_metadata, save_generator
from .registry import ARCHITECTURES

__all__ = [
    "ARCHITECTURES",
    "CheckpointError",
    "Generator",
    "GeneratorError",
    "SynthesisResult",
    "load_generator",
    "read_metadata",
    "save_generator",
    "to_uint8_images",
]
