"""Pinhole camera, 3-D primitives (boxes, frusta, flat panels) and polygon clipping.

World coordinates in metres: x to the right, y up (floor at 0), z away from the camera wall
(the back wall is at ``z = depth``). Image coordinates: pixels, origin top-left, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Points closer than this to the camera plane (metres) are clipped away.
NEAR = 0.05
#: Horizontal field of view.
FOV_DEGREES = 62.0
#: Direction towards the key light (normalised below); used for face shading.
_KEY_LIGHT = np.array([-0.35, 0.85, -0.45])
_KEY_LIGHT = _KEY_LIGHT / np.linalg.norm(_KEY_LIGHT)

# Faces of an 8-corner solid (bottom ring 0-3, top ring 4-7, same x/z order), wound so the
# right-hand normal points outwards.
_FACES = np.array(
    [
        [0, 1, 2, 3],  # bottom (-y)
        [4, 7, 6, 5],  # top (+y)
        [0, 4, 5, 1],  # front (-z)
        [3, 2, 6, 7],  # back (+z)
        [0, 3, 7, 4],  # left (-x)
        [1, 5, 6, 2],  # right (+x)
    ]
)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at ``position`` turned by ``yaw`` (about y) and ``pitch`` (about x).

    ``size``: the square image side in pixels.
    """

    position: tuple[float, float, float]
    yaw: float
    pitch: float
    size: int
    fov_degrees: float = FOV_DEGREES
    rotation: np.ndarray = field(init=False, repr=False)
    focal: float = field(init=False)

    def __post_init__(self) -> None:
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        forward = np.array([sy * cp, sp, cy * cp])
        right = np.array([cy, 0.0, -sy])
        up = np.cross(forward, right)
        object.__setattr__(self, "rotation", np.stack([right, up, forward]))
        object.__setattr__(self, "focal", (self.size / 2) / math.tan(math.radians(self.fov_degrees) / 2))

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World ``[K, 3]`` -> camera ``[K, 3]`` (x right, y up, z forward)."""
        return (points - np.asarray(self.position)) @ self.rotation.T

    def project_camera(self, cam: np.ndarray) -> np.ndarray:
        """Camera-space ``[K, 3]`` with ``z > 0`` -> pixels ``[K, 2]``."""
        half = self.size / 2
        scale = self.focal / cam[:, 2]
        out = np.empty((len(cam), 2))
        out[:, 0] = half + cam[:, 0] * scale
        out[:, 1] = half - cam[:, 1] * scale
        return out

    def project_polygon(self, points: np.ndarray) -> np.ndarray | None:
        """World polygon ``[K, 3]`` -> pixel polygon ``[M, 2]``, clipped to the near plane (None if gone)."""
        cam = self.to_camera(points)
        if (cam[:, 2] < NEAR).any():
            clipped = clip_near(cam)
            if clipped is None:
                return None
            cam = clipped
        return self.project_camera(cam)

    def vanishing_point(self, direction: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> tuple[float, float]:
        """Pixel position of the vanishing point of world direction ``direction``."""
        d = self.rotation @ np.asarray(direction, dtype=np.float64)
        half = self.size / 2
        return half + self.focal * d[0] / d[2], half - self.focal * d[1] / d[2]


def clip_near(cam: np.ndarray) -> np.ndarray | None:
    """Clip a camera-space polygon to ``z >= NEAR`` (Sutherland-Hodgman against one plane)."""
    out: list[np.ndarray] = []
    count = len(cam)
    for i in range(count):
        a, b = cam[i], cam[(i + 1) % count]
        a_in, b_in = a[2] >= NEAR, b[2] >= NEAR
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (NEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if len(out) >= 3 else None


def clip_convex_2d(subject: np.ndarray, clipper: np.ndarray) -> np.ndarray | None:
    """Intersect polygon ``subject [K, 2]`` with convex counter-clockwise polygon ``clipper [M, 2]``."""
    output = [tuple(p) for p in subject]
    count = len(clipper)
    for i in range(count):
        if not output:
            return None
        ax, ay = clipper[i]
        bx, by = clipper[(i + 1) % count]
        ex, ey = bx - ax, by - ay
        source, output = output, []
        for j in range(len(source)):
            p, q = source[j], source[(j + 1) % len(source)]
            p_in, q_in = _left_of_edge(p, ax, ay, ex, ey), _left_of_edge(q, ax, ay, ex, ey)
            if p_in:
                output.append(p)
            if p_in != q_in:
                dx, dy = q[0] - p[0], q[1] - p[1]
                denom = ex * dy - ey * dx
                t = (ey * (p[0] - ax) - ex * (p[1] - ay)) / denom
                output.append((p[0] + t * dx, p[1] + t * dy))
    return np.array(output) if len(output) >= 3 else None


def _left_of_edge(p: tuple[float, float], ax: float, ay: float, ex: float, ey: float) -> bool:
    """Whether ``p`` lies on or left of the edge from ``(ax, ay)`` along ``(ex, ey)``."""
    return ex * (p[1] - ay) - ey * (p[0] - ax) >= 0


def polygon_area(points: np.ndarray) -> float:
    """Unsigned shoelace area of a 2-D polygon ``[K, 2]``."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@dataclass
