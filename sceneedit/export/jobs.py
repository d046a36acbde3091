"""What an export is asked to do (:class:`ExportJob` and its sequences) and what it did (reports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SceneeditError
from ..semantics.concepts import BoundaryBundle
from ..semantics.layers import format_layer_spec

EXPORT_FORMAT = "sceneedit-export"
EXPORT_VERSION = 1
FORMATS = ("png", "gif", "mp4", "sheet")
MANIFEST_NAME = "manifest.json"
SHEET_NAME = "contact_sheet.png"

#: ``progress(done, total, message)``: frames done and planned over the whole run.
ProgressCallback = Callable[[int, int, str], None]


class ExportError(SceneeditError, ValueError):
    """The export cannot run as asked (bad input, unwritable folder, a frame failed)."""


@dataclass(frozen=True)
class ConceptSweep:
    """One concept's part of a sweep: its strength goes from ``start`` to ``end``.

    Strengths are distances in units of the unit normal, offsets from the starting code;
    they replace whatever strength the starting recipe gave the concept. ``layers``
    overrides the concept's layer range (None keeps it).
    """

    concept: str
    start: float
    end: float
    layers: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SweepSequence:
    """Sweep one or several concepts together over ``steps`` evenly spaced frames."""

    concepts: tuple[ConceptSweep, ...]
    steps: int = 9
    name: str | None = None

    @property
    def default_name(self) -> str:
        return "sweep_" + "+".join(c.concept for c in self.concepts)


@dataclass(frozen=True)
class JitterSequence:
    """One frame per jitter seed: ``layers`` re-sampled with ``strength`` (see JitterSettings)."""

    layers: tuple[int, ...]
    seeds: tuple[int, ...]
    strength: float = 1.0
    mode: str = "gaussian"
    name: str | None = None

    @property
    def default_name(self) -> str:
        return f"jitter_{self.mode}_layers{format_layer_spec(self.layers)}"


@dataclass(frozen=True)
class TimelineSequence:
    """One frame per step of a recipe's history (its start included)."""

    recipe: dict[str, Any]
    name: str | None = None
    #: Where the recipe came from (its file), for error messages.
    source: str = "timeline recipe"

    @property
    def default_name(self) -> str:
        return "timeline"


SequenceSpec = SweepSequence | JitterSequence | TimelineSequence


@dataclass
class ExportJob:
    """Everything one export run needs besides the generator.

    Sources: ``seeds`` (each mapped with ``truncation_psi``), or ``codes`` float
    ``[N, L, D]`` (from a file), or neither -- then the starting ``recipe``'s own base code.
    ``recipe``: the starting point of sweeps and jitter series (its final state), and the
    source of nothing else. ``formats``: a subset of :data:`FORMATS`.
    """

    sequences: list[SequenceSpec]
    out_dir: Path
    bundle: BoundaryBundle | None = None
    recipe: dict[str, Any] | None = None
    seeds: list[int] | None = None
    codes: np.ndarray | None = None
    codes_source: str | None = None
    truncation_psi: float | None = None
    formats: tuple[str, ...] = FORMATS
    fps: float = 8.0
    batch_size: int = 8
    overwrite: bool = False
    allow_hash_mismatch: bool = False
    #: Where the starting ``recipe`` came from (its file), for error messages.
    recipe_source: str = "starting recipe"


@dataclass
class SequenceReport:
    """What one sequence's run wrote, skipped (already on disk) and rendered (seconds)."""

    name: str
    folder: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    frames_rendered: int = 0
    render_seconds: float = 0.0


@dataclass
class ExportReport:
    """What a run did. ``cancelled``: stopped by the cancel flag (rerun to resume)."""

    sequences: list[SequenceReport]
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def written(self) -> list[Path]:
        return [p for s in self.sequences for p in s.written]

    @property
    def skipped(self) -> list[Path]:
        return [p for s in self.sequences for p in s.skipped]

    @property
    def frames_rendered(self) -> int:
        return sum(s.frames_rendered for s in self.sequences)
