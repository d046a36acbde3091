"""Refined directions (sceneedit.semantics.refine and effects.choose_direction) on the planted
generator of test_effects: mean score gradients land on the planted layers and axes, the
projection holds the leaked score still, and a concept whose SVM normal leaks ships the refined
per-layer direction (kept SVM normal, editor and a second measurement included)."""

from __future__ import annotations

import numpy as np
import torch

from sceneedit.semantics.bundle import load_bundle, save_bundle
from sceneedit.semantics.effects import effect_goals, svm_normal
from sceneedit.semantics.probe import editor_codes, measure_effects
from sceneedit.semantics.refine import mean_score_gradients, project_out
from tests.test_effects import NUM_LAYERS, PLANTED, W_DIM, ChannelPredictor, SharedLayerGenerator, planted_bundle


def test_mean_score_gradients_follow_the_planted_layers_and_axes():
    generator, predictor = SharedLayerGenerator().eval(), ChannelPredictor()
    wp = editor_codes(generator, list(range(8)))
    grads = mean_score_gradients(generator, predictor, wp, np.ones(3), batch_size=3)
    assert grads.shape == (3, NUM_LAYERS, W_DIM)
    for j, (layers, axis) in enumerate(PLANTED.values()):
        mass = np.abs(grads[j])
        assert mass[layers, axis].min() > 0.01
        off = mass.copy()
        off[layers, axis] = 0
        assert off.max() < 1e-6
    # Against a finite difference of the mean score (score "c", layer 3, its axis 2).
    eps, codes = 1e-3, torch.from_numpy(wp)
    moved = codes.clone()
    moved[:, 3, 2] += eps
    with torch.no_grad():
        diff = predictor.score(generator.synthesize(moved)) - predictor.score(generator.synthesize(codes))
    assert np.isclose(diff[:, 2].mean().item() / eps, grads[2, 3, 2], rtol=1e-2)
    # Divided by the score's std; log-odds for probability scores.
    halved = mean_score_gradients(generator, predictor, wp, np.full(3, 2.0), batch_size=8)
    assert np.allclose(halved, grads / 2, atol=1e-6)
    only_c = mean_score_gradients(generator, predictor, wp, np.ones(3), scores=[2])
    assert np.allclose(only_c[2], grads[2], atol=1e-6) and not only_c[:2].any()


def test_project_out_is_orthogonal_per_layer_and_unit():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(4, 3, 7)).astype(np.float32)
    rows = project_out(rng.normal(size=(1, 7)), grads, [1, 3])
    assert rows.shape == (3, 7) and np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    for layer in range(3):
        assert abs(rows[layer] @ grads[1, layer]) < 1e-4 and abs(rows[layer] @ grads[3, layer]) < 1e-4
    assert np.allclose(project_out(rows[:1], grads, []), np.repeat(rows[:1], 3, 0), atol=1e-6)


def test_a_leaking_concept_ships_the_refined_direction(tmp_path):
    generator = SharedLayerGenerator().eval()
    bundle = planted_bundle()
    bundle.concepts.pop("b")  # nothing to condition on: only the score gradients can hold b still
    original = bundle["a"].normal.copy()
    measure_effects(
        generator, ChannelPredictor(), bundle, num_seeds=40, select_seeds=20, progress=False, gradient_seeds=8
    )
    a = bundle["a"]
    effect = a.extra["effect"]
    assert effect["selection"]["direction"] == "svm+held" and effect["selection"]["scores_held"] == ["b"]
    assert a.space == "wp" and a.normal.shape == (NUM_LAYERS, W_DIM)
    assert abs(a.normal[1, 1]) < 1e-3  # the planted layer no longer moves b's axis
    assert effect["selectivity"] > 5 and effect["own_std"] >= 1
    assert np.allclose(svm_normal(a), original, atol=1e-6) and "SVM" in a.extra["direction"]
    # c does not leak: its SVM normal is kept as it is.
    assert bundle["c"].space == "w" and bundle["c"].extra["effect"]["selection"]["direction"] == "svm"
    assert bundle.extra["effects"]["gradient_seeds"] == "100000-100007"
    assert effect_goals(bundle)["own_ok"] == 2

    # Saved and "a" alone measured again (layers kept): it starts from the kept SVM normal, so it
    # lands on the same direction; c keeps its stored row.
    again = load_bundle(save_bundle(bundle, tmp_path / "refined.safetensors"))
    assert np.allclose(svm_normal(again["a"]), original, atol=1e-6)
    c_row = bundle.extra["effects"]["matrix"][1]
    measure_effects(
        generator,
        ChannelPredictor(),
        again,
        num_seeds=40,
        select_seeds=20,
        progress=False,
        gradient_seeds=8,
        rule="kept",
        concepts=["a"],
    )
    assert np.allclose(again["a"].normal, a.normal, atol=1e-5)
    assert again["a"].layers == a.layers and again.extra["effects"]["layer_rule"] == "kept"
    assert again.extra["effects"]["concepts"] == ["a", "c"] and again.extra["effects"]["matrix"][1] == c_row

    # Measured without refinement: back to the SVM normal the probe fitted.
    measure_effects(generator, ChannelPredictor(), again, num_seeds=20, select_seeds=10, progress=False, rule="kept")
    assert again["a"].space == "w" and np.allclose(again["a"].normal, original, atol=1e-6)
    assert "svm_normal" not in again["a"].extra


