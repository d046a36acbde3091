"""The editor's Drag tool, driven as a user would, over a tiny real StyleGAN (offscreen Qt)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_support import WAIT_MS, open_main_window, show_focused  # noqa: E402
from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from tiny_models import tiny_stylegan  # noqa: E402

from sceneedit.editing import drag as drag_module  # noqa: E402
from sceneedit.editing.drag import DragSettings  # noqa: E402
from sceneedit.editing.session import EditSession  # noqa: E402
from sceneedit.render import render  # noqa: E402

SIZE = 16  # the tiny generator's resolution


@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan(name="tiny", frozen=True)


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


# ----- the drag panel ------------------------------------------------------------------------


def press_and_stroke(qtbot, canvas, pixels) -> None:
    """Press at the first image pixel and move through the others with the left button held."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    rect = canvas.image_rect()
    scale = rect.width() / SIZE

    def at(y, x):
        return QPointF(rect.left() + (x + 0.5) * scale, rect.top() + (y + 0.5) * scale)

    def send(kind, point, buttons):
        event = QMouseEvent(
            kind, point, canvas.mapToGlobal(point), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(canvas, event)

    held, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseButtonPress, at(*pixels[0]), held)
    for y, x in pixels[1:]:
        send(QEvent.Type.MouseMove, at(y, x), held)
    send(QEvent.Type.MouseButtonRelease, at(*pixels[-1]), none)


def test_panel_lists_points_paints_the_mask_and_edits_settings(qtbot, window):
    tool, dock, canvas = window.drag_tool, window.drag_dock, window.canvas
    tool.settings = None  # the generator's defaults, edited through the panel
    tool.mode_action.trigger()
    assert dock.isVisible()
    click_pixel(qtbot, canvas, 4, 4)
    assert dock.pair_list.count() == 1 and "click the target" in dock.pair_list.item(0).text()
    click_pixel(qtbot, canvas, 4, 8)
    assert dock.pair_list.count() == 1 and dock.pair_list.item(0).text().endswith("4.0 px")
    dock.kind_buttons["anchor"].click()
    click_pixel(qtbot, canvas, 12, 12)
    assert len(tool.anchors) == 1 and dock.anchor_list.count() == 1 and tool.handles and len(tool.handles) == 1
    dock.kind_buttons["mask"].click()
    dock.brush_box.setValue(2)
    press_and_stroke(qtbot, canvas, [(6, 2), (6, 6), (6, 10)])
    assert tool.mask is not None and tool.mask.shape == (SIZE, SIZE)
    assert tool.mask[6, 2] == 1 and tool.mask[6, 6] == 1 and tool.mask[6, 10] == 1 and tool.mask[14, 14] == 0
    assert tool.mask[6, 8] == 1  # the stroke, not only its ends
    assert "px may change" in dock.mask_label.text() and dock.clear_mask_button.isEnabled()
    assert len(tool.handles) == 1 and len(tool.anchors) == 1  # painting adds no points
    canvas.grab()  # paints mask, anchors, arrows
    settings = tool.effective_settings()
    assert settings.mask is not None and np.array_equal(settings.mask, tool.mask)
    dock.steps_box.setValue(9)
    dock.lr_box.setValue(0.05)
    dock.first_layer.setValue(1)
    dock.last_layer.setValue(3)
    settings = tool.effective_settings()
    assert (settings.steps, settings.lr, settings.optimized_layers(window.session.num_layers)) == (9, 0.05, [1, 2, 3])
    dock.defaults_button.click()
    from sceneedit.editing.drag import default_settings

    defaults = default_settings(window.session.generator)
    assert tool.effective_settings().steps == defaults.steps and dock.steps_box.value() == defaults.steps
    dock.clear_mask_button.click()
    assert tool.mask is None and not dock.clear_mask_button.isEnabled()
    dock.anchor_list.setCurrentRow(0)
    dock.remove_anchor_button.click()
    dock.pair_list.setCurrentRow(0)
    dock.remove_pair_button.click()
    assert tool.anchors == [] and tool.handles == [] and dock.pair_list.count() == 0


def test_panel_run_shows_the_distance_and_records_anchors_and_mask(qtbot, window):
    tool, dock = window.drag_tool, window.drag_dock
    tool.mode_action.trigger()
    tool.add_point(8.0, 5.0)
    tool.add_point(8.0, 9.0)
    tool.set_point_kind("anchor")
    tool.add_point(2.0, 13.0)
    tool.set_point_kind("mask")
    tool.set_brush_radius(5)
    tool.add_point(8.0, 7.0)
    distances = []
    tool.progress.connect(lambda step, steps, distance: distances.append(dock.distance_label.text()))
    with qtbot.waitSignal(tool.drag_finished, timeout=WAIT_MS) as finished:
        tool.run_action.trigger()
        assert not dock.steps_box.isEnabled()  # settings are locked while running
    assert finished.args[0] is not None
    wait_idle(qtbot, window)
    assert distances and distances[0].startswith("Distance to target:") and "step" in distances[0]
    assert "last drag" in dock.distance_label.text()
    edit = window.session.to_recipe()["edits"][-1]
    assert edit["op"] == "drag" and edit["anchors"] == [[2.0, 13.0]]
    assert np.array_equal(np.asarray(edit["settings"]["mask"]), tool.mask)
    assert dock.steps_box.isEnabled()


