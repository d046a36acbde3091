"""Build a scene (camera, room surfaces, furniture groups, lights) from its factors.

The result is a :class:`Scene`: plain geometry with colours before lighting, ready for
:func:`sceneedit.scenes.render.draw_scene`. Everything here is deterministic given the
factors (placement jitter comes from ``factors.detail_seed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sceneedit.scenes import palette
from sceneedit.scenes.factors import CATEGORIES, SceneFactors
from sceneedit.scenes.geometry import Camera, Panel, Solid, box, frustum

CAMERA_HEIGHT = 1.45
CAMERA_Z = 0.6
RGB = palette.RGB


@dataclass
class Group:
    """One piece of furniture (or a wall fixture) drawn as a unit in painter's order.

    ``parts``: ``(layer, primitive)``; inside a group parts are drawn by layer, then far to near.
    ``footprint``: ``(x0, x1, z0, z1)`` on the floor, used to keep clutter off it.
    """

    name: str
    parts: list[tuple[int, Solid | Panel]] = field(default_factory=list)
    footprint: tuple[float, float, float, float] | None = None

    def add(self, primitive: Solid | Panel, layer: int = 0) -> None:
        self.parts.append((layer, primitive))

    @property
    def center(self) -> np.ndarray:
        points = [p.center for _, p in self.parts if isinstance(p, Solid)] or [p.center for _, p in self.parts]
        return np.mean(points, axis=0)


@dataclass
class Surface:
    """A horizontal rectangle at height ``y`` that can carry clutter; ``group`` owns it (None: floor)."""

    x0: float
    x1: float
    z0: float
    z1: float
    y: float
    group: Group | None
    occupied: list[tuple[float, float, float, float]] = field(default_factory=list)


@dataclass
class Scene:
    """Geometry of one scene. ``objects``: names of everything placed, clutter as ``clutter:<kind>``."""

    factors: SceneFactors
    camera: Camera
    width: float
    depth: float
    height: float
    floor_polygons: list[tuple[np.ndarray, RGB]]  # [K, 2] in (x, z) on the floor, colour
    walls: list[Panel]
    window: list[Panel]
    sun_patch: np.ndarray | None  # [4, 2] (x, z) counter-clockwise, or None
    groups: list[Group]
    lights: list[np.ndarray]  # world positions of lamps
    objects: list[str]
    clutter_items: list[str]
    illumination: float
    lamp_strength: float


class _Builder:
    """Mutable state while one scene is assembled."""

    def __init__(self, factors: SceneFactors, camera: Camera) -> None:
        self.f = factors
        self.camera = camera
        self.rng = np.random.default_rng(factors.detail_seed)
        self.w, self.d, self.h = factors.room_width, factors.room_depth, factors.room_height
        self.groups: list[Group] = []
        self.surfaces: list[Surface] = []
        self.lights: list[np.ndarray] = []
        self.objects: list[str] = []
        self.window_span: tuple[float, float, float, float] | None = None  # x0, x1, y0, y1

    # ----- helpers ----------------------------------------------------------------------
    def u(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def framed_x(self, z: float, low: float, high: float, spread: float = 0.35) -> float:
        """An x in ``[low, high]`` near where the camera looks at depth ``z`` (keeps key furniture in view)."""
        if high <= low:
            return (low + high) / 2
        cam_x, _, cam_z = self.camera.position
        target = cam_x + np.tan(self.f.camera_yaw) * (z - cam_z) + self.u(-spread, spread)
        return float(min(high, max(low, target)))

    def color(self, role: str) -> RGB:
        return palette.furniture_color(role, self.f.furniture_warmth, self.rng)

    def group(self, name: str, footprint: tuple[float, float, float, float] | None = None) -> Group:
        g = Group(name, footprint=footprint)
        self.groups.append(g)
        self.objects.append(name)
        return g

    def surface(self, x0: float, x1: float, z0: float, z1: float, y: float, group: Group | None) -> Surface:
        s = Surface(x0, x1, z0, z1, y, group)
        self.surfaces.append(s)
        return s

    def lamp_shade(
        self,
        g: Group,
        cx: float,
        cz: float,
        y0: float,
        size: float,
        height: float,
        top_scale: float = 0.62,
        layer: int = 1,
    ) -> None:
        """An emissive lamp shade centred at (cx, cz) whose bottom is at ``y0``; registers a light."""
        g.add(
            frustum(
                cx - size / 2,
                cx + size / 2,
                cz - size / 2,
                cz + size / 2,
                y0,
                y0 + height,
                top_scale,
                palette.LAMP_LIGHT,
                emissive=True,
            ),
            layer,
        )
        self.lights.append(np.array([cx, y0 + height * 0.4, cz]))

    def front_seams(self, g: Group, x0: float, x1: float, y0: float, y1: float, z: float, pitch: float) -> None:
        """Dark vertical door seams on a front face at depth ``z`` (facing -z), about ``pitch`` apart."""
        count = max(1, int(round((x1 - x0) / pitch)))
        for i in range(1, count):
            x = x0 + (x1 - x0) * i / count
            g.add(
                Panel(
                    np.array(
                        [
                            [x - 0.018, y0 + 0.04, z],
                            [x + 0.018, y0 + 0.04, z],
                            [x + 0.018, y1 - 0.04, z],
                            [x - 0.018, y1 - 0.04, z],
                        ]
                    ),
                    palette.SEAM,
                    normal=(0.0, 0.0, -1.0),
                ),
                5,
            )


# ----- categories --------------------------------------------------------------------------------


def _bedroom(b: _Builder) -> None:
    bed_w, bed_l = b.u(1.45, 1.85), b.u(1.95, 2.15)
    room_half = b.w / 2
    cx = b.framed_x(b.d, -room_half + bed_w / 2 + 0.7, room_half - bed_w / 2 - 0.7)
    x0, x1, z1 = cx - bed_w / 2, cx + bed_w / 2, b.d - 0.02
    z0 = z1 - bed_l
    frame_color, head_color, blanket = b.color("wood"), b.color("secondary"), b.color("primary")
    bed = b.group("bed", (x0, x1, z0, z1))
    bed.add(box(x0 - 0.05, x1 + 0.05, 0.0, b.u(1.05, 1.25), z1 - 0.09, z1, head_color), 0)
    bed.add(box(x0, x1, 0.0, 0.30, z0, z1 - 0.09, frame_color), 0)
    bed.add(box(x0 + 0.03, x1 - 0.03, 0.30, 0.50, z0 + 0.03, z1 - 0.1, palette.WHITE_LINEN), 1)
    pillow_w = (bed_w - 0.2) / 2
    for px in (x0 + 0.07, x0 + 0.13 + pillow_w):
        bed.add(box(px, px + pillow_w, 0.50, 0.64, z1 - 0.55, z1 - 0.15, palette.WHITE_LINEN), 2)
    bed.add(box(x0 - 0.02, x1 + 0.02, 0.27, 0.56, z0 - 0.02, z0 + 0.62 * bed_l, blanket), 2)

    sides = [-1, 1] if b.rng.random() < 0.6 else [int(b.rng.choice([-1, 1]))]
    wood = b.color("wood")
    for side in sides:
        nx0 = x1 + 0.08 if side > 0 else x0 - 0.08 - 0.5
        nx1 = nx0 + 0.5
        nz0, ny = b.d - 0.47, b.u(0.5, 0.58)
        stand = b.group("nightstand", (nx0, nx1, nz0, b.d))
        stand.add(box(nx0, nx1, 0.0, ny, nz0, b.d, wood), 0)
        stand.add(
            Panel(
                np.array(
                    [
                        [nx0 + 0.04, ny - 0.2, nz0 - 0.002],
                        [nx1 - 0.04, ny - 0.2, nz0 - 0.002],
                        [nx1 - 0.04, ny - 0.17, nz0 - 0.002],
                        [nx0 + 0.04, ny - 0.17, nz0 - 0.002],
                    ]
                ),
                palette.SEAM,
                normal=(0.0, 0.0, -1.0),
            ),
            5,
        )
        lcx, lcz = (nx0 + nx1) / 2, b.d - 0.25
        stand.add(box(lcx - 0.05, lcx + 0.05, ny, ny + 0.22, lcz - 0.05, lcz + 0.05, palette.SEAM), 1)
        b.lamp_shade(stand, lcx, lcz, ny + 0.2, 0.36, 0.28)
        b.objects.append("table_lamp")
        top = b.surface(nx0 + 0.03, nx1 - 0.03, nz0 + 0.02, b.d - 0.02, ny, stand)
        top.occupied.append((lcx - 0.19, lcx + 0.19, lcz - 0.19, lcz + 0.19))


def _living_room(b: _Builder) -> None:
    room_half = b.w / 2
    lamp_side = int(b.rng.choice([-1, 1]))
    other = -lamp_side
    has_tv = bool(b.rng.random() < 0.5)  # else a tall bookshelf beside the sofa
    shelf_w = b.u(0.8, 1.1)
    clearance = {lamp_side: 0.6, other: 0.55 if has_tv else shelf_w + 0.25}
    sofa_w = min(b.u(1.9, 2.5), b.w - clearance[-1] - clearance[1] - 0.1)
    low, high = -room_half + clearance[-1] + sofa_w / 2, room_half - clearance[1] - sofa_w / 2
    cx = b.framed_x(b.d, low, high)
    x0, x1, z1 = cx - sofa_w / 2, cx + sofa_w / 2, b.d - 0.03
    z0 = z1 - 0.92
    cloth = b.color("primary")
    sofa = b.group("sofa", (x0, x1, z0, z1))
    sofa.add(box(x0, x1, 0.0, b.u(0.85, 0.95), z1 - 0.24, z1, palette.scale(cloth, 0.9)), 0)
    sofa.add(box(x0, x1, 0.0, 0.40, z0, z1 - 0.2, cloth), 0)
    sofa.add(box(x0 + 0.17, x1 - 0.17, 0.40, 0.50, z0 + 0.02, z1 - 0.22, palette.mix(cloth, (1, 1, 1), 0.15)), 1)
    sofa.add(box(x0, x0 + 0.17, 0.0, 0.64, z0, z1, cloth), 2)
    sofa.add(box(x1 - 0.17, x1, 0.0, 0.64, z0, z1, cloth), 2)

    t_w, t_d = b.u(0.95, 1.25), b.u(0.5, 0.62)
    tz1 = z0 - b.u(0.35, 0.5)
    tcx = cx + b.u(-0.2, 0.2)
    tx0, tx1, tz0 = tcx - t_w / 2, tcx + t_w / 2, tz1 - t_d
    wood = b.color("wood")
    table = b.group("coffee_table", (tx0, tx1, tz0, tz1))
    table.add(box(tx0 + 0.08, tx1 - 0.08, 0.0, 0.34, tz0 + 0.08, tz1 - 0.08, palette.scale(wood, 0.6)), 0)
    table.add(box(tx0, tx1, 0.34, 0.42, tz0, tz1, wood), 1)
    b.surface(tx0 + 0.03, tx1 - 0.03, tz0 + 0.03, tz1 - 0.03, 0.42, table)

    lx = x1 + 0.3 if lamp_side > 0 else x0 - 0.3
    lz = b.d - 0.35
    lamp = b.group("floor_lamp", (lx - 0.2, lx + 0.2, lz - 0.2, lz + 0.2))
    lamp.add(box(lx - 0.16, lx + 0.16, 0.0, 0.03, lz - 0.16, lz + 0.16, palette.SEAM), 0)
    lamp.add(box(lx - 0.025, lx + 0.025, 0.0, 1.4, lz - 0.025, lz + 0.025, palette.SEAM), 0)
    b.lamp_shade(lamp, lx, lz, 1.3, 0.44, 0.34)

    if has_tv:  # a TV on a console against the side wall, near the back corner
        wall_x = other * room_half
        tvz1 = b.d - b.u(0.5, 0.9)
        tvz0 = tvz1 - b.u(1.3, 1.6)
        inner = wall_x - other * 0.42
        cx0, cx1 = min(wall_x, inner), max(wall_x, inner)
        console = b.group("tv", (cx0, cx1, tvz0, tvz1))
        console.add(box(cx0, cx1, 0.0, 0.48, tvz0, tvz1, b.color("wood")), 0)
        b.surface(cx0 + 0.03, cx1 - 0.03, tvz0 + 0.05, tvz1 - 0.05, 0.48, console)
        sx0, sx1 = (wall_x - 0.06, wall_x) if other > 0 else (wall_x, wall_x + 0.06)
        screen_h = b.u(0.7, 0.85)
        console.add(box(sx0, sx1, 0.95, 0.95 + screen_h, tvz0 + 0.05, tvz1 - 0.05, palette.SCREEN), 1)
    else:  # a tall bookshelf against the back wall beside the sofa
        sx0 = x1 + 0.15 if other > 0 else x0 - 0.15 - shelf_w
        sx1 = sx0 + shelf_w
        sz0, top = b.d - 0.36, min(b.h - 0.2, b.u(1.8, 2.1))
        shelf = b.group("shelf", (sx0, sx1, sz0, b.d))
        shelf_color = b.color("wood")
        shelf.add(box(sx0, sx1, 0.0, top, sz0, b.d, shelf_color), 0)
        rows = 4
        for r in range(rows):
            ry0 = 0.1 + r * (top - 0.15) / rows
            ry1 = ry0 + (top - 0.15) / rows - 0.06
            book = palette.CLUTTER_COLORS[int(b.rng.integers(len(palette.CLUTTER_COLORS)))]
            shelf.add(
                Panel(
                    np.array(
                        [
                            [sx0 + 0.05, ry0, sz0 - 0.002],
                            [sx1 - 0.05, ry0, sz0 - 0.002],
                            [sx1 - 0.05, ry1, sz0 - 0.002],
                            [sx0 + 0.05, ry1, sz0 - 0.002],
                        ]
                    ),
                    palette.scale(book, 0.8),
                    normal=(0.0, 0.0, -1.0),
                ),
                5,
            )


def _dining_room(b: _Builder) -> None:
    t_l, t_w, t_h = b.u(1.5, 1.9), b.u(0.85, 1.0), b.u(0.73, 0.77)
    room_half = b.w / 2
    span = max(0.0, room_half - t_l / 2 - 0.45)
    cz = min(max(2.2, b.u(0.58, 0.66) * b.d), b.d - t_w / 2 - 0.7)
    cx = b.framed_x(cz, -span, span, spread=0.2)
    x0, x1, z0, z1 = cx - t_l / 2, cx + t_l / 2, cz - t_w / 2, cz + t_w / 2
    wood, chair_color = b.color("wood"), b.color("secondary")

    def chair(sx: float, sz: float, facing: str) -> None:
        """A chair whose seat centre is (sx, sz); its back is on the side away from the table."""
        s = 0.22
        g = b.group("chair", (sx - s, sx + s, sz - s, sz + s))
        for lx, lz in (
            (sx - s + 0.03, sz - s + 0.03),
            (sx + s - 0.03, sz - s + 0.03),
            (sx - s + 0.03, sz + s - 0.03),
            (sx + s - 0.03, sz + s - 0.03),
        ):
            g.add(box(lx - 0.025, lx + 0.025, 0.0, 0.44, lz - 0.025, lz + 0.025, palette.scale(chair_color, 0.7)), 0)
        g.add(box(sx - s, sx + s, 0.44, 0.50, sz - s, sz + s, chair_color), 1)
        back = {
            "far": (sx - s, sx + s, sz + s - 0.06, sz + s),
            "near": (sx - s, sx + s, sz - s, sz - s + 0.06),
            "left": (sx - s, sx - s + 0.06, sz - s, sz + s),
            "right": (sx + s - 0.06, sx + s, sz - s, sz + s),
        }[facing]
        g.add(box(back[0], back[1], 0.50, 0.98, back[2], back[3], chair_color), 2)

    per_side = 2 if t_l < 1.75 else 3
    for i in range(per_side):
        sx = x0 + t_l * (i + 0.5) / per_side
        chair(sx, z1 + 0.17, "far")
        chair(sx, z0 - 0.17, "near")
    for side in (-1, 1):
        if b.rng.random() < 0.5 and abs(cx) + t_l / 2 + 0.5 < room_half:
            chair(cx + side * (t_l / 2 + 0.17), cz, "left" if side < 0 else "right")

    table = b.group("dining_table", (x0, x1, z0, z1))
    for lx, lz in ((x0 + 0.08, z0 + 0.08), (x1 - 0.08, z0 + 0.08), (x0 + 0.08, z1 - 0.08), (x1 - 0.08, z1 - 0.08)):
        table.add(box(lx - 0.04, lx + 0.04, 0.0, t_h - 0.05, lz - 0.04, lz + 0.04, palette.scale(wood, 0.75)), 0)
    table.add(box(x0, x1, t_h - 0.06, t_h, z0, z1, wood), 1)
    b.surface(x0 + 0.05, x1 - 0.05, z0 + 0.05, z1 - 0.05, t_h, table)

    pendant = b.group("pendant_lamp")
    shade_bottom = b.h - b.u(0.8, 1.05)
    pendant.add(box(cx - 0.012, cx + 0.012, shade_bottom + 0.25, b.h, cz - 0.012, cz + 0.012, palette.SEAM), 0)
    b.lamp_shade(pendant, cx, cz, shade_bottom, b.u(0.45, 0.55), 0.28, top_scale=0.3, layer=1)

    if b.rng.random() < 0.5:  # a sideboard against the back wall
        sb_w = b.u(1.2, 1.6)
        sb_cx = b.u(-room_half + sb_w / 2 + 0.2, room_half - sb_w / 2 - 0.2)
        sx0, sx1, sz0 = sb_cx - sb_w / 2, sb_cx + sb_w / 2, b.d - 0.45
        board = b.group("sideboard", (sx0, sx1, sz0, b.d))
        board.add(box(sx0, sx1, 0.0, 0.85, sz0, b.d, wood), 0)
        b.front_seams(board, sx0, sx1, 0.0, 0.85, sz0 - 0.002, 0.5)
        b.surface(sx0 + 0.03, sx1 - 0.03, sz0 + 0.03, b.d - 0.03, 0.85, board)


def _kitchen(b: _Builder) -> None:
    room_half = b.w / 2
    fridge_side = int(b.rng.choice([-1, 1]))
    f_w, f_d, f_h = b.u(0.78, 0.88), 0.72, b.u(1.85, 1.98)
    fx0 = -room_half if fridge_side < 0 else room_half - f_w
    fx1, fz0 = fx0 + f_w, b.d - f_d
    steel = palette.mix(palette.STEEL, (1, 1, 1), b.u(-0.3, 0.5))
    fridge = b.group("fridge", (fx0, fx1, fz0, b.d))
    fridge.add(box(fx0, fx1, 0.0, f_h, fz0, b.d, steel), 0)
    split = f_h * 0.62
    z = fz0 - 0.002
    fridge.add(
        Panel(
            np.array(
                [
                    [fx0 + 0.02, split, z],
                    [fx1 - 0.02, split, z],
                    [fx1 - 0.02, split + 0.03, z],
                    [fx0 + 0.02, split + 0.03, z],
                ]
            ),
            palette.SEAM,
            normal=(0, 0, -1.0),
        ),
        5,
    )
    hx = fx1 - 0.1 if fridge_side < 0 else fx0 + 0.07
    fridge.add(
        Panel(
            np.array(
                [
                    [hx, split - 0.45, z],
                    [hx + 0.03, split - 0.45, z],
                    [hx + 0.03, split - 0.08, z],
                    [hx, split - 0.08, z],
                ]
            ),
            palette.SEAM,
            normal=(0, 0, -1.0),
        ),
        6,
    )

    cab_color = b.color("primary")
    stone = (0.86, 0.85, 0.82) if b.rng.random() < 0.5 else (0.22, 0.22, 0.24)
    cx0, cx1 = (fx1, room_half) if fridge_side < 0 else (-room_half, fx0)
    cz0 = b.d - 0.62
    counter = b.group("counter", (cx0, cx1, cz0, b.d))
    counter.add(box(cx0, cx1, 0.0, 0.86, cz0, b.d, cab_color), 0)
    b.front_seams(counter, cx0, cx1, 0.0, 0.86, cz0 - 0.002, 0.6)
    counter.add(box(cx0, cx1, 0.86, 0.92, cz0 - 0.03, b.d, stone), 1)
    b.surface(cx0 + 0.03, cx1 - 0.03, cz0 + 0.02, b.d - 0.03, 0.92, counter)

    # Upper cabinets along the counter, leaving a gap for the window when there is one.
    uy0, uy1 = 1.45, min(2.2, b.h - 0.15)
    spans = [(cx0, cx1)]
    if b.window_span is not None:
        wx0, wx1 = b.window_span[0] - 0.1, b.window_span[1] + 0.1
        spans = [(a, c) for a, c in ((cx0, min(cx1, wx0)), (max(cx0, wx1), cx1)) if c - a > 0.35]
    for a, c in spans:
        upper = b.group("upper_cabinet", (a, c, b.d - 0.35, b.d))
        upper.add(box(a, c, uy0, uy1, b.d - 0.35, b.d, cab_color), 0)
        b.front_seams(upper, a, c, uy0, uy1, b.d - 0.352, 0.6)

    if b.rng.random() < 0.5:  # an L-shaped run along the side wall opposite the fridge
        wall_x = -fridge_side * room_half
        inner = wall_x + fridge_side * 0.62
        sx0, sx1 = min(wall_x, inner), max(wall_x, inner)
        sz1 = cz0
        sz0 = sz1 - b.u(0.8, min(1.6, b.d - 2.4))
        side = b.group("counter", (sx0, sx1, sz0, sz1))
        side.add(box(sx0, sx1, 0.0, 0.86, sz0, sz1, cab_color), 0)
        side.add(
            box(
                sx0 - 0.03 if fridge_side > 0 else sx0,
                sx1 + 0.03 if fridge_side < 0 else sx1,
                0.86,
                0.92,
                sz0,
                sz1,
                stone,
            ),
            1,
        )
        b.surface(sx0 + 0.03, sx1 - 0.03, sz0 + 0.03, sz1 - 0.03, 0.92, side)

    light = b.group("ceiling_light")
    lcx, lcz = b.u(-0.4, 0.4), b.u(0.45, 0.6) * b.d
    light.add(box(lcx - 0.3, lcx + 0.3, b.h - 0.05, b.h, lcz - 0.3, lcz + 0.3, palette.LAMP_LIGHT, emissive=True))
    b.lights.append(np.array([lcx, b.h - 0.2, lcz]))


#: Furniture every scene of a category contains (a living room also has a ``tv`` or a ``shelf``).
REQUIRED_OBJECTS: dict[str, tuple[str, ...]] = {
    "bedroom": ("bed", "nightstand", "table_lamp"),
    "living_room": ("sofa", "coffee_table", "floor_lamp"),
    "dining_room": ("dining_table", "chair", "pendant_lamp"),
    "kitchen": ("counter", "fridge", "ceiling_light"),
}

_BUILDERS = {"bedroom": _bedroom, "living_room": _living_room, "dining_room": _dining_room, "kitchen": _kitchen}


# ----- room shell, window, clutter ---------------------------------------------------------------


def _plan_window(b: _Builder) -> None:
    """Decide where the window goes on the back wall (before the furniture, which may avoid it)."""
    if not b.f.natural_light:
        return
    room_half = b.w / 2
    width = b.u(0.9, 1.4)
    if CATEGORIES[b.f.category] == "kitchen":
        limit = room_half - 0.9 - width / 2 - 0.25  # clear of the fridge
        sill = b.u(1.08, 1.18)
    else:
        limit = room_half - width / 2 - 0.5
        sill = b.u(0.9, 1.05)
    cx = b.u(-limit, limit) if limit > 0 else 0.0
    top = min(b.h - 0.2, sill + b.u(1.0, 1.25))
    b.window_span = (cx - width / 2, cx + width / 2, sill, top)


def _window_panels(b: _Builder) -> list[Panel]:
    x0, x1, y0, y1 = b.window_span  # type: ignore[misc]
    z = b.d - 0.002
    frame, bar = 0.07, 0.05

    def rect(a: float, c: float, lo: float, hi: float, color: RGB, emissive: bool = False) -> Panel:
        return Panel(np.array([[a, lo, z], [c, lo, z], [c, hi, z], [a, hi, z]]), color, emissive)

    panels = [rect(x0, x1, y0, y1, palette.WINDOW_FRAME)]
    mx, my = (x0 + x1) / 2, y0 + 0.55 * (y1 - y0)
    for a, c in ((x0 + frame, mx - bar / 2), (mx + bar / 2, x1 - frame)):
        for lo, hi in ((y0 + frame, my - bar / 2), (my + bar / 2, y1 - frame)):
            sky = palette.mix(palette.SKY, (1, 1, 1), 0.25 if lo > my - 0.1 else 0.0)
            panels.append(rect(a, c, lo, hi, sky, emissive=True))
    panels.append(rect(x0 - 0.06, x1 + 0.06, y0 - 0.06, y0, palette.WINDOW_FRAME))
    return panels


def _sun_patch(b: _Builder) -> np.ndarray:
    """The window's sunlight on the floor: the window rectangle cast along the sun direction."""
    x0, x1, y0, y1 = b.window_span  # type: ignore[misc]
    sx, k = b.u(-0.45, 0.45), b.u(0.55, 0.85)

    def cast(x: float, y: float) -> tuple[float, float]:
        return x + sx * y, b.d - k * y

    # Counter-clockwise in the (x, z) plane.
    return np.array([cast(x0, y1), cast(x1, y1), cast(x1, y0), cast(x0, y0)])


