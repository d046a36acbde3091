"""Render many scenes at once, optionally in worker processes.

Scene ``i`` of stream ``seed`` always has the same factors (drawn from
``numpy.random.default_rng([seed, i])``), whatever the batch size or the number of workers, so
an endless training stream is just consecutive index ranges.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from sceneedit.scenes.factors import FACTOR_SPEC, SceneFactors, sample_factors
from sceneedit.scenes.render import _check_resolution, render_scene_with_labels

#: Label keys holding Python lists (one list per image) rather than numbers.
LIST_LABELS = ("objects", "clutter_items")


def factors_for_index(seed: int, index: int) -> SceneFactors:
    """The factors of scene ``index`` of stream ``seed``."""
    return sample_factors(np.random.default_rng([int(seed), int(index)]))


def _render_chunk(task: tuple[list[SceneFactors], int, int]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    factors_list, resolution, supersample = task
    images = np.empty((len(factors_list), resolution, resolution, 3), dtype=np.uint8)
    labels = []
    for i, factors in enumerate(factors_list):
        images[i], row = render_scene_with_labels(factors, resolution, supersample)
        labels.append(row)
    return images, labels


def _collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """List of per-image label dicts -> dict of arrays (lists for :data:`LIST_LABELS`)."""
    out: dict[str, Any] = {}
    integer = {spec.name for spec in FACTOR_SPEC if spec.integer} | {"detail_seed"}
    for key in rows[0] if rows else []:
        values = [row[key] for row in rows]
        if key in LIST_LABELS:
            out[key] = values
        elif key in integer:
            out[key] = np.asarray(values, dtype=np.int64)
        else:
            out[key] = np.asarray(values, dtype=np.float32)
    return out


def _as_factors(seeds_or_n: int | Sequence[int] | Sequence[SceneFactors], seed: int, start: int) -> list[SceneFactors]:
    if isinstance(seeds_or_n, (int, np.integer)):
        if seeds_or_n < 0:
            raise ValueError(f"number of scenes must be >= 0, got {seeds_or_n}")
        return [factors_for_index(seed, start + i) for i in range(int(seeds_or_n))]
    items = list(seeds_or_n)
    factors = [item for item in items if isinstance(item, SceneFactors)]
    if len(factors) == len(items):
        return factors
    seeds = [int(item) for item in items if isinstance(item, (int, np.integer))]
    if len(seeds) == len(items):
        return [sample_factors(np.random.default_rng(seed)) for seed in seeds]
    raise ValueError("render_batch expects a count, a sequence of integer seeds, or a sequence of SceneFactors")


def _context() -> mp.context.BaseContext:
    # fork is fast and the workers only use numpy/Pillow; elsewhere spawn is the safe default.
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


class RenderPool:
    """A persistent pool of render workers (``workers=0``: render in this process).

    Use as a context manager or call :meth:`close`. ``render`` has the same contract as
    :func:`render_batch`.
    """

    def __init__(self, workers: int | None = None, resolution: int = 64, supersample: int = 4) -> None:
        _check_resolution(resolution, supersample)
        if workers is None:
            workers = os.cpu_count() or 1
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers, self.resolution, self.supersample = int(workers), int(resolution), int(supersample)
        self._pool = _context().Pool(self.workers) if self.workers > 0 else None

    def render(
        self, seeds_or_n: int | Sequence[int] | Sequence[SceneFactors], seed: int = 0, start: int = 0
    ) -> tuple[np.ndarray, dict[str, Any]]:
        factors = _as_factors(seeds_or_n, seed, start)
        if not factors:
            return np.empty((0, self.resolution, self.resolution, 3), np.uint8), {}
        if self._pool is None:
            images, rows = _render_chunk((factors, self.resolution, self.supersample))
        else:
            chunks = max(1, min(len(factors), self.workers * 4))
            bounds = np.linspace(0, len(factors), chunks + 1).astype(int)
            tasks = [(factors[a:b], self.resolution, self.supersample) for a, b in itertools.pairwise(bounds) if b > a]
            results = self._pool.map(_render_chunk, tasks)
            images = np.concatenate([r[0] for r in results])
            rows = [row for r in results for row in r[1]]
        labels = _collate(rows)
        if isinstance(seeds_or_n, (int, np.integer)):
            labels["index"] = np.arange(start, start + len(factors), dtype=np.int64)
        return images, labels

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_batch(
    seeds_or_n: int | Sequence[int] | Sequence[SceneFactors],
    seed: int = 0,
    resolution: int = 64,
    supersample: int = 4,
    workers: int = 0,
    start: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Render a batch -> ``(images [N, H, W, 3] uint8, labels)``.

    ``seeds_or_n``: a count (scenes ``start .. start+N-1`` of stream ``seed``), a sequence of
    integer seeds (each one a ``sample_factors`` seed), or a sequence of :class:`SceneFactors`.
    ``labels``: every factor as an array ``[N]`` (int64 for categorical/binary/clutter, float32
    otherwise), derived layout geometry (float32), and ``objects`` / ``clutter_items`` as lists
    of lists. ``workers > 0`` renders in that many worker processes.
    """
    with RenderPool(workers, resolution, supersample) as pool:
        return pool.render(seeds_or_n, seed=seed, start=start)
