"""The probing pipeline on generators whose factors are planted at known layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sceneedit.generators.base import Generator
from sceneedit.semantics.boundaries import BoundaryError
from sceneedit.semantics.bundle import load_bundle, save_bundle
from sceneedit.semantics.layers import select_layers
from sceneedit.semantics.probe import (
    ProbeConfig,
    ProbeError,
    build_bundle,
    fit_concepts,
    rescore_concepts,
    run_probe,
    sample_and_score,
)
from sceneedit.semantics.rescore import layer_strengths, rescore_concept
from sceneedit.semantics.storage import ProbeStore, StoreError, merge_runs

W_DIM = 8
NUM_LAYERS = 6
# Planted factors: score name -> (layers that carry it, basis direction in W).
PLANTED = {"a": ([1], 0), "b": ([4], 1), "c": ([2, 3], 2)}


class PlantedGenerator(Generator):
    """A real Generator whose image channel k is ``tanh`` (or the identity, ``linear``) of
    the code at factor k's layers along a basis direction; nothing else reaches the image."""

    arch = "planted-test"

    def __init__(self, linear: bool = False, truncation_psi: float = 1.0, truncation_layers: int = 0) -> None:
        super().__init__(linear=linear, truncation_psi=truncation_psi, truncation_layers=truncation_layers)
        self.linear = linear
        self.register_buffer("basis", torch.eye(W_DIM))
        self.register_buffer("avg", torch.zeros(W_DIM))

    resolution = property(lambda self: 8)
    z_dim = property(lambda self: W_DIM)
    w_dim = property(lambda self: W_DIM)
    num_layers = property(lambda self: NUM_LAYERS)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.avg

    def _map(self, z, psi, layers, **conditioning):
        wp = z[:, None, :].repeat(1, NUM_LAYERS, 1)
        if layers > 0 and psi != 1.0:
            wp[:, :layers] = self.avg + psi * (wp[:, :layers] - self.avg)
        return wp

    def _synthesize(self, wp):
        channels = []
        for layers, axis in PLANTED.values():
            value = torch.stack([wp[:, layer] @ self.basis[axis] for layer in layers]).mean(0) * 0.5
            channels.append(value if self.linear else torch.tanh(value))
        image = torch.stack(channels, dim=1)[:, :, None, None].expand(-1, -1, 8, 8)
        return image.contiguous(), [image]


