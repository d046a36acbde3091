"""The renderer: one pure function from an edit state to pixels.

The editor's worker thread and the exporter both call :func:`render` /
:func:`render_batch`; neither raises for a model failure (out of memory, a broken
checkpoint, a state of the wrong shape): the error comes back in the result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .editing.spatial_blend import synthesize_masked
from .editing.state import EditState, edited_wp, kept_wp
from .errors import describe_error
from .generators.base import Generator, to_uint8_images


@dataclass(frozen=True)
class RenderResult:
    """One rendered frame.

    ``image``: uint8 ``[H, W, 3]`` RGB, or None when ``error`` is set. ``wp``: the edited
    code float32 ``[L, D]`` that was synthesized (None if it could not be computed).
    ``elapsed_ms``: wall time for this frame (a batch's time is shared equally among its
    frames). ``error``: a one-line description of what failed, else None.
    """

    image: np.ndarray | None
    wp: np.ndarray | None
    elapsed_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(exc: BaseException) -> str:
    """A frame that fails to render is a bug (or out of memory): logged with its traceback."""
    return describe_error(exc, "render")


def _synthesize(generator: Generator, codes: np.ndarray, truncation_psi: float | None = None) -> np.ndarray:
    """``codes [N, L, D]`` (mapped with ``truncation_psi``) -> uint8 ``[N, H, W, 3]``."""
    with torch.inference_mode():
        wp = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32)).to(generator.device)
        return to_uint8_images(generator.synthesize(wp, truncation_psi=truncation_psi))


def render(generator: Generator, state: EditState) -> RenderResult:
    """Render ``state`` with ``generator`` (same image as :func:`render_batch` of one)."""
    return render_batch(generator, [state], batch_size=1)[0]


def render_batch(generator: Generator, states: Sequence[EditState], batch_size: int = 8) -> list[RenderResult]:
    """Render several states, ``batch_size`` frames per forward pass; one result per state.

    A frame whose code cannot be computed fails alone. If a whole batch fails (say, out
    of memory) its frames are retried one by one, so only the frames that really fail
    carry an error.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    results: list[RenderResult | None] = [None] * len(states)
    pending: dict[float, list[tuple[int, np.ndarray]]] = {}  # by the psi the codes were mapped with
    expected = (int(generator.num_layers), int(generator.w_dim))
    for index, state in enumerate(states):
        start = time.perf_counter()
        try:
            wp = edited_wp(state)
            if wp.shape != expected:
                raise ValueError(f"edited code has shape {list(wp.shape)}, the generator needs {list(expected)}")
            if not np.all(np.isfinite(wp)):
                raise ValueError("edited code holds NaN or infinite values")
        except Exception as exc:  # noqa: BLE001 - reported in the result
            results[index] = RenderResult(None, None, (time.perf_counter() - start) * 1e3, _describe(exc))
            continue
        if state.drag_mask is not None:  # a masked drag: the spatial blend, one frame at a time
            results[index] = _render_masked(generator, state, wp, start)
            continue
        pending.setdefault(float(state.truncation_psi), []).append((index, wp))
    for psi, group in pending.items():
        for offset in range(0, len(group), batch_size):
            chunk = group[offset : offset + batch_size]
            rendered = _render_chunk(generator, [wp for _, wp in chunk], psi)
            for index, result in zip([i for i, _ in chunk], rendered, strict=True):
                results[index] = result
    return results  # type: ignore[return-value]


def _render_chunk(generator: Generator, codes: list[np.ndarray], psi: float | None = None) -> list[RenderResult]:
    start = time.perf_counter()
    try:
        images = _synthesize(generator, np.stack(codes), psi)
    except Exception as exc:  # noqa: BLE001 - reported in the result
        if len(codes) > 1:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            return [r for wp in codes for r in _render_chunk(generator, [wp], psi)]
        return [RenderResult(None, codes[0], (time.perf_counter() - start) * 1e3, _describe(exc))]
    per_frame = (time.perf_counter() - start) * 1e3 / len(codes)
    return [RenderResult(images[i], codes[i], per_frame) for i in range(len(codes))]


def _render_masked(generator: Generator, state: EditState, wp: np.ndarray, start: float) -> RenderResult:
    """``state`` with masked drags: ``wp`` inside ``state.drag_mask``, the kept code outside."""
    try:
        with torch.inference_mode():
            image = synthesize_masked(generator, wp, kept_wp(state), state.drag_mask, state.truncation_psi)
            pixels = to_uint8_images(image)[0]
    except Exception as exc:  # noqa: BLE001 - reported in the result
        return RenderResult(None, wp, (time.perf_counter() - start) * 1e3, _describe(exc))
    return RenderResult(pixels, wp, (time.perf_counter() - start) * 1e3)
