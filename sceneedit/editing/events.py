"""Typed events of the edit session and the emitter that delivers them.

Listeners receive ``callback(event, payload)``; ``event`` is a :class:`SessionEvent` (a
``str`` enum, so ``event == "changed"`` still holds for older listeners).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any


class SessionEvent(StrEnum):
    """What changed in an edit session; each member's payload is given beside it."""

    #: ``{seed, truncation_psi}``: the base code changed.
    BASE_CHANGED = "base_changed"
    #: ``{concept}``: one concept's settings changed.
    CONCEPT_CHANGED = "concept_changed"
    #: ``{jitter}``: the jitter settings changed.
    JITTER_CHANGED = "jitter_changed"
    #: ``{names}``: a new bundle was set (the history restarts).
    BUNDLE_CHANGED = "bundle_changed"
    #: ``{label}``: the edited code changed (sent after the specific events).
    CHANGED = "changed"
    #: ``{index, labels}``: steps were added, merged, undone or redone.
    HISTORY_CHANGED = "history_changed"
    #: ``{has_drag}``: a drag edit was added, undone or cleared.
    DRAG_CHANGED = "drag_changed"


Listener = Callable[[SessionEvent, dict[str, Any]], None]
Event = tuple[SessionEvent, dict[str, Any]]


class Emitter:
    """A list of listeners; :meth:`emit` calls each with each event."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every event; returns an unsubscribe callable."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def emit(self, events: list[Event]) -> None:
        """Deliver ``events`` in order to every listener.

        Every listener hears every event even if one raises; the first error is re-raised
        afterwards (the emitting model is already consistent).
        """
        first_error: BaseException | None = None
        for event, payload in events:
            for callback in list(self._listeners):
                try:
                    callback(event, payload)
                except Exception as exc:  # noqa: BLE001 - re-raised below
                    if first_error is None:
                        first_error = exc
        if first_error is not None:
            raise first_error
