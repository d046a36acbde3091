"""Point-and-drag editing in the manner of DragGAN (Pan et al., SIGGRAPH 2023).

The user picks handle points and target points on the image (and, optionally, anchor
points that must stay where they are and a mask of the region allowed to change). Each
step:

1. **Synthesize** the current code and take the feature maps, bilinearly upsampled to the
   image size: one block for motion supervision (``feature_block``) and a *tracking map*:
   the full-resolution block and the image itself, each scaled to unit mean norm. At 64 px
   the coarser blocks blur a pixel's neighbourhood so much that the tracker reported
   arrival while the content was 2-10 px away; the full-size maps place it to a fraction
   of a pixel.
2. **Track** every handle (skipped on the first step): the ``TRACK_PATCH x TRACK_PATCH``
   (5 x 5) patch of the first frame's tracking map around the handle is compared (L1)
   with every position within ``track_radius`` of where the handle was; the best integer
   position is refined to sub-pixel by a parabola through its neighbours' costs.
   Comparing with the *first* frame (never the previous one) keeps errors from
   accumulating, and the small search window keeps it from jumping to a look-alike.
3. **Motion supervision**: for each handle ``p`` still farther than ``stop_distance`` from
   its target, with direction ``d`` toward it (length ``min(1, distance)`` px), pull the
   features at ``q + d`` toward the features at ``q`` for every ``q`` in the disk of
   ``motion_radius`` around ``p`` -- DragGAN's detached current features, blended with the
   first frame's features of the handle's neighbourhood (``template_weight``, FreeDrag's
   fixed template) so the content keeps its look on the way instead of fading into
   something else (the main cause of the drags that ended far from the target). A handle
   that has arrived is *held*: its neighbourhood is pulled to its first-frame look.
4. **Keep the rest**: with a ``mask`` (1 = may change) and ``blend`` (the default), the
   frames are synthesized with the mask's spatial feature blend between this code and the
   kept one (:mod:`~sceneedit.editing.spatial_blend`), so the outside *is* the kept scene
   and no loss term is needed; with ``blend=False`` the features *and* pixels outside it
   are pulled to their first-frame values (DragGAN's term, weighted ``mask_weight``);
   without a mask, everything farther than ``keep_radius`` px from every handle and target
   is (weight ``keep_weight``). Anchors pull their neighbourhood to the first frame.
5. Update the chosen layers of ``wp`` with Adam; the learning rate shrinks with the
   distance left (``lr * clip(distance / lr_ramp, lr_floor, 1)``) so short drags and the
   last pixel of long ones do not overshoot.

It stops when every tracked handle is within ``stop_distance`` of its target, after the
step limit (``steps``, lowered for short drags: ``steps_per_px`` per pixel of the longest
drag plus ``min_steps``), or when ``cancel()`` says so. If the handles ever were closer to
their targets than at the end, the code of that step is returned.

Coordinates are image pixels ``(y, x)``: pixel ``(i, j)``'s centre is at ``y = i, x = j``,
so ``(0, 0)`` is the top-left pixel's centre and valid positions are within
``[0, H-1] x [0, W-1]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SceneeditError
from ..generators.base import Generator, to_uint8_images
from .spatial_blend import blended_synthesis, block_masks, default_blend_blocks, kept_features, needs_image_blend

Point = tuple[float, float]
#: Side of the feature patch matched by the tracker (px).
TRACK_PATCH = 5
TRACK_IMAGE = True
TRACK_FRACTION = 1


class DragError(SceneeditError, ValueError):
    """Drag input that cannot be used (no points, points outside the image, bad settings)."""


def _layer_spec(value: Any) -> int | tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if int(value) < 1:
            raise DragError(f"layers must be >= 1 (leading layers optimized), got {value}")
        return int(value)
    try:
        layers = tuple(sorted({int(v) for v in value}))
    except (TypeError, ValueError):
        raise DragError(f"layers must be a count or a list of layer indices, got {value!r}") from None
    if not layers or layers[0] < 0:
        raise DragError(f"layers must list at least one layer index >= 0, got {value!r}")
    return layers


@dataclass(frozen=True)
class DragSettings:
    """How a drag optimizes. Fields left None are filled in per generator by
    :meth:`resolved` (see :func:`default_settings`).

    ``steps``: most optimizer steps. ``steps_per_px`` / ``min_steps``: the step limit of a
    drag is ``min(steps, min_steps + steps_per_px * longest distance)``. ``lr``: Adam
    learning rate on the code, scaled by ``clip(distance left / lr_ramp, lr_floor, 1)``.
    ``feature_block``: index into ``synthesize(..., return_features=True).features`` for
    motion supervision. ``motion_radius`` / ``track_radius``: pixels (image resolution),
    DragGAN's r1 / r2. ``layers``: the layers of ``wp`` optimized: a count of leading layers
    (DragGAN: 6), a list of indices, or None (the generator's default, see
    :func:`default_settings`). ``stop_distance``: pixels; done when every handle is this close.
    ``mask``: float ``[H, W]`` in [0, 1], 1 where the image may change, or None.
    ``mask_weight``: weight of the keep-the-rest term (DragGAN's lambda). ``keep_radius``:
    without a mask, pixels farther than this from every handle and target are kept
    (None = no such term); ``keep_weight`` its weight. ``anchor_weight``: weight of
    holding the anchors' neighbourhoods. ``template_weight``: how much the motion target
    is the handle's first-frame look (1) rather than its current one (0, DragGAN).
    ``keep_tolerance`` / ``mask_tolerance``: mean change (0-255 levels) the kept region
    (far region / outside the mask) may take before its term acts (0: it always acts).
    ``blend``: with a mask, synthesize with the feature maps blended by the mask between
    the edited and the kept code (:mod:`~sceneedit.editing.spatial_blend`), during the drag
    and whenever the result is rendered; the keep-the-rest loss is then left out (the blend
    keeps the rest, and the loss would only hold the handles back). False: DragGAN's loss only.
    """

    steps: int = 200
    lr: float = 0.01
    feature_block: int | None = None
    motion_radius: float | None = None
    track_radius: float | None = None
    layers: int | tuple[int, ...] | None = None
    stop_distance: float = 0.5
    mask: np.ndarray | None = field(default=None, compare=False)
    mask_weight: float = 10.0
    steps_per_px: float = 8.0
    min_steps: int = 20
    lr_ramp: float = 3.0
    lr_floor: float = 0.25
    keep_radius: float | None = None
    keep_weight: float = 1.0
    anchor_weight: float = 4.0
    template_weight: float = 1.0
    keep_tolerance: float = 0.0
    mask_tolerance: float = 1.5
    blend: bool = True

    def __post_init__(self) -> None:
        if int(self.steps) < 0 or int(self.min_steps) < 0:
            raise DragError(f"steps and min_steps must be >= 0, got {self.steps} and {self.min_steps}")
        for name in (
            "lr",
            "stop_distance",
            "mask_weight",
            "steps_per_px",
            "lr_ramp",
            "lr_floor",
            "keep_weight",
            "anchor_weight",
            "template_weight",
            "keep_tolerance",
            "mask_tolerance",
            "motion_radius",
            "track_radius",
            "keep_radius",
        ):
            raw = getattr(self, name)
            if raw is None and name in ("motion_radius", "track_radius", "keep_radius"):
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise DragError(f"{name} must be a number, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise DragError(f"{name} must be a finite number >= 0, got {raw}")
        object.__setattr__(self, "layers", _layer_spec(self.layers))
        object.__setattr__(self, "blend", bool(self.blend))
        if self.mask is not None:
            mask = np.array(self.mask, dtype=np.float32, copy=True)
            if mask.ndim != 2 or not np.all(np.isfinite(mask)):
                raise DragError(f"mask must be a finite [H, W] array, got shape {list(mask.shape)}")
            mask.setflags(write=False)
            object.__setattr__(self, "mask", mask)

    def optimized_layers(self, num_layers: int) -> list[int]:
        """0-based indices of the layers this drag changes."""
        if self.layers is None:
            return list(range(min(6, num_layers)))
        if isinstance(self.layers, int):
            return list(range(min(self.layers, num_layers)))
        bad = [layer for layer in self.layers if layer >= num_layers]
        if bad:
            raise DragError(
                f"drag layers {bad} out of range; this generator has {num_layers} layers (0-{num_layers - 1})"
            )
        return list(self.layers)

    def resolved(self, generator: Generator) -> DragSettings:
        """These settings with every None filled in for ``generator`` (its resolution)."""
        defaults = default_settings(generator)
        return replace(
            self,
            feature_block=defaults.feature_block if self.feature_block is None else self.feature_block,
            motion_radius=defaults.motion_radius if self.motion_radius is None else self.motion_radius,
            track_radius=defaults.track_radius if self.track_radius is None else self.track_radius,
            layers=defaults.layers if self.layers is None else self.layers,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (the mask as a nested list, or None)."""

        def number(value):
            return None if value is None else float(value)

        return {
            "steps": int(self.steps),
            "lr": float(self.lr),
            "feature_block": None if self.feature_block is None else int(self.feature_block),
            "motion_radius": number(self.motion_radius),
            "track_radius": number(self.track_radius),
            "layers": (
                None if self.layers is None else self.layers if isinstance(self.layers, int) else list(self.layers)
            ),
            "stop_distance": float(self.stop_distance),
            "mask": None if self.mask is None else self.mask.tolist(),
            "mask_weight": float(self.mask_weight),
            "steps_per_px": float(self.steps_per_px),
            "min_steps": int(self.min_steps),
            "lr_ramp": float(self.lr_ramp),
            "lr_floor": float(self.lr_floor),
            "keep_radius": number(self.keep_radius),
            "keep_weight": float(self.keep_weight),
            "anchor_weight": float(self.anchor_weight),
            "template_weight": float(self.template_weight),
            "keep_tolerance": float(self.keep_tolerance),
            "mask_tolerance": float(self.mask_tolerance),
            "blend": bool(self.blend),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DragSettings:
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - allowed
        if unknown:
            raise DragError(f"unknown drag settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        values.setdefault("blend", False)  # recipes written before the blend existed
        if values.get("mask") is not None:
            values["mask"] = np.asarray(values["mask"], dtype=np.float32)
        return cls(**values)


def default_settings(generator: Generator) -> DragSettings:
    """The editor's drag settings for ``generator``, tuned per resolution on the evaluation
    set of ``benchmarks/bench_drag.py`` (figures in docs/benchmarks.md).

    Motion radius about 3 % of the image side (at least 2 px: DragGAN's r1 = 3 px at
    256 px would be under a pixel at 64 px), tracking radius about 4 % (at least 2.5 px:
    content moves at most about a pixel per step, and a small window cannot jump to a
    look-alike), supervision on the last block at most half the output size (DragGAN's
    choice; the full-size block tracked worse), learning rate 0.02 on the first six layers
    (measured at 64 px: without the 4 px layers the content follows about half as
    precisely, 1.6 px against 0.9 px on 8 drags; 0.02 instead of 0.01 needs 38 % fewer
    steps at about the same precision, 0.85 against 0.78 px on 24 drags), at most 64
    steps (the longest drag then takes 1.7 s of CPU, under the 2 s goal), and, with no
    mask, a light hold (weight 0.25) on everything farther than 3/8 of the side from the
    points: far regions change a fifth less (13.7 against 17.3 levels) at no cost in
    precision (0.78 against 0.79 px); weight 0.5-1 kept more (11.5 / 7.3 levels) but left
    drags short (1.04 / 1.94 px). With a mask, the spatial blend keeps the rest
    (``blend=True``).
    """
    resolution = int(generator.resolution)
    sizes = _block_sizes(generator)
    return DragSettings(
        steps=64,
        lr=0.02,
        feature_block=pick_feature_block(sizes, resolution),
        motion_radius=max(2.0, round(resolution * 3 / 100)),
        track_radius=max(2.5, round(resolution * 4 / 100, 1)),
        layers=min(6, int(generator.num_layers)),
        keep_radius=round(resolution * 3 / 8, 1),
        keep_weight=0.25,
    )


#: Block sizes per architecture (class and construction config): a fine-tuned copy of a
#: generator shares its entry, so only a new architecture costs a synthesis.
_BLOCK_SIZES: dict[tuple[str, str], tuple[int, ...]] = {}


def _block_sizes(generator: Generator) -> list[int]:
    """Side of each block's feature map (px), found once per architecture by one synthesis."""
    key = (type(generator).__qualname__, json.dumps(generator.config, sort_keys=True, default=str))
    if key not in _BLOCK_SIZES:
        with torch.no_grad():
            wp = torch.zeros(1, int(generator.num_layers), int(generator.w_dim), device=generator.device)
            features = generator.synthesize(wp, return_features=True).features
        _BLOCK_SIZES[key] = tuple(int(f.shape[-1]) for f in features)
    return list(_BLOCK_SIZES[key])


@dataclass(frozen=True)
class DragProgress:
    """Reported to the callback: ``step`` (1-based) of ``steps`` (the step limit), the tracked
    ``handles``, the largest handle-to-target ``distance`` (pixels) and the frame of this
    step's code (uint8 ``[H, W, 3]``)."""

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
    ``cancelled``: stopped by ``cancel()``; ``distance``: the largest tracked distance to a
    target on the final code (pixels).
    """

    wp: np.ndarray
    handles_final: list[Point]
    steps_run: int
    converged: bool
    wp_start: np.ndarray | None = None
    layers: tuple[int, ...] = ()
    cancelled: bool = False
    distance: float = float("nan")

    @property
    def offset(self) -> np.ndarray:
        """``wp - wp_start`` on :attr:`layers`, float32 ``[len(layers), D]``."""
        if self.wp_start is None:
            raise DragError("this drag result has no start code, so no offset")
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


def tracking_blocks(feature_sizes: Sequence[int], resolution: int) -> list[int]:
    """Blocks combined into the tracking map: every block at least a quarter of the output
    size (at least the last block)."""
    chosen = [i for i, size in enumerate(feature_sizes) if size * TRACK_FRACTION >= resolution]
    return chosen or [len(feature_sizes) - 1]


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


def _inside(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return points[
        (points[:, 0] >= 0) & (points[:, 0] <= height - 1) & (points[:, 1] >= 0) & (points[:, 1] <= width - 1)
    ]


def _patch_offsets(device: torch.device) -> torch.Tensor:
    half = TRACK_PATCH // 2
    ys, xs = torch.meshgrid(torch.arange(-half, half + 1), torch.arange(-half, half + 1), indexing="ij")
    return torch.stack([ys.flatten(), xs.flatten()], dim=-1).to(device=device, dtype=torch.float32)


def _parabola(minus: float, zero: float, plus: float) -> float:
    """Sub-pixel offset in [-0.5, 0.5] of the minimum of three costs around a minimum."""
    denominator = minus - 2.0 * zero + plus
    if not math.isfinite(denominator) or denominator <= 1e-12:
        return 0.0
    return float(min(0.5, max(-0.5, 0.5 * (minus - plus) / denominator)))


def track_point(tracking: torch.Tensor, reference: torch.Tensor, handle: Point, radius: float) -> Point:
    """Where the content of ``reference`` (a ``[K, C]`` patch of the first frame's tracking
    map, K = TRACK_PATCH**2 offsets) lies in ``tracking [1, C, H, W]`` now, searched within a
    square of ``radius`` px around ``handle``; sub-pixel ``(y, x)``."""
    _, channels, height, width = tracking.shape
    half = TRACK_PATCH // 2
    cy, cx = int(round(handle[0])), int(round(handle[1]))
    r = max(1, int(math.ceil(radius)))
    y0, y1 = max(cy - r, 0), min(cy + r, height - 1)
    x0, x1 = max(cx - r, 0), min(cx + r, width - 1)
    # The window plus the patch's border, replicated at the image edge.
    padded = F.pad(tracking, (half, half, half, half), mode="replicate")
    window = padded[:, :, y0 : y1 + 2 * half + 1, x0 : x1 + 2 * half + 1]
    h, w = y1 - y0 + 1, x1 - x0 + 1
    # Every candidate position's patch at once: [C * K, h * w], K offsets row-major like
    # ``_patch_offsets`` (unfold orders channel-major, then the kernel positions).
    patches = F.unfold(window, kernel_size=TRACK_PATCH)[0].view(channels, -1, h * w)
    per_offset = (patches - reference.t().unsqueeze(-1)).abs().sum(dim=0)  # [K, h * w]
    cost = tracking.new_zeros(h * w)
    for row in per_offset:  # summed offset by offset (the float rounding of the reference loop)
        cost += row
    cost = cost.view(h, w)
    flat = int(torch.argmin(cost.flatten()))
    iy, ix = divmod(flat, w)
    values = cost.cpu().numpy()
    sy = _parabola(values[iy - 1, ix], values[iy, ix], values[iy + 1, ix]) if 0 < iy < h - 1 else 0.0
    sx = _parabola(values[iy, ix - 1], values[iy, ix], values[iy, ix + 1]) if 0 < ix < w - 1 else 0.0
    return (float(min(max(y0 + iy + sy, 0.0), height - 1.0)), float(min(max(x0 + ix + sx, 0.0), width - 1.0)))


def _resized(features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``features [N, C, h, w]`` bilinearly resized to ``size`` (as is when it already has it)."""
    if tuple(features.shape[-2:]) == tuple(size):
        return features
    return F.interpolate(features, size=size, mode="bilinear", align_corners=True)


def tracking_map(
    features: Sequence[torch.Tensor], blocks: Sequence[int], size: tuple[int, int], scales: Sequence[float]
) -> torch.Tensor:
    """Blocks ``blocks`` of ``features``, each divided by its ``scales`` entry, upsampled to
    ``size`` and concatenated: ``[1, sum C, H, W]``."""
    parts = [_resized(features[b], size) / s for b, s in zip(blocks, scales, strict=True)]
    return torch.cat(parts, dim=1)


def _far_mask(
    height: int,
    width: int,
    points: Sequence[Point],
    segments: Sequence[tuple[Point, Point]],
    radius: float,
    device: torch.device,
) -> torch.Tensor:
    """1 where a pixel is farther than ``radius`` from every point and segment, ``[1, 1, H, W]``."""
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    nearest = torch.full((height, width), float("inf"))
    for (hy, hx), (ty, tx) in segments:
        dy, dx = ty - hy, tx - hx
        t = (((ys - hy) * dy + (xs - hx) * dx) / max(dy * dy + dx * dx, 1e-9)).clamp(0, 1)
        nearest = torch.minimum(nearest, torch.hypot(ys - (hy + t * dy), xs - (hx + t * dx)))
    for py, px in points:
        nearest = torch.minimum(nearest, torch.hypot(ys - py, xs - px))
    return (nearest > radius).float().view(1, 1, height, width).to(device)


@dataclass
class _Frame:
    """One forward pass: the image, the supervision features and the tracking map."""

    image: torch.Tensor
    supervision: torch.Tensor  # [1, C, H, W], differentiable
    tracking: torch.Tensor  # [1, C', H, W], detached


class _Drag:
    """The state of one running drag (see :func:`run_drag`)."""

    def __init__(
        self,
        generator: Generator,
        settings: DragSettings,
        handles: list[Point],
        targets: list[Point],
        anchors: list[Point],
        truncation_psi: float | None = None,
        kept_wp: torch.Tensor | None = None,
        blend_mask: np.ndarray | None = None,
    ) -> None:
        self.generator = generator
        self.truncation_psi = truncation_psi
        self.settings = settings
        self.targets = targets
        self.anchors = anchors
        self.start_handles = list(handles)
        if settings.feature_block is None or settings.motion_radius is None or settings.track_radius is None:
            raise DragError("drag settings must be resolved for the generator first (DragSettings.resolved)")
        self.track_radius = float(settings.track_radius)
        resolution = int(generator.resolution)
        self.size = (resolution, resolution)
        sizes = _block_sizes(generator)
        block = int(settings.feature_block)
        if not -len(sizes) <= block < len(sizes):
            raise DragError(f"feature_block {block} out of range; this generator has {len(sizes)} blocks")
        self.block = block
        self.track_blocks = tracking_blocks(sizes, resolution)
        self.scales: list[float] = [1.0] * len(self.track_blocks)
        device = generator.device
        self.motion_offsets = _disk_offsets(float(settings.motion_radius), device)
        self.patch = _patch_offsets(device)
        self.first: _Frame | None = None
        self.references: list[torch.Tensor] = []
        self.keep: torch.Tensor | None = None
        # The spatial blend (a masked drag): these blocks' outputs are lerped by the mask
        # toward the kept code's, during the drag exactly as when the result is rendered.
        self.blend_blocks: list[int] = []
        self.blend_masks: list[torch.Tensor] = []
        self.kept: list[torch.Tensor] = []
        self.image_blend: dict[str, torch.Tensor] = {}  # the image too (StyleGAN2, see needs_image_blend)
        if blend_mask is not None:
            if kept_wp is None:
                raise DragError("a blended drag needs the kept code (kept_wp) along with the blend mask")
            self.blend_blocks = default_blend_blocks(sizes, resolution)
            self.blend_masks = block_masks(blend_mask, [sizes[b] for b in self.blend_blocks], device)
            self.kept = kept_features(generator, kept_wp, self.blend_blocks, truncation_psi)
            if needs_image_blend(generator):
                with torch.no_grad():
                    kept_image = generator.synthesize(kept_wp, truncation_psi=truncation_psi)
                image_mask = block_masks(blend_mask, [resolution], device)[0]
                self.image_blend = {"kept_image": kept_image, "image_mask": image_mask}
        if blend_mask is not None:
            self.keep = None  # the blend keeps the rest; a keep-the-rest loss would only hold the handles back
        elif settings.mask is not None:
            self.keep = 1.0 - torch.tensor(np.asarray(settings.mask), device=device).view(1, 1, *self.size)
        elif settings.keep_radius is not None:
            self.keep = _far_mask(
                *self.size, anchors, list(zip(handles, targets, strict=True)), float(settings.keep_radius), device
            )

    def forward(self, wp: torch.Tensor) -> _Frame:
        if self.blend_blocks:
            result = blended_synthesis(
                self.generator,
                wp,
                self.kept,
                self.blend_masks,
                self.blend_blocks,
                return_features=True,
                truncation_psi=self.truncation_psi,
                **self.image_blend,
            )
        else:
            result = self.generator.synthesize(wp, return_features=True, truncation_psi=self.truncation_psi)
        supervision = F.interpolate(result.features[self.block], size=self.size, mode="bilinear", align_corners=True)
        with torch.no_grad():
            maps = [f.detach() for f in result.features] + [result.image.detach()]
            blocks = self.track_blocks + ([len(maps) - 1] if TRACK_IMAGE else [])
            if self.first is None:
                self.scales = [float(maps[b].norm(dim=1).mean().clamp_min(1e-6)) for b in blocks]
            tracking = tracking_map(maps, blocks, self.size, self.scales)
        return _Frame(result.image, supervision, tracking)

    def begin(self, frame: _Frame, handles: list[Point]) -> None:
        """Remember the first frame and the handles' reference patches."""
        self.first = _Frame(frame.image.detach(), frame.supervision.detach(), frame.tracking)
        for handle in handles:
            points = self.patch + torch.tensor(handle, device=frame.tracking.device)
            points = points.clamp(
                min=torch.zeros(2, device=points.device),
                max=torch.tensor([self.size[0] - 1.0, self.size[1] - 1.0], device=points.device),
            )
            self.references.append(_sample(frame.tracking, points))

    def track(self, frame: _Frame, handles: list[Point]) -> list[Point]:
        return [
            track_point(frame.tracking, self.references[i], handle, self.track_radius)
            for i, handle in enumerate(handles)
        ]

    def loss(self, frame: _Frame, handles: list[Point]) -> torch.Tensor:
        settings = self.settings
        first = self.first
        if first is None:
            raise DragError("the drag's first frame is not set (call begin first)")
        height, width = self.size
        features = frame.supervision
        detached = features.detach()
        device = features.device
        loss = features.new_zeros(())
        for index, ((py, px), (ty, tx)) in enumerate(zip(handles, self.targets, strict=True)):
            centre = torch.tensor([py, px], device=device, dtype=torch.float32)
            points = _inside(centre + self.motion_offsets, height, width)
            norm = math.hypot(ty - py, tx - px)
            if norm > settings.stop_distance:
                step = min(1.0, norm)
                direction = torch.tensor([(ty - py) / norm * step, (tx - px) / norm * step], device=device)
                low, high = torch.zeros(2, device=device), torch.tensor([height - 1.0, width - 1.0], device=device)
                moved = (points + direction).clamp(min=low, max=high)
                wanted = _sample(detached, points)
                if settings.template_weight > 0:
                    # The content as it looked at the start (FreeDrag's fixed template): keeps
                    # it from fading or morphing into something else on its way.
                    origin = torch.tensor(self.start_handles[index], device=device)
                    template = _sample(first.supervision, (points - centre + origin).clamp(min=low, max=high))
                    wanted = (1 - settings.template_weight) * wanted + settings.template_weight * template
                loss = loss + (_sample(features, moved) - wanted).abs().mean()
            else:  # arrived: hold the content here while the other handles move
                origin = torch.tensor(self.start_handles[index], device=device)
                before = (points - centre + origin).clamp(
                    min=torch.zeros(2, device=device), max=torch.tensor([height - 1.0, width - 1.0], device=device)
                )
                loss = loss + (_sample(features, points) - _sample(first.supervision, before)).abs().mean()
        for anchor in self.anchors:
            centre = torch.tensor(anchor, device=device, dtype=torch.float32)
            points = _inside(centre + self.motion_offsets, height, width)
            loss = (
                loss
                + settings.anchor_weight * (_sample(features, points) - _sample(first.supervision, points)).abs().mean()
            )
        if self.keep is not None:
            weight = settings.mask_weight if settings.mask is not None else settings.keep_weight
            denominator = self.keep.sum().clamp_min(1.0)
            feature_term = ((features - first.supervision).abs().mean(dim=1, keepdim=True) * self.keep).sum()
            image_term = ((frame.image - first.image).abs().mean(dim=1, keepdim=True) * self.keep).sum()
            change = (feature_term + image_term) / denominator
            tolerance = settings.mask_tolerance if settings.mask is not None else settings.keep_tolerance
            if tolerance > 0:
                # A budget, not a target: the rest may change by up to ``tolerance`` levels
                # (0-255) of mean image change for free, so the handles can still move.
                levels = float(image_term.detach() / denominator) * 127.5
                change = change * (levels > tolerance)
            loss = loss + weight * change
        return loss


def _max_distance(handles: list[Point], targets: list[Point]) -> float:
    return max(math.hypot(t[0] - h[0], t[1] - h[1]) for h, t in zip(handles, targets, strict=True))


def step_limit(settings: DragSettings, distance: float) -> int:
    """Most optimizer steps for a drag whose longest handle-target distance is ``distance`` px."""
    return int(min(int(settings.steps), int(settings.min_steps) + math.ceil(settings.steps_per_px * distance)))


def run_drag(
    generator: Generator,
    wp: np.ndarray,
    handles: Sequence[Sequence[float]],
    targets: Sequence[Sequence[float]],
    settings: DragSettings | None = None,
    callback: Callable[[DragProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    callback_every: int = 1,
    anchors: Sequence[Sequence[float]] = (),
    truncation_psi: float | None = None,
    kept_wp: np.ndarray | None = None,
    blend_mask: np.ndarray | None = None,
) -> DragResult:
    """Drag ``handles`` toward ``targets`` (image pixels ``(y, x)``) by optimizing ``wp``,
    keeping ``anchors`` (points) where they are.

    ``wp``: float ``[L, D]``, mapped with ``truncation_psi``. ``settings`` None fields are
    filled for this generator (:meth:`DragSettings.resolved`). ``callback(DragProgress)`` is called every
    ``callback_every`` steps and on the last one; ``cancel()`` is checked before every step.
    Runs on the generator's device; the same inputs give the same result. Raises
    :class:`DragError` for bad points, settings or a mask of the wrong size.

    With ``settings.mask`` and ``settings.blend`` the image is synthesized with the spatial
    blend (:mod:`~sceneedit.editing.spatial_blend`) of this code inside ``blend_mask``
    (default ``settings.mask``) and ``kept_wp [L, D]`` (default ``wp``) outside; render the
    result with :func:`~sceneedit.editing.spatial_blend.synthesize_masked` and the same two.
    """
    settings = (settings or DragSettings()).resolved(generator)
    start = np.array(wp, dtype=np.float32, copy=True)
    expected = (int(generator.num_layers), int(generator.w_dim))
    if start.shape != expected:
        raise DragError(f"wp must have shape {list(expected)}, got {list(start.shape)}")
    resolution = int(generator.resolution)
    handle_list = _check_points(handles, "handle", resolution, resolution)
    target_list = _check_points(targets, "target", resolution, resolution)
    anchor_list = _check_points(anchors, "anchor", resolution, resolution)
    if not handle_list:
        raise DragError("a drag needs at least one handle point")
    if len(handle_list) != len(target_list):
        raise DragError(f"{len(handle_list)} handles but {len(target_list)} targets; give one target per handle")
    if settings.mask is not None and settings.mask.shape != (resolution, resolution):
        raise DragError(f"mask must be [{resolution}, {resolution}], got {list(settings.mask.shape)}")
    layers = settings.optimized_layers(expected[0])
    device = generator.device
    kept_t = None
    if settings.mask is not None and settings.blend:
        blend_mask = settings.mask if blend_mask is None else np.asarray(blend_mask, dtype=np.float32)
        if blend_mask.shape != (resolution, resolution):
            raise DragError(f"blend mask must be [{resolution}, {resolution}], got {list(blend_mask.shape)}")
        kept = start if kept_wp is None else np.asarray(kept_wp, dtype=np.float32)
        if kept.shape != expected:
            raise DragError(f"kept_wp must have shape {list(expected)}, got {list(kept.shape)}")
        kept_t = torch.from_numpy(np.ascontiguousarray(kept)).to(device)[None]
    else:
        blend_mask = None
    fixed = torch.from_numpy(start).to(device)
    rows = torch.tensor(layers, device=device, dtype=torch.long)
    variable = fixed[rows].clone().requires_grad_(True)
    base_lr = float(settings.lr)
    optimizer = torch.optim.Adam([variable], lr=base_lr, betas=(0.5, 0.999))
    every = max(1, int(callback_every))
    state = _Drag(generator, settings, handle_list, target_list, anchor_list, truncation_psi, kept_t, blend_mask)
    limit = step_limit(settings, _max_distance(handle_list, target_list))

    def code() -> torch.Tensor:
        return fixed.index_put((rows,), variable).unsqueeze(0)

    current = list(handle_list)
    steps_run = 0
    cancelled = False
    best = (_max_distance(current, target_list), variable.detach().clone(), list(current))
    distance = best[0]
    with torch.enable_grad():
        for step in range(limit + 1):
            if cancel is not None and cancel():
                cancelled = True
                break
            optimizer.zero_grad(set_to_none=True)
            frame = state.forward(code())
            if state.first is None:
                state.begin(frame, current)
            else:
                current = state.track(frame, current)
            distance = _max_distance(current, target_list)
            if distance < best[0]:
                best = (distance, variable.detach().clone(), list(current))
            last = step == limit or distance <= settings.stop_distance
            if callback is not None and step > 0 and (step % every == 0 or last):
                callback(DragProgress(step, limit, list(current), distance, to_uint8_images(frame.image.detach())[0]))
            if last:
                break
            loss = state.loss(frame, current)
            if loss.requires_grad:
                loss.backward()
                scale = min(1.0, max(float(settings.lr_floor), distance / max(float(settings.lr_ramp), 1e-6)))
                for group in optimizer.param_groups:
                    group["lr"] = base_lr * scale
                optimizer.step()
            steps_run += 1
    if distance > best[0] + 0.25:  # the handles were closer before: keep that code
        distance, final_rows, current = best[0], best[1], best[2]
    else:
        final_rows = variable.detach()
    final = start.copy()
    final[layers] = final_rows.cpu().numpy()
    converged = distance <= settings.stop_distance
    return DragResult(final, current, steps_run, converged, start, tuple(layers), cancelled, float(distance))