def _floor_polygons(b: _Builder, base: RGB) -> list[tuple[np.ndarray, RGB]]:
    half = b.w / 2
    if not b.f.floor_wood:
        return [(np.array([[-half, 0.0], [half, 0.0], [half, b.d], [-half, b.d]]), base)]
    polygons = [(np.array([[-half, 0.0], [half, 0.0], [half, b.d], [-half, b.d]]), palette.scale(base, 0.55))]
    plank = b.u(0.26, 0.34)
    count = int(np.ceil(b.w / plank))
    offset = b.u(0.0, plank)
    for i in range(-1, count + 1):
        a = max(-half, -half + offset + i * plank + 0.015)
        c = min(half, -half + offset + (i + 1) * plank - 0.015)
        if c <= a:
            continue
        shade = 1.0 + (0.08 if i % 2 else -0.06) + b.u(-0.04, 0.04)
        polygons.append((np.array([[a, 0.0], [c, 0.0], [c, b.d], [a, b.d]]), palette.scale(base, shade)))
    return polygons


def _walls(b: _Builder) -> list[Panel]:
    half, d, h = b.w / 2, b.d, b.h
    wall = palette.wall_color(b.f.wall_hue)
    ceiling = palette.ceiling_color(b.f.wall_hue)
    return [
        Panel(np.array([[-half, h, 0.0], [half, h, 0.0], [half, h, d], [-half, h, d]]), palette.scale(ceiling, 0.97)),
        Panel(
            np.array([[-half, 0.0, 0.0], [-half, 0.0, d], [-half, h, d], [-half, h, 0.0]]), palette.scale(wall, 0.86)
        ),
        Panel(np.array([[half, 0.0, 0.0], [half, h, 0.0], [half, h, d], [half, 0.0, d]]), palette.scale(wall, 0.78)),
        Panel(np.array([[-half, 0.0, d], [half, 0.0, d], [half, h, d], [-half, h, d]]), wall),
        # Skirting boards along the back wall's bottom edge.
        Panel(
            np.array(
                [[-half, 0.0, d - 0.001], [half, 0.0, d - 0.001], [half, 0.09, d - 0.001], [-half, 0.09, d - 0.001]]
            ),
            palette.scale(wall, 0.55),
        ),
    ]


