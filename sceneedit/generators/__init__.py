"""Generators with layer-wise latent codes behind one interface.

Importing this package registers every architecture and foreign checkpoint format.
"""

from .base import Generator, GeneratorError, SynthesisResult, to_uint8_images
from .checkpoints import (
    ARCHITECTURES,
    CheckpointError,
    load_generator,
    read_metadata,
    save_generator,
)

# Architecture modules register themselves on import; they need base and checkpoints first.
# isort: off
from . import stylegan  # noqa: F401,E402
from . import stylegan2  # noqa: F401,E402
from . import pggan  # noqa: F401,E402
from . import biggan  # noqa: F401,E402
from . import tf_pickle  # noqa: F401,E402
# isort: on

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
