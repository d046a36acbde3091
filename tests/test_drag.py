"""Point-and-drag editing (DragGAN-style) on a tiny real StyleGAN: the optimizer, and
drag edits in the session, its undo history and recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sceneedit.editing.codes import code_for_seed
from sceneedit.editing.drag import DragError, DragSettings, pick_feature_block, run_drag
from sceneedit.editing.recipe import RecipeError
from sceneedit.editing.session import EditSession
from sceneedit.generators.stylegan import StyleGANGenerator
from sceneedit.render import render
from sceneedit.semantics.bundle import fingerprint_for
from sceneedit.semantics.concepts import BoundaryBundle, Concept

HANDLE, TARGET = (16.0, 10.0), (16.0, 22.0)
FAST = DragSettings(steps=40, lr=0.02, motion_radius=3, track_radius=4, layers=6)
SIZE = 32


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return (
        StyleGANGenerator(
            resolution=SIZE, z_dim=32, w_dim=32, mapping_layers=2, fmaps_base=128, fmaps_max=32, name="tiny"
        )
        .eval()
        .requires_grad_(False)
    )


@pytest.fixture(scope="module")
def wp(generator):
    return code_for_seed(generator, 3)


@pytest.fixture(scope="module")
def bundle(generator):
    rng = np.random.RandomState(1)
    normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
    normal /= np.linalg.norm(normal)
    concept = Concept(
        name="sky",
        normal=normal,
        layers=[0, 1, 2],
        level="layout",
        distance_range=(-3.0, 3.0),
        delta_s=[0.1] * generator.num_layers,
        delta_s_all=0.1,
    )
    return BoundaryBundle(concepts={"sky": concept}, generator_fingerprint=fingerprint_for(generator), source="test")


def pixels(generator, session) -> np.ndarray:
    result = render(generator, session.state())
    assert result.error is None
    return np.asarray(result.image)


def best_match(generator, code: np.ndarray, reference: torch.Tensor, block: int) -> tuple[int, int]:
    """Independent check of where the handle's content went: the pixel of the whole image
    whose (upsampled) feature is nearest to the handle's first-frame feature."""
    with torch.no_grad():
        result = generator.synthesize(torch.from_numpy(code)[None], return_features=True)
        size = result.image.shape[-2:]
        features = F.interpolate(result.features[block], size=size, mode="bilinear", align_corners=True)[0]
    distance = (features - reference.view(-1, 1, 1)).abs().sum(0)
    index = int(torch.argmin(distance.flatten()))
    return divmod(index, int(size[1]))


def test_drag_moves_the_handle_content_toward_the_target(generator, wp):
    result = run_drag(generator, wp, [HANDLE], [TARGET], FAST)
    assert result.steps_run > 0
    start = np.hypot(TARGET[0] - HANDLE[0], TARGET[1] - HANDLE[1])
    ((y, x),) = result.handles_final
    assert np.hypot(TARGET[0] - y, TARGET[1] - x) < start / 2
    # Independently of the tracker: the handle's feature now sits nearer the target.
    block = pick_feature_block([4, 8, 16, 32], SIZE)
    assert block == 2
    with torch.no_grad():
        first = generator.synthesize(torch.from_numpy(wp)[None], return_features=True)
        features = F.interpolate(first.features[block], size=(SIZE, SIZE), mode="bilinear", align_corners=True)[0]
    reference = features[:, int(HANDLE[0]), int(HANDLE[1])]
    assert best_match(generator, wp, reference, block) == (int(HANDLE[0]), int(HANDLE[1]))
    my, mx = best_match(generator, result.wp, reference, block)
    assert np.hypot(TARGET[0] - my, TARGET[1] - mx) < start / 2


def test_only_the_optimized_layers_change_and_runs_are_deterministic(generator, wp):
    settings = DragSettings(steps=8, lr=0.02, motion_radius=3, track_radius=4, layers=2)
    first = run_drag(generator, wp, [HANDLE], [TARGET], settings)
    second = run_drag(generator, wp, [HANDLE], [TARGET], settings)
    assert first.layers == (0, 1)
    assert np.array_equal(first.wp[2:], wp[2:])
    assert not np.array_equal(first.wp[:2], wp[:2])
    assert np.array_equal(first.wp, second.wp) and first.handles_final == second.handles_final
    assert first.offset.shape == (2, generator.w_dim)
    assert np.array_equal(wp, code_for_seed(generator, 3))  # the input is untouched


def test_cancel_stops_before_the_next_step_and_callbacks_stream_frames(generator, wp):
    frames = []
    checks = iter(range(100))
    result = run_drag(
        generator,
        wp,
        [HANDLE],
        [TARGET],
        DragSettings(steps=50, lr=0.01),
        callback=frames.append,
        cancel=lambda: next(checks) >= 3,
    )
    assert result.cancelled and not result.converged and result.steps_run == 3
    assert [p.step for p in frames] == [1, 2]
    assert frames[0].image.shape == (SIZE, SIZE, 3) and frames[0].image.dtype == np.uint8
    untouched = run_drag(generator, wp, [HANDLE], [TARGET], FAST, cancel=lambda: True)
    assert untouched.steps_run == 0 and np.array_equal(untouched.wp, wp)


