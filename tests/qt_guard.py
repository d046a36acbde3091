"""A fixture that fails any GUI test leaving a QThread running (napari's conftest idea).

Import it into a GUI test module: ``from qt_guard import no_qthread_left_running``.
"""

import weakref

import pytest
from PySide6.QtCore import QThread


@pytest.fixture(autouse=True)
def no_qthread_left_running(monkeypatch):
    """Record every started QThread; fail the test if one still runs at its end."""
    started: list[weakref.ref] = []
    original_start = QThread.start

    def recording_start(self, *args, **kwargs):
        started.append(weakref.ref(self))
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield started
    running = []
    for ref in started:
        thread = ref()
        try:
            if thread is not None and thread.isRunning():
                running.append(thread.objectName() or repr(thread))
        except RuntimeError:  # the C++ object is gone: it was stopped and deleted
            pass
    if running:
        pytest.fail(f"test left QThread(s) running: {', '.join(running)}")
