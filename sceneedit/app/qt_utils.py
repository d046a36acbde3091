"""Small Qt helpers shared by the editor's widgets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject
from PySide6.QtGui import QIcon


@contextmanager
def signals_blocked(*objects: QObject) -> Iterator[None]:
    """Block the signals of ``objects`` while a widget updates itself from the model
    (so the update is not written back as a user edit)."""
    previous = [obj.blockSignals(True) for obj in objects]
    try:
        yield
    finally:
        for obj, was_blocked in zip(objects, previous, strict=True):
            obj.blockSignals(was_blocked)


def icon(name: str, color: str | None = None) -> QIcon:
    """A qtawesome icon by name (e.g. ``"fa5s.folder-open"``); an empty icon if the
    font cannot be loaded, so a missing icon never breaks the window."""
    try:
        import qtawesome

        return qtawesome.icon(name, color=color) if color else qtawesome.icon(name)
    except Exception:  # qtawesome raises several types for unknown names / missing fonts
        return QIcon()


class SessionLink:
    """One subscription to an EditSession's events, for a view that follows one session at a time.

    ``follow(session)`` drops the previous subscription and subscribes ``callback`` to the new
    session (None just drops); ``drop()`` unsubscribes.
    """

    def __init__(self, callback) -> None:
        self._callback = callback
        self._unsubscribe = None

    def drop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def follow(self, session) -> None:
        self.drop()
        if session is not None:
            self._unsubscribe = session.subscribe(self._callback)
