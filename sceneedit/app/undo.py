"""A QUndoStack that mirrors the EditSession's own history (the session holds the truth).

Every history step of the session appears as one command on the stack, so Qt's undo and
redo actions (with their "Undo <label>" texts) work; undoing or redoing from the stack
calls ``session.undo()`` / ``session.redo()``. A continuous slider drag, which the session
merges into one step (``merge=True``), is pushed as continuation commands that the stack
merges into the top command through ``id()`` / ``mergeWith``.

The session's history is a list of labels with ``history_index`` pointing at the current
entry; entry 0 is the initial state, so stack index == ``history_index``.
"""

from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtCore import QObject
from PySide6.QtGui import QUndoCommand, QUndoStack

from sceneedit.editing.events import SessionEvent

from .qt_utils import SessionLink

#: ``id()`` of every session step: steps merge only when the mirror marks the newer one
#: as a continuation of the top one.
_SESSION_STEP_ID = 0x5CE0


class SessionStep(QUndoCommand):
    """One entry of the session's history; undo/redo delegate to the session."""

    def __init__(self, mirror: UndoMirror, label: str, continuation: bool = False, cancels: bool = False) -> None:
        super().__init__(label)
        self._mirror = mirror
        self.continuation = continuation
        #: A continuation that brought the step back to where it started: the merged
        #: command becomes obsolete and Qt drops it (the session dropped its step too).
        self.cancels = cancels

    def id(self) -> int:  # noqa: A003 - Qt's name
        return _SESSION_STEP_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if isinstance(other, SessionStep) and other.continuation:
            self.setText(other.text())
            if other.cancels:
                self.setObsolete(True)
            return True
        return False

    def redo(self) -> None:
        self._mirror._drive("redo")

    def undo(self) -> None:
        self._mirror._drive("undo")


class UndoMirror(QObject):
    """Keeps :attr:`stack` in step with a session's history."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.session = None
        self._session_link = SessionLink(self._on_session_event)
        self._quiet = False  # True while the mirror itself changes the stack
        self._labels: list[str] = []
        self._index = 0

    def set_session(self, session) -> None:
        """Mirror ``session`` (None detaches); the stack is rebuilt from its history."""
        self._session_link.drop()
        self.session = session
        self._labels, self._index = [], 0
        with self._silenced():
            self.stack.clear()
        if session is not None:
            self._session_link.follow(session)
            self.sync()

    # ----- session -> stack ------------------------------------------------------------
    def _on_session_event(self, event: SessionEvent, payload: dict) -> None:
        if event is SessionEvent.HISTORY_CHANGED:
            self.sync()

    def sync(self) -> None:
        """Bring the stack in line with the session's ``history`` / ``history_index``."""
        if self.session is None or self._quiet:
            return
        labels = list(self.session.history)
        index = int(self.session.history_index)
        old_labels, old_index = self._labels, self._index
        with self._silenced():
            if labels == old_labels and index == old_index:
                pass
            elif (
                len(labels) == len(old_labels)
                and index == old_index == len(labels) - 1
                and labels[:-1] == old_labels[:-1]
                and self.stack.count() == index
                and index > 0
            ):
                # The session merged a change into its newest step (a continuing drag).
                self.stack.push(SessionStep(self, labels[-1], continuation=True))
            elif (
                index == old_index - 1
                and len(labels) == len(old_labels) - 1 == index + 1
                and labels == old_labels[:-1]
                and self.stack.count() == old_index
            ):
                # A drag came back to its start: the session removed its step.
                self.stack.push(SessionStep(self, old_labels[-1], continuation=True, cancels=True))
            elif (
                index == old_index + 1
                and len(labels) == index + 1
                and labels[:index] == old_labels[:index]
                and self.stack.index() == old_index
            ):
                self.stack.push(SessionStep(self, labels[-1]))
            elif labels == old_labels:
                self.stack.setIndex(index)
            else:
                self._rebuild(labels, index)
        self._labels, self._index = labels, index

    def _rebuild(self, labels: list[str], index: int) -> None:
        self.stack.clear()
        for label in labels[1:]:
            self.stack.push(SessionStep(self, label))
        self.stack.setIndex(index)

    # ----- stack -> session ------------------------------------------------------------
    def _drive(self, action: str) -> None:
        if self._quiet or self.session is None:
            return
        self._quiet = True
        try:
            getattr(self.session, action)()
        finally:
            self._quiet = False
        self._labels = list(self.session.history)
        self._index = int(self.session.history_index)

    @contextmanager
    def _silenced(self):
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous
