"""The undo history of an edit: one immutable snapshot per step, undo/redo, merged slider drags.

A :class:`History` is a list of :class:`Step` (label, the operation, the snapshot after it)
with a current index; step 0 is the starting point. A new step cuts off the steps after the
current one. Continuous changes (a slider drag, ``merge=True`` with equal merge keys) replace
the newest step instead of adding one, until :meth:`History.close_merge`; a merged drag that
comes back to where it started removes its step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .snapshot import EditSnapshot


@dataclass
class Step:
    """One history entry: ``op`` is None for the starting point."""

    label: str
    op: dict[str, Any] | None
    snapshot: EditSnapshot
    merge_key: tuple[Any, ...] | None = None


class History:
    """Steps and the current index (see the module docstring)."""

    def __init__(self, root: EditSnapshot, label: str = "Start") -> None:
        self.steps: list[Step] = [Step(label, None, root)]
        self.index = 0
        self._merge_open = False

    @property
    def current(self) -> EditSnapshot:
        """The snapshot of the current step."""
        return self.steps[self.index].snapshot

    @property
    def root(self) -> EditSnapshot:
        return self.steps[0].snapshot

    @property
    def labels(self) -> list[str]:
        return [step.label for step in self.steps]

    @property
    def can_undo(self) -> bool:
        return self.index > 0

    @property
    def can_redo(self) -> bool:
        return self.index < len(self.steps) - 1

    def done(self) -> list[Step]:
        """The steps after the start, up to the current one."""
        return self.steps[1 : self.index + 1]

    def push(
        self,
        op: dict[str, Any],
        label: str,
        apply: Callable[[EditSnapshot], EditSnapshot],
        merge_key: tuple[Any, ...] | None = None,
        merge: bool = False,
    ) -> bool:
        """Record ``op`` (``apply(snapshot)`` gives its result); False when nothing changed.

        With ``merge`` and the same ``merge_key`` as the newest, still-open step, the newest
        step is replaced by ``op`` applied to the step before it (nothing happens, and False
        is returned, when that gives the newest step's snapshot again).
        """
        top = self.steps[self.index]
        if merge and merge_key is not None and self._merge_open and top.merge_key == merge_key and self.index > 0:
            previous = self.steps[self.index - 1].snapshot
            new = apply(previous)
            if new.same_as(top.snapshot):
                return False  # a continuing change that changes nothing: no step, no event
            if new.same_as(previous):  # the drag came back to where it started: the step disappears
                del self.steps[self.index :]
                self.index -= 1
                merge = False
            else:
                del self.steps[self.index + 1 :]
                self.steps[self.index] = Step(label, op, new, merge_key)
        else:
            current = self.current
            new = apply(current)
            if new.same_as(current):
                return False
            self.append(Step(label, op, new, merge_key))
        self._merge_open = bool(merge and merge_key is not None)
        return True

    def append(self, step: Step) -> None:
        """Add ``step`` after the current one (cutting off any redo steps); it becomes current."""
        del self.steps[self.index + 1 :]
        self.steps.append(step)
        self.index += 1
        self._merge_open = False

    def jump(self, index: int) -> bool:
        """Make step ``index`` current; False when it already was. Raises IndexError out of range."""
        if not 0 <= index < len(self.steps):
            raise IndexError(f"history index {index} out of range 0-{len(self.steps) - 1}")
        self._merge_open = False
        if index == self.index:
            return False
        self.index = index
        return True

    def close_merge(self) -> None:
        """End a continuous change: the next merging push starts a new step."""
        self._merge_open = False

    def restart(self, root: EditSnapshot, label: str = "Start") -> None:
        """Forget every step; ``root`` becomes the only one."""
        self.steps = [Step(label, None, root)]
        self.index = 0
        self._merge_open = False
