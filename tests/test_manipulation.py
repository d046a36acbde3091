"""Manipulation math: edits touch only their layers, jitter is reproducible, conditioning is orthogonal."""

import numpy as np
import pytest

from sceneedit.editing.manipulation import (
    ManipulationError,
    check_layers,
    concept_edit,
    conditional_layer_normals,
    conditional_normal,
    distance_from_hyperplane,
    gaussian_jitter,
    independent_edit,
    joint_edit,
    offset_to_reach,
    style_mix,
    sweep,
    truncation_strengths,
)

L, D = 6, 16


def unit_vectors(n, dim=D, seed=0):
    rng = np.random.RandomState(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def wp():
    return np.random.RandomState(42).standard_normal((L, D)).astype(np.float32)


def test_truncation_strengths_scale_truncated_layers_by_psi():
    scale = truncation_strengths(6, 0.7, 2)
    assert scale.dtype == np.float32
    np.testing.assert_array_equal(scale, np.float32([0.7, 0.7, 1, 1, 1, 1]))
    np.testing.assert_array_equal(truncation_strengths(4, 0.5, 0), np.ones(4, np.float32))
    with pytest.raises(ManipulationError, match="truncation_layers"):
        truncation_strengths(4, 0.5, 5)


def test_independent_edit_changes_only_its_layers(wp):
    n = unit_vectors(1)[0]
    scale = truncation_strengths(L, 0.7, 2)
    edited = independent_edit(wp, n, 2.5, [1, 3], layer_scale=scale)
    assert edited.shape == wp.shape and edited.dtype == np.float32
    for layer in (0, 2, 4, 5):
        assert edited[layer].tobytes() == wp[layer].tobytes()
    # The step along the unit normal is distance * per-layer strength.
    assert np.dot(edited[1] - wp[1], n) == pytest.approx(2.5 * 0.7, rel=1e-5)
    assert np.dot(edited[3] - wp[3], n) == pytest.approx(2.5, rel=1e-5)
    # Distance 0 is the starting code, bit for bit.
    assert independent_edit(wp, n, 0.0, [1, 3]).tobytes() == wp.tobytes()
    # Batches keep their shape and edit every code the same way.
    batch = np.stack([wp, wp + 1])
    out = independent_edit(batch, n, 1.0, [2])
    assert out.shape == batch.shape
    np.testing.assert_allclose(out[1, 2] - batch[1, 2], out[0, 2] - batch[0, 2], atol=1e-6)


def test_joint_edit_sums_concepts_with_per_layer_strengths(wp):
    a, b = unit_vectors(2, seed=1)
    edits = [
        concept_edit("a", a, [0, 1, 2], [1.0, -2.0, 0.5], L),
        concept_edit("b", b[None], [2, 4], 3.0, L),
    ]
    out = joint_edit(wp, edits)
    np.testing.assert_allclose(out[0] - wp[0], 1.0 * a, atol=1e-6)
    np.testing.assert_allclose(out[1] - wp[1], -2.0 * a, atol=1e-6)
    np.testing.assert_allclose(out[2] - wp[2], 0.5 * a + 3.0 * b, atol=1e-5)
    np.testing.assert_allclose(out[4] - wp[4], 3.0 * b, atol=1e-6)
    for layer in (3, 5):
        assert out[layer].tobytes() == wp[layer].tobytes()


def test_layerwise_normals_apply_per_layer(wp):
    per_layer = unit_vectors(L, seed=3)
    out = independent_edit(wp, per_layer, 1.0, [1, 4])
    np.testing.assert_allclose(out[1] - wp[1], per_layer[1], atol=1e-6)
    np.testing.assert_allclose(out[4] - wp[4], per_layer[4], atol=1e-6)


def test_bad_layers_and_strengths_are_refused(wp):
    n = unit_vectors(1)[0]
    with pytest.raises(ManipulationError, match="layer 6 is out of range.*0-5"):
        independent_edit(wp, n, 1.0, [2, 6])
    with pytest.raises(ManipulationError, match="out of range"):
        check_layers([-1], L)
    with pytest.raises(ManipulationError, match="3 per-layer strengths for 2 layers"):
        concept_edit("x", n, [1, 2], [1.0, 2.0, 3.0], L)
    with pytest.raises(ManipulationError, match="normal must be"):
        independent_edit(wp, unit_vectors(3), 1.0, [0])
    with pytest.raises(ManipulationError, match="codes of shape"):
        independent_edit(wp[0], n, 1.0, [0])
    assert check_layers([3, 1, 3], L) == [1, 3]


def test_conditional_normal_is_orthogonal_to_any_number_of_conditions():
    primal, *conditions = unit_vectors(5, seed=7)
    projected = conditional_normal(primal, conditions)
    assert np.linalg.norm(projected) == pytest.approx(1.0, abs=1e-6)
    for c in conditions:
        assert abs(np.dot(projected, c)) < 1e-5
    # Still correlated with the primal direction (only the conditioned part was removed).
    assert np.dot(projected, primal) > 0


def test_conditional_normal_matches_closed_form_for_two_conditions():
    p, c1, c2 = unit_vectors(3, seed=11)
    # InterFaceGAN's two-condition closed form, written out independently.
    pc1, pc2, c1c2 = p @ c1, p @ c2, c1 @ c2
    alpha = (pc1 - pc2 * c1c2) / (1 - c1c2**2)
    beta = (pc2 - pc1 * c1c2) / (1 - c1c2**2)
    expected = p - alpha * c1 - beta * c2
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(conditional_normal(p[None], [c1[None], c2[None]])[0], expected, atol=1e-5)


def test_conditional_normal_handles_dependent_conditions_and_refuses_degenerate():
    p, c1, c2 = unit_vectors(3, seed=5)
    dependent = [c1, c2, (c1 + c2) / np.linalg.norm(c1 + c2)]
    out = conditional_normal(p, dependent)
    assert abs(out @ c1) < 1e-5 and abs(out @ c2) < 1e-5
    in_span = (0.6 * c1 + 0.8 * c2).astype(np.float32)
    with pytest.raises(ManipulationError, match="span"):
        conditional_normal(in_span, [c1, c2])


def test_conditional_layer_normals_per_layer():
    primal = unit_vectors(L, seed=2)
    shared = unit_vectors(1, seed=9)
    out = conditional_layer_normals(primal, [shared], L)
    assert out.shape == (L, D)
    assert np.all(np.abs(out @ shared[0]) < 1e-5)


def test_gaussian_jitter_is_reproducible_and_leaves_other_layers_alone(wp):
    a = gaussian_jitter(wp, [0, 1], 0.8, seed=123)
    b = gaussian_jitter(wp, [0, 1], 0.8, seed=123)
    assert a.tobytes() == b.tobytes()
    for layer in range(2, L):
        assert a[layer].tobytes() == wp[layer].tobytes()
    assert not np.array_equal(a[0], wp[0])
    c = gaussian_jitter(wp, [0, 1], 0.8, seed=124)
    assert not np.array_equal(a[:2], c[:2])
    # One draw shared by the chosen layers; its size follows the strength.
    np.testing.assert_allclose(a[0] - wp[0], a[1] - wp[1], atol=1e-6)
    d = gaussian_jitter(wp, [0, 1], 1.6, seed=123)
    np.testing.assert_allclose(d[0] - wp[0], 2 * (a[0] - wp[0]), rtol=1e-5, atol=1e-6)


def test_style_mix_copies_donor_layers_exactly(wp):
    donor = np.random.RandomState(1).standard_normal((L, D)).astype(np.float32)
    out = style_mix(wp, donor, [3, 4], 1.0)
    assert out[3:5].tobytes() == donor[3:5].tobytes()
    assert out[:3].tobytes() == wp[:3].tobytes() and out[5].tobytes() == wp[5].tobytes()
    half = style_mix(wp, donor, [3], 0.5)
    np.testing.assert_allclose(half[3], (wp[3] + donor[3]) / 2, atol=1e-6)
    with pytest.raises(ManipulationError, match="amount"):
        style_mix(wp, donor, [3], 1.5)


def test_distances_from_the_hyperplane(wp):
    n = unit_vectors(1, seed=4)[0]
    assert distance_from_hyperplane(wp, n, layer=2) == pytest.approx(float(wp[2] @ n), abs=1e-5)
    assert distance_from_hyperplane(wp, n, layer=2, intercept=0.5) == pytest.approx(float(wp[2] @ n) + 0.5, abs=1e-5)
    offset = offset_to_reach(wp, n, target=1.25, layer=2, intercept=0.5)
    moved = independent_edit(wp, n, offset, [2])
    assert distance_from_hyperplane(moved, n, layer=2, intercept=0.5) == pytest.approx(1.25, abs=1e-4)
    batch = np.stack([wp, moved])
    assert distance_from_hyperplane(batch, n, layer=2).shape == (2,)


def test_sweep_shapes_and_end_points(wp):
    n = unit_vectors(1)[0]
    frames = sweep(wp, n, -2.0, 2.0, 5, [1])
    assert frames.shape == (5, L, D)
    assert frames[2].tobytes() == wp.tobytes()  # distance 0 in the middle
    np.testing.assert_allclose(frames[-1, 1] - wp[1], 2.0 * n, atol=1e-6)
    assert sweep(np.stack([wp, wp]), n, 0, 1, 3, [0]).shape == (2, 3, L, D)
