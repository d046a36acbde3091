"""The world predictor: the shipped file, its held-out accuracy, file handling, and training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sceneedit.resources import RESOURCES_ENV_VAR, resource_path
from sceneedit.scenes import CATEGORIES, render_batch
from sceneedit.semantics.predictors.base import LEVELS, Predictor
from sceneedit.semantics.predictors.world import (
    PredictorLoadError,
    WorldNet,
    WorldNetConfig,
    WorldPredictor,
    category_histogram,
    default_predictor_path,
    load_world_predictor,
    save_world_predictor,
)
from sceneedit.training.predictor import evaluate, images_to_tensor, train_world_predictor

#: Allowed shortfall of a fresh 256-scene held-out set against the model card's figures.
ACCURACY_MARGIN = 0.06
R2_MARGIN = 0.10


@pytest.fixture(scope="module")
def shipped() -> WorldPredictor:
    return load_world_predictor()


@pytest.fixture(scope="module")
def fresh_scenes() -> tuple[np.ndarray, dict]:
    # A stream used neither for training (0) nor for the card's held-out set (1).
    return render_batch(256, seed=20240, resolution=64)


def test_shipped_file_is_found_through_the_package_and_is_small():
    path = default_predictor_path()
    assert path == resource_path("world_predictor.safetensors")
    assert path.is_file() and path.stat().st_size < 3 * 1024 * 1024  # 0.6 M float32 parameters
    assert path.with_suffix(".md").is_file()


def test_shipped_predictor_follows_the_protocol(shipped):
    assert isinstance(shipped, Predictor)
    assert shipped.score_names[:4] == list(CATEGORIES)
    assert set(shipped.score_levels) == set(shipped.score_names)
    assert set(shipped.score_levels.values()) <= set(LEVELS)
    images = torch.rand(3, 3, 128, 128) * 2 - 1  # any size is resized
    scores = shipped.score(images)
    assert scores.shape == (3, len(shipped.score_names)) and scores.dtype == torch.float32
    probabilities = scores[:, : 4 + 2]  # categories, then the two binary factors
    assert torch.all((probabilities >= 0) & (probabilities <= 1))
    assert torch.all(scores[:, 6:].abs() < 3)  # continuous: normalised to [0, 1], unclamped
    assert torch.allclose(scores[:, :4].sum(dim=1), torch.ones(3), atol=1e-5)
    maps = shipped.features(torch.zeros(2, 3, 48, 48))
    assert [m.shape[1] for m in maps] == shipped.feature_channels
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        shipped.score(torch.zeros(2, 64, 64))


@pytest.mark.slow
def test_shipped_predictor_beats_its_model_card_on_fresh_scenes(shipped, fresh_scenes):
    card = shipped.metrics
    images, labels = fresh_scenes
    fresh = evaluate(shipped, images, labels)
    for name, value in card["accuracy"].items():
        assert fresh["accuracy"][name] >= value - ACCURACY_MARGIN, (name, fresh["accuracy"][name], value)
    for name, value in card["r2"].items():
        assert fresh["r2"][name] >= value - R2_MARGIN, (name, fresh["r2"][name], value)
    assert fresh["accuracy"]["category"] > 0.8  # far above chance (0.25) whatever the card says
    histogram = category_histogram(shipped, images_to_tensor(images))
    truth = np.bincount(labels["category"], minlength=4) / len(images)
    assert max(abs(histogram[c] - truth[i]) for i, c in enumerate(CATEGORIES)) < 0.1


def test_scores_are_differentiable_when_the_images_require_grad(shipped):
    images = (torch.rand(2, 3, 64, 64) * 2 - 1).requires_grad_(True)
    shipped.score(images)[:, 0].sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def _tiny_predictor() -> WorldPredictor:
    torch.manual_seed(0)
    config = WorldNetConfig(input_size=32, channels=(4, 4, 8, 8, 8), hidden=8, squeeze=2)
    return WorldPredictor(WorldNet(config), metrics={"accuracy": {"category": 0.5}})


def test_save_and_load_round_trip(tmp_path):
    predictor = _tiny_predictor()
    path = save_world_predictor(predictor, tmp_path / "p.safetensors")
    loaded = load_world_predictor(path)
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    assert torch.equal(predictor.score(images), loaded.score(images))
    assert loaded.config == predictor.config
    assert loaded.metrics == {"accuracy": {"category": 0.5}}
    assert not list(tmp_path.glob("*.partial*")) and not list(tmp_path.glob("*.tmp"))


def test_bad_files_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_world_predictor(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(PredictorLoadError, match="junk.safetensors"):
        load_world_predictor(junk)

    from safetensors.torch import load_file, save_file

    good = save_world_predictor(_tiny_predictor(), tmp_path / "good.safetensors")
    state = load_file(str(good))
    save_file(state, str(tmp_path / "foreign.safetensors"), metadata={"format": "something-else"})
    with pytest.raises(PredictorLoadError, match="not a sceneedit world predictor"):
        load_world_predictor(tmp_path / "foreign.safetensors")

    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as handle:
        metadata = handle.metadata()
    state["head.2.bias"] = torch.zeros(3)
    save_file(state, str(tmp_path / "wrong.safetensors"), metadata=metadata)
    with pytest.raises(PredictorLoadError, match="head.2.bias"):
        load_world_predictor(tmp_path / "wrong.safetensors")


def test_resource_path_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(RESOURCES_ENV_VAR, str(tmp_path))
    assert resource_path("world_predictor.safetensors") == tmp_path / "world_predictor.safetensors"
    save_world_predictor(_tiny_predictor(), tmp_path / "world_predictor.safetensors")
    assert load_world_predictor().config.input_size == 32
    with pytest.raises(ValueError, match="relative path"):
        resource_path("../escape.txt")


def test_training_runs_end_to_end_on_a_tiny_set(tmp_path: Path):
    config = WorldNetConfig(input_size=32, channels=(4, 8, 8, 8, 8), hidden=16, squeeze=2)
    out = tmp_path / "tiny.safetensors"
    result = train_world_predictor(
        out, train_size=48, val_size=24, steps=4, batch_size=16, workers=0, config=config, progress=None
    )
    assert out.is_file()
    metrics = load_world_predictor(out).metrics
    assert metrics["training"]["steps_run"] == 4
    assert set(metrics["accuracy"]) == {"category", "natural_light", "floor_wood"}
    assert all(np.isfinite(v) for v in metrics["r2"].values())
    assert json.loads(json.dumps(result.metrics)) == metrics
    with pytest.raises(ValueError, match="steps"):
        train_world_predictor(None, steps=0, progress=None)
