"""The concept x score effect matrix on a generator whose factors are planted at known layers:
layer choice by selectivity, the default hold, calibrated slider ranges, the bundle fields,
the report's matrix, and the editor session honouring the bundle's hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sceneedit.generators.base import Generator
from sceneedit.semantics.bundle import load_bundle, save_bundle
from sceneedit.semantics.concepts import BoundaryBundle, Concept
from sceneedit.semantics.effects import (
    MIN_OWN_EFFECT,
    TARGET_EFFECT,
    conditioned_directions,
    effect_goals,
)
from sceneedit.semantics.probe import measure_effects
from sceneedit.semantics.report import write_report

W_DIM, NUM_LAYERS = 6, 5
#: score -> (layers carrying it, W axis). "a" and "b" share layer 1; "c" lives on layers 3-4.
PLANTED = {"a": ([1], 0), "b": ([1], 1), "c": ([3, 4], 2)}


class SharedLayerGenerator(Generator):
    """Image channel k = tanh(mean over factor k's layers of the code along axis k); the
    first layer of each factor also leaks a little into the next factor's channel."""

    arch = "effects-test"

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("avg", torch.zeros(W_DIM))

    resolution = property(lambda self: 4)
    z_dim = property(lambda self: W_DIM)
    w_dim = property(lambda self: W_DIM)
    num_layers = property(lambda self: NUM_LAYERS)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.avg

    def _map(self, z, psi, layers, **conditioning):
        return z[:, None, :].repeat(1, NUM_LAYERS, 1)

    def _synthesize(self, wp):
        channels = [
            torch.tanh(0.5 * torch.stack([wp[:, layer, axis] for layer in layers]).mean(0))
            for layers, axis in PLANTED.values()
        ]
        image = torch.stack(channels, dim=1)[:, :, None, None].expand(-1, -1, 4, 4)
        return image.contiguous(), [image]


class ChannelPredictor:
    """Score k = mean of image channel k (a real function of the pixels)."""

    name = "channels"
    score_names = list(PLANTED)
    score_levels = {"a": "layout", "b": "color", "c": "attributes"}

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))

    def to(self, device):
        return self


def unit(v):
    v = np.asarray(v, np.float32)
    return (v / np.linalg.norm(v))[None]


def planted_bundle() -> BoundaryBundle:
    e = np.eye(W_DIM, dtype=np.float32)
    fingerprint = {
        "arch": "effects-test",
        "resolution": 4,
        "num_layers": NUM_LAYERS,
        "w_dim": W_DIM,
        "weights_hash": "x",
    }
    concepts = {
        # "a" is mixed with "b": moving it alone moves b as much as a, unless b is held.
        "a": Concept(
            "a", unit(e[0] + 0.9 * e[1]), layers=list(range(NUM_LAYERS)), level="layout", distance_range=(-1.0, 1.0)
        ),
        "b": Concept("b", unit(e[1]), layers=[0], level="color", distance_range=(-1.0, 1.0)),
        "c": Concept("c", unit(e[2]), layers=[0, 1], level="attributes", distance_range=(-1.0, 1.0)),
    }
    for concept in concepts.values():  # a Δs profile, so the report's layer heatmap has rows
        concept.delta_s, concept.delta_s_all = [0.1] * NUM_LAYERS, 0.3
    return BoundaryBundle(concepts=concepts, generator_fingerprint=fingerprint)


