"""GAN inversion into the layer-wise codes: a user's picture -> ``wp [L, D]`` (core, no Qt).

In the spirit of IDInvert (Zhu, Shen, Zhao, Zhou; ECCV 2020): an encoder trained on the
generator's own samples gives the start, an optimization with a pixel loss, a perceptual loss
and an in-domain regularizer refines it; for StyleGAN generators the finest layers' noise maps
are then fitted per image (as StyleGAN2's projector does); optional pivotal tuning (Roich et al.
2021) fine-tunes the generator around the code. Fitted maps and tuned weights are kept as one
undoable generator delta.

    image = load_image_for_inversion("photo.jpg", generator.resolution)   # uint8 [R, R, 3]
    result = Inverter(generator).invert(image)                            # result.wp [L, D]
"""

from .encoder import Encoder, EncoderConfig, EncoderError, default_encoder_path, find_encoder, load_encoder
from .finetune import DeltaError, GeneratorDelta, apply_delta
from .images import MAX_PIXELS, ImageLoadError, load_image_for_inversion, read_image_size
from .optimize import (
    OUT_OF_DOMAIN_PSNR_DB,
    InversionCancelled,
    InversionProgress,
    InversionResult,
    InversionSettings,
    Inverter,
    invert_image,
)
from .outputs import delta_path_for, load_inverted_code, save_inversion

__all__ = [
    "MAX_PIXELS",
    "OUT_OF_DOMAIN_PSNR_DB",
    "DeltaError",
    "Encoder",
    "EncoderConfig",
    "EncoderError",
    "GeneratorDelta",
    "ImageLoadError",
    "InversionCancelled",
    "InversionProgress",
    "InversionResult",
    "InversionSettings",
    "Inverter",
    "apply_delta",
    "default_encoder_path",
    "delta_path_for",
    "find_encoder",
    "invert_image",
    "load_encoder",
    "load_image_for_inversion",
    "load_inverted_code",
    "read_image_size",
    "save_inversion",
]
