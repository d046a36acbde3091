"""Manipulation layers: parsing layer specs, default layers per level, and the rule that
picks a concept's layers from its per-layer re-scoring profile.

Default layers (used when a boundary file carries none) are HiGAN's, stated for its
14-layer 256 px StyleGAN models and scaled to other depths (see :func:`default_layers`):

==========  ================  ==============================================================
level       layers (of 14)    source
==========  ================  ==============================================================
layout      0-4               HiGAN's bedroom notebook: ``'view'`` is manipulated on ``'0-4'``
objects     3-6               the paper: scene categories / objects respond in middle layers
attributes  6-11              HiGAN's default (``simple_manipulate.py``, README ``LAYERS=6-11``)
color       12-13             the paper: the color scheme lives in the top layers
unknown     6-11              HiGAN's default for any plain boundary array
==========  ================  ==============================================================

Automatic layer selection (:func:`select_layers`): the *smallest contiguous range* of
layers whose re-scoring response Δs sums to at least ``share`` (default 0.6) of the
concept's total Δs over all layers. Among ranges of equal length the one holding more Δs
wins, then the earliest. A flat or zero profile yields no selection (``None``); callers
then fall back on :func:`default_layers` for the concept's level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import SceneeditError

#: The generator depth HiGAN's default layer ranges are stated for (StyleGAN at 256 px).
HIGAN_NUM_LAYERS = 14

#: level -> (first, last) layer, inclusive, on HiGAN's 14-layer scale.
DEFAULT_LAYERS_14: dict[str, tuple[int, int]] = {
    "layout": (0, 4),
    "objects": (3, 6),
    "attributes": (6, 11),
    "color": (12, 13),
    "unknown": (6, 11),
}

#: Default share of the total Δs the selected layer range must hold.
DEFAULT_SHARE = 0.6


class LayerSpecError(SceneeditError, ValueError):
    """A layer specification could not be parsed or is out of range."""


#: Highest layer index a spec may name when the layer count is unknown (real generators
#: have at most a few dozen layer-wise codes).
MAX_LAYER_INDEX = 1023
#: Longest excerpt of a spec quoted in an error message.
_EXCERPT = 40


def _quote(spec: object) -> str:
    text = repr(spec)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def _parse_index(text: str, spec: object) -> int:
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or len(digits) > 7 or not (digits.isascii() and digits.isdigit()):
        raise LayerSpecError(f"invalid layer spec {_quote(spec)}: expected numbers and ranges like '6-11' or '0,2,4-5'")
    return int(text)


def parse_layer_spec(spec: object, num_layers: int | None = None) -> list[int]:
    """Parse ``'6-11'``, ``'0,2,4-5'``, an int, or a sequence of ints into sorted unique
    0-based layer indices; checked against ``[0, num_layers)`` when ``num_layers`` is given
    (else against ``[0, MAX_LAYER_INDEX]``).

    Ranges are checked as bounds before any index is listed, so ``'0-50000000'`` costs no
    memory; error messages quote at most a short excerpt of the spec.
    An empty spec (``''``/``None``/``[]``) means all layers and needs ``num_layers``.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()) or (isinstance(spec, (list, tuple)) and not spec):
        if num_layers is None:
            raise LayerSpecError("an empty layer spec means 'all layers', but the layer count is unknown")
        return list(range(num_layers))
    limit = MAX_LAYER_INDEX if num_layers is None else int(num_layers) - 1
    ranges: list[tuple[int, int]] = []
    if isinstance(spec, (bool, np.bool_)):
        raise LayerSpecError(f"invalid layer spec {spec!r}")
    if isinstance(spec, (int, np.integer)):
        ranges = [(int(spec), int(spec))]
    elif isinstance(spec, str):
        if len(spec) > 10_000:
            raise LayerSpecError(f"layer spec {_quote(spec)} is too long ({len(spec)} characters)")
        for part in spec.replace(" ", "").split(","):
            if not part:
                continue
            # A leading '-' is a negative number, not a range.
            bounds = part[1:].split("-", 1) if part.startswith("-") else part.split("-", 1)
            if part.startswith("-"):
                bounds[0] = "-" + bounds[0]
            lo = _parse_index(bounds[0], spec)
            hi = lo if len(bounds) == 1 else _parse_index(bounds[1], spec)
            if hi < lo:
                raise LayerSpecError(f"invalid layer range {_quote(part)} in {_quote(spec)}: end before start")
            ranges.append((lo, hi))
    elif isinstance(spec, (list, tuple, np.ndarray)):
        items = list(np.asarray(spec).reshape(-1)) if isinstance(spec, np.ndarray) else list(spec)
        if len(items) > 10_000:
            raise LayerSpecError(f"layer list of {len(items)} items is too long")
        for item in items:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
                raise LayerSpecError(f"invalid layer index {_quote(item)} in {_quote(spec)}: expected integers")
            ranges.append((int(item), int(item)))
    else:
        raise LayerSpecError(f"invalid layer spec of type {type(spec).__name__}: {_quote(spec)}")
    if not ranges:
        raise LayerSpecError(f"layer spec {_quote(spec)} selects no layer")
    lowest = min(lo for lo, _ in ranges)
    highest = max(hi for _, hi in ranges)
    if lowest < 0:
        raise LayerSpecError(f"layer index {lowest} in {_quote(spec)} is negative")
    if highest > limit:
        if num_layers is None:
            raise LayerSpecError(f"layer index {highest} in {_quote(spec)} is out of range (at most {limit})")
        raise LayerSpecError(
            f"layer index {highest} in {_quote(spec)} is out of range for a generator with "
            f"{num_layers} layers (valid: 0-{num_layers - 1})"
        )
    return sorted({layer for lo, hi in ranges for layer in range(lo, hi + 1)})


