"""The in-memory model of steerable concepts (what a boundary bundle holds).

Persistence, validation and importers live in ``bundle.py`` / ``importers.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEVELS = ("layout", "objects", "attributes", "color", "unknown")


@dataclass
class Concept:
    """One steerable concept.

    ``normal``: float32 ``[1, D]`` (space ``"w"``: one unit normal shared by all layers, as
    HiGAN ships) or ``[L, D]`` (space ``"wp"``: one unit normal per layer).
    ``layers``: 0-based manipulation layers (sorted, unique). ``distance_range``: the
    suggested slider range in units of the unit normal. ``delta_s``: per-layer re-scoring
    response (length L) or None. Other fields are provenance.
    """

    name: str
    normal: np.ndarray
    layers: list[int]
    level: str = "unknown"
    space: str = "w"
    distance_range: tuple[float, float] = (-3.0, 3.0)
    delta_s: list[float] | None = None
    delta_s_all: float | None = None
    accuracy: float | None = None
    num_samples: int | None = None
    predictor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.normal.shape[-1])

    @property
    def boundary_normal(self) -> np.ndarray:
        """The normal of the concept's *boundary* (``[1, D]`` or ``[L, D]``): the SVM normal the
        probe fitted. Usually ``normal`` itself; a concept whose edit direction was refined
        (``extra['svm_normal']``, :mod:`sceneedit.semantics.refine`) keeps its boundary there, so
        distances from the hyperplane (and its recorded offset) stay the SVM's."""
        kept = self.extra.get("svm_normal")
        if kept is None:
            return self.normal
        return np.asarray(kept, np.float32).reshape(-1, self.dim)

    def normal_at(self, layer: int) -> np.ndarray:
        """The unit normal ``[D]`` that applies at ``layer``."""
        if self.normal.shape[0] == 1:
            return self.normal[0]
        return self.normal[layer]


@dataclass
class BoundaryBundle:
    """An ordered set of concepts for one generator (identified by its fingerprint)."""

    concepts: dict[str, Concept] = field(default_factory=dict)
    generator_fingerprint: dict[str, Any] | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.concepts

    def __getitem__(self, name: str) -> Concept:
        try:
            return self.concepts[name]
        except KeyError:
            known = ", ".join(self.concepts) or "none"
            raise KeyError(f"unknown concept {name!r}; this bundle has: {known}") from None

    def __iter__(self):
        return iter(self.concepts.values())

    def __len__(self) -> int:
        return len(self.concepts)

    @property
    def names(self) -> list[str]:
        return list(self.concepts)

    def by_level(self) -> dict[str, list[Concept]]:
        """Concepts grouped by level, in :data:`LEVELS` order (empty levels omitted)."""
        groups: dict[str, list[Concept]] = {}
        for level in LEVELS:
            members = [c for c in self.concepts.values() if c.level == level]
            if members:
                groups[level] = members
        return groups


def format_distance_range(distance_range: Sequence[float]) -> str:
    """A slider range for people: ``±4.7`` when symmetric, else ``-4.28..8.55``."""
    lo, hi = (float(v) for v in distance_range)
    return f"±{hi:g}" if lo == -hi else f"{lo:g}..{hi:g}"