def test_the_editor_edits_along_the_refined_direction():
    from sceneedit.editing.session import EditSession
    from sceneedit.semantics.bundle import fingerprint_for

    generator = SharedLayerGenerator().eval()
    bundle = planted_bundle()
    bundle.concepts.pop("b")
    measure_effects(
        generator, ChannelPredictor(), bundle, num_seeds=30, select_seeds=15, progress=False, gradient_seeds=8
    )
    bundle.generator_fingerprint = fingerprint_for(generator)
    session = EditSession(generator, bundle)
    session.set_seed(3)
    base = session.current_wp().copy()
    session.set_strength("a", 1.0)
    moved = session.current_wp() - base
    assert abs(moved[1, 0]) > 0.1  # on the layer that draws both, a's axis moves ...
    assert abs(moved[1, 1]) < 1e-3  # ... b's does not


def test_refining_along_the_path_holds_the_leak_where_the_edit_goes():
    from sceneedit.semantics.effects import EffectMeter, refine_along_path

    generator, predictor = SharedLayerGenerator().eval(), ChannelPredictor()
    meter = EffectMeter(generator, predictor, editor_codes(generator, list(range(24))), np.ones(NUM_LAYERS))
    start = planted_bundle()["a"].normal  # e0 + 0.9 e1: moves b as much as a on layer 1
    leaky = meter.measure(np.repeat(start, NUM_LAYERS, 0), [1], -1.0, 1.0, "a")
    assert leaky.side_score == "b" and leaky.selectivity < 2
    path = editor_codes(generator, list(range(100, 108)))
    directions, held, effect, half = refine_along_path(meter, start, "a", [1], 1.0, 24, path, ())
    assert held == ["b"] and abs(directions[1, 1]) < 1e-3 and directions.shape == (NUM_LAYERS, W_DIM)
    assert effect.selectivity > 5 * leaky.selectivity and effect.own >= leaky.own * 0.9 and half >= 1.0


class BumpGenerator(SharedLayerGenerator):
    """Channel 0 = sin(code axis 0 on layer 1): moving along axis 0 raises it only up to a point."""

    def _synthesize(self, wp):
        channels = [torch.sin(wp[:, 1, 0]), torch.tanh(wp[:, 1, 1]), torch.tanh(wp[:, 3, 2])]
        image = torch.stack(channels, dim=1)[:, :, None, None].expand(-1, -1, 4, 4)
        return image.contiguous(), [image]


def test_the_slider_range_stops_where_the_effect_peaks():
    from sceneedit.semantics.effects import TARGET_EFFECT, EffectMeter, calibrate_range

    generator = BumpGenerator().eval()
    meter = EffectMeter(generator, ChannelPredictor(), 1.5 * editor_codes(generator, list(range(64))), np.ones(5))
    directions = np.zeros((NUM_LAYERS, W_DIM), np.float32)
    directions[:, 0] = 1
    start = meter.measure(directions, [1], -1.2, 1.2, "a")
    assert start.own < TARGET_EFFECT / 2  # the target asks for a much longer range ...
    half, effect = calibrate_range(meter, directions, "a", [1], 1.2, start, 64)
    # ... but past pi / 2 the own effect falls (below zero by 3.5): the range stays before that.
    assert half <= np.pi / 2 + 0.4 and effect.own >= start.own
    assert meter.measure(directions, [1], -3.5, 3.5, "a").own < effect.own


def test_distances_from_the_boundary_stay_the_svms_for_a_refined_concept():
    from sceneedit.editing.manipulation import distance_from_hyperplane
    from sceneedit.editing.session import EditSession
    from sceneedit.semantics.bundle import fingerprint_for

    generator = SharedLayerGenerator().eval()
    bundle = planted_bundle()
    bundle.concepts.pop("b")
    original = bundle["a"].normal.copy()
    measure_effects(
        generator, ChannelPredictor(), bundle, num_seeds=30, select_seeds=15, progress=False, gradient_seeds=8
    )
    assert bundle["a"].space == "wp" and np.allclose(bundle["a"].boundary_normal, original)
    bundle.generator_fingerprint = fingerprint_for(generator)
    session = EditSession(generator, bundle, seed=5)
    layer = session.layers("a")[0]
    expected = distance_from_hyperplane(session.base_wp, original, layer)
    assert abs(session.hyperplane_distance("a", edited=False) - expected) < 1e-5
    session.set_strength("a", session.strength_for_distance("a", 1.5))
    assert abs(session.hyperplane_distance("a") - 1.5) < 1e-4
