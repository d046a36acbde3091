"""Image helpers shared by commands and export: contact sheets and atomic PNG writing.

Images are numpy arrays ``[H, W, 3]`` (RGB) or ``[H, W]`` (grey), dtype uint8.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .files import atomic_path


def as_uint8_image(array: np.ndarray) -> np.ndarray:
    """Check and normalise one image to uint8 ``[H, W, 3]`` / ``[H, W, 4]`` / ``[H, W]``."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"expected an image of shape [H, W], [H, W, 3] or [H, W, 4], got {list(array.shape)}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"image has no pixels (shape {list(array.shape)})")
    return np.ascontiguousarray(array)


def make_contact_sheet(
    images: Sequence[np.ndarray] | np.ndarray,
    columns: int | None = None,
    padding: int = 2,
    labels: Sequence[str] | None = None,
    background: int = 255,
) -> np.ndarray:
    """Tile same-sized uint8 RGB images ``[H, W, 3]`` into one ``[rows*(H+p)+p, ...]`` sheet.

    ``images``: a list of ``[H, W, 3]`` arrays or one ``[N, H, W, 3]`` array (grey
    ``[H, W]`` images are expanded to RGB). ``columns`` defaults to ``ceil(sqrt(N))``.
    ``padding`` pixels of ``background`` separate the tiles and frame the sheet.
    ``labels`` (one per image, e.g. the seed) are drawn in a strip under each tile.
    """
    tiles = [_to_rgb(as_uint8_image(image)) for image in images]
    if not tiles:
        raise ValueError("contact sheet needs at least one image")
    height, width = tiles[0].shape[:2]
    for index, tile in enumerate(tiles):
        if tile.shape[:2] != (height, width):
            raise ValueError(
                f"contact sheet images must share one size; image 0 is {height}x{width}, "
                f"image {index} is {tile.shape[0]}x{tile.shape[1]}"
            )
    if labels is not None and len(labels) != len(tiles):
        raise ValueError(f"got {len(labels)} labels for {len(tiles)} images")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    count = len(tiles)
    columns = int(columns) if columns else int(np.ceil(np.sqrt(count)))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    columns = min(columns, count)
    rows = (count + columns - 1) // columns
    label_height = _label_height() if labels is not None else 0
    cell_h, cell_w = height + label_height, width
    sheet = np.full(
        (rows * (cell_h + padding) + padding, columns * (cell_w + padding) + padding, 3),
        background,
        dtype=np.uint8,
    )
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top = padding + row * (cell_h + padding)
        left = padding + column * (cell_w + padding)
        sheet[top : top + height, left : left + width] = tile
    if labels is not None:
        _draw_labels(sheet, labels, columns, cell_h, cell_w, height, padding, background)
    return sheet


def thumbnail(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image [H, W, C]`` downscaled (Lanczos) so its longer side is at most ``max_side``
    (returned as is when it already fits): contact-sheet tiles of large frames."""
    side = max(image.shape[:2])
    if side <= max_side:
        return image
    from PIL import Image

    scale = max_side / side
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def save_png(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 image as PNG atomically (temp file in the same folder, then rename).

    The folder is created if needed. On failure no partial file is left at ``path``.
    """
    from PIL import Image

    image = as_uint8_image(array)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return path


def load_png(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB ``[H, W, 3]``."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# ----- internals -------------------------------------------------------------------------------
def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def _label_height() -> int:
    return 12


def _draw_labels(
    sheet: np.ndarray,
    labels: Sequence[str],
    columns: int,
    cell_h: int,
    cell_w: int,
    image_h: int,
    padding: int,
    background: int,
) -> None:
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.fromarray(sheet)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    ink = (0, 0, 0) if background > 127 else (255, 255, 255)
    for index, label in enumerate(labels):
        row, column = divmod(index, columns)
        top = padding + row * (cell_h + padding) + image_h
        left = padding + column * (cell_w + padding)
        text = str(label)
        # Too wide for a small tile: drop leading words first ("seed 10" -> "10"), so the
        # distinguishing part survives; then trim so it never spills into a neighbour.
        while " " in text and draw.textlength(text, font=font) > cell_w:
            text = text.split(" ", 1)[1]
        while text and draw.textlength(text, font=font) > cell_w:
            text = text[:-1]
        draw.text((left + 1, top), text, fill=ink, font=font)
    sheet[...] = np.asarray(canvas)
