"""Linear boundaries separating high- from low-scoring latent codes (HiGAN's step 2).

For one concept: sort the N scored codes, take the top K as positives and the bottom K as
negatives (HiGAN's defaults: K = 2,000, or a ratio of N when K <= 1), split each class
70/30 into training and validation sets, fit a linear SVM, and return its unit normal
``[1, D]`` (pointing towards higher scores) with the held-out accuracy.

The solver is scikit-learn's ``LinearSVC`` (liblinear) instead of HiGAN's
``SVC(kernel='linear')`` (libsvm): same kind of separating hyperplane, but it scales
linearly with the samples (see ``benchmarks/bench_probe.py``). The dual problem is solved
when there are fewer samples than dimensions, the primal otherwise. Codes are centered
on the training mean first so the (regularized) intercept does not tilt the normal.

Scores tied across the cut (e.g. binary scores with fewer than K positives) carry no
label: the tied value is dropped from the set where it is the smaller share (both when
equal), so every positive scores strictly above every negative.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import SceneeditError

DEFAULT_CHOSEN = 2000
DEFAULT_SPLIT = 0.7
#: Fewest samples per class (before the split) we fit on.
MIN_PER_CLASS = 5


class BoundaryError(SceneeditError, ValueError):
    """Scores or codes cannot give a boundary (NaN, all equal, too few samples)."""


@dataclass(frozen=True)
class Selection:
    """Indices (into the N scored samples) of the positive and negative sets."""

    positive: np.ndarray
    negative: np.ndarray
    num_total: int
    dropped_ties: int = 0
    positive_min_score: float = float("nan")
    negative_max_score: float = float("nan")


@dataclass
class BoundaryFit:
    """A fitted boundary: ``normal`` float32 ``[1, D]`` unit, towards higher scores;
    ``offset``: signed distance of the decision plane from the origin along ``normal``
    (the plane is ``normal . w = offset``); accuracies in [0, 1]."""

    normal: np.ndarray
    accuracy: float
    train_accuracy: float
    offset: float
    num_train: int
    num_val: int
    num_positive: int
    num_negative: int
    num_total: int
    fit_seconds: float
    dropped_ties: int = 0
    extra: dict = field(default_factory=dict)

    def sample_counts(self) -> dict[str, int]:
        return {
            "total": self.num_total,
            "positive": self.num_positive,
            "negative": self.num_negative,
            "train": self.num_train,
            "validation": self.num_val,
            "dropped_ties": self.dropped_ties,
        }


def _check_scores(scores: np.ndarray, name: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.ndim != 1:
        raise BoundaryError(f"{name}: scores must have shape [N], got {list(scores.shape)}")
    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad:
        raise BoundaryError(f"{name}: {bad} of {scores.size} scores are NaN or infinite; fix the predictor")
    return scores


def select_extremes(scores: np.ndarray, chosen: float = DEFAULT_CHOSEN, name: str = "concept") -> Selection:
    """Top-K / bottom-K indices of ``scores [N]``; ``chosen`` > 1 is K, in (0, 1] a ratio
    of N. K is capped at N // 2. Raises :class:`BoundaryError` on NaN, all-equal scores or
    too few samples."""
    scores = _check_scores(scores, name)
    n = scores.size
    if chosen <= 0:
        raise BoundaryError(f"{name}: the number (or ratio) of chosen samples must be positive, got {chosen}")
    k = int(n * chosen) if chosen <= 1 else int(chosen)
    k = min(k, n // 2)
    if n < 2 * MIN_PER_CLASS or k < MIN_PER_CLASS:
        raise BoundaryError(
            f"{name}: too few samples: {n} scored, {k} per class chosen; need at least "
            f"{MIN_PER_CLASS} per class ({2 * MIN_PER_CLASS} samples)"
        )
    if float(scores.max()) == float(scores.min()):
        raise BoundaryError(
            f"{name}: all {n} scores equal {scores[0]:.6g}: no positives to separate from negatives "
            "(the predictor does not respond to this concept on these samples)"
        )
    order = np.argsort(-scores, kind="stable")
    positive, negative = order[:k], order[n - k :]
    pos_min, neg_max = scores[positive].min(), scores[negative].max()
    dropped = 0
    if pos_min <= neg_max:
        # Sorted, so the tie is one value v = pos_min = neg_max. Drop it from the set where
        # it is the smaller share (binary scores: the 0s among the "top K"), or from both.
        tie = pos_min
        share_pos = float(np.mean(scores[positive] == tie))
        share_neg = float(np.mean(scores[negative] == tie))
        keep_pos = np.ones(positive.size, bool) if share_pos > share_neg else scores[positive] != tie
        keep_neg = np.ones(negative.size, bool) if share_neg > share_pos else scores[negative] != tie
        dropped = int((~keep_pos).sum() + (~keep_neg).sum())
        positive, negative = positive[keep_pos], negative[keep_neg]
        if positive.size < MIN_PER_CLASS or negative.size < MIN_PER_CLASS:
            raise BoundaryError(
                f"{name}: after dropping {dropped} samples whose scores tie across the cut, "
                f"{positive.size} positives and {negative.size} negatives remain (need "
                f"{MIN_PER_CLASS} each); the scores take too few distinct values"
            )
        pos_min = scores[positive].min()
        neg_max = scores[negative].max()
    return Selection(positive, negative, n, dropped, float(pos_min), float(neg_max))


def _split(indices: np.ndarray, ratio: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shuffled = rng.permutation(indices.size)
    cut = int(indices.size * ratio)
    cut = min(max(cut, 1), indices.size - 1)
    return shuffled[:cut], shuffled[cut:]


def fit_on_sets(
    positive_codes: np.ndarray,
    negative_codes: np.ndarray,
    split_ratio: float = DEFAULT_SPLIT,
    seed: int = 0,
    C: float = 1.0,
    name: str = "concept",
    num_total: int | None = None,
    dropped_ties: int = 0,
) -> BoundaryFit:
    """Fit a linear SVM on ``positive_codes [P, D]`` vs ``negative_codes [Q, D]``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    if not 0 < split_ratio < 1:
        raise BoundaryError(f"{name}: split ratio must be in (0, 1), got {split_ratio}")
    pos = np.asarray(positive_codes, dtype=np.float64)
    neg = np.asarray(negative_codes, dtype=np.float64)
    if pos.ndim != 2 or neg.ndim != 2 or pos.shape[1] != neg.shape[1]:
        raise BoundaryError(f"{name}: codes must be [N, D] with equal D, got {list(pos.shape)} and {list(neg.shape)}")
    if len(pos) < MIN_PER_CLASS or len(neg) < MIN_PER_CLASS:
        raise BoundaryError(f"{name}: need at least {MIN_PER_CLASS} codes per class, got {len(pos)} and {len(neg)}")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise BoundaryError(f"{name}: latent codes contain NaN or infinite values")
    rng = np.random.default_rng(seed)
    pos_train, pos_val = _split(np.arange(len(pos)), split_ratio, rng)
    neg_train, neg_val = _split(np.arange(len(neg)), split_ratio, rng)
    x_train = np.concatenate([pos[pos_train], neg[neg_train]])
    y_train = np.concatenate([np.ones(len(pos_train)), np.zeros(len(neg_train))])
    x_val = np.concatenate([pos[pos_val], neg[neg_val]])
    y_val = np.concatenate([np.ones(len(pos_val)), np.zeros(len(neg_val))])
    center = x_train.mean(axis=0)
    dual = x_train.shape[0] <= x_train.shape[1]
    classifier = LinearSVC(C=C, dual=dual, max_iter=20000, tol=1e-4, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier.fit(x_train - center, y_train)
    seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    coef = classifier.coef_.reshape(-1).astype(np.float64)
    norm = float(np.linalg.norm(coef))
    if not np.isfinite(norm) or norm < 1e-12:
        raise BoundaryError(f"{name}: the SVM found no direction (zero normal); the classes are not separable at all")
    normal = coef / norm
    offset = float(normal @ center - classifier.intercept_[0] / norm)
    val_accuracy = float((classifier.predict(x_val - center) == y_val).mean())
    train_accuracy = float((classifier.predict(x_train - center) == y_train).mean())
    return BoundaryFit(
        normal=normal[None].astype(np.float32),
        accuracy=val_accuracy,
        train_accuracy=train_accuracy,
        offset=offset,
        num_train=int(len(y_train)),
        num_val=int(len(y_val)),
        num_positive=int(len(pos)),
        num_negative=int(len(neg)),
        num_total=int(num_total if num_total is not None else len(pos) + len(neg)),
        fit_seconds=seconds,
        dropped_ties=dropped_ties,
        extra={"solver": "LinearSVC", "dual": dual, "C": C, "converged": converged},
    )


def _select_labelled_codes(
    codes: np.ndarray, scores: np.ndarray, chosen: float, name: str, expected: str, ndim: int = 2
) -> tuple[np.ndarray, Selection]:
    """Check ``codes`` (``ndim`` dims, one row per score) and pick the extreme-score samples.

    ``expected`` names the required shape in the error message.
    """
    codes = np.asarray(codes)
    if codes.ndim != ndim:
        raise BoundaryError(f"{name}: {expected}, got {list(codes.shape)}")
    scores = _check_scores(scores, name)
    if scores.shape[0] != codes.shape[0]:
        raise BoundaryError(f"{name}: {codes.shape[0]} codes but {scores.shape[0]} scores")
    return codes, select_extremes(scores, chosen, name)


def fit_linear_boundary(
    codes: np.ndarray,
    scores: np.ndarray,
    chosen: float = DEFAULT_CHOSEN,
    split_ratio: float = DEFAULT_SPLIT,
    seed: int = 0,
    C: float = 1.0,
    name: str = "concept",
) -> BoundaryFit:
    """Boundary in one space: ``codes [N, D]``, ``scores [N]`` -> :class:`BoundaryFit`."""
    codes, selection = _select_labelled_codes(codes, scores, chosen, name, "codes must have shape [N, D]")
    return fit_on_sets(
        codes[selection.positive],
        codes[selection.negative],
        split_ratio,
        seed,
        C,
        name,
        num_total=selection.num_total,
        dropped_ties=selection.dropped_ties,
    )


def fit_layerwise_boundaries(
    codes: np.ndarray,
    scores: np.ndarray,
    chosen: float = DEFAULT_CHOSEN,
    split_ratio: float = DEFAULT_SPLIT,
    seed: int = 0,
    C: float = 1.0,
    name: str = "concept",
) -> tuple[np.ndarray, list[BoundaryFit]]:
    """One boundary per layer: ``codes [N, L, D]`` -> (normals ``[L, D]``, fits)."""
    codes, selection = _select_labelled_codes(
        codes, scores, chosen, name, "layer-wise codes must have shape [N, L, D]", ndim=3
    )
    fits = [
        fit_on_sets(
            codes[selection.positive, layer],
            codes[selection.negative, layer],
            split_ratio,
            seed,
            C,
            f"{name} (layer {layer})",
            num_total=selection.num_total,
            dropped_ties=selection.dropped_ties,
        )
        for layer in range(codes.shape[1])
    ]
    return np.concatenate([f.normal for f in fits], axis=0), fits