def test_matrix_picks_the_planted_layers_holds_the_leak_and_calibrates_the_range(tmp_path):
    generator, bundle = SharedLayerGenerator().eval(), planted_bundle()
    measure_effects(generator, ChannelPredictor(), bundle, num_seeds=60, select_seeds=30, progress=False)
    assert bundle["b"].layers == [1] and bundle["c"].layers in ([3], [4], [3, 4])
    assert bundle["a"].layers == [1] and bundle["a"].extra["hold"] == ["b"]
    for concept in bundle:
        effect = concept.extra["effect"]
        assert effect["own_std"] >= MIN_OWN_EFFECT and effect["own_std"] > effect["side_std"]
        # calibrated: the full range moves the own score by about TARGET_EFFECT std
        assert effect["own_std"] == pytest.approx(TARGET_EFFECT, rel=0.35)
        assert effect["num_seeds"] == 60 and set(effect["row"]) == {"a", "b", "c"}
    assert bundle["a"].extra["effect"]["selectivity"] > 5  # held: b barely moves
    assert bundle["b"].distance_range[0] == -bundle["b"].distance_range[1]
    effects = bundle.extra["effects"]
    assert effects["concepts"] == ["a", "b", "c"] and np.shape(effects["matrix"]) == (3, 3)
    assert effects["seeds"] == "0-59"
    goals = effect_goals(bundle)
    assert goals["own_ok"] == 3 and goals["median_selectivity"] > 3 and goals["flip_rates"] == {}

    # The fields survive a save / load (the bundle format is unchanged, extra is free-form).
    path = save_bundle(bundle, tmp_path / "b.safetensors")
    again = load_bundle(path)
    assert again["a"].extra["hold"] == ["b"] and again.extra["effects"]["matrix"] == effects["matrix"]
    report = write_report(again, tmp_path / "report")
    assert report["effects"].stat().st_size > 0
    text = report["markdown"].read_text()
    assert "concept x score matrix" in text and "| a |" in text


def test_without_the_hold_the_mixed_concept_is_not_selective():
    generator, bundle = SharedLayerGenerator().eval(), planted_bundle()
    bundle.concepts.pop("b")  # nothing to hold: "a" keeps moving b's channel too
    measure_effects(generator, ChannelPredictor(), bundle, num_seeds=40, select_seeds=20, progress=False)
    effect = bundle["a"].extra["effect"]
    assert bundle["a"].extra["hold"] == [] and effect["side_score"] == "b"
    assert 0.5 < effect["selectivity"] < 2.0
    assert "a" in effect_goals(bundle)["failing"] or effect["own_std"] > effect["side_std"]


def test_conditioned_directions_match_the_editors_conditioning():
    from sceneedit.editing.manipulation import conditional_layer_normals

    rng = np.random.default_rng(0)
    normal, other, per_layer = rng.normal(size=(1, 6)), rng.normal(size=(1, 6)), rng.normal(size=(5, 6))
    for others in ([other], [other, per_layer]):
        ours = conditioned_directions(normal, others, 5)
        theirs = conditional_layer_normals(normal, others, 5)
        assert np.allclose(ours, theirs, atol=1e-5)


def test_session_uses_the_bundle_hold_by_default():
    from sceneedit.editing.session import EditSession
    from sceneedit.semantics.bundle import fingerprint_for

    generator, bundle = SharedLayerGenerator().eval(), planted_bundle()
    bundle.generator_fingerprint = fingerprint_for(generator)
    bundle["a"].extra["hold"] = ["b", "not-in-bundle"]
    session = EditSession(generator, bundle)
    assert session.conditioned_on("a") == ["b"] and session.conditioned_on("b") == []
    session.set_strength("a", 1.0)
    assert session.conditioned_on("a") == ["b"]
    session.set_conditioning("a", [])
    assert session.conditioned_on("a") == []
    session.reset_concept("a")
    assert session.conditioned_on("a") == ["b"]


def test_only_reliably_read_scores_count_as_side_effects():
    from sceneedit.semantics.effects import reliable_scores

    metrics = {"r2": {"x": 0.9, "y": 0.3}, "accuracy": {"category": 0.95, "light": 0.8}}
    names = ["bed", "sofa", "light", "x", "y", "z"]
    assert reliable_scores(names, metrics, ["bed", "sofa"]) == ["bed", "sofa", "x"]
    assert reliable_scores(names, {}, ["bed"]) is None
    generator, bundle = SharedLayerGenerator().eval(), planted_bundle()
    bundle.concepts.pop("b")
    predictor = ChannelPredictor()
    predictor.metrics = {"r2": {"a": 0.9, "b": 0.2, "c": 0.9}}  # b is read badly: its change is no evidence
    measure_effects(generator, predictor, bundle, num_seeds=30, select_seeds=15, progress=False)
    effect = bundle["a"].extra["effect"]
    assert effect["side_score"] == "c" and effect["selectivity"] > 5
    assert bundle.extra["effects"]["reliable_scores"] == ["a", "c"]


