"""The procedural room world: seeded factors, a perspective renderer, and their labels.

Public API::

    factors = sample_factors(rng)                       # SceneFactors
    image = render_scene(factors, resolution=64)        # [H, W, 3] uint8
    images, labels = render_batch(256, seed=0)          # [N, H, W, 3] uint8, dict of arrays
    FACTOR_SPEC                                         # name, kind, range, level of every factor
"""

from sceneedit.scenes.batch import RenderPool, render_batch
from sceneedit.scenes.factors import (
    CATEGORIES,
    FACTOR_CODE_DIMS,
    FACTOR_NAMES,
    FACTOR_SPEC,
    WORLD_VERSION,
    FactorSpec,
    SceneFactors,
    factor_spec,
    factors_from_code,
    sample_factors,
)
from sceneedit.scenes.render import render_scene, render_scene_with_labels, scene_labels
from sceneedit.scenes.room import Scene, build_scene

__all__ = [
    "CATEGORIES",
    "FACTOR_CODE_DIMS",
    "FACTOR_NAMES",
    "FACTOR_SPEC",
    "FactorSpec",
    "RenderPool",
    "Scene",
    "SceneFactors",
    "WORLD_VERSION",
    "build_scene",
    "factor_spec",
    "factors_from_code",
    "render_batch",
    "render_scene",
    "render_scene_with_labels",
    "sample_factors",
    "scene_labels",
]
