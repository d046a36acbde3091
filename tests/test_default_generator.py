"""The shipped default generator and the evaluation that writes its model card.

``resources/default_generator.safetensors`` is part of the repository (its absence fails the
tests); its model card must be there too, must belong to it (weight and predictor hashes),
and the category histogram of the card's fixed-seed samples (>= 256; 512 by default) must stay
within the card's bound (at most the issue's 10 percentage points).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_stylegan

from sceneedit.generators.checkpoints import load_generator, save_generator
from sceneedit.generators.fingerprint import generator_fingerprint
from sceneedit.imaging import load_png
from sceneedit.resources import resource_path
from sceneedit.scenes import CATEGORIES
from sceneedit.semantics.predictors.world import default_predictor_path, load_world_predictor
from sceneedit.training import model_card
from sceneedit.training.evaluate import (
    CATEGORY_BOUND_PP,
    CHECK_COUNT,
    EvaluationError,
    FeatureStats,
    category_check,
    category_shares,
    evaluate_generator,
    file_hash,
    format_quality_block,
    frechet_distance,
    max_gap_pp,
    parse_quality_block,
    psd_sqrt,
    trace_sqrt_product,
    world_category_shares,
    write_outputs,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = resource_path("default_generator.safetensors")
#: The issue's requirement: generated category shares within 10 percentage points of the world's.
REQUIRED_BOUND_PP = 10.0
REQUIRED_CHECK_COUNT = 256
#: The card's recorded check gap and a re-run may differ by a couple of argmax flips (float
#: round-off across machines); one image of 512 is 0.2 pp.
RECORDED_GAP_TOLERANCE_PP = 2.0


@pytest.fixture(scope="module")
def predictor():
    return load_world_predictor()


# ----- the shipped generator ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped():
    # The default generator is part of the repository: its absence is a failure, not a skip.
    assert SHIPPED.is_file(), f"{SHIPPED} is missing: export it with scripts/export_default.sh"
    return load_generator(SHIPPED, device="cpu")


@pytest.fixture(scope="module")
def shipped_card() -> dict:
    card = SHIPPED.with_suffix(".md")
    assert card.is_file(), f"{card} is missing: run scripts/write_model_card.py (see the card's Reproduce section)"
    return parse_quality_block(card.read_text(encoding="utf-8"), source=str(card))


def test_shipped_generator_loads_with_enough_layers_and_pixels(shipped):
    assert shipped.arch == "stylegan"
    assert shipped.num_layers >= 10
    assert shipped.resolution >= 64
    images = shipped.synthesize(shipped.map(shipped.sample_z(2, seed=0)))
    assert images.shape == (2, 3, shipped.resolution, shipped.resolution)
    assert torch.isfinite(images).all()
    assert SHIPPED.stat().st_size < 20 * 1024 * 1024


def test_shipped_model_card_belongs_to_the_shipped_weights(shipped, shipped_card):
    assert shipped_card["weights_hash"] == generator_fingerprint(shipped)["weights_hash"], (
        "resources/default_generator.md was written for other weights; re-run the evaluation and the card script"
    )
    assert shipped_card["predictor_sha256_16"] == file_hash(default_predictor_path()), (
        "resources/default_generator.md was measured with another world predictor file; re-run the evaluation "
        "and the card script"
    )
    assert shipped_card["category_bound_pp"] <= REQUIRED_BOUND_PP
    assert shipped_card["check_count"] >= REQUIRED_CHECK_COUNT
    samples = load_png(REPO / "docs" / "default_samples.png")
    cell = shipped.resolution + 2  # the contact sheet's 2 px padding
    assert samples.shape == (8 * cell + 2, 8 * cell + 2, 3)


@pytest.mark.slow
def test_shipped_category_histogram_stays_within_the_card_bound(shipped, shipped_card, predictor):
    world = world_category_shares(shipped_card["world_shares_count"], shipped_card["world_shares_seed"])
    result = category_check(
        shipped,
        predictor,
        count=shipped_card["check_count"],
        seed=shipped_card["check_seed"],
        truncation_psi=shipped_card["check_psi"],
        world_shares=world,
    )
    assert sum(result["histogram"].values()) == pytest.approx(1.0, abs=1e-3)
    assert result["max_gap_pp"] <= shipped_card["category_bound_pp"], (
        f"generated category shares {result['histogram']} stray {result['max_gap_pp']:.1f} pp from the world's "
        f"{result['world']} (bound {shipped_card['category_bound_pp']} pp)"
    )
    assert abs(result["max_gap_pp"] - shipped_card["check_max_gap_pp"]) <= RECORDED_GAP_TOLERANCE_PP


# ----- Fréchet distance math ------------------------------------------------------------------------
def _random_psd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d + 3))
    return a @ a.T / d


def test_psd_sqrt_squares_back_and_clips_round_off():
    rng = np.random.default_rng(0)
    m = _random_psd(rng, 12)
    root = psd_sqrt(m)
    np.testing.assert_allclose(root @ root, m, atol=1e-10)
    np.testing.assert_allclose(root, root.T, atol=1e-12)
    singular = np.diag([4.0, 0.0, -1e-15])
    np.testing.assert_allclose(psd_sqrt(singular), np.diag([2.0, 0.0, 0.0]), atol=1e-7)
    with pytest.raises(EvaluationError, match="square"):
        psd_sqrt(np.zeros((2, 3)))


def test_trace_sqrt_product_matches_closed_forms():
    rng = np.random.default_rng(1)
    # Commuting case: same eigenvectors -> Tr sqrt(AB) = sum sqrt(a_i b_i).
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    da, db = rng.uniform(0.1, 3, 8), rng.uniform(0.1, 3, 8)
    a, b = q @ np.diag(da) @ q.T, q @ np.diag(db) @ q.T
    assert trace_sqrt_product(a, b) == pytest.approx(np.sqrt(da * db).sum(), rel=1e-9)
    # General case: AB has real non-negative eigenvalues; their square roots sum to the trace.
    a, b = _random_psd(rng, 10), _random_psd(rng, 10)
    expected = np.sqrt(np.clip(np.linalg.eigvals(a @ b).real, 0, None)).sum()
    assert trace_sqrt_product(a, b) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(2)
    d = 6
    mean1, mean2 = rng.standard_normal(d), rng.standard_normal(d)
    same = FeatureStats(mean1, np.eye(d), 100)
    assert frechet_distance(same, same) == pytest.approx(0.0, abs=1e-9)
    shifted = FeatureStats(mean2, np.eye(d), 100)
    assert frechet_distance(same, shifted) == pytest.approx(float(((mean1 - mean2) ** 2).sum()), rel=1e-9)
    wide = FeatureStats(mean1, 9.0 * np.eye(d), 100)  # std 3 vs 1: d * (3 - 1)^2
    assert frechet_distance(same, wide) == pytest.approx(d * 4.0, rel=1e-9)
    # From samples: two draws of one Gaussian are close, a shifted one is far.
    x, y = rng.standard_normal((4000, d)), rng.standard_normal((4000, d))
    assert frechet_distance(FeatureStats.of(x), FeatureStats.of(y)) < 0.05
    assert frechet_distance(FeatureStats.of(x), FeatureStats.of(y + 1.0)) == pytest.approx(d, rel=0.1)
    with pytest.raises(EvaluationError, match="N >= 2"):
        FeatureStats.of(np.zeros((1, d)))


def test_category_shares_and_gap():
    shares = category_shares(np.array([0, 0, 1, 3]))
    np.testing.assert_allclose(shares, [0.5, 0.25, 0.0, 0.25])
    assert max_gap_pp(shares, np.full(4, 0.25)) == pytest.approx(25.0)
    world = world_category_shares(4000, seed=5)
    assert world.shape == (len(CATEGORIES),) and np.all(np.abs(world - 0.25) < 0.03)  # sampled uniformly
    with pytest.raises(EvaluationError, match="no images"):
        category_shares(np.array([], dtype=np.int64))


def test_quality_block_round_trip_and_errors():
    values = {"weights_hash": "abc", "category_bound_pp": 10.0}
    text = "# card\n\nsome text\n" + format_quality_block(values) + "\n"
    assert parse_quality_block(text) == values
    with pytest.raises(EvaluationError, match="found 0"):
        parse_quality_block("# card without a block")
    with pytest.raises(EvaluationError, match="found 2"):
        parse_quality_block(text + text)
    with pytest.raises(EvaluationError, match="not valid JSON"):
        parse_quality_block("<!-- sceneedit-quality-check {bad json} -->")


# ----- the evaluation end to end on a tiny generator ---------------------------------------------------
@pytest.mark.slow
def test_evaluation_and_model_card_end_to_end(tmp_path, predictor):
    generator = tiny_stylegan(0, w_dim=16, fmaps_max=16, truncation_psi=0.7, truncation_layers=2, name="tiny0")
    generator_path = save_generator(
        generator,
        tmp_path / "tiny.safetensors",
        training={
            "iterations": 3,
            "images_seen": 96,
            "wall_time_s": 1.5,
            "hardware": ["cpu (test)"],
            "checkpoint": "ckpt-0000003.pt",
            "recipe": {"batch_size": 32},
            "retunes": [
                {"iteration": 2, "changes": {"r1_gamma": [0.1, 1.0]}},
                {"iteration": 3, "changes": {"g_lr": [0.002, 0.001]}},
            ],
        },
    )
    generator = load_generator(generator_path, device="cpu")
    figures, grids = evaluate_generator(
        generator,
        predictor,
        num=48,
        generator_path=generator_path,
        predictor_path=resource_path("world_predictor.safetensors"),
        batch_size=16,
        cache_dir=tmp_path / "cache",
        log=lambda _m: None,
    )
    out = write_outputs(figures, grids, tmp_path / "eval")
    reread = json.loads(out.read_text())
    assert reread["generator"]["fingerprint"]["weights_hash"] == generator_fingerprint(generator)["weights_hash"]
    fd = reread["frechet_distance"]
    assert set(fd) == {"generated", "generated_truncated", "rendered_reference"}
    # An untrained generator is far from the world; two world samples are close.
    assert fd["rendered_reference"] > 0 and fd["generated"] > 3 * fd["rendered_reference"]
    hist = reread["categories"]["histograms"]
    for name in ("world", "rendered_predicted", "generated", "generated_truncated"):
        assert sum(hist[name].values()) == pytest.approx(1.0, abs=1e-4)
    assert reread["categories"]["max_gap_pp_vs_world"]["rendered_predicted"] <= 10.0  # the predictor reads the world
    assert set(reread["factors"]) == set(predictor.score_names)
    assert reread["check"]["count"] == CHECK_COUNT >= REQUIRED_CHECK_COUNT
    assert reread["check"]["bound_pp"] == CATEGORY_BOUND_PP
    assert reread["predictor"]["feature_dim"] == sum(predictor.feature_channels)
    sheet = load_png(tmp_path / "eval" / "samples.png")
    assert sheet.shape == (8 * 18 + 2, 8 * 18 + 2, 3)
    assert not np.array_equal(sheet, load_png(tmp_path / "eval" / "samples_psi1.png"))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2  # both rendered sets cached

    writer = model_card
    card = tmp_path / "res" / "tiny.md"
    docs_png = tmp_path / "docs" / "default_samples.png"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(
        json.dumps({"pool_size": 64, "data_workers": 1, "data_source": "pool", "seed": 0})
    )
    (run_dir / "log.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "iteration": i,
                    "loss_d": 1.0,
                    "loss_g": 2.0,
                    "real_score": 0.5,
                    "fake_score": -0.5,
                    "images_per_s": 40.0,
                }
            )
            + "\n"
            for i in (1, 2, 3, 4)
        )
        + "{cut short\n"
    )
    writer.write_model_card(
        tmp_path / "eval", generator_path, card, docs_png, run_dir=run_dir, notes=["Samples are noise."]
    )
    text = card.read_text()
    assert "Retuned at iteration 2 (on resume): r1_gamma 0.1 -> 1.0." in text
    assert "g_lr" not in text  # retuned at the exported iteration: not part of these weights
    assert "(iterations 1-3): D loss 1.000, G loss 2.000" in text  # iteration 4 is past the export
    block = parse_quality_block(text)
    assert block["weights_hash"] == generator_fingerprint(generator)["weights_hash"]
    assert block["category_bound_pp"] == CATEGORY_BOUND_PP and block["check_count"] == CHECK_COUNT
    assert block["predictor_sha256_16"] == file_hash(resource_path("world_predictor.safetensors"))
    assert "No Inception weights exist offline" in text and "Samples are noise." in text
    assert f"{fd['generated']:.3f}" in text and "../docs/default_samples.png" in text
    assert np.array_equal(load_png(docs_png), sheet)

    # Figures of another generator are refused, and nothing is overwritten.
    other_path = save_generator(
        tiny_stylegan(1, w_dim=16, fmaps_max=16, truncation_psi=0.7, truncation_layers=2, name="tiny1"),
        tmp_path / "other.safetensors",
    )
    before = card.read_text()
    with pytest.raises(ValueError, match="measured on generator weights"):
        writer.write_model_card(tmp_path / "eval", other_path, card, None)
    assert card.read_text() == before


def test_trace_sqrt_product_agrees_with_scipy_sqrtm():
    from scipy import linalg  # installed with scikit-learn

    rng = np.random.default_rng(3)
    a, b = _random_psd(rng, 20), _random_psd(rng, 20)
    expected = float(np.trace(linalg.sqrtm(a @ b)).real)
    assert trace_sqrt_product(a, b) == pytest.approx(expected, rel=1e-6)
