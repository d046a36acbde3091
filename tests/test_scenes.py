"""The procedural room world: determinism, factor validation, and labels that match the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from sceneedit.scenes import (
    CATEGORIES,
    FACTOR_SPEC,
    SceneFactors,
    render_batch,
    render_scene,
    render_scene_with_labels,
    sample_factors,
)
from sceneedit.scenes.factors import KINDS, LEVELS
from sceneedit.scenes.room import REQUIRED_OBJECTS

RES = 32  # small renders keep the suite fast; the geometry is resolution independent


def test_factor_spec_is_well_formed_and_sampling_stays_in_range():
    names = [spec.name for spec in FACTOR_SPEC]
    assert len(names) == len(set(names))
    assert {spec.level for spec in FACTOR_SPEC} == set(LEVELS)
    for spec in FACTOR_SPEC:
        assert spec.kind in KINDS and spec.low < spec.high
    rng = np.random.default_rng(0)
    for _ in range(200):
        factors = sample_factors(rng)
        for spec in FACTOR_SPEC:
            assert spec.low <= getattr(factors, spec.name) <= spec.high


def test_same_seed_gives_identical_bytes():
    a = render_scene(sample_factors(7), resolution=RES)
    b = render_scene(sample_factors(7), resolution=RES)
    assert a.dtype == np.uint8 and a.shape == (RES, RES, 3)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != render_scene(sample_factors(8), resolution=RES).tobytes()


def test_batch_is_independent_of_workers_and_chunking():
    serial, labels = render_batch(6, seed=3, resolution=RES)
    parallel, labels_parallel = render_batch(6, seed=3, resolution=RES, workers=2)
    assert serial.tobytes() == parallel.tobytes()
    assert labels["objects"] == labels_parallel["objects"]
    tail, tail_labels = render_batch(2, seed=3, resolution=RES, start=4)
    assert tail.tobytes() == serial[4:].tobytes()
    assert list(tail_labels["index"]) == [4, 5]
    for spec in FACTOR_SPEC:
        assert labels[spec.name].shape == (6,)


def test_bad_factors_and_options_are_refused_with_the_name():
    factors = sample_factors(1)
    with pytest.raises(ValueError, match="camera_yaw"):
        factors.replace(camera_yaw=3.0)
    with pytest.raises(ValueError, match="category"):
        factors.replace(category=7)
    with pytest.raises(ValueError, match="unknown scene factor"):
        factors.replace(colour=1)
    with pytest.raises(ValueError, match="resolution"):
        render_scene(factors, resolution=5)


@pytest.mark.parametrize("category", range(len(CATEGORIES)))
def test_each_category_contains_its_furniture(category):
    for seed in range(8):
        factors = sample_factors(seed).replace(category=category)
        _, labels = render_scene_with_labels(factors, resolution=RES)
        for name in REQUIRED_OBJECTS[CATEGORIES[category]]:
            assert name in labels["objects"], (CATEGORIES[category], seed, labels["objects"])
        if CATEGORIES[category] == "living_room":
            assert ("tv" in labels["objects"]) or ("shelf" in labels["objects"])
        others = {o for c, objs in REQUIRED_OBJECTS.items() if c != CATEGORIES[category] for o in objs}
        assert not others & set(labels["objects"])


def test_window_and_natural_light_agree_with_the_pixels():
    base = sample_factors(11)
    dark = base.replace(natural_light=0)
    lit = base.replace(natural_light=1)
    image_dark, labels_dark = render_scene_with_labels(dark, resolution=RES)
    image_lit, labels_lit = render_scene_with_labels(lit, resolution=RES)
    assert "window" not in labels_dark["objects"] and labels_dark["natural_light"] == 0
    assert "window" in labels_lit["objects"] and labels_lit["natural_light"] == 1

    def sky_pixels(image: np.ndarray) -> int:  # pale blue, bright: the window panes
        r, g, b = (image[..., i].astype(int) for i in range(3))
        return int(((b > 225) & (g > 195) & (r > 160) & (b > r + 15)).sum())

    assert sky_pixels(image_lit) > 5
    assert sky_pixels(image_lit) > sky_pixels(image_dark)


def test_clutter_count_matches_the_items_drawn():
    rng = np.random.default_rng(5)
    for _ in range(12):
        factors = sample_factors(rng)
        _, labels = render_scene_with_labels(factors, resolution=RES)
        items = [o for o in labels["objects"] if o.startswith("clutter:")]
        assert len(items) == len(labels["clutter_items"]) == factors.clutter
    # Each extra item changes the picture: placement is a prefix, so item n is the only difference.
    base = sample_factors(21)
    previous = render_scene(base.replace(clutter=0), resolution=64)
    for count in range(1, 7):
        current = render_scene(base.replace(clutter=count), resolution=64)
        assert np.abs(current.astype(int) - previous.astype(int)).sum() > 0, count
        previous = current


def test_lighting_and_layout_labels_move_the_image_the_right_way():
    base = sample_factors(3).replace(natural_light=0)
    dim = render_scene(base.replace(indoor_lighting=0.0), resolution=RES).mean()
    bright = render_scene(base.replace(indoor_lighting=1.0), resolution=RES).mean()
    assert bright > dim + 20
    _, left = render_scene_with_labels(base.replace(camera_yaw=-0.25, camera_x=0.0), resolution=RES)
    _, right = render_scene_with_labels(base.replace(camera_yaw=0.25, camera_x=0.0), resolution=RES)
    assert right["vanishing_x"] < 0 < left["vanishing_x"]  # turning left moves the back wall right
    assert left["left_wall_area"] > right["left_wall_area"]
    _, down = render_scene_with_labels(base.replace(camera_pitch=-0.25), resolution=RES)
    _, up = render_scene_with_labels(base.replace(camera_pitch=0.0), resolution=RES)
    assert down["floor_area"] > up["floor_area"]


def test_wood_floor_has_plank_stripes_and_carpet_does_not():
    base = sample_factors(2).replace(camera_pitch=-0.28, clutter=0, floor_tone=0.3, natural_light=0)
    wood = render_scene(base.replace(floor_wood=1), resolution=64)
    carpet = render_scene(base.replace(floor_wood=0), resolution=64)
    # Horizontal variation along the bottom rows (floor, near the camera).
    rows = slice(58, 64)

    def stripes(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image[rows].astype(float), axis=1)).mean())

    assert stripes(wood) > 2 * stripes(carpet)


def test_factors_round_trip_through_replace():
    factors = sample_factors(4)
    assert factors.replace() == factors
    assert isinstance(factors.replace(category=0), SceneFactors)


def test_factor_codes_give_the_world_distribution_and_refuse_bad_codes():
    from sceneedit.scenes import FACTOR_CODE_DIMS, factors_from_code

    rng = np.random.default_rng(5)
    rows = [
        factors_from_code(code, detail_seed=i) for i, code in enumerate(rng.standard_normal((4000, FACTOR_CODE_DIMS)))
    ]
    for spec in FACTOR_SPEC:
        values = np.array([getattr(f, spec.name) for f in rows], dtype=float)
        assert values.min() >= spec.low and values.max() <= spec.high
        if spec.integer:  # every value equally likely (4000 draws: within 4 points of uniform)
            shares = np.bincount((values - spec.low).astype(int)) / len(values)
            assert len(shares) == int(spec.high - spec.low) + 1
            assert np.abs(shares - 1 / len(shares)).max() < 0.04, (spec.name, shares)
        else:  # uniform over the range: the mean sits mid-range, quartiles at a quarter
            unit = spec.normalize(values)
            assert abs(unit.mean() - 0.5) < 0.03 and abs(np.quantile(unit, 0.25) - 0.25) < 0.03, spec.name
    # The code decides the factors; the detail seed is passed through.
    code = np.linspace(-2, 2, FACTOR_CODE_DIMS)
    assert factors_from_code(code, 7) == factors_from_code(code.copy(), 7)
    assert factors_from_code(code, 7).detail_seed == 7
    assert factors_from_code(np.full(FACTOR_CODE_DIMS, -9.0)).category == 0
    assert factors_from_code(np.full(FACTOR_CODE_DIMS, 9.0)).category == len(CATEGORIES) - 1
    for bad in (np.zeros(FACTOR_CODE_DIMS - 1), np.full(FACTOR_CODE_DIMS, np.nan)):
        with pytest.raises(ValueError, match="factor code"):
            factors_from_code(bad)