def test_mask_keeps_the_outside_closer_to_the_original(generator, wp):
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[10:23, 5:29] = 1.0
    settings = DragSettings(steps=15, lr=0.02, motion_radius=3, track_radius=4, stop_distance=0.0)
    free = run_drag(generator, wp, [HANDLE], [TARGET], settings)
    held = run_drag(
        generator,
        wp,
        [HANDLE],
        [TARGET],
        DragSettings(**{**settings.to_dict(), "mask": mask, "mask_weight": 50.0, "blend": False}),
    )  # DragGAN's keep-the-rest loss alone (the spatial blend: tests/test_masked_drag.py)

    def outside_change(code):
        with torch.no_grad():
            before = generator.synthesize(torch.from_numpy(wp)[None])[0]
            after = generator.synthesize(torch.from_numpy(code)[None])[0]
        return float(((after - before).abs() * torch.from_numpy(1 - mask)).mean())

    assert outside_change(held.wp) < outside_change(free.wp)


def test_bad_input_is_refused_with_clear_errors(generator, wp):
    with pytest.raises(DragError, match="outside the 32x32 image"):
        run_drag(generator, wp, [(3, 40)], [(3, 4)], FAST)
    with pytest.raises(DragError, match="1 handles but 2 targets"):
        run_drag(generator, wp, [HANDLE], [TARGET, TARGET], FAST)
    with pytest.raises(DragError, match="at least one handle"):
        run_drag(generator, wp, [], [], FAST)
    with pytest.raises(DragError, match=r"mask must be \[32, 32\]"):
        run_drag(generator, wp, [HANDLE], [TARGET], DragSettings(mask=np.ones((8, 8))))
    with pytest.raises(DragError, match="wp must have shape"):
        run_drag(generator, wp[:2], [HANDLE], [TARGET], FAST)
    with pytest.raises(DragError, match="lr must be"):
        DragSettings(lr=float("nan"))
    with pytest.raises(DragError, match="unknown drag settings: speed"):
        DragSettings.from_dict({"speed": 2})


def test_session_drag_is_one_undo_step_and_sliders_apply_on_top(generator, bundle):
    session = EditSession(generator, bundle, seed=3)
    before_pixels = pixels(generator, session)
    before_history = len(session.history)
    events = []
    session.subscribe(lambda event, payload: events.append(event))
    result = session.drag([HANDLE], [TARGET], FAST)
    assert len(session.history) == before_history + 1 and session.history[-1] == "Drag 1 point"
    assert "drag_changed" in events and session.has_drag
    np.testing.assert_allclose(session.current_wp(), result.wp, atol=1e-5)
    dragged_pixels = pixels(generator, session)
    assert not np.array_equal(dragged_pixels, before_pixels)
    session.set_strength("sky", 1.5)
    direction = np.asarray(session.state().edits[0].directions)
    expected = result.wp.copy()
    expected[[0, 1, 2]] += 1.5 * session.state().layer_scale[[0, 1, 2], None] * direction
    np.testing.assert_allclose(session.current_wp(), expected, atol=1e-4)
    session.undo()
    assert np.array_equal(pixels(generator, session), dragged_pixels)
    session.undo()
    assert not session.has_drag and np.array_equal(pixels(generator, session), before_pixels)
    session.redo()
    assert np.array_equal(pixels(generator, session), dragged_pixels)
    session.set_seed(4)
    assert not session.has_drag


def test_recipe_with_a_drag_round_trips_pixels(generator, bundle, tmp_path):
    session = EditSession(generator, bundle, seed=3)
    session.set_strength("sky", -1.0)
    session.drag([HANDLE, (6.0, 6.0)], [TARGET, (9.0, 6.0)], FAST)
    session.set_strength("sky", 0.5)
    path = tmp_path / "drag.json"
    session.save_recipe(path)
    recipe = json.loads(path.read_text())
    assert recipe["version"] == 2
    drag_edit = recipe["edits"][1]
    assert drag_edit["op"] == "drag" and drag_edit["handles"] == [[16.0, 10.0], [6.0, 6.0]]
    assert drag_edit["settings"]["steps"] == 40
    replayed = EditSession.from_recipe(EditSession.load_recipe(path), generator, bundle)
    assert replayed.history == session.history
    assert np.array_equal(replayed.current_wp(), session.current_wp())
    assert np.array_equal(pixels(generator, replayed), pixels(generator, session))
    assert replayed.state().key() == session.state().key()
    # A recipe without drags stays version 1; a drag in a version-1 recipe is refused.
    plain = EditSession(generator, bundle, seed=3)
    plain.set_strength("sky", 1.0)
    assert plain.to_recipe()["version"] == 1
    with pytest.raises(RecipeError, match="needs recipe version 2"):
        EditSession.from_recipe({**recipe, "version": 1}, generator, bundle)
    broken = json.loads(json.dumps(recipe))
    broken["edits"][1]["offset"] = broken["edits"][1]["offset"][:1]
    with pytest.raises(RecipeError, match="drag: offset must be"):
        EditSession.from_recipe(broken, generator, bundle)


