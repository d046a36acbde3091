"""Every frame's :class:`EditState`: the one place the exporter builds states.

By replaying the starting recipe into a non-undoable
:class:`~sceneedit.editing.replay.EditRun` (:func:`~sceneedit.editing.replay.start_edit`) and
applying each step's edit; :func:`states_for` is the whole interface, so another state builder can replace this
module without touching planning or the engine. Inputs are validated by the planner first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..editing.replay import EditRun, start_edit
from ..editing.state import EditState
from ..generators.base import Generator
from .jobs import ExportJob, JitterSequence, SequenceSpec, SweepSequence
from .sources import Source


def states_for(
    generator: Generator, job: ExportJob, spec: SequenceSpec, sources: list[Source]
) -> tuple[list[list[EditState]], list[str]]:
    """``states[source][step]`` of ``spec`` and its step labels for a timeline (``[]`` otherwise).

    A timeline's labels are its recipe's history labels, starting point included."""
    states: list[list[EditState]] = []
    labels: list[str] = []
    for source in sources:
        if isinstance(spec, SweepSequence):
            states.append(_sweep_row(_start(generator, job, source, job.recipe, job.recipe_source), spec))
        elif isinstance(spec, JitterSequence):
            states.append(_jitter_row(_start(generator, job, source, job.recipe, job.recipe_source), spec))
        else:
            session = _start(generator, job, source, spec.recipe, spec.source)
            labels = session.history
            states.append(session.timeline_states())
    return states, labels


def _start(generator: Generator, job: ExportJob, source: Source, recipe: dict[str, Any] | None, what: str) -> EditRun:
    """A non-undoable edit at the starting point for ``source``: ``recipe`` replayed, or a plain base."""
    return start_edit(
        generator,
        job.bundle,
        recipe,
        base_seed=source.seed,
        base_wp=source.wp,
        truncation_psi=job.truncation_psi,
        source=what,
        allow_hash_mismatch=job.allow_hash_mismatch,
    )


def _sweep_row(session: EditRun, spec: SweepSequence) -> list[EditState]:
    for c in spec.concepts:
        if c.layers is not None:
            session.set_layers(c.concept, list(c.layers))
        session.set_layer_strengths(c.concept, None)
    values = {c.concept: np.linspace(c.start, c.end, spec.steps).tolist() for c in spec.concepts}
    row = []
    for step in range(spec.steps):
        for c in spec.concepts:
            session.set_strength(c.concept, values[c.concept][step])
        row.append(session.state())
    return row


def _jitter_row(session: EditRun, spec: JitterSequence) -> list[EditState]:
    session.set_jitter(enabled=True, layers=list(spec.layers), strength=spec.strength, mode=spec.mode)
    row = []
    for seed in spec.seeds:
        session.set_jitter(seed=int(seed))
        row.append(session.state())
    return row
