"""Planning: validate a job and compute every frame's state, before any file is written."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..editing.recipe import RecipeError, validate_recipe
from ..editing.state import JITTER_MODES, EditState
from ..errors import SceneeditError
from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from .jobs import FORMATS, ExportError, ExportJob, JitterSequence, SequenceSpec, SweepSequence, TimelineSequence
from .sources import Source, job_sources
from .states import states_for


@dataclass
class Plan:
    """One sequence, planned: where it goes, its sources, step labels and ``states[source][step]``."""

    spec: SequenceSpec
    name: str
    folder: Path
    sources: list[Source]
    step_labels: list[str]
    states: list[list[EditState]]  # [source][step]
    recipe: dict[str, Any] | None
    description: dict[str, Any]
    key: str = ""

    @property
    def frame_count(self) -> int:
        return sum(len(row) for row in self.states)


_NAME_OK = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str) -> str:
    """A file-system-safe version of ``text`` (letters, digits, ``._+-``)."""
    cleaned = _NAME_OK.sub("_", text).strip("._")
    return cleaned[:80] or "sequence"


def plan_export(generator: Generator, job: ExportJob) -> list[Plan]:
    """Validate ``job`` and compute every frame's :class:`EditState` (writes nothing)."""
    _check_options(job)
    sources = job_sources(job, generator)
    plans: list[Plan] = []
    used_names: set[str] = set()
    for spec in job.sequences:
        name = safe_name(spec.name or spec.default_name)
        if name in used_names:
            raise ExportError(f"two sequences are named {name!r}; give them distinct names")
        used_names.add(name)
        plan = _plan_sequence(generator, job, spec, sources, name)
        plan.key = _plan_key(generator, job, plan)
        plans.append(plan)
    return plans


def _check_options(job: ExportJob) -> None:
    unknown = set(job.formats) - set(FORMATS)
    if unknown or not job.formats:
        raise ExportError(
            f"unknown output format(s) {', '.join(sorted(unknown)) or '(none given)'}; allowed: {', '.join(FORMATS)}"
        )
    if not (isinstance(job.fps, (int, float)) and math.isfinite(job.fps) and 0 < job.fps <= 120):
        raise ExportError(f"fps must be in (0, 120], got {job.fps!r}")
    if not isinstance(job.batch_size, int) or job.batch_size < 1:
        raise ExportError(f"batch size must be a whole number >= 1, got {job.batch_size!r}")
    if not job.sequences:
        raise ExportError("nothing to export: no sequence given")
    if job.recipe is not None:
        try:
            validate_recipe(job.recipe, job.recipe_source)
        except RecipeError as exc:
            raise ExportError(str(exc)) from None


def _plan_sequence(generator: Generator, job: ExportJob, spec: SequenceSpec, sources: list[Source], name: str) -> Plan:
    """Validate ``spec``, then build its states; bad input (EditError, RecipeError,
    BundleError: all SceneeditErrors) becomes one :class:`ExportError`."""
    try:
        labels, description, recipe = _describe(job, spec)
        states, timeline_labels = states_for(generator, job, spec, sources)
    except ExportError:
        raise
    except SceneeditError as exc:  # EditError, RecipeError, BundleError: bad input
        raise ExportError(str(exc)) from None
    if isinstance(spec, TimelineSequence):
        labels = timeline_labels
        description = {**description, "steps": len(labels), "labels": labels}
    return Plan(spec, name, Path(job.out_dir) / name, sources, labels, states, recipe, description)


def _describe(job: ExportJob, spec: SequenceSpec) -> tuple[list[str], dict[str, Any], dict[str, Any] | None]:
    """Step labels, manifest description and recipe of ``spec`` (validated; timeline labels
    come with its states)."""
    if isinstance(spec, SweepSequence):
        labels, description = _describe_sweep(job, spec)
        return labels, description, job.recipe
    if isinstance(spec, JitterSequence):
        labels, description = _describe_jitter(spec)
        return labels, description, job.recipe
    if isinstance(spec, TimelineSequence):
        validate_recipe(spec.recipe, spec.source)
        return [], {"type": "timeline"}, spec.recipe
    raise ExportError(f"unknown sequence type {type(spec).__name__}")


def _check_sweep(job: ExportJob, spec: SweepSequence) -> None:
    if not spec.concepts:
        raise ExportError("a sweep needs at least one concept")
    if not isinstance(spec.steps, int) or spec.steps < 1:
        raise ExportError(f"sweep steps must be a whole number >= 1, got {spec.steps!r}")
    if job.bundle is None:
        raise ExportError("a concept sweep needs a boundary bundle")
    for c in spec.concepts:
        if c.concept not in job.bundle:
            raise ExportError(f"unknown concept {c.concept!r}; the bundle has: {', '.join(job.bundle.names) or 'none'}")
        if not (math.isfinite(c.start) and math.isfinite(c.end)):
            raise ExportError(f"sweep of {c.concept!r}: start and end must be finite numbers")


def _describe_sweep(job: ExportJob, spec: SweepSequence) -> tuple[list[str], dict[str, Any]]:
    _check_sweep(job, spec)
    values = {c.concept: np.linspace(c.start, c.end, spec.steps).tolist() for c in spec.concepts}
    if len(spec.concepts) == 1:
        labels = [f"{v:+.2f}" for v in values[spec.concepts[0].concept]]
    else:
        labels = [f"step {i}" for i in range(spec.steps)]
    concepts = [
        {
            "concept": c.concept,
            "start": c.start,
            "end": c.end,
            "layers": None if c.layers is None else list(c.layers),
            "values": values[c.concept],
        }
        for c in spec.concepts
    ]
    return labels, {"type": "sweep", "steps": spec.steps, "concepts": concepts}


def _describe_jitter(spec: JitterSequence) -> tuple[list[str], dict[str, Any]]:
    if not spec.seeds:
        raise ExportError("a jitter series needs at least one jitter seed")
    if spec.mode not in JITTER_MODES:
        raise ExportError(f"unknown jitter mode {spec.mode!r}; allowed: {', '.join(JITTER_MODES)}")
    if not spec.layers:
        raise ExportError("a jitter series needs at least one layer")
    description = {
        "type": "jitter",
        "layers": list(spec.layers),
        "strength": spec.strength,
        "mode": spec.mode,
        "seeds": list(spec.seeds),
    }
    return [f"jitter {s}" for s in spec.seeds], description


def _plan_key(generator: Generator, job: ExportJob, plan: Plan) -> str:
    """Hash of what the frames and animations depend on (not of which formats are asked)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(generator_fingerprint(generator), sort_keys=True).encode())
    digest.update(json.dumps([s.label for s in plan.sources]).encode())
    digest.update(repr(float(job.fps)).encode())
    for row in plan.states:
        for state in row:
            digest.update(state.key().encode())
    return digest.hexdigest()[:16]