# ----- precision and locality pieces ---------------------------------------------------------


def test_tracker_finds_a_sub_pixel_shift_of_the_content():
    from sceneedit.editing.drag import TRACK_PATCH, _patch_offsets, _sample, track_point

    torch.manual_seed(0)
    coarse = torch.randn(1, 6, 12, 12)
    smooth = F.interpolate(coarse, size=(48, 48), mode="bicubic", align_corners=True)
    handle = (20.0, 24.0)
    reference = _sample(smooth, _patch_offsets(torch.device("cpu")) + torch.tensor(handle))
    assert reference.shape == (TRACK_PATCH**2, 6)
    for dy, dx in ((0.0, 0.0), (1.3, -0.6), (-2.4, 1.8)):
        # The content moved by (dy, dx): the new map at p equals the old one at p - (dy, dx).
        ys, xs = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
        grid = torch.stack([(xs - dx) / 47 * 2 - 1, (ys - dy) / 47 * 2 - 1], dim=-1)[None]
        moved = F.grid_sample(smooth, grid, mode="bilinear", align_corners=True)
        y, x = track_point(moved, reference, handle, radius=3)
        assert abs(y - (handle[0] + dy)) < 0.25 and abs(x - (handle[1] + dx)) < 0.25, (dy, dx, y, x)


def test_step_limit_and_learning_rate_follow_the_distance(generator, wp):
    from sceneedit.editing.drag import step_limit

    settings = DragSettings(steps=200, steps_per_px=8, min_steps=20)
    assert step_limit(settings, 2.0) == 36 and step_limit(settings, 100.0) == 200
    seen = []
    short = run_drag(generator, wp, [HANDLE], [(16.0, 11.0)], FAST, callback=lambda p: seen.append(p.steps))
    assert short.steps_run <= step_limit(FAST, 1.0) and set(seen) == {step_limit(FAST, 1.0)}


def test_no_drag_ends_farther_than_it_started(generator, wp):
    # A learning rate far too large makes the optimizer overshoot; the best step is kept.
    wild = DragSettings(steps=12, lr=0.5, motion_radius=3, track_radius=4, layers=6, lr_floor=1.0, stop_distance=0)
    result = run_drag(generator, wp, [HANDLE], [(16.0, 16.0)], wild)
    ((y, x),) = result.handles_final
    assert np.hypot(16.0 - y, 16.0 - x) <= 6.0 + 1e-6 and result.distance <= 6.0 + 1e-6


def test_anchors_and_the_far_region_stay_put(generator, wp):
    def change_near(code, point, radius=3):
        with torch.no_grad():
            before = generator.synthesize(torch.from_numpy(wp)[None])[0]
            after = generator.synthesize(torch.from_numpy(code)[None])[0]
        ys, xs = np.mgrid[0:SIZE, 0:SIZE]
        near = torch.from_numpy(((ys - point[0]) ** 2 + (xs - point[1]) ** 2 <= radius**2).astype(np.float32))
        return float(((after - before).abs().mean(0) * near).sum() / near.sum())

    settings = DragSettings(steps=15, lr=0.02, motion_radius=3, track_radius=4, layers=6, stop_distance=0.0)
    anchor = (26.0, 26.0)
    free = run_drag(generator, wp, [HANDLE], [TARGET], settings)
    pinned = run_drag(
        generator,
        wp,
        [HANDLE],
        [TARGET],
        DragSettings(**{**settings.to_dict(), "anchor_weight": 20.0}),
        anchors=[anchor],
    )
    assert change_near(pinned.wp, anchor) < change_near(free.wp, anchor)
    kept = run_drag(
        generator,
        wp,
        [HANDLE],
        [TARGET],
        DragSettings(**{**settings.to_dict(), "keep_radius": 6.0, "keep_weight": 10.0}),
    )
    assert change_near(kept.wp, (4.0, 28.0)) < change_near(free.wp, (4.0, 28.0))


def test_default_settings_scale_with_the_resolution(generator):
    from sceneedit.editing.drag import default_settings

    small = default_settings(generator)
    assert small.feature_block == pick_feature_block([4, 8, 16, 32], SIZE)
    assert small.motion_radius >= 2 and small.track_radius >= 2
    assert DragSettings(layers=[3, 1]).optimized_layers(8) == [1, 3]
    with pytest.raises(DragError, match="out of range"):
        DragSettings(layers=[9]).optimized_layers(8)
    settings = DragSettings(layers=(1, 2), keep_radius=5.0)
    assert DragSettings.from_dict(settings.to_dict()) == settings
