"""Draw a :class:`~sceneedit.scenes.room.Scene` (painter's order, supersampled) and read its labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from sceneedit.scenes import palette
from sceneedit.scenes.factors import SceneFactors, factors_to_row
from sceneedit.scenes.geometry import FACES, NEAR, Panel, Solid, clip_convex_2d, polygon_area, visible_faces
from sceneedit.scenes.room import Scene, build_scene

#: Resolutions ``render_scene`` accepts (anything else is almost certainly a mistake).
MIN_RESOLUTION, MAX_RESOLUTION = 16, 1024
#: Glow radius of a lamp in metres (Gaussian sigma).
GLOW_SIGMA_M = 0.75


def _rgb255(color: tuple[float, float, float], factor: float) -> tuple[int, int, int]:
    return (
        min(255, max(0, int(color[0] * factor * 255 + 0.5))),
        min(255, max(0, int(color[1] * factor * 255 + 0.5))),
        min(255, max(0, int(color[2] * factor * 255 + 0.5))),
    )


def _polygon(draw: ImageDraw.ImageDraw, pixels: np.ndarray | None, fill: tuple[int, int, int]) -> None:
    if pixels is not None:
        draw.polygon(list(map(tuple, pixels.tolist())), fill=fill)


def _draw_geometry(scene: Scene, draw: ImageDraw.ImageDraw) -> None:
    camera, illum = scene.camera, scene.illumination
    position = np.asarray(camera.position)
    lamp_factor = 0.72 + 0.28 * scene.factors.indoor_lighting

    for wall in scene.walls:
        _polygon(draw, camera.project_polygon(wall.points), _rgb255(wall.color, illum))
    for panel in scene.window:
        _polygon(draw, camera.project_polygon(panel.points), _rgb255(panel.color, 1.0 if panel.emissive else illum))

    def floor_points(xz: np.ndarray) -> np.ndarray:
        return np.stack([xz[:, 0], np.zeros(len(xz)), xz[:, 1]], axis=1)

    for xz, color in scene.floor_polygons:
        _polygon(draw, camera.project_polygon(floor_points(xz)), _rgb255(color, illum))
    if scene.sun_patch is not None:
        for xz, color in scene.floor_polygons:
            lit = clip_convex_2d(xz, scene.sun_patch)
            if lit is not None:
                sunny = palette.mix(palette.scale(color, 1.3), palette.SUN, 0.25)
                _polygon(draw, camera.project_polygon(floor_points(lit)), _rgb255(sunny, illum))

    def distance(point: np.ndarray) -> float:
        return float(np.linalg.norm(point - position))

    for group in sorted(scene.groups, key=lambda g: -distance(g.center)):
        for _layer, part in sorted(group.parts, key=lambda lp: (lp[0], -distance(lp[1].center))):
            if isinstance(part, Solid):
                factor = lamp_factor if part.emissive else illum
                faces = visible_faces(part, position)
                if not faces:
                    continue
                cam = camera.to_camera(part.corners)
                if cam[:, 2].min() >= NEAR:  # common case: project the 8 corners once
                    pixels = camera.project_camera(cam)
                    for index, shade in faces:
                        _polygon(draw, pixels[FACES[index]], _rgb255(part.color, factor * shade))
                else:
                    for index, shade in faces:
                        quad = part.corners[FACES[index]]
                        _polygon(draw, camera.project_polygon(quad), _rgb255(part.color, factor * shade))
            elif isinstance(part, Panel):
                if part.normal is not None and float(np.dot(part.normal, position - part.points[0])) <= 0:
                    continue
                _polygon(draw, camera.project_polygon(part.points), _rgb255(part.color, illum))


def _add_glow(scene: Scene, image: np.ndarray) -> None:
    """Additive warm glow around every lamp, in place on a float image ``[H, W, 3]`` in [0, 1]."""
    size = image.shape[0]
    scale = size / scene.camera.size
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    glow = np.array(palette.GLOW, dtype=np.float32)
    for light in scene.lights:
        cam = scene.camera.to_camera(light[None])
        if cam[0, 2] < 0.2:
            continue
        px, py = scene.camera.project_camera(cam)[0] * scale
        sigma = GLOW_SIGMA_M * scene.camera.focal * scale / cam[0, 2]
        if px < -3 * sigma or px > size + 3 * sigma or py < -3 * sigma or py > size + 3 * sigma:
            continue
        weight = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma * sigma)) * scene.lamp_strength
        image += weight[..., None] * glow


def draw_scene(scene: Scene, supersample: int) -> np.ndarray:
    """Rasterize ``scene`` (built at ``resolution * supersample`` px) -> ``[H, W, 3]`` uint8."""
    size = scene.camera.size
    canvas = Image.new("RGB", (size, size))
    _draw_geometry(scene, ImageDraw.Draw(canvas))
    if supersample > 1:
        canvas = canvas.reduce(supersample)  # box filter: the antialiasing step
    image = np.asarray(canvas, dtype=np.float32) / 255.0
    _add_glow(scene, image)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _check_resolution(resolution: int, supersample: int) -> None:
    if not isinstance(resolution, (int, np.integer)) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be an integer in [{MIN_RESOLUTION}, {MAX_RESOLUTION}], got {resolution!r}")
    if not isinstance(supersample, (int, np.integer)) or not 1 <= supersample <= 8:
        raise ValueError(f"supersample must be an integer in [1, 8], got {supersample!r}")


def render_scene(factors: SceneFactors, resolution: int = 64, supersample: int = 4) -> np.ndarray:
    """Render ``factors`` -> ``[resolution, resolution, 3]`` uint8 RGB (deterministic)."""
    return render_scene_with_labels(factors, resolution, supersample)[0]


def render_scene_with_labels(
    factors: SceneFactors, resolution: int = 64, supersample: int = 4
) -> tuple[np.ndarray, dict[str, Any]]:
    """Render and label one scene: ``(image [H, W, 3] uint8, labels)`` (see :func:`scene_labels`)."""
    _check_resolution(resolution, supersample)
    scene = build_scene(factors, int(resolution) * int(supersample))
    return draw_scene(scene, int(supersample)), scene_labels(scene)


def _image_fraction(scene: Scene, points: np.ndarray) -> float:
    """Fraction of the image covered by the world polygon ``points`` (unoccluded)."""
    size = scene.camera.size
    pixels = scene.camera.project_polygon(points)
    if pixels is None:
        return 0.0
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float64)  # positive area
    inside = clip_convex_2d(pixels, square)
    return 0.0 if inside is None else polygon_area(inside) / (size * size)


def scene_labels(scene: Scene) -> dict[str, Any]:
    """Labels of a built scene.

    Every factor of :data:`FACTOR_SPEC` plus derived layout geometry (image coordinates
    normalised to [-1, 1], x right, y down; areas as fractions of the image, ignoring
    occlusion by furniture), ``objects`` (list of names, clutter as ``clutter:<kind>``),
    ``clutter_items`` (the clutter kinds drawn) and ``detail_seed``.
    """
    camera, size = scene.camera, scene.camera.size
    labels: dict[str, Any] = dict(factors_to_row(scene.factors))
    vx, vy = camera.vanishing_point()
    labels["vanishing_x"], labels["vanishing_y"] = 2 * vx / size - 1, 2 * vy / size - 1
    half, d, h = scene.width / 2, scene.depth, scene.height
    cx = float(camera.position[0])
    for name, y in (("floor_line_y", 0.0), ("ceiling_line_y", h)):
        cam = camera.to_camera(np.array([[cx, y, d]]))
        labels[name] = 2 * float(camera.project_camera(cam)[0, 1]) / size - 1
    walls = {
        "left_wall_area": np.array([[-half, 0.0, 0.0], [-half, 0.0, d], [-half, h, d], [-half, h, 0.0]]),
        "right_wall_area": np.array([[half, 0.0, 0.0], [half, h, 0.0], [half, h, d], [half, 0.0, d]]),
        "back_wall_area": np.array([[-half, 0.0, d], [half, 0.0, d], [half, h, d], [-half, h, d]]),
        "floor_area": np.array([[-half, 0.0, 0.0], [half, 0.0, 0.0], [half, 0.0, d], [-half, 0.0, d]]),
        "ceiling_area": np.array([[-half, h, 0.0], [half, h, 0.0], [half, h, d], [-half, h, d]]),
    }
    for name, points in walls.items():
        labels[name] = _image_fraction(scene, points)
    labels["objects"] = list(scene.objects)
    labels["clutter_items"] = list(scene.clutter_items)
    labels["detail_seed"] = scene.factors.detail_seed
    return labels
