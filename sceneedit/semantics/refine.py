"""Refined concept directions: the boundary normal with the predictor's side scores held still.

HiGAN's normal ``n`` (a linear SVM on the generator's own samples scored by the predictor)
moves its own score, but also every score correlated with it in the samples. The refinement
keeps ``n`` as the starting point and removes, at every layer ``l``, its component along the
mean gradient of each *other* factor's score with respect to that layer's code::

    g_j[l] = mean_k  d F_j(G(wp_k)) / d wp_k[l] / std_k F_j(G(wp_k))        [S, L, D]
    d[l]   = unit( n - P_{span{g_j[l] : j other factor}} n )                  [L, D]

so to first order an edit along ``d`` on any layer range leaves every other score unchanged
(the least-squares projection of ``editing.manipulation.conditional_layer_normals``, with
score gradients in place of other concepts' normals). The gradients are averaged over the
same kind of codes the editor edits (the generator's own samples). The *Jacobian* variant
starts from the mean gradient of the own score instead of ``n`` (for a probability score:
of its log-odds, which does not vanish where the predictor is confident).

The measured effect decides which direction a concept ships (``effects.measure_concepts``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..generators.base import Generator
from .predictors.base import Predictor

#: Clamp for probabilities before taking log-odds.
_EPS = 1e-4


def mean_score_gradients(
    generator: Generator,
    predictor: Predictor,
    wp: np.ndarray,
    std: np.ndarray,
    log_odds: Sequence[str] = (),
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    scores: Sequence[int] | None = None,
) -> np.ndarray:
    """``[S, L, D]`` float32: per score, the mean over ``wp [N, L, D]`` of its gradient with
    respect to each layer's code, divided by ``std [S]`` (the score's std over the samples).

    Scores named in ``log_odds`` (probabilities) are differentiated as ``log(p / (1 - p))``
    and not divided by ``std`` (their scale is not the score's). ``scores``: only these score
    indices (the other rows stay zero)."""
    wp = np.asarray(wp, np.float32)
    names = list(predictor.score_names)
    odds = torch.tensor([n in set(log_odds) for n in names])
    scale = torch.from_numpy(np.where(odds.numpy(), 1.0, 1.0 / np.asarray(std, np.float64)).astype(np.float32))
    total = np.zeros((len(names), *wp.shape[1:]), np.float64)
    device = generator.device
    wanted = list(range(len(names))) if scores is None else sorted({int(j) for j in scores})
    for start in range(0, len(wp), batch_size):
        codes = torch.from_numpy(np.ascontiguousarray(wp[start : start + batch_size])).to(device).requires_grad_(True)
        with torch.enable_grad():
            raw = predictor.score(generator.synthesize(codes)).float()
            p = raw.clamp(_EPS, 1 - _EPS)
            values = torch.where(odds.to(raw.device), torch.log(p / (1 - p)), raw) * scale.to(raw.device)
            for k, j in enumerate(wanted):
                (grad,) = torch.autograd.grad(values[:, j].sum(), codes, retain_graph=k + 1 < len(wanted))
                total[j] += grad.double().sum(0).cpu().numpy()
        if progress is not None:
            progress(codes.shape[0])
    return (total / max(len(wp), 1)).astype(np.float32)


def project_out(rows: np.ndarray, gradients: np.ndarray, others: Sequence[int]) -> np.ndarray:
    """``[L, D]`` unit rows: each row of ``rows [L, D]`` (or ``[1, D]``, broadcast) made
    orthogonal, at its layer, to ``gradients[j, l]`` for every ``j`` in ``others``
    (least squares; a row that vanishes keeps its unprojected direction)."""
    num_layers, dim = gradients.shape[1], gradients.shape[2]
    base = np.broadcast_to(np.asarray(rows, np.float64), (num_layers, dim)).copy()
    out = base.copy()
    if len(others):
        for layer in range(num_layers):
            basis = gradients[list(others), layer].astype(np.float64).T  # [D, k]
            coeffs, *_ = np.linalg.lstsq(basis, base[layer], rcond=None)
            out[layer] = base[layer] - basis @ coeffs
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    vanished = norms[:, 0] < 1e-6 * np.maximum(np.linalg.norm(base, axis=1), 1e-12)
    out[vanished] = base[vanished]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.maximum(norms, 1e-12)).astype(np.float32)


def side_indices(score_names: Sequence[str], own: str, factors: Sequence[str]) -> list[int]:
    """Indices of the scores of factors other than ``own``'s (``factors``: per score, its factor)."""
    own_factor = factors[list(score_names).index(own)]
    return [j for j, f in enumerate(factors) if f != own_factor]


def refined_directions(
    normal: np.ndarray, gradients: np.ndarray, score_names: Sequence[str], own: str, factors: Sequence[str]
) -> np.ndarray:
    """``[L, D]``: the normal with every other factor's mean score gradient projected out per layer."""
    return project_out(normal, gradients, side_indices(score_names, own, factors))


def jacobian_directions(
    gradients: np.ndarray, score_names: Sequence[str], own: str, factors: Sequence[str]
) -> np.ndarray:
    """``[L, D]``: the own score's mean gradient with every other factor's projected out per layer."""
    own_rows = gradients[list(score_names).index(own)]
    return project_out(own_rows, gradients, side_indices(score_names, own, factors))
