"""Point-and-drag editing in the manner of DragGAN (Pan et al., SIGGRAPH 2023).

The user picks handle points and target points on the image. Each step:

1. **Synthesize** the current code and take one block's feature map ``F``, bilinearly
   upsampled to the image size (DragGAN uses a block at about half the output size).
2. **Track** every handle: its new position is the pixel, within ``track_radius`` of
   where it was, whose feature is nearest (L1) to the handle's feature in the *first*
   frame. (Skipped on the first step, where the handles are where the user put them.)
3. **Motion supervision**: for each handle ``p`` with unit direction ``d`` toward its
   target, pull the features at ``q + d`` toward the *detached* features at ``q`` for every
   ``q`` in the disk of ``motion_radius`` around ``p``; this moves the content near ``p`` one
   small step toward the target. With a ``mask`` (1 = may change), the features outside
   it are held at their first-frame values.
4. Update only the first layers of ``wp`` (``layers``) with Adam.

It stops when every handle is within ``stop_distance`` of its target, after ``steps``
steps, or when ``cancel()`` says so. Coordinates are image pixels ``(y, x)``: pixel
``(i, j)``'s centre is at ``y = i, x = j``, so ``(0, 0)`` is the top-left pixel's centre
and valid positions are within ``[0, H-1] x [0, W-1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..generators.base import Generator, to_uint8_images

Point = tuple[float, float]


class DragError(ValueError):
    """Drag input that cannot be used (no points, points outside the image, bad settings)."""


@dataclass(frozen=True)
class DragSettings:
    """How a drag optimizes.

    ``steps``: most optimizer steps. ``lr``: Adam learning rate on the code.
    ``feature_block``: index into ``synthesize(..., return_features=True).features``; None
    picks the last block at most half the output resolution (see :func:`pick_feature_block`).
    ``motion_radius`` / ``track_radius``: pixels (image resolution), DragGAN's r1 / r2.
    ``layers``: how many leading layers of ``wp`` are optimized (None = ``min(6, L)``, as
    DragGAN does). ``stop_distance``: pixels; done when every handle is this close.
    ``mask``: float ``[H, W]`` in [0, 1], 1 where the image may change, or None.
    ``mask_weight``: weight of the keep-the-rest-fixed term (DragGAN's lambda).
    """

    steps: int = 200
    lr: float = 2e-3
    feature_block: int | None = None
    motion_radius: float = 3.0
    track_radius: float = 6.0
    layers: int | None = None
    stop_distance: float = 1.0
    mask: np.ndarray | None = field(default=None, compare=False)
    mask_weight: float = 10.0

    def __post_init__(self) -> None:
        if int(self.steps) < 0:
            raise DragError(f"steps must be >= 0, got {self.steps}")
        for name in ("lr", "motion_radius", "track_radius", "stop_distance", "mask_weight"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise DragError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if self.layers is not None and int(self.layers) < 1:
            raise DragError(f"layers must be >= 1 (leading layers optimized), got {self.layers}")
        if self.mask is not None:
            mask = np.array(self.mask, dtype=np.float32, copy=True)
            if mask.ndim != 2 or not np.all(np.isfinite(mask)):
                raise DragError(f"mask must be a finite [H, W] array, got shape {list(mask.shape)}")
            mask.setflags(write=False)
            object.__setattr__(self, "mask", mask)

    def optimized_layers(self, num_layers: int) -> list[int]:
        """0-based indices of the layers this drag changes."""
        count = min(6, num_layers) if self.layers is None else min(int(self.layers), num_layers)
        return list(range(count))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (the mask as a nested list, or None)."""
        return {
            "steps": int(self.steps), "lr": float(self.lr),
            "feature_block": None if self.feature_block is None else int(self.feature_block),
            "motion_radius": float(self.motion_radius), "track_radius": float(self.track_radius),
            "layers": None if self.layers is None else int(self.layers),
            "stop_distance": float(self.stop_distance),
            "mask": None if self.mask is None else self.mask.tolist(),
            "mask_weight": float(self.mask_weight),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DragSettings":
        allowed = {"steps", "lr", "feature_block", "motion_radius", "track_radius", "layers",
                   "stop_distance", "mask", "mask_weight"}
        unknown = set(data) - allowed
        if unknown:
            raise DragError(f"unknown drag settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        if values.get("mask") is not None:
            values["mask"] = np.asarray(values["mask"], dtype=np.float32)
        return cls(**values)


@dataclass(frozen=True)
class DragProgress:
    """Reported to the callback: ``step`` (1-based) of ``steps``, the tracked ``handles``,
    the largest handle-to-target ``distance`` (pixels) and the frame of this step's code
    (uint8 ``[H, W, 3]``)."""

    step: int
    steps: int
    handles: list[Point]
    distance: float
    image: np.ndarray


@dataclass(frozen=True)
class DragResult:
    """The outcome of :func:`run_drag`.

    ``wp``: float32 ``[L, D]`` after the drag; ``wp_start``: the code it started from;
    ``layers``: the layers that were optimized (the others are bit-for-bit ``wp_start``);
    ``handles_final``: tracked handle positions ``(y, x)`` on the final code;
    ``steps_run``: optimizer steps taken; ``converged``: every handle reached its target;
    ``cancelled``: stopped by ``cancel()``.
    """

    wp: np.ndarray
    handles_final: list[Point]
    steps_run: int
    converged: bool
    wp_start: np.ndarray | None = None
    layers: tuple[int, ...] = ()
    cancelled: bool = False

    @property
    def offset(self) -> np.ndarray:
        """``wp - wp_start`` on :attr:`layers`, float32 ``[len(layers), D]``."""
        rows = list(self.layers)
        return (self.wp[rows] - self.wp_start[rows]).astype(np.float32)


def pick_feature_block(feature_sizes: Sequence[int], resolution: int) -> int:
    """The last block whose feature map is at most half the output ``resolution``
    (DragGAN takes StyleGAN2-256's 128-px block); the first block if none is."""
    chosen = 0
    for index, size in enumerate(feature_sizes):
        if size <= resolution // 2:
            chosen = index
    return chosen


def _check_points(points: Sequence[Sequence[float]], what: str, height: int, width: int) -> list[Point]:
    out = []
    for i, point in enumerate(points):
        try:
            y, x = (float(v) for v in point)
        except (TypeError, ValueError):
            raise DragError(f"{what} {i}: expected a (y, x) pair, got {point!r}") from None
        if not (math.isfinite(y) and math.isfinite(x) and 0 <= y <= height - 1 and 0 <= x <= width - 1):
            raise DragError(f"{what} {i} ({y:g}, {x:g}) lies outside the {height}x{width} image")
        out.append((y, x))
    return out


def _sample(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear features at pixel ``points [P, 2]`` (y, x) of ``features [1, C, H, W]`` -> ``[P, C]``."""
    _, _, height, width = features.shape
    gx = points[:, 1] * (2.0 / max(width - 1, 1)) - 1.0
    gy = points[:, 0] * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1).view(1, 1, -1, 2)
    return F.grid_sample(features, grid, mode="bilinear", align_corners=True).view(features.shape[1], -1).t()


def _disk_offsets(radius: float, device: torch.device) -> torch.Tensor:
    """Integer offsets ``[K, 2]`` within ``radius`` (always includes (0, 0))."""
    r = int(math.floor(radius))
    ys, xs = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    keep = ys**2 + xs**2 <= radius**2
    return torch.stack([ys[keep], xs[keep]], dim=-1).to(device=device, dtype=torch.float32)


def _track(features: torch.Tensor, reference: torch.Tensor, handle: Point, radius: float) -> Point:
    """Pixel within ``radius`` (square window, DragGAN's) of ``handle`` whose feature is nearest
    (L1) to ``reference [C]``."""
    _, _, height, width = features.shape
    cy, cx = int(round(handle[0])), int(round(handle[1]))
    r = int(math.ceil(radius))
    y0, y1 = max(cy - r, 0), min(cy + r, height - 1)
    x0, x1 = max(cx - r, 0), min(cx + r, width - 1)
    window = features[0, :, y0 : y1 + 1, x0 : x1 + 1]
    distance = (window - reference.view(-1, 1, 1)).abs().sum(dim=0)
    index = int(torch.argmin(distance.flatten()))
    w = x1 - x0 + 1
    return (float(y0 + index // w), float(x0 + index % w))


def drag_step(
    generator: Generator,
    wp: torch.Tensor,
    handles: list[Point],
    targets: list[Point],
    reference: torch.Tensor | None,
    settings: DragSettings,
    block: int,
    first_features: torch.Tensor | None = None,
    truncation_psi: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[Point], torch.Tensor, torch.Tensor]:
    """One forward pass of the drag: synthesize ``wp [1, L, D]``, track the handles, and
    build the loss.

    ``reference``: the handles' first-frame features ``[P, C]`` (None on the first step:
    no tracking). ``first_features``: the first frame's upsampled features ``[1, C, H, W]``
    for the mask term. Returns ``(loss, image [1, 3, H, W], tracked handles, features
    [1, C, H, W] detached, handle features [P, C] detached)``; call ``loss.backward()``.
    """
    result = generator.synthesize(wp, return_features=True, truncation_psi=truncation_psi)
    image = result.image
    height, width = int(image.shape[2]), int(image.shape[3])
    features = F.interpolate(result.features[block], size=(height, width), mode="bilinear", align_corners=True)
    detached = features.detach()
    if reference is not None:
        handles = [_track(detached, reference[i], h, settings.track_radius) for i, h in enumerate(handles)]
    device = features.device
    offsets = _disk_offsets(settings.motion_radius, device)
    loss = features.new_zeros(())
    for (py, px), (ty, tx) in zip(handles, targets):
        direction = torch.tensor([ty - py, tx - px], device=device, dtype=torch.float32)
        norm = float(direction.norm())
        if norm < 1e-6:
            continue
        direction = direction / norm if norm > 1.0 else direction  # never overshoot the target
        centre = torch.tensor([py, px], device=device, dtype=torch.float32)
        points = centre + offsets
        inside = ((points[:, 0] >= 0) & (points[:, 0] <= height - 1)
                  & (points[:, 1] >= 0) & (points[:, 1] <= width - 1))
        points = points[inside]
        moved = (points + direction).clamp(min=torch.zeros(2, device=device),
                                           max=torch.tensor([height - 1.0, width - 1.0], device=device))
        loss = loss + (_sample(features, moved) - _sample(detached, points)).abs().mean()
    if settings.mask is not None and first_features is not None:
        keep = 1.0 - torch.tensor(settings.mask, device=device).view(1, 1, height, width)
        loss = loss + settings.mask_weight * ((features - first_features).abs() * keep).mean()
    handle_features = _sample(detached, torch.tensor(handles, device=device, dtype=torch.float32))
    return loss, image, handles, detached, handle_features


def _max_distance(handles: list[Point], targets: list[Point]) -> float:
    return max(math.hypot(t[0] - h[0], t[1] - h[1]) for h, t in zip(handles, targets))


def run_drag(
    generator: Generator,
    wp: np.ndarray,
    handles: Sequence[Sequence[float]],
    targets: Sequence[Sequence[float]],
    settings: DragSettings | None = None,
    callback: Callable[[DragProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    callback_every: int = 1,
    truncation_psi: float | None = None,
) -> DragResult:
    """Drag ``handles`` toward ``targets`` (image pixels ``(y, x)``) by optimizing ``wp``.

    ``wp``: float ``[L, D]``, mapped with ``truncation_psi``. ``callback(DragProgress)`` is called every ``callback_every``
    steps and on the last one; ``cancel()`` is checked before every step. Runs on the
    generator's device; the same inputs give the same result. Raises :class:`DragError`
    for bad points, settings or a mask of the wrong size.
    """
    settings = settings or DragSettings()
    start = np.array(wp, dtype=np.float32, copy=True)
    expected = (int(generator.num_layers), int(generator.w_dim))
    if start.shape != expected:
        raise DragError(f"wp must have shape {list(expected)}, got {list(start.shape)}")
    resolution = int(generator.resolution)
    handle_list = _check_points(handles, "handle", resolution, resolution)
    target_list = _check_points(targets, "target", resolution, resolution)
    if not handle_list:
        raise DragError("a drag needs at least one handle point")
    if len(handle_list) != len(target_list):
        raise DragError(f"{len(handle_list)} handles but {len(target_list)} targets; give one target per handle")
    if settings.mask is not None and settings.mask.shape != (resolution, resolution):
        raise DragError(f"mask must be [{resolution}, {resolution}], got {list(settings.mask.shape)}")
    layers = settings.optimized_layers(expected[0])
    device = generator.device
    fixed = torch.from_numpy(start).to(device)
    variable = fixed[: len(layers)].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([variable], lr=float(settings.lr))
    every = max(1, int(callback_every))

    def code() -> torch.Tensor:
        return torch.cat([variable, fixed[len(layers) :]], dim=0).unsqueeze(0)

    with torch.enable_grad():
        probe = generator.synthesize(code().detach(), return_features=True, truncation_psi=truncation_psi)
        block = settings.feature_block
        if block is None:
            block = pick_feature_block([int(f.shape[-1]) for f in probe.features], resolution)
        if not -len(probe.features) <= block < len(probe.features):
            raise DragError(f"feature_block {block} out of range; this generator has {len(probe.features)} blocks")
        del probe
        reference = None
        first_features = None
        current = list(handle_list)
        steps_run = 0
        converged = False
        cancelled = False
        for step in range(int(settings.steps) + 1):
            if cancel is not None and cancel():
                cancelled = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss, image, current, features, handle_features = drag_step(
                generator, code(), current, target_list, reference, settings, block, first_features,
                truncation_psi)
            if reference is None:
                reference, first_features = handle_features, features
            distance = _max_distance(current, target_list)
            last = step == int(settings.steps) or distance <= settings.stop_distance
            if callback is not None and step > 0 and (step % every == 0 or last):
                callback(DragProgress(step, int(settings.steps), list(current), distance,
                                      to_uint8_images(image.detach())[0]))
            if last:
                converged = distance <= settings.stop_distance
                break
            if loss.requires_grad:
                loss.backward()
                optimizer.step()
            steps_run += 1
    final = start.copy()
    final[: len(layers)] = variable.detach().cpu().numpy()
    return DragResult(final, current, steps_run, converged, start, tuple(layers), cancelled)
