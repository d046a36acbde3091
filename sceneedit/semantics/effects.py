"""Concepts measured by what they do: the concept x score effect matrix.

A user judges a slider by what it does to the image. Measured the same way: for N seeds
(the editor's codes, default truncation), edit along a concept over its slider range
``[lo, hi]`` on its layers, exactly as the editor does (``wp[l] += d * s_l * n_l`` with
HiGAN's truncation-aware strength ``s_l``), score both ends with the predictor, and
express the mean change of every score in standard deviations of that score over the
unedited samples::

    E[c, j] = mean_k (F_j(G(wp_k + hi * n_c)) - F_j(G(wp_k + lo * n_c))) / std_k F_j(G(wp_k))

Per concept: its **own effect** (``E[c, own score]``), its **largest side effect** (the
largest ``|E[c, j]|`` over scores of *other* factors: the four category probabilities are
one factor, so a category concept lowering the other categories is not a side effect) and
their ratio, the **selectivity** (side effects below ``SIDE_FLOOR`` std count as that).

Built on the matrix (:func:`measure_concepts`):

* layers: among contiguous ranges, the most selective one whose own effect reaches
  ``MIN_OWN_EFFECT`` std (the per-layer effects screen all ranges by their sum, the best
  few are then measured directly);
* "hold the others": the concept is conditioned on the concept named for its largest side
  effect (its normal made orthogonal to that one's) when that raises the selectivity;
* slider range: symmetric ``(-a, a)`` with ``a`` calibrated so the full range moves the own
  score by ``TARGET_EFFECT`` std (category concepts also: the top end makes the predictor
  call the category for ``TARGET_FLIP`` of the seeds that started as another category),
  within ``[a0 / 4, MAX_RANGE_SCALE * a0]`` of the probe's percentile range ``a0``.

The core never imports the editor: the few lines of edit arithmetic are repeated here
(``sceneedit.editing.manipulation`` has the same rules, tested against each other).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..generators.base import Generator
from .concepts import BoundaryBundle, Concept
from .layers import format_layer_spec
from .predictors.base import Predictor
from .realism import RealismMeter, feature_function

#: A concept's own effect over its slider range must reach this (std) for a layer range to count.
MIN_OWN_EFFECT = 1.0
#: Side effects smaller than this (std) count as this in the selectivity (caps it at own / floor).
SIDE_FLOOR = 0.05
#: The full slider range is calibrated to move the own score by this many std.
TARGET_EFFECT = 2.5
#: Category concepts: share of other-category seeds the slider's top end should flip.
TARGET_FLIP = 0.8
#: The calibrated half-range stays within [a0 / 4, MAX_RANGE_SCALE * a0].
MAX_RANGE_SCALE = 3.0
#: Ranges measured directly after the per-layer screening.
CANDIDATES_MEASURED = 3
#: A hold (conditioning) is kept only when it raises the selectivity by this factor.
HOLD_GAIN = 1.05
#: Leaked scores held still, at most, by the direction refinement (:func:`refine_direction`).
MAX_REFINE_STEPS = 4
#: Codes (the first of the gradient codes) along whose edits :func:`refine_along_path` takes gradients.
PATH_CODES = 16
#: Directions are refined only for concepts whose SVM normal is less selective than this (the goal's median).
REFINE_BELOW = 3.0
#: A score counts as a side effect only when the predictor reads its factor at least this well
#: on held-out renders (R^2 for continuous factors, accuracy for categorical / binary ones).
RELIABLE_R2, RELIABLE_ACCURACY = 0.7, 0.9


def reliable_scores(
    score_names: Sequence[str], metrics: dict[str, Any] | None, categories: Sequence[str] = ()
) -> list[str] | None:
    """The scores whose factor the predictor reads reliably (see RELIABLE_R2), from its held-out
    ``metrics`` (``{"r2": {...}, "accuracy": {...}}``, category accuracy under ``"category"``);
    None (all count) when the predictor reports no metrics."""
    if not metrics or not (metrics.get("r2") or metrics.get("accuracy")):
        return None
    r2, accuracy = metrics.get("r2") or {}, metrics.get("accuracy") or {}
    reliable = []
    for name in score_names:
        if name in categories:
            ok = accuracy.get("category", accuracy.get(name, 0.0)) >= RELIABLE_ACCURACY
        elif name in accuracy:
            ok = accuracy[name] >= RELIABLE_ACCURACY
        else:
            ok = r2.get(name, float("-inf")) >= RELIABLE_R2
        if ok:
            reliable.append(name)
    return reliable


def score_factor(score: str, categories: Sequence[str]) -> str:
    """The world factor a score reads: ``'category'`` for a category probability, else itself."""
    return "category" if score in categories else score


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def conditioned_directions(normal: np.ndarray, others: Sequence[np.ndarray], num_layers: int) -> np.ndarray:
    """``[L, D]``: at each layer the normal made orthogonal to every other normal there
    (least squares, like ``editing.manipulation.conditional_layer_normals``), unit length."""
    rows = np.broadcast_to(np.asarray(normal, np.float64), (num_layers, normal.shape[-1])).copy()
    if not others:
        return unit_rows(rows)
    for layer in range(num_layers):
        basis = np.stack(
            [np.broadcast_to(np.asarray(o, np.float64), (num_layers, o.shape[-1]))[layer] for o in others], 1
        )
        coeffs, *_ = np.linalg.lstsq(basis, rows[layer], rcond=None)
        rows[layer] = rows[layer] - basis @ coeffs
    return unit_rows(rows)


@dataclass
class Effect:
    """One measured edit: ``delta [S]`` mean score change in std units (top end minus bottom)."""

    delta: np.ndarray
    own: float
    side: float
    side_score: str | None
    selectivity: float
    flip_rate: float | None = None
    #: Realism of the edited images at the (bottom, top) slider ends: nearest-neighbour ratio,
    #: 1.0 = as typical as unedited samples (see :mod:`~sceneedit.semantics.realism`); None: not measured.
    nn_ratios: tuple[float, float] | None = None
    #: The own score's change from the unedited images to the (bottom, top) end, in std, each
    #: signed so that the slider's intended way is positive; None: not measured.
    own_ends: tuple[float, float] | None = None

    @property
    def nn_ratio(self) -> float | None:
        """The worse end's nearest-neighbour ratio (None: not measured)."""
        return None if self.nn_ratios is None else max(self.nn_ratios)

    def to_json(self, score_names: Sequence[str]) -> dict[str, Any]:
        extra = {} if self.nn_ratios is None else {"nn_ratios": [round(float(v), 4) for v in self.nn_ratios]}
        return {
            **extra,
            "own_std": round(float(self.own), 4),
            "side_std": round(float(self.side), 4),
            "side_score": self.side_score,
            "selectivity": round(float(self.selectivity), 4),
            "flip_rate": None
            if self.flip_rate is None or not math.isfinite(self.flip_rate)
            else round(float(self.flip_rate), 4),
            "row": {n: round(float(v), 4) for n, v in zip(score_names, self.delta, strict=True)},
        }


