"""Colours of the world as functions of the colour-scheme factors (RGB floats in [0, 1])."""

from __future__ import annotations

import colorsys

import numpy as np

RGB = tuple[float, float, float]

# Furniture roles: (cool colour, warm colour); ``furniture_warmth`` interpolates between them.
_ROLES: dict[str, tuple[RGB, RGB]] = {
    "primary": ((0.16, 0.30, 0.62), (0.74, 0.26, 0.12)),  # navy blue -> terracotta
    "secondary": ((0.28, 0.52, 0.58), (0.86, 0.60, 0.16)),  # teal -> mustard
    "wood": ((0.66, 0.67, 0.70), (0.50, 0.29, 0.13)),  # grey ash -> walnut
}

#: Bold colours of clutter items (chosen per item from the detail seed).
CLUTTER_COLORS: tuple[RGB, ...] = (
    (0.90, 0.15, 0.15),
    (0.95, 0.80, 0.10),
    (0.15, 0.65, 0.25),
    (0.15, 0.35, 0.90),
    (0.95, 0.95, 0.95),
    (0.95, 0.50, 0.10),
    (0.60, 0.20, 0.75),
)

WHITE_LINEN: RGB = (0.95, 0.94, 0.90)
STEEL: RGB = (0.80, 0.82, 0.85)
SCREEN: RGB = (0.05, 0.06, 0.08)
SKY: RGB = (0.72, 0.87, 1.0)
WINDOW_FRAME: RGB = (0.96, 0.96, 0.94)
LAMP_LIGHT: RGB = (1.0, 0.93, 0.76)
GLOW: RGB = (1.0, 0.78, 0.45)
SUN: RGB = (1.0, 0.95, 0.80)
PLANT_GREEN: RGB = (0.18, 0.55, 0.20)
TERRACOTTA_POT: RGB = (0.72, 0.36, 0.20)
SEAM: RGB = (0.10, 0.10, 0.10)


def wall_color(wall_hue: float) -> RGB:
    """Wall colour along the hue arc red (0) -> yellow -> green -> blue (1)."""
    hue = 0.0 + 0.64 * wall_hue
    return colorsys.hsv_to_rgb(hue, 0.42, 0.86)


def ceiling_color(wall_hue: float) -> RGB:
    r, g, b = wall_color(wall_hue)
    return (0.82 + 0.12 * r, 0.82 + 0.12 * g, 0.82 + 0.12 * b)


def floor_color(floor_tone: float, wood: bool) -> RGB:
    """Base floor colour: wood is saturated brown, carpet a greyish beige; tone 1 is dark."""
    value = 0.82 - 0.55 * floor_tone
    if wood:
        return colorsys.hsv_to_rgb(0.075, 0.60, value)
    return colorsys.hsv_to_rgb(0.11, 0.18, value)


def furniture_color(role: str, warmth: float, rng: np.random.Generator, jitter: float = 0.05) -> RGB:
    """The ``role`` colour at ``warmth`` in [0, 1] with a little per-object jitter."""
    cool, warm = _ROLES[role]
    mixed = np.array(cool) + warmth * (np.array(warm) - np.array(cool))
    mixed = np.clip(mixed + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)
    return float(mixed[0]), float(mixed[1]), float(mixed[2])


def scale(color: RGB, factor: float) -> RGB:
    return color[0] * factor, color[1] * factor, color[2] * factor


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])
