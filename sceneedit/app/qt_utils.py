"""Small Qt helpers shared by the editor's widgets."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

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
        for obj, was_blocked in zip(objects, previous):
            obj.blockSignals(was_blocked)


def icon(name: str, color: str | None = None) -> QIcon:
    """A qtawesome icon by name (e.g. ``"fa5s.folder-open"``); an empty icon if the
    font cannot be loaded, so a missing icon never breaks the window."""
    try:
        import qtawesome

        return qtawesome.icon(name, color=color) if color else qtawesome.icon(name)
    except Exception:  # qtawesome raises several types for unknown names / missing fonts
        return QIcon()
