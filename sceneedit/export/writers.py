"""Writers of export files: PNG frames, animated GIF, MP4 and the contact sheet.

Each writes atomically (a temporary name, then a rename), so a file under its final name
is always complete. Frames are uint8 RGB ``[H, W, 3]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..files import WriteError, atomic_path
from ..imaging import make_contact_sheet, save_png, thumbnail
from .jobs import ExportError

#: Largest contact-sheet tile side; bigger frames are downscaled for the sheet only.
SHEET_TILE_MAX = 256


def guarded_write(write: Callable[[], Any], path: Path) -> Any:
    """Run one atomic write; turn an OSError (disk full, permissions) into a clear error."""
    try:
        return write()
    except WriteError as exc:  # already says which file and what happened
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_png(frame: np.ndarray, path: Path) -> None:
    """One frame as PNG (folders created)."""
    save_png(frame, path)


def write_gif(frames: list[np.ndarray], path: Path, fps: float) -> int:
    """Animated GIF, looping; returns the frame count as stored.

    Pillow stores identical consecutive frames once, with their durations added, so the
    count can be below ``len(frames)`` while the playback is the same.
    """
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0
        )
    return gif_frame_count(path)


def gif_frame_count(path: Path) -> int:
    """Frames stored in the GIF at ``path``."""
    from PIL import Image

    with Image.open(path) as image:
        return int(getattr(image, "n_frames", 1))


def write_mp4(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """H.264 MP4 (yuv420p) through imageio-ffmpeg's bundled ffmpeg."""
    import imageio.v2 as imageio

    height, width = frames[0].shape[:2]
    if height % 2 or width % 2:  # yuv420p needs even sides: pad by one pixel
        frames = [np.pad(f, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge") for f in frames]
    with atomic_path(path) as tmp:
        writer = imageio.get_writer(
            tmp,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=2,
            ffmpeg_log_level="error",
        )
        try:
            for frame in frames:
                writer.append_data(frame)
        finally:
            writer.close()


def sheet_tile(image: np.ndarray) -> np.ndarray:
    """``image`` as a contact-sheet tile: longer side at most :data:`SHEET_TILE_MAX`."""
    return thumbnail(image, SHEET_TILE_MAX)


def write_contact_sheet(tiles: Sequence[np.ndarray], columns: int, labels: Sequence[str], path: Path) -> None:
    """``tiles`` (rows of ``columns``, each labelled) as one PNG sheet."""
    save_png(make_contact_sheet(tiles, columns=columns, labels=labels), path)