class FeatureChannelPredictor(ChannelPredictor):
    """ChannelPredictor with pooled features (the channel means and their squares), so the meter
    can measure realism as it does with the world predictor."""

    def pooled_features_and_scores(self, images: torch.Tensor):
        scores = self.score(images)
        return torch.cat([scores, scores**2], dim=1), scores


def meter_for(predictor, seeds: int = 40, reference: int | None = None):
    from sceneedit.semantics.effects import EffectMeter

    generator = SharedLayerGenerator().eval()
    rng = np.random.default_rng(0)
    wp = np.repeat(rng.standard_normal((seeds, 1, W_DIM)).astype(np.float32), NUM_LAYERS, axis=1)
    ref = None
    if reference:
        ref = np.repeat(rng.standard_normal((reference, 1, W_DIM)).astype(np.float32), NUM_LAYERS, axis=1)
    return EffectMeter(generator, predictor, wp, np.ones(NUM_LAYERS, np.float32), realism_reference=ref)


def test_trim_range_cuts_saturated_ends_and_keeps_linear_ones():
    from sceneedit.semantics.effects import SATURATION, trim_range

    meter = meter_for(FeatureChannelPredictor(), reference=200)
    directions = conditioned_directions(np.eye(W_DIM, dtype=np.float32)[2:3], [], NUM_LAYERS)
    # Far into tanh's flat part: a quarter of the range already does nearly all the change.
    (lo, hi), effect, record = trim_range(meter, directions, "c", [3, 4], 40.0, count=40)
    assert (lo, hi) == (-10.0, 10.0) and record["fractions"] == {"bottom": 0.25, "top": 0.25}
    full = record["trials"]["1"]["own_ends_std"]
    assert all(
        quarter >= SATURATION * f for quarter, f in zip(record["trials"]["0.25"]["own_ends_std"], full, strict=True)
    )
    assert effect.own > MIN_OWN_EFFECT
    # Realism is recorded: the far edits sit off the unedited samples' features (ratio > 1).
    assert record["trials"]["1"]["nn_ratios"][1] > 1.5
    # In the near-linear part nothing is cut.
    (lo, hi), _, record = trim_range(meter, directions, "c", [3, 4], 0.5, count=40)
    assert (lo, hi) == (-0.5, 0.5) and record["fractions"] == {"bottom": 1.0, "top": 1.0}


def test_realism_meter_reads_unedited_samples_as_typical():
    from sceneedit.semantics.realism import RealismMeter

    meter = meter_for(FeatureChannelPredictor(), seeds=60, reference=200)
    assert meter.realism is not None
    scores, features = meter._outputs(meter.wp[:30])
    assert features is not None and 0.8 < meter.realism.nn_ratio(features) < 1.25
    with pytest.raises(ValueError, match="feature sizes differ"):
        RealismMeter(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="coincide"):
        RealismMeter(np.ones((3, 2)), np.ones((2, 2)))
    # A predictor without pooled features cannot measure realism: a clear error, not a crash later.
    with pytest.raises(ValueError, match="no features"):
        meter_for(ChannelPredictor(), reference=10)


def test_trim_ranges_keeps_directions_layers_and_holds():
    from sceneedit.semantics.probe import trim_ranges

    generator, bundle = SharedLayerGenerator().eval(), planted_bundle()
    measure_effects(generator, FeatureChannelPredictor(), bundle, num_seeds=40, select_seeds=20, progress=False)
    before = {c.name: (np.array(c.normal), list(c.layers), list(c.extra["hold"])) for c in bundle}
    bundle["c"].distance_range = (-40.0, 40.0)  # far past saturation, as an over-long calibration would leave it
    bundle["c"].extra["effect"]["selection"].pop("trimmed", None)
    trim_ranges(
        generator, FeatureChannelPredictor(), bundle, num_seeds=40, select_seeds=20, realism_samples=50, progress=False
    )
    for concept in bundle:
        normal, layers, hold = before[concept.name]
        assert np.array_equal(concept.normal, normal) and concept.layers == layers and concept.extra["hold"] == hold
        trimmed = concept.extra["effect"]["selection"]["trimmed"]
        assert "nn_ratios" in trimmed["trials"]["1"]
    assert bundle["c"].distance_range == (-10.0, 10.0)
    assert "shortest" in bundle["c"].extra["range_rule"]
    assert bundle.extra["effects"]["num_seeds"] == 40
