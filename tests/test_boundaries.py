"""Linear boundaries: planted directions are recovered; bad scores are refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

from sceneedit.semantics.boundaries import (
    BoundaryError,
    fit_layerwise_boundaries,
    fit_linear_boundary,
    select_extremes,
)


def planted(n: int, dim: int, seed: int = 0, noise: float = 0.3):
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(dim)
    direction /= np.linalg.norm(direction)
    codes = rng.standard_normal((n, dim)).astype(np.float32) + 0.5  # off-center, like real W
    scores = codes @ direction + noise * rng.standard_normal(n)
    return codes, scores, direction


@pytest.mark.slow
def test_recovers_planted_direction():
    codes, scores, direction = planted(3000, 32)
    fit = fit_linear_boundary(codes, scores, chosen=600)
    assert fit.normal.shape == (1, 32) and fit.normal.dtype == np.float32
    assert np.linalg.norm(fit.normal) == pytest.approx(1.0, abs=1e-5)
    assert float(fit.normal[0] @ direction) >= 0.95
    assert fit.accuracy >= 0.95
    assert (fit.num_positive, fit.num_negative, fit.num_total) == (600, 600, 3000)
    assert fit.num_train == 840 and fit.num_val == 360  # HiGAN's 70/30 split per class
    # the plane separates: codes far on the positive side score high
    assert fit.offset == pytest.approx(float(np.median(codes @ fit.normal[0])), abs=0.5)


def test_ratio_form_and_dual_choice():
    codes, scores, direction = planted(400, 64, seed=1)
    fit = fit_linear_boundary(codes, scores, chosen=0.25)
    assert fit.num_positive == 100
    assert fit.extra["dual"] is False or fit.num_train <= 64
    small = fit_linear_boundary(codes[:100], scores[:100], chosen=20)
    assert small.extra["dual"] is True  # 28 training samples < 64 dims


def test_layerwise_boundaries_follow_each_layer():
    rng = np.random.default_rng(2)
    codes = rng.standard_normal((1500, 3, 16)).astype(np.float32)
    scores = codes[:, 1, 0] + 0.1 * rng.standard_normal(1500)  # only layer 1, axis 0
    normals, fits = fit_layerwise_boundaries(codes, scores, chosen=300)
    assert normals.shape == (3, 16)
    assert abs(normals[1, 0]) >= 0.95
    assert fits[1].accuracy >= 0.95 and fits[0].accuracy < 0.75


def test_refuses_nan_equal_and_too_few():
    codes, scores, _ = planted(200, 8)
    bad = scores.copy()
    bad[[3, 7]] = np.nan
    with pytest.raises(BoundaryError, match="2 of 200 scores are NaN"):
        fit_linear_boundary(codes, bad, name="wood")
    with pytest.raises(BoundaryError, match="all 200 scores equal"):
        fit_linear_boundary(codes, np.full(200, 0.3), name="wood")
    with pytest.raises(BoundaryError, match="too few samples"):
        fit_linear_boundary(codes[:6], scores[:6])
    with pytest.raises(BoundaryError, match="positive"):
        fit_linear_boundary(codes, scores, chosen=0)
    with pytest.raises(BoundaryError, match="2 codes but 3 scores"):
        fit_linear_boundary(codes[:2], scores[:3])
    nan_codes = codes.copy()
    nan_codes[0, 0] = np.inf
    with pytest.raises(BoundaryError, match="codes contain NaN"):
        fit_linear_boundary(nan_codes, np.arange(200.0), chosen=100)


def test_ties_across_the_cut_are_dropped():
    scores = np.array([1.0] * 30 + [0.0] * 170)  # binary: only 30 positives
    selection = select_extremes(scores, chosen=50)
    assert len(selection.positive) == 30 and set(scores[selection.positive]) == {1.0}
    assert set(scores[selection.negative]) == {0.0} and selection.dropped_ties > 0
    with pytest.raises(BoundaryError, match="tie across the cut"):
        select_extremes(np.array([1.0] * 3 + [0.0] * 197), chosen=50)
