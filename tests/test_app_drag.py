"""The editor's Drag tool, driven as a user would, over a tiny real StyleGAN (offscreen Qt)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402

from sceneedit.editing import drag as drag_module  # noqa: E402
from sceneedit.editing.drag import DragSettings  # noqa: E402
from sceneedit.editing.session import EditSession  # noqa: E402
from sceneedit.render import render  # noqa: E402

from gui_support import WAIT_MS, open_main_window, show_focused, tiny_generator  # noqa: E402

SIZE = 16  # the tiny generator's resolution


from qt_guard import no_qthread_left_running  # noqa: E402,F401  (autouse fixture)


@pytest.fixture(scope="module")
def generator():
    return tiny_generator()


@pytest.fixture
def window(qtbot, tmp_path, generator):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = open_main_window(qtbot, settings, EditSession(generator, None, seed=3))
    win.drag_tool.settings = DragSettings(steps=12, lr=0.03, motion_radius=2, track_radius=3)
    win.drag_tool.preview_every = 3
    win.resize(900, 700)
    show_focused(qtbot, win)
    wait_idle(qtbot, win)
    yield win
    win.close()


def wait_idle(qtbot, win) -> None:
    qtbot.waitUntil(lambda: win.render_idle() and not win.drag_tool.running, timeout=WAIT_MS)


def direct_render(session) -> np.ndarray:
    result = render(session.generator, session.state())
    assert result.error is None
    return np.asarray(result.image)


def click_pixel(qtbot, canvas, y: int, x: int) -> None:
    """Click the centre of image pixel (y, x), computed from the painted image rectangle."""
    rect = canvas.image_rect()
    scale = rect.width() / SIZE
    pos = QPoint(round(rect.left() + (x + 0.5) * scale), round(rect.top() + (y + 0.5) * scale))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=pos)


@pytest.mark.parametrize("zoom", ["fit", 3.0])
def test_clicks_in_drag_mode_record_image_pixels(qtbot, window, zoom):
    tool, canvas = window.drag_tool, window.canvas
    canvas.set_zoom(zoom)
    click_pixel(qtbot, canvas, 5, 3)
    assert tool.pending_handle is None and tool.handles == []  # not in drag mode: no point
    qtbot.keyClick(window, Qt.Key.Key_D)
    assert tool.mode_action.isChecked() and canvas.picking_points
    tolerance = 0.5 / canvas.current_scale() + 1e-6
    click_pixel(qtbot, canvas, 5, 3)
    assert tool.pending_handle == pytest.approx((5.0, 3.0), abs=tolerance)
    assert not tool.run_action.isEnabled()  # a handle without a target
    click_pixel(qtbot, canvas, 9, 12)
    assert tool.pending_handle is None
    assert tool.handles == [pytest.approx((5.0, 3.0), abs=tolerance)]
    assert tool.targets == [pytest.approx((9.0, 12.0), abs=tolerance)]
    assert tool.run_action.isEnabled()
    rect = canvas.image_rect()
    if rect.left() > 2:  # a click beside the image adds nothing
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(1, int(rect.center().y())))
        assert tool.pending_handle is None
    canvas.grab()  # paints the overlay (dots and arrow) without errors
    tool.clear_action.trigger()
    assert tool.handles == [] and tool.targets == [] and not tool.run_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_D)
    assert not tool.mode_action.isChecked() and not canvas.picking_points


def test_run_drag_on_the_worker_streams_frames_and_is_one_undo_step(qtbot, window, monkeypatch):
    tool, canvas, session = window.drag_tool, window.canvas, window.session
    threads = []
    original = drag_module.run_drag

    def recording_run_drag(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(drag_module, "run_drag", recording_run_drag)
    before = canvas.image_array()
    assert np.array_equal(before, direct_render(session))
    undo_count = window.undo.stack.count()
    tool.mode_action.trigger()
    click_pixel(qtbot, canvas, 8, 5)
    click_pixel(qtbot, canvas, 8, 11)
    with qtbot.waitSignal(tool.drag_finished, timeout=WAIT_MS) as finished:
        tool.run_action.trigger()
        assert tool.running and tool.stop_action.isEnabled() and not tool.run_action.isEnabled()
    result = finished.args[0]
    assert result is not None and result.steps_run > 0
    assert threads and threads[0] is not threading.main_thread()
    assert tool.frames_streamed >= 1
    wait_idle(qtbot, window)
    assert window.undo.stack.count() == undo_count + 1
    assert session.history[-1] == "Drag 1 point" and session.has_drag
    after = canvas.image_array()
    assert not np.array_equal(after, before)
    assert np.array_equal(after, direct_render(session))
    assert tool.handles == [tuple(p) for p in result.handles_final]  # handles continue from the tracked spots
    window.undo_action.trigger()
    wait_idle(qtbot, window)
    assert not session.has_drag
    assert np.array_equal(canvas.image_array(), before)
    window.redo_action.trigger()
    wait_idle(qtbot, window)
    assert np.array_equal(canvas.image_array(), after)


def test_stop_cancels_a_long_drag_and_keeps_what_it_reached(qtbot, window):
    tool = window.drag_tool
    tool.settings = DragSettings(steps=100000, lr=0.001, motion_radius=2, track_radius=3, stop_distance=0.0)
    tool.preview_every = 1
    tool.mode_action.trigger()
    tool.add_point(8.0, 5.0)
    tool.add_point(8.0, 11.0)
    undo_count = window.undo.stack.count()
    with qtbot.waitSignal(tool.drag_finished, timeout=WAIT_MS) as finished:
        tool.run()
        qtbot.waitUntil(lambda: tool.frames_streamed >= 2, timeout=WAIT_MS)
        tool.stop_action.trigger()
    result = finished.args[0]
    assert result.cancelled and 0 < result.steps_run < 100000
    wait_idle(qtbot, window)
    assert window.undo.stack.count() == undo_count + 1
    assert np.array_equal(window.canvas.image_array(), direct_render(window.session))


def test_closing_during_a_drag_leaves_no_thread_running(qtbot, window):
    tool = window.drag_tool
    tool.settings = DragSettings(steps=100000, lr=0.001, stop_distance=0.0)
    tool.mode_action.trigger()
    tool.add_point(8.0, 5.0)
    tool.add_point(8.0, 11.0)
    assert tool.run()
    qtbot.waitUntil(lambda: tool.frames_streamed >= 1, timeout=WAIT_MS)
    window.close()  # cancels the drag and stops the worker; the fixture checks no QThread runs
    assert not window.worker_thread.thread.isRunning()
