"""The editor's two kinds of error, its sandboxed settings, and the automatic Qt guards.

A bug (here a numpy broadcast slip in real code run on the render thread or in a slot) is logged and
shown with its traceback under "Show Details..."; the editor keeps working. A user error keeps its plain
one-line dialog.
"""

from __future__ import annotations

import sys

import conftest
import numpy as np
import pytest
from gui_support import WAIT_MS, open_main_window
from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QMessageBox
from qt_guard import qt_guards
from tiny_models import tiny_stylegan

from sceneedit.editing.session import EditSession
from sceneedit.errors import ErrorMessage, SceneeditError


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = open_main_window(qtbot, settings, EditSession(tiny_stylegan(name="tiny", frozen=True), seed=3))
    win.show()
    qtbot.waitUntil(win.render_idle, timeout=WAIT_MS)
    yield win
    win.close()


def misaligned_sum(progress) -> np.ndarray:
    """A real bug: per-image values added to a per-channel array."""
    return np.zeros(5) + np.ones(3)


def internal_boxes(window) -> list[QMessageBox]:
    return [box for box in window.findChildren(QMessageBox) if box.objectName() == "internal_error_box"]


def test_a_bug_on_the_render_thread_is_shown_with_its_traceback_and_the_editor_keeps_working(qtbot, window):
    with qtbot.waitSignal(window.worker.task_finished, timeout=WAIT_MS) as finished:
        window.worker.request_task("Export", misaligned_sum)
    error = finished.args[0].error
    assert isinstance(error, ErrorMessage) and error.internal
    assert error.startswith("internal error: ValueError: operands could not be broadcast")
    assert error.log_path is not None and "np.zeros(5) + np.ones(3)" in error.log_path.read_text()

    window._error("Export failed", error)
    (box,) = internal_boxes(window)
    assert box.isVisible() and box.text() == str(error)
    assert "Traceback (most recent call last)" in box.detailedText()
    assert "np.zeros(5) + np.ones(3)" in box.detailedText()
    box.done(0)

    before = window.canvas.image_array()
    window.session.set_seed(4)  # the editor still renders
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
    assert window.last_error is None and not np.array_equal(window.canvas.image_array(), before)


def test_a_user_error_keeps_the_plain_one_line_dialog(qtbot, window, monkeypatch):
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    with qtbot.waitSignal(window.worker.task_finished, timeout=WAIT_MS) as finished:
        window.worker.request_task("Export", lambda progress: (_ for _ in ()).throw(SceneeditError("out.gif: taken")))
    error = finished.args[0].error
    assert error == "out.gif: taken" and not error.internal
    window._error("Export failed", error)
    assert shown == [("Export failed", "out.gif: taken")] and not internal_boxes(window)


class Emitter(QObject):
    fired = Signal()


def test_an_exception_escaping_a_slot_is_shown_not_fatal(qtbot, window):
    from sceneedit.app.error_dialog import install_excepthook

    emitter = Emitter()
    emitter.fired.connect(lambda: misaligned_sum(None))
    previous = install_excepthook(lambda: window)
    try:
        emitter.fired.emit()  # PySide hands the exception to sys.excepthook and carries on
    finally:
        sys.excepthook = previous
    (box,) = internal_boxes(window)
    assert "operands could not be broadcast" in box.text() and "misaligned_sum" in box.detailedText()
    box.done(0)
    assert window.isVisible()


def test_tests_never_touch_the_real_user_settings(qtbot, window):
    from sceneedit.app.settings import WindowSettings, default_settings

    settings = default_settings()
    assert str(conftest.SANDBOX) in settings.fileName()
    store = WindowSettings(settings)
    store.add_recent("generator", "/tmp/from-a-test.safetensors")
    settings.sync()
    assert conftest._fingerprint(conftest.REAL_CONFIG_FILE) == conftest.REAL_CONFIG_DIGEST


def test_the_guard_fails_a_test_that_leaves_a_timer_running(qtbot, window, monkeypatch):
    timer = QTimer(window)
    with pytest.raises(pytest.fail.Exception, match="QTimer"):
        with qt_guards(monkeypatch):
            timer.start(60_000)
    timer.stop()
    with qt_guards(monkeypatch):  # stopped in time: fine
        timer.start(60_000)
        timer.stop()