_CLUTTER_KINDS = ("books", "vase", "plant", "box", "bowl")
_FLOOR_CLUTTER_KINDS = ("plant", "box", "basket")


def _in_view(b: _Builder, point: np.ndarray, margin: float = 0.06) -> bool:
    cam = b.camera.to_camera(point[None])
    if cam[0, 2] < 0.3:
        return False
    px = b.camera.project_camera(cam)[0] / b.camera.size
    return bool(margin <= px[0] <= 1 - margin and margin <= px[1] <= 1 - margin)


def _overlaps(
    rect: tuple[float, float, float, float], others: list[tuple[float, float, float, float]], gap: float = 0.03
) -> bool:
    x0, x1, z0, z1 = rect
    return any(x0 < o[1] + gap and o[0] - gap < x1 and z0 < o[3] + gap and o[2] - gap < z1 for o in others)


def _clutter_item(b: _Builder, kind: str, cx: float, cz: float, y: float, size: float) -> list[Solid]:
    r = size / 2
    color = palette.CLUTTER_COLORS[int(b.rng.integers(len(palette.CLUTTER_COLORS)))]
    if kind == "books":
        parts, top = [], y
        for _ in range(int(b.rng.integers(2, 4))):
            c = palette.CLUTTER_COLORS[int(b.rng.integers(len(palette.CLUTTER_COLORS)))]
            dx = b.u(-0.02, 0.02)
            parts.append(box(cx - r + dx, cx + r + dx, top, top + 0.05, cz - r * 0.7, cz + r * 0.7, c))
            top += 0.05
        return parts
    if kind == "vase":
        return [frustum(cx - r * 0.55, cx + r * 0.55, cz - r * 0.55, cz + r * 0.55, y, y + size * 1.2, 0.6, color)]
    if kind == "plant":
        pot = frustum(
            cx - r * 0.6, cx + r * 0.6, cz - r * 0.6, cz + r * 0.6, y, y + size * 0.5, 1.25, palette.TERRACOTTA_POT
        )
        leaves = frustum(cx - r, cx + r, cz - r, cz + r, y + size * 0.5, y + size * 1.4, 0.55, palette.PLANT_GREEN)
        return [pot, leaves]
    if kind == "bowl":
        return [frustum(cx - r * 0.7, cx + r * 0.7, cz - r * 0.7, cz + r * 0.7, y, y + size * 0.35, 1.45, color)]
    if kind == "basket":
        return [frustum(cx - r, cx + r, cz - r, cz + r, y, y + size * 0.8, 1.15, (0.78, 0.62, 0.36))]
    return [box(cx - r, cx + r, y, y + size * 0.9, cz - r, cz + r, color)]  # "box"


