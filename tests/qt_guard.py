"""Guards that fail a GUI test leaving a QThread running or a QTimer ticking (napari's conftest idea).

``conftest.py`` applies :func:`qt_guards` to every test that uses ``qtbot``; no test module imports it.
Its checks run after qtbot has closed the test's widgets, so what they find outlived the test.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication


def _alive(ref: weakref.ref):
    """The Qt object behind ``ref``, or None once Python or C++ has deleted it."""
    obj = ref()
    if obj is None:
        return None
    try:
        obj.objectName()  # raises RuntimeError once the C++ object is gone
    except RuntimeError:
        return None
    return obj


def _ours(owner) -> bool:
    """True when ``owner`` is one of our classes, not a Qt widget whose own timers Qt manages (the status
    bar's message timeout, say)."""
    return owner is not None and not type(owner).__module__.startswith(("PySide6", "shiboken"))


def _describe(obj) -> str:
    name = obj.objectName()
    parent = obj.parent()
    owner = f" of {type(parent).__name__}" if parent is not None else ""
    return f"{name or type(obj).__name__}{owner}"


@contextmanager
def qt_guards(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record every QThread and QTimer started, and the top-level widgets opened, during the block;
    afterwards fail if a thread still runs, or a recorded timer or a timer that one of our widgets in a new
    window owns is active (Qt's own timers, such as a status bar's, are Qt's business)."""
    threads: list[weakref.ref] = []
    timers: list[weakref.ref] = []
    original_thread_start, original_timer_start = QThread.start, QTimer.start

    def recording_thread_start(self, *args, **kwargs):
        threads.append(weakref.ref(self))
        return original_thread_start(self, *args, **kwargs)

    def recording_timer_start(self, *args, **kwargs):
        timers.append(weakref.ref(self))
        return original_timer_start(self, *args, **kwargs)

    app = QApplication.instance()
    windows_before = {id(w) for w in app.topLevelWidgets()} if app is not None else set()
    monkeypatch.setattr(QThread, "start", recording_thread_start)
    monkeypatch.setattr(QTimer, "start", recording_timer_start)
    yield
    monkeypatch.setattr(QThread, "start", original_thread_start)
    monkeypatch.setattr(QTimer, "start", original_timer_start)
    running = [_describe(t) for t in filter(None, map(_alive, threads)) if t.isRunning()]
    if running:
        pytest.fail(f"test left QThread(s) running: {', '.join(running)}")
    active = {id(t): t for t in filter(None, map(_alive, timers)) if t.isActive()}
    app = QApplication.instance()
    for window in app.topLevelWidgets() if app is not None else []:
        if id(window) not in windows_before:
            active.update({id(t): t for t in window.findChildren(QTimer) if t.isActive() and _ours(t.parent())})
    if active:
        names = sorted(_describe(t) for t in active.values())
        pytest.fail(f"test left QTimer(s) running: {', '.join(names)} (stop them when their owner closes)")
