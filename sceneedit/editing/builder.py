"""State building: an :class:`~sceneedit.editing.snapshot.EditSnapshot` -> the ``EditState`` ``render`` takes.

The builder maps seeds with the generator (torch; the only step that needs the model), keeping
a small LRU cache of mapped codes, and takes the concepts' conditioned directions from its
:class:`~sceneedit.editing.context.EditContext` (cached there). The editor runs it on its
render thread; the exporter and the CLI call it directly.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

import numpy as np

from ..generators.base import Generator
from .codes import code_for_seed
from .context import EditContext
from .manipulation import ConceptEdit, truncation_strengths
from .snapshot import EditSnapshot
from .state import EditState

#: Mapped codes kept per builder (a code is L x D float32: 14 x 512 x 4 B = 28 KB for the default model).
MAPPED_CODES_KEPT = 64
#: Built states kept (the last few history steps; a state shares its arrays with the caches).
STATES_KEPT = 16


class StateBuilder:
    """Builds render states for one generator and one context (bundle)."""

    def __init__(self, generator: Generator, context: EditContext | None = None) -> None:
        self.generator = generator
        self.context = context if context is not None else EditContext.for_generator(generator)
        self._codes: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()
        self._states: OrderedDict[int, tuple[EditSnapshot, EditState]] = OrderedDict()

    def mapped_code(self, seed: int, truncation_psi: float) -> np.ndarray:
        """``seed``'s code mapped with ``truncation_psi``, float32 ``[L, D]`` read-only (LRU-cached)."""
        key = (int(seed), float(truncation_psi))
        code = self._codes.get(key)
        if code is None:
            code = code_for_seed(self.generator, key[0], key[1])
            code.setflags(write=False)
            self._codes[key] = code
            while len(self._codes) > MAPPED_CODES_KEPT:
                self._codes.popitem(last=False)
        else:
            self._codes.move_to_end(key)
        return code

    def base_code(self, snap: EditSnapshot) -> np.ndarray:
        """The snapshot's starting code, float32 ``[L, D]`` (read-only)."""
        if snap.explicit_wp is not None:
            return snap.explicit_wp
        assert snap.seed is not None
        return self.mapped_code(snap.seed, snap.truncation_psi)

    def state(self, snap: EditSnapshot, *, jitter_seed: int | None = None) -> EditState:
        """The render state of ``snap``; ``jitter_seed`` switches its jitter on at that seed
        (the editor's jitter preview; the snapshot is unchanged)."""
        if jitter_seed is not None and snap.jitter.layers:
            snap = replace(snap, jitter=replace(snap.jitter, enabled=True, seed=int(jitter_seed)))
        cached = self._states.get(id(snap))
        if cached is not None and cached[0] is snap:
            self._states.move_to_end(id(snap))
            return cached[1]
        state = self._build(snap)
        self._states[id(snap)] = (snap, state)  # the snapshot is held, so its id stays unique
        while len(self._states) > STATES_KEPT:
            self._states.popitem(last=False)
        return state

    def _build(self, snap: EditSnapshot) -> EditState:
        context = self.context
        base = self.base_code(snap)
        if snap.explicit_wp is None:
            scale = truncation_strengths(context.num_layers, snap.truncation_psi, context.truncation_layers)
        else:
            scale = np.ones(context.num_layers, dtype=np.float32)
        edits = []
        bundle = context.bundle
        if bundle is not None:
            for name in bundle.names:
                settings = snap.concepts.get(name)
                if settings is None:
                    continue
                layers = list(settings.layers) if settings.layers is not None else list(bundle[name].layers)
                if settings.layer_strengths is not None:
                    distances = tuple(settings.layer_strengths)
                else:
                    distances = tuple(settings.strength for _ in layers)
                if not layers or not any(distances):
                    continue
                directions = context.directions(name, settings.conditioned_on)[layers]
                edits.append(ConceptEdit(name, directions, tuple(layers), distances))
        donor = None
        if snap.jitter.active and snap.jitter.mode == "style_mix":
            donor = self.mapped_code(snap.jitter.seed, snap.truncation_psi)
        return EditState(
            base_wp=base,
            layer_scale=scale,
            edits=tuple(edits),
            jitter=snap.jitter,
            jitter_donor_wp=donor,
            seed=snap.seed,
            truncation_psi=snap.truncation_psi,
            drag_offset=snap.drag_offset,
            drag_mask=snap.drag_mask,
            drag_kept_offset=snap.drag_kept_offset,
        )