def _place_clutter(b: _Builder) -> list[str]:
    """Place exactly ``factors.clutter`` items, each on a surface or the floor and in view."""
    items: list[str] = []
    floor = Surface(-b.w / 2 + 0.25, b.w / 2 - 0.25, max(1.8, 0.35 * b.d), b.d - 0.25, 0.0, None)
    footprints = [g.footprint for g in b.groups if g.footprint is not None]
    candidates = b.surfaces + [floor]
    for _ in range(b.f.clutter):
        placed = False
        for _attempt in range(60):
            surface = candidates[int(b.rng.integers(len(candidates)))]
            on_floor = surface.group is None
            kind = str(b.rng.choice(_FLOOR_CLUTTER_KINDS if on_floor else _CLUTTER_KINDS))
            size = b.u(0.32, 0.45) if on_floor else b.u(0.17, 0.26)
            r = size / 2
            if surface.x1 - surface.x0 < size or surface.z1 - surface.z0 < size:
                continue
            cx, cz = b.u(surface.x0 + r, surface.x1 - r), b.u(surface.z0 + r, surface.z1 - r)
            rect = (cx - r, cx + r, cz - r, cz + r)
            if _overlaps(rect, surface.occupied) or (on_floor and _overlaps(rect, footprints, 0.08)):
                continue
            if not _in_view(b, np.array([cx, surface.y + size * 0.5, cz])):
                continue
            surface.occupied.append(rect)
            parts = _clutter_item(b, kind, cx, cz, surface.y, size)
            if on_floor:
                group = Group(f"clutter:{kind}", footprint=rect)
                b.groups.append(group)
                footprints.append(rect)
                for p in parts:
                    group.add(p, 0)
            else:
                for p in parts:
                    surface.group.add(p, 8)  # type: ignore[union-attr]
            items.append(kind)
            placed = True
            break
        if not placed:
            # Rare fallback: straight ahead of the camera on the floor, always in view.
            kind = "box"
            cx = float(b.camera.position[0]) + b.u(-0.3, 0.3)
            cz = float(min(b.d - 0.4, 2.2))
            group = Group("clutter:box")
            for p in _clutter_item(b, kind, cx, cz, 0.0, 0.35):
                group.add(p, 0)
            b.groups.append(group)
            items.append(kind)
    return items