class ChannelPredictor:
    """A real predictor: score k is the mean of image channel k; ``flat`` is constant."""

    name = "channels"

    def __init__(self, with_flat: bool = False, nan_after: int | None = None) -> None:
        self.score_names = list(PLANTED) + (["flat"] if with_flat else [])
        self.score_levels = {"a": "layout", "b": "color", "c": "objects", "flat": "attributes"}
        self.nan_after = nan_after
        self.calls = 0
        self.images_seen = 0

    def score(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.images_seen += images.shape[0]
        scores = images.mean(dim=(2, 3))
        if "flat" in self.score_names:
            scores = torch.cat([scores, torch.zeros(len(images), 1)], dim=1)
        if self.nan_after is not None and self.images_seen > self.nan_after:
            scores = scores.clone()
            scores[0, 0] = float("nan")
        return scores

    def to(self, device):
        return self


def make_channel_predictor(**options):
    """Factory used through the registry's ``module:factory`` form in the CLI test."""
    return ChannelPredictor()


@pytest.fixture
def generator():
    return PlantedGenerator().eval()


def test_pipeline_finds_planted_directions_and_layers(generator, tmp_path):
    result = run_probe(
        generator,
        ChannelPredictor(),
        tmp_path / "run",
        ProbeConfig(num=400, chunk_size=150, batch_size=64),
        chosen=100,
        rescore_samples=40,
        progress=False,
    )
    for name, (layers, axis) in PLANTED.items():
        fit = result.fits[name]
        assert abs(float(fit.normal[0] @ np.eye(W_DIM)[axis])) >= 0.95
        assert float(fit.normal[0, axis]) > 0  # points towards higher scores
        assert fit.accuracy >= 0.95
        delta = np.array(result.rescores[name].delta_s)
        others = [layer for layer in range(NUM_LAYERS) if layer not in layers]
        assert delta[layers].min() > 0.05 and delta[others].max() < 1e-6
        concept = result.bundle[name]
        assert concept.layers == layers
        assert concept.delta_s_all >= delta.max() - 1e-6
    assert [c.level for c in result.bundle.by_level()["layout"]] == ["layout"]
    path = save_bundle(result.bundle, tmp_path / "b.safetensors")
    again = load_bundle(path)
    assert again["c"].layers == [2, 3]
    assert again["a"].extra["sample_counts"]["positive"] == 100


def test_truncation_aware_strength_is_psi_on_truncated_layers():
    assert layer_strengths(6, 0.7, 2).tolist() == pytest.approx([0.7, 0.7, 1, 1, 1, 1])
    assert layer_strengths(6, 0.7, 0).tolist() == [1.0] * 6
    # linear planted generator: Δs(layer 1) = λ * strength * 0.5 * (n . e_a) exactly
    gen = PlantedGenerator(linear=True, truncation_psi=0.5, truncation_layers=2).eval()
    normal = np.eye(W_DIM, dtype=np.float32)[[0]]
    wp = gen.map(gen.sample_z(10, seed=1))
    result = rescore_concept(
        gen,
        ChannelPredictor(),
        0,
        normal,
        lambda: [wp],
        lam=2.0,
        strengths=layer_strengths(NUM_LAYERS, 0.5, 2),
        batch_size=16,
    )
    assert result.delta_s[1] == pytest.approx(2.0 * 0.5 * 0.5, abs=1e-5)
    assert result.delta_s[0] == pytest.approx(0.0, abs=1e-7)
    assert result.delta_s_all == pytest.approx(2.0 * 0.5 * 0.5, abs=1e-5)


def test_layer_selection_rule():
    assert select_layers([0, 0, 5, 5, 0, 0]) == [2, 3]
    assert select_layers([0, 9, 1, 0, 0, 0]) == [1]
    assert select_layers([1, 1, 1, 1, 1, 1], share=0.5) == [0, 1, 2]
    assert select_layers([0, 0, 0]) is None
    assert select_layers([1, 2, 3, 2, 1, 1], share=0.6) == [1, 2, 3]


def test_resume_redoes_only_missing_chunks(generator, tmp_path):
    config = ProbeConfig(num=300, chunk_size=100, batch_size=50)
    first = sample_and_score(generator, ChannelPredictor(), tmp_path / "run", config, progress=False)
    scores = first.score_column("a").copy()
    first.chunk_path(1, "scores").unlink()
    predictor = ChannelPredictor()
    again = sample_and_score(generator, predictor, tmp_path / "run", config, progress=False)
    assert predictor.images_seen == 100  # only chunk 1 was redone
    np.testing.assert_array_equal(again.score_column("a"), scores)
    with pytest.raises(StoreError, match="different probe run"):
        sample_and_score(
            generator,
            ChannelPredictor(),
            tmp_path / "run",
            ProbeConfig(num=300, chunk_size=100, seed=5),
            progress=False,
        )


def test_shards_merge_to_the_unsharded_run(generator, tmp_path):
    whole = sample_and_score(
        generator, ChannelPredictor(), tmp_path / "whole", ProbeConfig(num=250, chunk_size=50), progress=False
    )
    shards = []
    for index in range(3):
        shards.append(
            sample_and_score(
                generator,
                ChannelPredictor(),
                tmp_path / f"s{index}",
                ProbeConfig(num=250, chunk_size=50, shard=(index, 3)),
                progress=False,
            )
        )
    assert shards[0].missing_chunks() == [1, 2, 4]  # other shards' chunks
    with pytest.raises(StoreError, match="chunk 2"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "partial")
    merged = merge_runs([tmp_path / f"s{i}" for i in range(3)], tmp_path / "merged")
    merged.require_complete()
    for kind in ("z", "w"):
        np.testing.assert_array_equal(merged.gather(kind, np.arange(250)), whole.gather(kind, np.arange(250)))
    np.testing.assert_array_equal(merged.score_column("b"), whole.score_column("b"))


def test_bad_predictor_output_writes_nothing(generator, tmp_path):
    with pytest.raises(ProbeError, match="NaN"):
        sample_and_score(
            generator,
            ChannelPredictor(nan_after=100),
            tmp_path / "nan",
            ProbeConfig(num=200, chunk_size=100, batch_size=50),
            progress=False,
        )
    store = ProbeStore.open(tmp_path / "nan")
    assert store.is_complete(0) and not store.is_complete(1)
    assert not store.chunk_path(1, "z").exists() and not list((tmp_path / "nan" / "chunks").glob("*.tmp"))

    class WrongShape(ChannelPredictor):
        def score(self, images):
            return super().score(images)[:, :2]

    with pytest.raises(ProbeError, match="shape"):
        sample_and_score(
            generator, WrongShape(), tmp_path / "shape", ProbeConfig(num=20, chunk_size=20), progress=False
        )


def test_unknown_concept_and_flat_scores_are_refused(generator, tmp_path):
    store = sample_and_score(
        generator,
        ChannelPredictor(with_flat=True),
        tmp_path / "run",
        ProbeConfig(num=120, chunk_size=60),
        progress=False,
    )
    with pytest.raises(ProbeError, match="no score 'bedroom'"):
        fit_concepts(store, ["bedroom"], chosen=20, progress=False)
    with pytest.raises(BoundaryError, match="all 120 scores equal"):
        fit_concepts(store, ["flat"], chosen=20, progress=False)
    fits = fit_concepts(store, ["a"], chosen=20, progress=False)
    other = PlantedGenerator(linear=True).eval()  # same shapes, other weights hash? (config differs)
    other.basis.mul_(2)
    with pytest.raises(ProbeError, match="another generator"):
        rescore_concepts(other, ChannelPredictor(with_flat=True), store, fits, num_samples=10, progress=False)


def test_rescore_cache_and_per_layer_space(generator, tmp_path):
    config = ProbeConfig(num=200, chunk_size=100, store_wp=True)
    store = sample_and_score(generator, ChannelPredictor(), tmp_path / "run", config, progress=False)
    fits = fit_concepts(store, ["b"], chosen=50, space="wp", progress=False)
    assert fits["b"].normal.shape == (NUM_LAYERS, W_DIM)
    predictor = ChannelPredictor()
    first = rescore_concepts(generator, predictor, store, fits, num_samples=20, progress=False)
    seen = predictor.images_seen
    again = rescore_concepts(generator, predictor, store, fits, num_samples=20, progress=False)
    assert predictor.images_seen == seen  # cached in rescore.json
    assert again["b"].delta_s == pytest.approx(first["b"].delta_s)
    bundle = build_bundle(store, fits, again)
    assert bundle["b"].space == "wp" and bundle["b"].layers == [4]


# ----- end to end: a tiny real StyleGAN through the command line -----------------------------
@pytest.mark.slow
def test_command_line_probe_sharded_and_merged(tmp_path, capsys, monkeypatch, tiny_stylegan_file):
    from sceneedit.cli import main

    generator = tiny_stylegan_file(w_dim=16, fmaps_max=16, truncation_psi=0.7, truncation_layers=2)
    common = [
        "probe",
        "--generator",
        str(generator),
        "--predictor",
        "test_probe:make_channel_predictor",
        "--num",
        "200",
        "--chunk-size",
        "50",
        "--batch-size",
        "50",
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(common + ["--shard", "0/2", "--out", str(tmp_path / "s0")]) == 0
    monkeypatch.setenv("RANK", "1")  # as torchrun sets it
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(common + ["--shard", "auto", "--out", str(tmp_path / "s{rank}")]) == 0
    assert ProbeStore.open(tmp_path / "s1").manifest["shard"] == [1, 2]
    assert "Merge all shards" in capsys.readouterr().out
    code = main(
        common
        + [
            "--merge",
            str(tmp_path / "s0"),
            str(tmp_path / "s1"),
            "--out",
            str(tmp_path / "all"),
            "--k",
            "50",
            "--rescore-samples",
            "8",
            "--concepts",
            "a,b",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "bundle:" in out and "peaks at layer" in out
    bundle = load_bundle(tmp_path / "all" / "bundle.safetensors")
    assert bundle.names and set(bundle.names) == {"a", "b"}
    assert bundle.generator_fingerprint["arch"] == "stylegan"
    for concept in bundle:
        assert len(concept.delta_s) == 6 and concept.accuracy > 0.5 and concept.layers
    assert (tmp_path / "all" / "report" / "heatmap.png").stat().st_size > 0
    assert "| level | concept |" in (tmp_path / "all" / "report" / "report.md").read_text()
    # --merge with another --num than the shards': refused, not silently ignored; left out: the shards' N
    other_num = [
        ("300" if previous == "--num" else word) for previous, word in zip([""] + common, common, strict=False)
    ]
    shards = ["--merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--k", "50", "--rescore-samples", "8"]
    assert main(other_num + shards + ["--out", str(tmp_path / "n300")]) == 2
    assert "--num-samples 300 differs from N = 200" in capsys.readouterr().err and not (tmp_path / "n300").exists()
    no_num = [w for i, w in enumerate(common) if w != "--num" and (i == 0 or common[i - 1] != "--num")]
    assert main(["probe", "-g", *no_num[2:]] + shards + ["--out", str(tmp_path / "nonum")]) == 0
    assert ProbeStore.open(tmp_path / "nonum").manifest["num"] == 200
    # unknown concept: a clear one-line error, exit code 2, nothing sampled
    assert main(common + ["--out", str(tmp_path / "x"), "--concepts", "bedroom"]) == 2
    assert "no score 'bedroom'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_end_to_end_tiny_stylegan_and_world_predictor(tmp_path, capsys, tiny_stylegan_file):
    """The whole pipeline at N = 200 on a real (tiny, untrained) StyleGAN and the world
    predictor's real network (random weights: its scores are still functions of the image)."""
    from sceneedit.cli import main
    from sceneedit.semantics.predictors import world

    torch.manual_seed(1)
    predictor_file = world.save_world_predictor(
        world.WorldPredictor(world.WorldNet(world.WorldNetConfig(input_size=32))), tmp_path / "world.safetensors"
    )
    generator = tiny_stylegan_file(w_dim=16, fmaps_max=16, truncation_psi=0.7, truncation_layers=2)
    code = main(
        [
            "probe",
            "--generator",
            str(generator),
            "--predictor",
            "world",
            "--predictor-option",
            f"path={predictor_file}",
            "--num",
            "200",
            "--chunk-size",
            "100",
            "--batch-size",
            "100",
            "--k",
            "60",
            "--rescore-samples",
            "4",
            "--no-progress",
            "--device",
            "cpu",
            "--concepts",
            "camera_yaw",
            "bedroom",
            "indoor_lighting",
            "wall_hue",
            "--out",
            str(tmp_path / "run"),
            "--bundle",
            str(tmp_path / "world_bundle.safetensors"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    bundle = load_bundle(tmp_path / "world_bundle.safetensors")
    assert {c.level for c in bundle} == {"layout", "objects", "attributes", "color"}
    assert bundle["camera_yaw"].predictor == "world" and bundle["camera_yaw"].num_samples == 200
    for concept in bundle:
        # The SVM boundary is [1, D]; a direction refined by the score gradients ships per layer.
        assert concept.boundary_normal.shape == (1, 16) and len(concept.delta_s) == 6
        direction = concept.extra["effect"]["selection"]["direction"]
        assert concept.normal.shape == ((1, 16) if direction == "svm" else (6, 16)), direction
        assert concept.extra["sample_counts"]["positive"] == 60
        assert 0 <= concept.accuracy <= 1 and concept.distance_range[0] < 0 < concept.distance_range[1]
    # The concept x score matrix: one row per concept over all 17 scores, in the report too.
    effects = bundle.extra["effects"]
    assert effects["concepts"] == bundle.names and len(effects["scores"]) == 17 and effects["num_seeds"] == 200
    assert bundle["bedroom"].extra["effect"]["flip_rate"] is not None
    assert bundle["camera_yaw"].extra["effect"]["flip_rate"] is None
    assert (tmp_path / "run" / "report" / "effects.png").stat().st_size > 0
    assert main(["bundle", "info", str(tmp_path / "world_bundle.safetensors")]) == 0
    assert "camera_yaw" in capsys.readouterr().out


def test_command_line_probe_without_generator_or_default(tmp_path, capsys, monkeypatch):
    from sceneedit.cli import main

    monkeypatch.setenv("SCENEEDIT_RESOURCES", str(tmp_path / "no_resources"))
    assert main(["probe", "--num", "10", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sceneedit probe: error: no --generator given and the default ") and "does not exist" in err
    assert not (tmp_path / "run").exists()
