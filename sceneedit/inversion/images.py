"""Loading a user's picture for inversion: checked, converted, center-cropped and resized.

Any format Pillow reads. The header is read first, and a picture larger than
:data:`MAX_PIXELS` is refused before anything is decoded (a 20,000 x 20,000 file never
reaches memory). Conversions (stated in :func:`load_image_for_inversion`):

* EXIF orientation is applied; an animation gives its first frame;
* grayscale (``L``, ``I``, ``I;16``, ``F``, ``1``) is repeated onto R, G and B (16-bit and
  float images are scaled by their own range to 0..255);
* transparency (``RGBA``, ``LA``, palette with a transparent colour) is composited over white;
* CMYK, YCbCr, palette and other modes go through Pillow's RGB conversion.

Then the largest centred square is cropped and resized (Lanczos) to the generator's resolution.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import SceneeditError

#: Largest picture accepted (width x height), checked on the header before decoding: 12,000 x
#: 12,000 (a 144-megapixel photo is about 430 MB decoded in RGB).
MAX_PIXELS = 12_000 * 12_000


class ImageLoadError(SceneeditError, ValueError):
    """A picture cannot be used (unreadable, empty, too large); the message names the file."""


def _to_rgb(image, path: Path):
    """A Pillow image in any mode -> an RGB Pillow image (see the module docstring)."""
    from PIL import Image

    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        if mode.startswith("I;16"):
            low, high = 0.0, 65535.0
        scaled = np.zeros_like(array) if high <= low else (array - low) / (high - low) * 255.0
        image = Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), mode="L")
        mode = "L"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from the file's header (nothing decoded). Raises :class:`ImageLoadError`."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return int(image.size[0]), int(image.size[1])
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: the picture is too large to open ({exc})") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path}: not an image Pillow can read") from None
    except OSError as exc:
        raise ImageLoadError(f"{path}: cannot read the image ({exc})") from None


def load_image_for_inversion(path: str | os.PathLike, resolution: int) -> np.ndarray:
    """Read ``path`` and return uint8 RGB ``[resolution, resolution, 3]`` (center crop + Lanczos resize).

    One :class:`ImageLoadError` naming the file for: missing, empty, unreadable, truncated,
    zero-sized, or larger than :data:`MAX_PIXELS` (checked on the header before decoding).
    """
    from PIL import Image, ImageOps

    if int(resolution) < 1:
        raise ValueError(f"resolution must be >= 1, got {resolution}")
    path = Path(path)
    width, height = read_image_size(path)
    if width < 1 or height < 1:
        raise ImageLoadError(f"{path}: the picture has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"{path}: the picture is {width}x{height} ({width * height / 1e6:.0f} megapixels); the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels; shrink it first"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                # JPEG: let the decoder shrink by up to 8x while staying above the target size.
                side = min(width, height)
                if image.format == "JPEG" and side > 2 * resolution:
                    image.draft(
                        "RGB",
                        (max(resolution, width * resolution // side), max(resolution, height * resolution // side)),
                    )
                image.seek(0)
                image.load()
                image = ImageOps.exif_transpose(image)
                rgb = _to_rgb(image, path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path}: cannot decode the image ({exc})") from None
    return square_and_resize(np.asarray(rgb), resolution)


def square_and_resize(image: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 ``[H, W, 3]`` -> its largest centred square, Lanczos-resized to ``[R, R, 3]``."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape[:2]:
        raise ImageLoadError(f"expected a uint8 RGB image [H, W, 3], got {array.dtype} {list(array.shape)}")
    height, width = array.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(np.ascontiguousarray(array[top : top + side, left : left + side]))
    if side != resolution:
        square = square.resize(
            (resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0 if side > 4 * resolution else None
        )
    return np.asarray(square.convert("RGB"), dtype=np.uint8).copy()
