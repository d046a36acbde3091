"""How typical an edited image still is of the generator's own images.

A slider pushed far enough leaves the images the generator draws well: the picture smears,
while a predictor may still read the concept's score (the score moves, the room is gone). The
measure used to bound slider ranges (:func:`sceneedit.semantics.effects.calibrate_range`) and
to choose the jitter default (``benchmarks/bench_jitter_defaults.py``) is the
**nearest-neighbour ratio** in a predictor's pooled features:

    nn_ratio(X) = mean_x min_r |f(x) - f(r)| / mean_h min_r |f(h) - f(r)|

over a reference set ``R`` of unedited samples and a held-out set ``H`` of other unedited
samples: 1.0 = as typical as the generator's own images, larger = off its distribution.

Predictors that expose ``pooled_features_and_scores(images)`` (the world predictor) support it;
for others the realism bound is skipped (:func:`feature_function`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

#: images [N, 3, H, W] in [-1, 1] -> (features [N, F], scores [N, S]) float32 tensors.
FeaturesAndScores = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def feature_function(predictor: object) -> FeaturesAndScores | None:
    """The predictor's one-pass ``(features, scores)`` function, or None when it has none."""
    function = getattr(predictor, "pooled_features_and_scores", None)
    return function if callable(function) else None


def nearest_distances(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``[N]``: Euclidean distance of each row of ``features [N, F]`` to its nearest row of ``reference [M, F]``."""
    d = torch.cdist(
        torch.from_numpy(np.asarray(features, np.float64)), torch.from_numpy(np.asarray(reference, np.float64))
    )
    return d.min(dim=1).values.numpy()


class RealismMeter:
    """Nearest-neighbour ratio against unedited samples.

    ``reference [M, F]`` and ``held_out [K, F]``: features of two disjoint sets of unedited
    samples (M of a few hundred keeps the ratio's noise at a few percent).
    """

    def __init__(self, reference: np.ndarray, held_out: np.ndarray) -> None:
        reference = np.asarray(reference, np.float32)
        held_out = np.asarray(held_out, np.float32)
        if reference.ndim != 2 or held_out.ndim != 2 or len(reference) < 2 or len(held_out) < 1:
            raise ValueError(
                f"need reference [M >= 2, F] and held-out [K >= 1, F] features, "
                f"got {list(reference.shape)} and {list(held_out.shape)}"
            )
        if reference.shape[1] != held_out.shape[1]:
            raise ValueError(f"feature sizes differ: {reference.shape[1]} vs {held_out.shape[1]}")
        self.reference = reference
        #: Mean nearest-neighbour distance of unedited (held-out) samples: the ratio's unit.
        self.base_distance = float(nearest_distances(held_out, reference).mean())
        if not self.base_distance > 0:
            raise ValueError("held-out samples coincide with the reference set: no distance scale")

    def nn_ratio(self, features: np.ndarray) -> float:
        """Mean nearest-neighbour distance of ``features [N, F]`` over the unedited samples' (1.0 = typical)."""
        return float(nearest_distances(features, self.reference).mean()) / self.base_distance