class EffectMeter:
    """Synthesizes and scores edits of a fixed set of base codes.

    ``wp``: float32 ``[N, L, D]`` base codes; ``layer_scale``: ``[L]`` truncation-aware
    strengths; ``categories``: the score names that are category probabilities.
    """

    def __init__(
        self,
        generator: Generator,
        predictor: Predictor,
        wp: np.ndarray,
        layer_scale: np.ndarray,
        categories: Sequence[str] = (),
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
        reliable: Sequence[str] | None = None,
        realism_reference: np.ndarray | None = None,
    ) -> None:
        self.generator, self.predictor = generator, predictor
        self.wp = np.asarray(wp, np.float32)
        self.layer_scale = np.asarray(layer_scale, np.float32)
        self.score_names = list(predictor.score_names)
        found = [c for c in categories if c in self.score_names]
        #: Category probabilities (a flip rate needs at least two of them).
        self.categories = found if len(found) >= 2 else []
        self.factors = [score_factor(n, self.categories) for n in self.score_names]
        #: Scores that count as side effects (None: all of them).
        self.reliable = None if reliable is None else [n for n in self.score_names if n in set(reliable)]
        self.batch_size = max(1, int(batch_size))
        self.progress = progress
        self.images = 0
        self.features_and_scores = feature_function(predictor) if realism_reference is not None else None
        if realism_reference is not None and self.features_and_scores is None:
            raise ValueError(f"predictor {getattr(predictor, 'name', predictor)!r} has no features for a realism bound")
        #: Nearest-neighbour realism against unedited samples (None: not measured).
        self.realism: RealismMeter | None = None
        self.base, base_features = self._outputs(self.wp)
        if realism_reference is not None:
            _, reference_features = self._outputs(np.asarray(realism_reference, np.float32))
            if reference_features is None or base_features is None:
                raise ValueError("the realism reference set and the base codes must not be empty")
            self.realism = RealismMeter(reference_features, base_features)
        std = self.base.std(axis=0)
        #: Per-score std over the unedited samples (a constant score gets 1: no division by 0).
        self.std = np.where(std > 1e-6, std, 1.0)

    def scores(self, wp: np.ndarray) -> np.ndarray:
        """``[n, S]`` predictor scores of the images of ``wp [n, L, D]``."""
        return self._outputs(wp)[0]

    @torch.inference_mode()
    def _outputs(self, wp: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(scores [n, S], features [n, F] or None)`` of the images of ``wp [n, L, D]``
        (features only when the meter measures realism: one predictor pass for both)."""
        device = self.generator.device
        scores_out, features_out = [], []
        for start in range(0, len(wp), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(wp[start : start + self.batch_size])).to(device)
            images = self.generator.synthesize(batch)
            if self.features_and_scores is not None:
                features, scores = self.features_and_scores(images)
                features_out.append(features.detach().float().cpu().numpy())
            else:
                scores = self.predictor.score(images)
            scores_out.append(scores.detach().float().cpu().numpy())
            self.images += batch.shape[0]
            if self.progress is not None:
                self.progress(batch.shape[0])
        if not scores_out:
            return np.zeros((0, len(self.score_names)), np.float32), None
        return np.concatenate(scores_out), np.concatenate(features_out) if features_out else None

    def edited(
        self, directions: np.ndarray, layers: Sequence[int], distance: float, count: int, base: np.ndarray | None = None
    ) -> np.ndarray:
        """The first ``count`` base codes (or of ``base [N, L, D]``) moved by ``distance`` on ``layers``."""
        codes = (self.wp if base is None else np.asarray(base, np.float32))[:count].copy()
        for layer in layers:
            codes[:, layer] += np.float32(distance * self.layer_scale[layer]) * directions[layer]
        return codes

    def summarize(self, delta: np.ndarray, own_score: str, flip_rate: float | None = None) -> Effect:
        own_index = self.score_names.index(own_score)
        own_factor = self.factors[own_index]
        others = [
            j
            for j, f in enumerate(self.factors)
            if f != own_factor and (self.reliable is None or self.score_names[j] in self.reliable)
        ]
        if others:
            j = max(others, key=lambda k: abs(delta[k]))
            side, side_score = float(abs(delta[j])), self.score_names[j]
        else:
            side, side_score = 0.0, None
        own = float(delta[own_index])
        return Effect(
            delta=delta,
            own=own,
            side=side,
            side_score=side_score,
            selectivity=own / max(side, SIDE_FLOOR),
            flip_rate=flip_rate,
        )

    def measure(
        self,
        directions: np.ndarray,
        layers: Sequence[int],
        lo: float,
        hi: float,
        own_score: str,
        count: int | None = None,
    ) -> Effect:
        """The effect of moving ``directions [L, D]`` on ``layers`` from ``lo`` to ``hi``, over
        the first ``count`` base codes."""
        count = len(self.wp) if count is None else min(int(count), len(self.wp))
        top, top_features = self._outputs(self.edited(directions, layers, hi, count))
        bottom, bottom_features = self._outputs(self.edited(directions, layers, lo, count))
        delta = (top - bottom).mean(axis=0) / self.std
        nn_ratios = None
        if self.realism is not None and top_features is not None and bottom_features is not None:
            nn_ratios = (self.realism.nn_ratio(bottom_features), self.realism.nn_ratio(top_features))
        flip = None
        if own_score in self.categories:
            cat = [self.score_names.index(c) for c in self.categories]
            own = self.score_names.index(own_score)
            started_other = self.base[:count][:, cat].argmax(1) != cat.index(own)
            called = top[:, cat].argmax(1) == cat.index(own)
            flip = float(called[started_other].mean()) if started_other.any() else float("nan")
        effect = self.summarize(delta, own_score, flip)
        effect.nn_ratios = nn_ratios
        own = self.score_names.index(own_score)
        base = self.base[:count, own]
        effect.own_ends = (
            float((base - bottom[:, own]).mean() / self.std[own]),
            float((top[:, own] - base).mean() / self.std[own]),
        )
        return effect


def contiguous_ranges(num_layers: int) -> list[list[int]]:
    return [list(range(a, b + 1)) for a in range(num_layers) for b in range(a, num_layers)]


#: Two measured figures within this relative margin are a tie (the shorter layer range wins).
TIE_MARGIN = 0.02


def _better(a: Effect, a_len: int, b: Effect | None, b_len: int) -> bool:
    """Whether ``a`` (on ``a_len`` layers) beats ``b``: reaching MIN_OWN_EFFECT first, then
    selectivity (or, when neither reaches it, own effect); ties go to fewer layers."""
    if b is None:
        return True
    a_ok, b_ok = a.own >= MIN_OWN_EFFECT, b.own >= MIN_OWN_EFFECT
    if a_ok != b_ok:
        return a_ok
    x, y = (a.selectivity, b.selectivity) if a_ok else (a.own, b.own)
    if abs(x - y) <= TIE_MARGIN * max(abs(x), abs(y), 1e-12):
        return a_len < b_len
    return x > y


def choose_layers(
    meter: EffectMeter, directions: np.ndarray, own_score: str, half_range: float, count: int
) -> tuple[list[int], Effect, dict[str, Any]]:
    """The contiguous layer range with the best measured effect (see module doc)."""
    num_layers = directions.shape[0]
    per_layer = [
        meter.measure(directions, [layer], -half_range, half_range, own_score, count).delta
        for layer in range(num_layers)
    ]
    screened = []
    for layers in contiguous_ranges(num_layers):
        estimate = meter.summarize(np.sum([per_layer[layer] for layer in layers], axis=0), own_score)
        screened.append((layers, estimate))

    def rank(i: int) -> tuple[bool, float, int]:
        estimate = screened[i][1]
        ok = estimate.own >= MIN_OWN_EFFECT
        figure = estimate.selectivity if ok else estimate.own
        return ok, round(figure, 3), -len(screened[i][0])

    order = sorted(range(len(screened)), key=rank, reverse=True)
    best_layers: list[int] = []
    best: Effect | None = None
    measured: dict[str, dict[str, float]] = {}
    for i in order[:CANDIDATES_MEASURED]:
        layers = screened[i][0]
        effect = meter.measure(directions, layers, -half_range, half_range, own_score, count)
        measured[format_layer_spec(layers)] = {
            "own_std": round(effect.own, 3),
            "selectivity": round(effect.selectivity, 3),
        }
        if _better(effect, len(layers), best, len(best_layers)):
            best_layers, best = layers, effect
    if best is None:
        raise ValueError(f"no layer range to choose from ({num_layers} layers)")
    info: dict[str, Any] = {
        "per_layer_own_std": [round(float(d[meter.score_names.index(own_score)]), 4) for d in per_layer],
        "candidates": measured,
    }
    return best_layers, best, info


def choose_hold(
    meter: EffectMeter,
    concept: Concept,
    bundle: BoundaryBundle,
    layers: Sequence[int],
    half_range: float,
    count: int,
    start: Effect,
    max_hold: int = 2,
) -> tuple[list[str], np.ndarray, Effect]:
    """Concepts to hold (condition on) by default: greedily the one named for the largest
    side effect, kept while it raises the selectivity by HOLD_GAIN."""
    num_layers = meter.wp.shape[1]
    hold: list[str] = []
    directions = conditioned_directions(concept.normal, [], num_layers)
    effect = start
    for _ in range(max_hold):
        other = effect.side_score
        if other is None or other not in bundle or other == concept.name or other in hold:
            break
        trial_hold = [*hold, other]
        trial = conditioned_directions(concept.normal, [bundle[o].normal for o in trial_hold], num_layers)
        trial_effect = meter.measure(trial, layers, -half_range, half_range, concept.name, count)
        if not (
            trial_effect.own >= min(MIN_OWN_EFFECT, effect.own)
            and trial_effect.selectivity > HOLD_GAIN * effect.selectivity
        ):
            break
        hold, directions, effect = trial_hold, trial, trial_effect
    return hold, directions, effect


def _accept_held_step(
    meter: EffectMeter,
    trial: np.ndarray,
    layers: Sequence[int],
    own_score: str,
    count: int,
    effect: Effect,
    a: float,
    half_range: float,
    before: float,
    after: float,
) -> tuple[Effect, float] | None:
    """Measure ``trial [L, D]`` at the half range ``a`` widened by the first-order loss of own effect
    (``before / after``, capped at MAX_RANGE_SCALE x ``half_range``). Returns ``(effect, half range)``
    when the own effect stays >= 1 std (or at the current one) and the selectivity rises by HOLD_GAIN,
    else None."""
    if before <= 0 or after <= 0:
        return None
    trial_a = round(float(min(a * max(before / after, 1.0), MAX_RANGE_SCALE * half_range)), 1)
    trial_effect = meter.measure(trial, layers, -trial_a, trial_a, own_score, count)
    if (
        trial_effect.own >= min(MIN_OWN_EFFECT, effect.own)
        and trial_effect.selectivity > HOLD_GAIN * effect.selectivity
    ):
        return trial_effect, trial_a
    return None


def refine_direction(
    meter: EffectMeter,
    start: np.ndarray,
    gradients: np.ndarray,
    own_score: str,
    layers: Sequence[int],
    half_range: float,
    count: int,
    max_steps: int = MAX_REFINE_STEPS,
    effect: Effect | None = None,
) -> tuple[np.ndarray, list[str], Effect, float]:
    """Greedily hold the leaked scores still: project the mean gradient of the score named for
    the largest side effect out of ``start [L, D] or [1, D]`` per layer (:mod:`.refine`), widen the
    range by the predicted loss of own effect (first order, from the own score's gradient) and keep
    the step while the measured selectivity rises by HOLD_GAIN and the own effect stays >= 1 std.
    ``gradients [S, L, D]``: the scores' mean gradients (fixed for every step). ``effect``: the
    start's effect at ``half_range`` when already measured. Returns the directions ``[L, D]``, the
    scores held, the effect and the half range."""
    return _hold_leaks(
        meter, start, own_score, layers, half_range, count, max_steps, effect, lambda _rows, _a, _held: gradients
    )


def refine_along_path(
    meter: EffectMeter,
    start: np.ndarray,
    own_score: str,
    layers: Sequence[int],
    half_range: float,
    count: int,
    path_codes: np.ndarray,
    log_odds: Sequence[str],
    max_steps: int = MAX_REFINE_STEPS,
    effect: Effect | None = None,
) -> tuple[np.ndarray, list[str], Effect, float]:
    """:func:`refine_direction` with the gradients taken where the edit goes: at each step the mean
    gradients of the own and the held scores are computed over ``path_codes [M, L, D]`` moved to
    both ends of the current range along the current direction (and unmoved), so a leak that only
    appears far along the slider (category edits travel far) is held still where it happens."""
    from .refine import mean_score_gradients

    own = meter.score_names.index(own_score)

    def gradients_along(rows: np.ndarray, a: float, held: list[int]) -> np.ndarray:
        codes = np.concatenate(
            [path_codes]
            + [meter.edited(rows, layers, sign * a, len(path_codes), base=path_codes) for sign in (-1.0, 1.0)]
        )
        return mean_score_gradients(meter.generator, meter.predictor, codes, meter.std, log_odds, scores=[own, *held])

    return _hold_leaks(meter, start, own_score, layers, half_range, count, max_steps, effect, gradients_along)


def _hold_leaks(
    meter: EffectMeter,
    start: np.ndarray,
    own_score: str,
    layers: Sequence[int],
    half_range: float,
    count: int,
    max_steps: int,
    effect: Effect | None,
    gradients_at: Callable[[np.ndarray, float, list[int]], np.ndarray],
) -> tuple[np.ndarray, list[str], Effect, float]:
    """The greedy loop of :func:`refine_direction`: ``gradients_at(directions, half range, held
    score indices)`` gives the mean score gradients ``[S, L, D]`` each step projects out."""
    from .refine import project_out

    num_layers = meter.wp.shape[1]
    directions = project_out(start, np.zeros((1, num_layers, meter.wp.shape[2]), np.float32), [])
    if effect is None:
        effect = meter.measure(directions, layers, -half_range, half_range, own_score, count)
    own = meter.score_names.index(own_score)
    held: list[str] = []
    a = half_range

    def first_order_own(gradients: np.ndarray, rows: np.ndarray) -> float:
        return float(sum(meter.layer_scale[layer] * gradients[own, layer] @ rows[layer] for layer in layers))

    for _ in range(max_steps):
        other = effect.side_score
        if other is None or other in held:
            break
        trial_held = [*held, other]
        indices = [meter.score_names.index(n) for n in trial_held]
        gradients = gradients_at(directions, a, indices)
        trial = project_out(start, gradients, indices)
        before, after = first_order_own(gradients, directions), first_order_own(gradients, trial)
        accepted = _accept_held_step(meter, trial, layers, own_score, count, effect, a, half_range, before, after)
        if accepted is None:
            break
        held, directions, (effect, a) = trial_held, trial, accepted
    return directions, held, effect, a


def calibrate_range(
    meter: EffectMeter,
    directions: np.ndarray,
    own_score: str,
    layers: Sequence[int],
    half_range: float,
    effect: Effect,
    count: int,
    longest: float | None = None,
) -> tuple[float, Effect]:
    """A half-range ``a`` whose full range moves the own score by TARGET_EFFECT std (and, for a
    category, flips TARGET_FLIP of other-category seeds), by two secant-like rescalings. A longer
    range that moves the own score *less* (or flips fewer seeds: the edit has left the images the
    generator draws well) is not taken: the range stays where the effect peaked. ``longest``: the
    longest half-range allowed (default MAX_RANGE_SCALE x ``half_range``)."""
    low, high = half_range / 4, half_range * MAX_RANGE_SCALE if longest is None else longest
    a, current = half_range, effect
    for _ in range(2):
        ratio = TARGET_EFFECT / current.own if current.own > 1e-3 else MAX_RANGE_SCALE
        if current.flip_rate is not None and not math.isnan(current.flip_rate) and current.flip_rate < TARGET_FLIP:
            ratio = max(ratio, 1.0 + (TARGET_FLIP - current.flip_rate) * 2)
        new_a = float(np.clip(a * ratio, low, high))
        new_a = max(0.1, round(new_a, 1))
        if abs(new_a - a) < 0.05 * a:
            break
        trial = meter.measure(directions, layers, -new_a, new_a, own_score, count)
        if new_a > a and _past_the_peak(trial, current):
            break
        a, current = new_a, trial
    return a, current


def _past_the_peak(longer: Effect, shorter: Effect) -> bool:
    """Whether the longer range moved the own score less, or flipped fewer seeds, than the shorter."""
    if longer.own < shorter.own:
        return True
    longer_flips, shorter_flips = longer.flip_rate, shorter.flip_rate
    if longer_flips is None or shorter_flips is None:
        return False
    return math.isfinite(longer_flips) and math.isfinite(shorter_flips) and longer_flips < shorter_flips


#: An end of a slider range is cut to the shortest fraction (of END_FRACTIONS) of its calibrated
#: length whose own-score change (from the unedited image) reaches this share of the full length's.
SATURATION = 0.9
#: Fractions of a calibrated half-range tried for each end by :func:`trim_range`.
END_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def trim_range(
    meter: EffectMeter,
    directions: np.ndarray,
    own_score: str,
    layers: Sequence[int],
    half_range: float,
    count: int,
) -> tuple[tuple[float, float], Effect, dict[str, Any]]:
    """Cut each end of the calibrated range ``(-half_range, half_range)`` where its effect saturates.

    Pushed past saturation, a slider no longer moves its score, only the picture: bedroom at
    ±17.1 already flipped 98 % of seeds at +8.6 and smeared rooms into colour blobs at both ends.
    Per end, the shortest fraction of END_FRACTIONS whose own-score change from the unedited
    image reaches SATURATION of the full end's (an end that does not move the score the right
    way is cut to the shortest fraction); a category concept's top end is also long enough to
    flip TARGET_FLIP of other-category seeds where the full end does. The edited images'
    realism (nearest-neighbour ratios, when ``meter`` measures them) is recorded per trial.
    Returns ``((lo, hi), effect over (lo, hi), record)``."""
    trials = {
        f: meter.measure(directions, layers, -f * half_range, f * half_range, own_score, count) for f in END_FRACTIONS
    }
    full = trials[END_FRACTIONS[-1]]

    def shortest_saturated(end: int) -> float:
        reach = full.own_ends[end] if full.own_ends else 0.0
        if not reach > 0:
            return END_FRACTIONS[0]
        return min(f for f, t in trials.items() if t.own_ends and t.own_ends[end] >= SATURATION * reach)

    bottom, top = shortest_saturated(0), shortest_saturated(1)
    if full.flip_rate is not None and math.isfinite(full.flip_rate):
        target = min(TARGET_FLIP, full.flip_rate)
        flipping = [f for f, t in trials.items() if t.flip_rate is not None and t.flip_rate >= target]
        top = max(top, min(flipping, default=END_FRACTIONS[-1]))
    lo, hi = round(-bottom * half_range, 2), round(top * half_range, 2)
    effect = trials[bottom] if bottom == top else meter.measure(directions, layers, lo, hi, own_score, count)
    record = {
        "fractions": {"bottom": bottom, "top": top},
        "saturation": SATURATION,
        "trials": {f"{f:g}": trial_record(t) for f, t in trials.items()},
    }
    return (lo, hi), effect, record


def trial_record(effect: Effect) -> dict[str, Any]:
    """The figures of one trial range, for the bundle's record."""
    record: dict[str, Any] = {"own_std": round(effect.own, 3)}
    if effect.own_ends is not None:
        record["own_ends_std"] = [round(v, 3) for v in effect.own_ends]
    if effect.flip_rate is not None and math.isfinite(effect.flip_rate):
        record["flip_rate"] = round(float(effect.flip_rate), 3)
    if effect.nn_ratios is not None:
        record["nn_ratios"] = [round(v, 3) for v in effect.nn_ratios]
    return record


@dataclass
class ConceptMeasure:
    name: str
    layers: list[int]
    hold: list[str]
    distance_range: tuple[float, float]
    effect: Effect
    selection: dict[str, Any] = field(default_factory=dict)
    #: The refined direction ``[L, D]`` the concept ships, or None to keep its SVM normal.
    normal: np.ndarray | None = None


#: How a concept's shipped direction was made (``extra['direction']``), by method.
DIRECTION_METHODS = {
    "svm": "HiGAN's linear SVM normal on the generator's own samples scored by the predictor",
    "svm+held": "the SVM normal with the mean score gradients of the leaked scores projected out per layer",
    "gradient+held": "the own score's mean gradient over generator samples, the leaked scores' projected out per layer",
    "svm+path": "the SVM normal with the leaked scores' mean gradients, taken along the edit (both slider ends), "
    "projected out per layer",
}


def svm_normal(concept: Concept) -> np.ndarray:
    """The normal the probe fitted (``[1, D]`` or ``[L, D]``): kept in ``extra['svm_normal']``
    once a refined direction replaced it, so that measuring again starts from the same place."""
    return np.asarray(concept.boundary_normal, np.float32)


#: ``selectivity``: choose by the matrix; ``share``: keep the bundle's layers (HiGAN's Δs share);
#: ``kept``: keep the bundle's layers as an earlier measurement chose them (re-measuring only).
LAYER_RULES = ("selectivity", "share", "kept")


def probability_scores(predictor: Predictor, categories: Sequence[str]) -> list[str]:
    """Scores that are probabilities (the categories and the binary factors the predictor reports
    an accuracy for): their gradients are taken on the log-odds (:mod:`.refine`)."""
    accuracy = (getattr(predictor, "metrics", None) or {}).get("accuracy") or {}
    return [n for n in predictor.score_names if n in set(categories) or n in accuracy]


def choose_direction(
    meter: EffectMeter,
    name: str,
    normal: np.ndarray,
    gradients: np.ndarray,
    layers: Sequence[int],
    half_range: float,
    start: Effect,
    count: int,
    path_codes: np.ndarray | None = None,
    log_odds: Sequence[str] = (),
) -> tuple[str, np.ndarray, list[str], Effect, float]:
    """The direction a concept ships: its SVM normal as is (``start`` is its effect), or refined
    (:func:`refine_direction`) from the normal (``'svm+held'``) or from the own score's mean
    gradient (``'gradient+held'``), and for a category with ``path_codes`` from the normal with
    the gradients taken along the edit (``'svm+path'``, :func:`refine_along_path`); the best by
    :func:`_better_direction` (categories at their flip-calibrated ranges).
    Returns (method, directions ``[L, D]``, scores held, effect, half range)."""
    svm_rows = conditioned_directions(normal, [], meter.wp.shape[1])
    best: tuple[str, np.ndarray, list[str], Effect, float] = ("svm", svm_rows, [], start, half_range)
    if meets_goals(start):
        return best
    category = start.flip_rate is not None
    longest = MAX_RANGE_SCALE * half_range
    if category:  # compared at the ranges that reach the flip goal, as they will ship
        a, effect = calibrate_range(meter, svm_rows, name, layers, half_range, start, count, longest)
        best = ("svm", svm_rows, [], effect, a)
    own_rows = gradients[meter.score_names.index(name)]
    methods = ["svm+held", "gradient+held"] + (["svm+path"] if category and path_codes is not None else [])
    for method in methods:
        if method == "svm+path":
            assert path_codes is not None  # "svm+path" is only listed with path codes
            directions, held, effect, a = refine_along_path(
                meter, normal, name, layers, half_range, count, path_codes, log_odds, effect=start
            )
        else:
            rows = normal if method == "svm+held" else own_rows
            directions, held, effect, a = refine_direction(
                meter, rows, gradients, name, layers, half_range, count, effect=start if method == "svm+held" else None
            )
        if category:
            a, effect = calibrate_range(meter, directions, name, layers, a, effect, count, longest)
        if _better_direction(effect, best[3]):
            best = (method, directions, held, effect, a)
    return best


def meets_goals(effect: Effect) -> bool:
    """Own effect >= MIN_OWN_EFFECT and above every side effect, selectivity >= REFINE_BELOW and,
    for a category, the flip rate >= TARGET_FLIP: an SVM normal that does all this is kept as is."""
    flip_ok = effect.flip_rate is None or (math.isfinite(effect.flip_rate) and effect.flip_rate >= TARGET_FLIP)
    return effect.own >= MIN_OWN_EFFECT and effect.own > effect.side and effect.selectivity >= REFINE_BELOW and flip_ok


def _better_direction(a: Effect, b: Effect) -> bool:
    """Direction ``a`` beats ``b``: own effect >= MIN_OWN_EFFECT first; for a category, the
    flip rate reaching TARGET_FLIP next; then selectivity."""
    a_ok, b_ok = a.own >= MIN_OWN_EFFECT, b.own >= MIN_OWN_EFFECT
    if a_ok != b_ok:
        return a_ok
    if a.flip_rate is not None and b.flip_rate is not None:
        a_flip, b_flip = a.flip_rate >= TARGET_FLIP, b.flip_rate >= TARGET_FLIP
        if a_flip != b_flip:
            return a_flip
    return a.selectivity > (1 + TIE_MARGIN) * b.selectivity


def measure_concepts(
    generator: Generator,
    predictor: Predictor,
    bundle: BoundaryBundle,
    wp: np.ndarray,
    layer_scale: np.ndarray,
    categories: Sequence[str] = (),
    rule: str = "selectivity",
    select_count: int = 32,
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
    reliable: Sequence[str] | None = None,
    gradient_wp: np.ndarray | None = None,
    only: Sequence[str] | None = None,
    realism_reference: np.ndarray | None = None,
) -> tuple[EffectMeter, dict[str, ConceptMeasure]]:
    """Choose layers (``rule='selectivity'``; ``'share'`` keeps the bundle's), the direction (with
    ``gradient_wp [M, L, D]``: refined by the predictor's mean score gradients over those codes,
    see :func:`choose_direction`; without: the SVM normal), the hold and the slider range of every
    concept whose name is a score, then measure its row of the effect matrix on all codes of
    ``wp``. Concepts that are not scores are left out, and with ``only``, concepts not named there
    (the others keep their directions, which the holds then condition on).

    Two passes: first every concept's layers and direction, then holds (conditioning on the
    other concepts' *chosen* directions, as the editor will), ranges and the final row."""
    if rule not in LAYER_RULES:
        raise ValueError(f"layer rule must be one of {', '.join(LAYER_RULES)}, got {rule!r}")
    meter = EffectMeter(
        generator,
        predictor,
        wp,
        layer_scale,
        categories,
        batch_size,
        reliable=reliable,
        realism_reference=realism_reference,
    )
    say = progress or (lambda _m: None)
    num_layers = meter.wp.shape[1]
    gradients = None
    if gradient_wp is not None and len(gradient_wp):
        from .refine import mean_score_gradients

        gradients = mean_score_gradients(
            generator, predictor, gradient_wp, meter.std, probability_scores(predictor, meter.categories)
        )
    chosen: dict[str, tuple[list[int], str, np.ndarray, list[str], float, Effect, dict[str, Any]]] = {}
    longest: dict[str, float] = {}  # per concept, the longest half-range: MAX_RANGE_SCALE x where it started
    for concept in bundle:
        if concept.name not in meter.score_names or (only is not None and concept.name not in set(only)):
            continue
        # A refined concept is measured again from its SVM normal and the range it had then.
        start_range = concept.extra.get("svm_range") or concept.distance_range
        half = start_half = float(max(abs(start_range[0]), abs(start_range[1])))
        normal = svm_normal(concept)
        directions = conditioned_directions(normal, [], num_layers)
        if rule == "selectivity":
            layers, effect, selection = choose_layers(meter, directions, concept.name, half, select_count)
        else:
            layers = list(concept.layers)
            effect = meter.measure(directions, layers, -half, half, concept.name, select_count)
            selection = {}
        method = "svm"
        held: list[str] = []
        if gradients is not None and gradient_wp is not None:  # gradients come from gradient_wp
            method, directions, held, effect, half = choose_direction(
                meter,
                concept.name,
                normal,
                gradients,
                layers,
                half,
                effect,
                select_count,
                gradient_wp[:PATH_CODES],
                probability_scores(predictor, meter.categories),
            )
            say(
                f"{concept.name}: direction {method}"
                + (f" (scores held: {', '.join(held)})" if held else "")
                + f", selectivity {effect.selectivity:.2f} on {select_count} seeds"
            )
        chosen[concept.name] = (list(layers), method, directions, held, half, effect, selection)
        longest[concept.name] = MAX_RANGE_SCALE * start_half
    # The directions the editor will use, for the holds (conditioning) below.
    shipped = {name: c[2] if c[1] != "svm" else svm_normal(bundle[name]) for name, c in chosen.items()}
    view = BoundaryBundle(
        concepts={
            name: Concept(name, shipped.get(name, c.normal), list(c.layers), c.level)
            for name, c in bundle.concepts.items()
        }
    )
    results: dict[str, ConceptMeasure] = {}
    for name, (layers, method, directions, held, half, start, selection) in chosen.items():
        hold, directions, effect = choose_hold(meter, view[name], view, layers, half, select_count, start)
        half, _ = calibrate_range(meter, directions, name, layers, half, effect, select_count, longest[name])
        (lo, hi), _, bounds = trim_range(meter, directions, name, layers, half, select_count)
        final = meter.measure(directions, layers, lo, hi, name)
        selection = {**selection, "direction": method, "scores_held": held}
        if bounds:
            selection["trimmed"] = {"calibrated_half_range": half, **bounds}
        result = ConceptMeasure(name, list(layers), hold, (lo, hi), final, selection)
        result.normal = None if method == "svm" else shipped[name]
        results[name] = result
        say(
            f"{name}: layers {format_layer_spec(layers)}, direction {method}, range {lo:g}..{hi:g}, "
            f"hold {hold or '-'}: "
            f"own {final.own:+.2f} std, side {final.side:.2f} ({final.side_score}), selectivity {final.selectivity:.2f}"
            + ("" if final.flip_rate is None else f", flips {final.flip_rate:.0%}")
        )
    return meter, results


def trim_shipped_ranges(
    meter: EffectMeter,
    bundle: BoundaryBundle,
    select_count: int = 32,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, ConceptMeasure]:
    """Trim the slider ends of a measured bundle's concepts as they ship (their directions, layers
    and holds unchanged; :func:`trim_range` from their calibrated half-range) and measure the final
    rows on all of ``meter``'s codes."""
    say = progress or (lambda _m: None)
    num_layers = meter.wp.shape[1]
    results: dict[str, ConceptMeasure] = {}
    for concept in bundle:
        if concept.name not in meter.score_names or (only is not None and concept.name not in set(only)):
            continue
        name = concept.name
        hold = [o for o in concept.extra.get("hold") or [] if o in bundle and o != name]
        directions = conditioned_directions(concept.normal, [bundle[o].normal for o in hold], num_layers)
        stored = (concept.extra.get("effect") or {}).get("selection") or {}
        earlier = stored.get("trimmed") or stored.get("realism_bound") or {}
        # Trim the range as calibrated, not one already cut by an earlier trim.
        half = float(earlier.get("calibrated_half_range") or max(abs(v) for v in concept.distance_range))
        (lo, hi), _, bounds = trim_range(meter, directions, name, concept.layers, half, select_count)
        final = meter.measure(directions, concept.layers, lo, hi, name)
        selection = {**stored, "trimmed": {"calibrated_half_range": half, **bounds}}
        refined = "svm_normal" in concept.extra
        result = ConceptMeasure(name, list(concept.layers), hold, (lo, hi), final, selection)
        result.normal = np.asarray(concept.normal, np.float32) if refined else None
        results[name] = result
        say(
            f"{name}: range {lo:g}..{hi:g} (calibrated ±{half:g}): own {final.own:+.2f} std, "
            f"selectivity {final.selectivity:.2f}"
            + ("" if final.flip_rate is None else f", flips {final.flip_rate:.0%}")
            + (f", nn ratios {final.nn_ratios[0]:.2f} / {final.nn_ratios[1]:.2f}" if final.nn_ratios else "")
        )
    return results


def apply_measures(
    bundle: BoundaryBundle, meter: EffectMeter, results: dict[str, ConceptMeasure], rule: str, seeds: Sequence[int]
) -> BoundaryBundle:
    """Write the measured layers, ranges, holds and effects into ``bundle`` (in place; returned).

    Per concept: ``layers``, ``distance_range``, ``extra['hold']`` (default conditioning),
    ``extra['effect']`` (own / side / selectivity / row / flip rate); bundle: ``extra['effects']``
    (the matrix). Older readers ignore the extra keys (the format is unchanged).
    """
    seed_list = [int(s) for s in seeds]
    seeds_text = f"{seed_list[0]}-{seed_list[-1]}" if seed_list else ""
    # Rows of concepts not measured this time stay, when they were measured on the same seeds and scores.
    previous = (bundle.extra or {}).get("effects") or {}
    same = previous.get("seeds") == seeds_text and previous.get("scores") == list(meter.score_names)
    kept = {
        n: row
        for n, row in zip(previous.get("concepts", []), previous.get("matrix", []), strict=False)
        if same and n in bundle and n not in results
    }
    names = [c.name for c in bundle if c.name in results or c.name in kept]
    for name, result in results.items():
        concept = bundle[name]
        method = result.selection.get("direction", "svm")
        if result.normal is not None:
            if "svm_normal" not in concept.extra:
                concept.extra["svm_normal"] = [round(float(v), 7) for v in np.asarray(concept.normal).ravel()]
                concept.extra["svm_space"] = concept.space
                concept.extra["svm_range"] = [float(v) for v in concept.distance_range]
            concept.normal, concept.space = np.asarray(result.normal, np.float32), "wp"
        elif "svm_normal" in concept.extra:  # back to the SVM normal the probe fitted
            concept.normal, concept.space = svm_normal(concept), concept.extra.pop("svm_space", "w")
            concept.extra.pop("svm_normal")
            concept.extra.pop("svm_range", None)
        concept.extra["direction"] = DIRECTION_METHODS.get(method, method)
        concept.extra["scores_held"] = list(result.selection.get("scores_held") or [])
        concept.layers = list(result.layers)
        concept.distance_range = (result.distance_range[0], result.distance_range[1])
        concept.extra["layer_spec"] = format_layer_spec(result.layers)
        if rule == "selectivity":
            concept.extra["layer_rule"] = (
                f"most selective contiguous range with own effect >= {MIN_OWN_EFFECT:g} std "
                "over the slider range (concept x score matrix)"
            )
        concept.extra["hold"] = list(result.hold)
        concept.extra["range_rule"] = (
            f"symmetric range calibrated so the full range moves the own score by "
            f"{TARGET_EFFECT:g} std"
            + (f" and flips {TARGET_FLIP:.0%} of other-category seeds" if result.effect.flip_rate is not None else "")
            + f" (within 1/4-{MAX_RANGE_SCALE:g}x the probe's percentile range)"
            + (
                f"; then each end cut to the shortest of 1/4, 1/2, 3/4 or all of it that moves the own score "
                f"{SATURATION:.0%} as far from the unedited image as all of it"
                + (", the top end long enough to flip the target share" if result.effect.flip_rate is not None else "")
                if "trimmed" in result.selection
                else ""
            )
        )
        concept.extra["effect"] = {
            **result.effect.to_json(meter.score_names),
            "num_seeds": len(seed_list),
            "selection": result.selection,
        }
    bundle.extra["effects"] = {
        "concepts": names,
        "scores": list(meter.score_names),
        "matrix": [[round(float(v), 4) for v in results[n].effect.delta] if n in results else kept[n] for n in names],
        "num_seeds": len(seed_list),
        "seeds": seeds_text,
        "score_std": [round(float(v), 5) for v in meter.std],
        "layer_rule": rule,
        "min_own_effect": MIN_OWN_EFFECT,
        "side_floor": SIDE_FLOOR,
        "target_effect": TARGET_EFFECT,
        "target_flip": TARGET_FLIP,
        "images_synthesized": int(meter.images) + (int(previous.get("images_synthesized", 0)) if kept else 0),
        "reliable_scores": meter.reliable,
        "reliability_rule": (
            f"side effects counted on scores the predictor reads with held-out R^2 >= {RELIABLE_R2:g} "
            f"or accuracy >= {RELIABLE_ACCURACY:g}"
            if meter.reliable is not None
            else "all scores"
        ),
    }
    return bundle


def effect_goals(bundle: BoundaryBundle) -> dict[str, Any]:
    """The issue's goals read from a measured bundle: every concept's own effect >= 1 std and
    above its largest side effect; median selectivity; category flip rates."""
    rows = {c.name: c.extra["effect"] for c in bundle if isinstance(c.extra.get("effect"), dict)}
    if not rows:
        return {}
    selectivity = [r["selectivity"] for r in rows.values()]
    failing = [n for n, r in rows.items() if not (r["own_std"] >= MIN_OWN_EFFECT and r["own_std"] > r["side_std"])]
    flips = {n: r["flip_rate"] for n, r in rows.items() if r.get("flip_rate") is not None}
    # The same ratio with side effects on every score, also those the predictor reads poorly.
    matrix = (bundle.extra or {}).get("effects") or {}
    categories = [n for n in matrix.get("scores", []) if n in {c.name for c in bundle if c.level == "objects"}]
    all_scores = []
    for name, row in zip(matrix.get("concepts", []), matrix.get("matrix", []), strict=False):
        if name not in matrix.get("scores", []):
            continue
        own_factor = score_factor(name, categories)
        own = row[matrix["scores"].index(name)]
        side = max(
            [abs(v) for n, v in zip(matrix["scores"], row, strict=True) if score_factor(n, categories) != own_factor]
            or [0.0]
        )
        all_scores.append(own / max(side, SIDE_FLOOR))
    return {
        "median_selectivity_all_scores": float(np.median(all_scores)) if all_scores else None,
        "concepts": len(rows),
        "own_ok": len(rows) - len(failing),
        "failing": failing,
        "median_selectivity": float(np.median(selectivity)),
        "flip_rates": flips,
        "flip_ok": all(v >= 0.7 for v in flips.values()) if flips else None,
    }
