"""The render thread's side of the editor: plain render requests -> render states.

The editor's widgets only write plain data (an :class:`~sceneedit.editing.snapshot.EditSnapshot`:
where the code comes from plus the edits). A :class:`RenderSpec` wraps it with what the frame
is for; the render thread's :class:`Resolver` turns it into the
:class:`~sceneedit.editing.state.EditState` that :func:`sceneedit.render.render` takes, mapping
seeds (LRU-cached) and computing concept directions (cached) there, never on the UI thread.
(The same model as NVIDIA's stylegan3 visualizer: widgets write arguments, one renderer
resolves them.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..semantics.concepts import BoundaryBundle
from .builder import StateBuilder
from .context import EditContext
from .snapshot import EditSnapshot
from .state import EditState, edited_wp, kept_wp


@dataclass(frozen=True)
class RenderSpec:
    """One frame to resolve: plain, immutable data.

    ``snapshot``: the edit. ``bundle``: the concepts it refers to (a reference; never
    modified). ``jitter_seed``: show the snapshot's jitter switched on at this seed (the
    jitter preview). ``unedited``: the base scene without any edit (hold-to-compare).
    """

    snapshot: EditSnapshot
    bundle: BoundaryBundle | None = None
    jitter_seed: int | None = None
    unedited: bool = False


class Resolver:
    """Resolves :class:`RenderSpec` s for one thread; keeps one :class:`StateBuilder` (its mapped
    codes and directions) while the generator and the bundle stay the same objects."""

    def __init__(self) -> None:
        self._generator: Any = None
        self._bundle: BoundaryBundle | None = None
        self._builder: StateBuilder | None = None

    def builder(self, generator: Any, bundle: BoundaryBundle | None) -> StateBuilder:
        """The state builder for ``generator`` and ``bundle`` (a new one when either changed)."""
        if self._builder is None or self._generator is not generator or self._bundle is not bundle:
            self._builder = StateBuilder(generator, EditContext.for_generator(generator, bundle))
            self._generator, self._bundle = generator, bundle
        return self._builder

    def state(self, generator: Any, spec: RenderSpec) -> EditState:
        """The render state of ``spec`` (maps seeds: call it on the render thread)."""
        snapshot = spec.snapshot.without_edits() if spec.unedited else spec.snapshot
        jitter_seed = None if spec.unedited else spec.jitter_seed
        return self.builder(generator, spec.bundle).state(snapshot, jitter_seed=jitter_seed)


def masked_drag_inputs(settings: Any, state: EditState) -> dict[str, Any]:
    """The extra :func:`~sceneedit.editing.drag.run_drag` arguments of a drag with ``settings``
    (``DragSettings`` or None) from the resolved ``state``: for a blended masked drag,
    ``kept_wp`` (the code kept outside the masks, float32 ``[L, D]``) and ``blend_mask`` (the
    union of this mask and the earlier masked drags', ``[H, W]``), so the drag sees what the
    renderer will show; ``{}`` otherwise. Runs no torch (``state`` is already resolved)."""
    if settings is None or settings.mask is None or not settings.blend:
        return {}
    mask = np.asarray(settings.mask, dtype=np.float32)
    if state.drag_mask is not None and state.drag_mask.shape == mask.shape:
        mask = np.maximum(state.drag_mask, mask)
    kept = kept_wp(state) if state.drag_mask is not None else edited_wp(state)
    return {"kept_wp": kept, "blend_mask": mask}