def test_first_use_hint_shows_until_the_first_click_and_only_once(qtbot, tmp_path, generator):
    settings = QSettings(str(tmp_path / "hint.ini"), QSettings.Format.IniFormat)
    win = open_main_window(qtbot, settings, EditSession(generator, None, seed=3))
    show_focused(qtbot, win)
    wait_idle(qtbot, win)
    tool = win.drag_tool
    assert not tool.hint_visible
    tool.mode_action.trigger()
    assert tool.hint_visible
    win.canvas.grab()  # paints the hint
    click_pixel(qtbot, win.canvas, 3, 3)
    assert not tool.hint_visible
    tool.mode_action.trigger()
    tool.mode_action.trigger()
    assert not tool.hint_visible  # seen: not again, in this window ...
    wait_idle(qtbot, win)
    win.close()
    again = open_main_window(qtbot, settings, EditSession(generator, None, seed=3))
    again.drag_tool.mode_action.trigger()
    assert not again.drag_tool.hint_visible  # ... nor in the next one
    wait_idle(qtbot, again)
    again.close()


def test_export_from_the_current_edit_keeps_the_drags(qtbot, window, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QMessageBox

    from sceneedit.app.export_dialog import ExportDialog

    tool = window.drag_tool
    tool.mode_action.trigger()
    tool.add_point(8.0, 5.0)
    tool.add_point(8.0, 9.0)
    with qtbot.waitSignal(tool.drag_finished, timeout=WAIT_MS):
        tool.run()
    wait_idle(qtbot, window)
    window.session.set_jitter(enabled=True, strength=0.0)  # a step after the drag
    wait_idle(qtbot, window)
    dialog = ExportDialog(window.session, window.worker, window.store, window)
    qtbot.addWidget(dialog)
    dialog.kind_box.setCurrentIndex(1)  # jitter series, strength 0: every frame is the current edit
    dialog.jitter_strength.setValue(0.0)
    dialog.jitter_seeds.setText("0")
    assert dialog.start_from_edit.isChecked()
    job = dialog.build_job()
    assert [e["op"] for e in job.recipe["edits"]] == ["drag", "set_jitter"]
    for fmt, box in dialog.format_boxes.items():
        box.setChecked(fmt == "png")
    dialog.folder_edit.setText(str(tmp_path / "out"))
    monkeypatch.setattr(QMessageBox, "information", lambda *args, **kwargs: None)
    with qtbot.waitSignal(dialog.export_finished, timeout=WAIT_MS) as blocker:
        dialog.start()
    assert blocker.args[1] == ""
    (frame,) = sorted((tmp_path / "out").glob("*/frames/*/*.png"))
    assert np.array_equal(np.asarray(Image.open(frame).convert("RGB")), direct_render(window.session))
    wait_idle(qtbot, window)


def test_masked_drags_through_the_tool_equal_the_sessions_own(qtbot, window, generator):
    """The tool resolves a masked drag's kept code and mask union on the render thread; two
    masked drags in a row give the same code and pixels as :meth:`EditSession.drag`."""
    tool, session = window.drag_tool, window.session
    twin = EditSession(generator, None, seed=3)
    tool.mode_action.trigger()
    for (handle, target), (y0, y1, x0, x1) in (
        (((8.0, 5.0), (8.0, 8.0)), (3, 13, 2, 12)),
        (((10.0, 11.0), (12.0, 11.0)), (6, 14, 6, 14)),
    ):
        mask = np.zeros((SIZE, SIZE), np.float32)
        mask[y0:y1, x0:x1] = 1.0
        tool.handles, tool.targets, tool.anchors, tool.mask = [], [], [], mask
        tool.add_point(*handle)
        tool.add_point(*target)
        settings = tool.effective_settings()
        assert settings.blend and np.array_equal(settings.mask, mask)
        with qtbot.waitSignal(tool.drag_finished, timeout=WAIT_MS) as finished:
            assert tool.run()
        assert finished.args[0] is not None and finished.args[0].steps_run > 0
        wait_idle(qtbot, window)
        twin.drag([handle], [target], settings)
    state = session.state()
    assert state.drag_mask is not None and np.array_equal(state.drag_mask, twin.state().drag_mask)
    assert np.array_equal(session.current_wp(), twin.current_wp())
    assert np.array_equal(window.canvas.image_array(), direct_render(twin))