class Solid:
    """A convex 8-corner solid: a box, or a frustum when the top ring differs from the bottom.

    ``corners [8, 3]``: bottom ring then top ring. ``color``: RGB in [0, 1] before lighting.
    ``emissive``: drawn at full colour whatever the lighting (lamp shades, screens that glow).
    """

    corners: np.ndarray
    color: tuple[float, float, float]
    emissive: bool = False

    @property
    def center(self) -> np.ndarray:
        return self.corners.mean(axis=0)


@dataclass
class Panel:
    """A flat convex polygon ``points [K, 3]`` (walls, window panes, door seams).

    ``normal``: when given, the panel is drawn only if it faces the camera.
    """

    points: np.ndarray
    color: tuple[float, float, float]
    emissive: bool = False
    normal: tuple[float, float, float] | None = None

    @property
    def center(self) -> np.ndarray:
        return self.points.mean(axis=0)


def box(
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    z0: float,
    z1: float,
    color: tuple[float, float, float],
    emissive: bool = False,
) -> Solid:
    """An axis-aligned box."""
    return frustum(x0, x1, z0, z1, y0, y1, 1.0, color, emissive)


def frustum(
    x0: float,
    x1: float,
    z0: float,
    z1: float,
    y0: float,
    y1: float,
    top_scale: float,
    color: tuple[float, float, float],
    emissive: bool = False,
) -> Solid:
    """A box whose top ring is scaled by ``top_scale`` about its centre (lamp shades, vases)."""
    cx, cz = (x0 + x1) / 2, (z0 + z1) / 2
    hx, hz = (x1 - x0) / 2, (z1 - z0) / 2
    tx, tz = hx * top_scale, hz * top_scale
    corners = np.array(
        [
            [x0, y0, z0],
            [x1, y0, z0],
            [x1, y0, z1],
            [x0, y0, z1],
            [cx - tx, y1, cz - tz],
            [cx + tx, y1, cz - tz],
            [cx + tx, y1, cz + tz],
            [cx - tx, y1, cz + tz],
        ]
    )
    return Solid(corners, color, emissive)


def solid_faces(solid: Solid, camera_position: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """The camera-facing faces of ``solid`` as ``(world polygon [4, 3], shade factor)``."""
    return [(solid.corners[_FACES[index]], shade) for index, shade in visible_faces(solid, camera_position)]


def visible_faces(solid: Solid, camera_position: np.ndarray) -> list[tuple[int, float]]:
    """Indices into the face table of the faces of ``solid`` that face the camera, with their shade."""
    quads = solid.corners[_FACES]  # [6, 4, 3]
    a = quads[:, 1] - quads[:, 0]
    b = quads[:, 2] - quads[:, 0]
    # Cross product written out: np.cross is slow for many tiny arrays.
    normals = np.empty((6, 3))
    normals[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    normals[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    normals[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    lengths = np.sqrt((normals * normals).sum(axis=1))
    facing = ((normals * (camera_position - quads[:, 0])).sum(axis=1) > 1e-9) & (lengths > 1e-12)
    light = (normals @ _KEY_LIGHT) / np.maximum(lengths, 1e-12)
    return [(int(i), 0.58 + 0.42 * max(0.0, float(light[i]))) for i in np.nonzero(facing)[0]]


FACES = _FACES
