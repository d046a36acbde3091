"""What the user set at one point of an edit, as plain immutable data (no mapped codes).

An :class:`EditSnapshot` says where the base code comes from (a seed mapped with a
truncation ``psi``, or an explicit code: a loaded array or an inverted picture's code) and
holds every edit (concept settings, jitter, the drag offsets). It carries no torch object and
no mapped code, so the editor hands it to its render thread, which resolves it into an
:class:`~sceneedit.editing.state.EditState` (:class:`~sceneedit.editing.builder.StateBuilder`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from .state import ConceptSettings, JitterSettings


@dataclass(frozen=True)
class EditSnapshot:
    """Everything the user set at one step of the history (immutable).

    ``seed``: the base code's seed, None when the base is ``explicit_wp`` (float32 ``[L, D]``,
    read-only). ``truncation_psi``: the truncation the seed is mapped with. ``concepts``:
    settings of the concepts that differ from their defaults. ``drag_offset``: the sum of the
    drag edits' offsets, float32 ``[L, D]`` read-only, or None. ``drag_mask`` /
    ``drag_kept_offset``: masked (spatially blended) drags: the union of their masks ``[H, W]``
    and the drag offset of the code kept outside it (see ``EditState.drag_mask``); None without one.
    """

    seed: int | None
    truncation_psi: float
    explicit_wp: np.ndarray | None = None
    concepts: dict[str, ConceptSettings] = field(default_factory=dict)
    jitter: JitterSettings = JitterSettings()
    drag_offset: np.ndarray | None = None
    drag_mask: np.ndarray | None = None
    drag_kept_offset: np.ndarray | None = None

    def same_as(self, other: EditSnapshot) -> bool:
        """Whether both snapshots describe the same edit (arrays compared by value)."""
        if (self.seed, self.truncation_psi, self.concepts, self.jitter) != (
            other.seed,
            other.truncation_psi,
            other.concepts,
            other.jitter,
        ):
            return False
        for mine, theirs in (
            (self.drag_offset, other.drag_offset),
            (self.drag_mask, other.drag_mask),
            (self.drag_kept_offset, other.drag_kept_offset),
        ):
            if not _same_array(mine, theirs):
                return False
        return _same_array(self.explicit_wp, other.explicit_wp)

    def same_base(self, other: EditSnapshot) -> bool:
        """Whether both start from the same base code."""
        return self.base_key == other.base_key

    @cached_property
    def base_key(self) -> tuple[Any, ...]:
        """A hashable identity of the base code: ``('seed', seed, psi)`` or ``('code', digest)``."""
        if self.explicit_wp is None:
            return ("seed", self.seed, self.truncation_psi)
        digest = hashlib.sha256(np.ascontiguousarray(self.explicit_wp, dtype=np.float32).tobytes()).hexdigest()
        return ("code", digest, self.truncation_psi)

    def without_edits(self) -> EditSnapshot:
        """The same base with no concept edit, no jitter and no drag (the unedited scene)."""
        return replace(self, concepts={}, jitter=replace(self.jitter, enabled=False), **NO_DRAG)

    def drag_changed(self, other: EditSnapshot) -> bool:
        """Whether the drag offsets differ."""
        return not _same_array(self.drag_offset, other.drag_offset)


#: Snapshot fields of no drag at all (a new base code and ``reset_all`` clear them).
NO_DRAG: dict[str, Any] = {"drag_offset": None, "drag_mask": None, "drag_kept_offset": None}


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(a, b))


def offset_entry(offset: np.ndarray) -> dict[str, Any]:
    """``{layers, offset}`` of a full ``[L, D]`` drag offset: its non-zero rows."""
    layers = [i for i in range(offset.shape[0]) if np.any(offset[i])] or [0]
    return {"layers": layers, "offset": np.asarray(offset[layers], dtype=np.float32).tolist()}