def layer_runs(layers: Sequence[int]) -> list[tuple[int, int]]:
    """``[0, 1, 2, 5, 7, 8]`` -> ``[(0, 2), (5, 5), (7, 8)]``: runs of consecutive layers,
    inclusive, of the sorted unique indices."""
    runs: list[tuple[int, int]] = []
    for layer in sorted({int(x) for x in layers}):
        if runs and layer == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], layer)
        else:
            runs.append((layer, layer))
    return runs


def format_layer_spec(layers: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``'0-2,5,7-8'``: the spec :func:`parse_layer_spec` reads back
    (files, the command line, history labels, folder names); ``''`` for no layer."""
    return ",".join(f"{lo}-{hi}" if hi != lo else f"{lo}" for lo, hi in layer_runs(layers))


def format_layer_list(layers: Sequence[int]) -> str:
    """``[2, 3, 4, 7]`` -> ``'2–4, 7'``, ``[]`` -> ``'none'``: the same runs as
    :func:`format_layer_spec`, typeset for the editor's labels."""
    runs = layer_runs(layers)
    if not runs:
        return "none"
    return ", ".join(f"{lo}–{hi}" if hi != lo else f"{lo}" for lo, hi in runs)


def default_layers(level: str, num_layers: int) -> list[int]:
    """HiGAN's default layers for ``level``, scaled from 14 layers to ``num_layers``.

    Layer ``l`` of 14 covers the fraction ``[l/14, (l+1)/14)`` of the depth; the result
    holds every layer of ``num_layers`` overlapping the level's range (never empty).
    """
    if num_layers < 1:
        raise LayerSpecError(f"num_layers must be >= 1, got {num_layers}")
    first, last = DEFAULT_LAYERS_14.get(level, DEFAULT_LAYERS_14["unknown"])
    if num_layers == HIGAN_NUM_LAYERS:
        return list(range(first, last + 1))
    lo = math.floor(first * num_layers / HIGAN_NUM_LAYERS)
    hi = math.ceil((last + 1) * num_layers / HIGAN_NUM_LAYERS) - 1
    lo = min(max(lo, 0), num_layers - 1)
    hi = min(max(hi, lo), num_layers - 1)
    return list(range(lo, hi + 1))


def select_layers(delta_s: Sequence[float], share: float = DEFAULT_SHARE) -> list[int] | None:
    """The smallest contiguous layer range holding ``share`` of the total Δs.

    ``delta_s``: per-layer responses (length L, >= 0). Returns sorted layer indices, or
    None when the profile carries no signal (total <= 1e-12 or non-finite values).
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    values = np.asarray(delta_s, dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    values = np.clip(values, 0.0, None)
    total = float(values.sum())
    if total <= 1e-12:
        return None
    target = share * total * (1 - 1e-9)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    n = values.size
    for length in range(1, n + 1):
        best_start, best_sum = None, -1.0
        for start in range(0, n - length + 1):
            window = cumulative[start + length] - cumulative[start]
            if window >= target and window > best_sum + 1e-15:
                best_start, best_sum = start, window
        if best_start is not None:
            return list(range(best_start, best_start + length))
    return list(range(n))  # unreachable: the full range holds the whole total