def build_scene(factors: SceneFactors, size: int) -> Scene:
    """Assemble the geometry of ``factors`` for a square image of ``size`` pixels."""
    half_free = 0.5 * max(0.0, factors.room_width / 2 - 0.8)
    camera = Camera(
        (factors.camera_x * half_free, CAMERA_HEIGHT, CAMERA_Z), factors.camera_yaw, factors.camera_pitch, size
    )
    b = _Builder(factors, camera)
    _plan_window(b)
    _BUILDERS[CATEGORIES[factors.category]](b)
    clutter = _place_clutter(b)
    objects = list(b.objects)
    window = []
    sun = None
    if b.window_span is not None:
        window = _window_panels(b)
        sun = _sun_patch(b)
        objects.append("window")
    objects.extend(f"clutter:{kind}" for kind in clutter)
    lighting = factors.indoor_lighting
    return Scene(
        factors=factors,
        camera=camera,
        width=b.w,
        depth=b.d,
        height=b.h,
        floor_polygons=_floor_polygons(b, palette.floor_color(factors.floor_tone, bool(factors.floor_wood))),
        walls=_walls(b),
        window=window,
        sun_patch=sun,
        groups=b.groups,
        lights=b.lights,
        objects=objects,
        clutter_items=clutter,
        illumination=0.42 + 0.5 * lighting + 0.12 * factors.natural_light,
        lamp_strength=0.15 + 0.4 * lighting,
    )
