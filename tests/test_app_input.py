"""Editor defects a new user hit (issue 11): wheel, slider clicks, keys and focus, dock sizes, history view.

Real window over a tiny real StyleGAN, offscreen Qt; input goes through QTest as real events (wheel
events through the window system, mouse presses on the slider handle, key clicks on the focus widget).
Settings live in a temporary INI file.
"""

from __future__ import annotations

import numpy as np
import pytest
from gui_support import WAIT_MS, open_main_window, show_focused
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QScrollArea, QStyle
from tiny_models import tiny_stylegan

from sceneedit.editing.session import EditSession
from sceneedit.semantics.bundle import fingerprint_for
from sceneedit.semantics.concepts import BoundaryBundle, Concept

CONCEPT_NAMES = tuple(f"concept{i:02d}" for i in range(16))


def many_concepts_bundle(generator, names=CONCEPT_NAMES, seed: int = 1) -> BoundaryBundle:
    """Random unit normals, enough concepts that the Concepts dock scrolls."""
    rng = np.random.RandomState(seed)
    concepts = {}
    for i, name in enumerate(names):
        normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
        concepts[name] = Concept(
            name=name,
            normal=normal / np.linalg.norm(normal),
            layers=list(range(0, 3)) if i % 2 == 0 else list(range(2, generator.num_layers)),
            level=("layout", "objects", "attributes", "color")[i % 4],
            distance_range=(-3.0, 3.0),
        )
    return BoundaryBundle(concepts=concepts, generator_fingerprint=fingerprint_for(generator), source="test")


@pytest.fixture
def generator():
    return tiny_stylegan(name="tiny", frozen=True)


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings, generator):
    win = open_main_window(qtbot, settings, EditSession(generator, many_concepts_bundle(generator), seed=3))
    show_focused(qtbot, win)
    qtbot.waitUntil(win.render_idle, timeout=WAIT_MS)
    yield win
    win.close()


def wheel(window, widget, ticks: int = 1, at: QPoint | None = None) -> None:
    """``ticks`` wheel notches (negative = towards the user) over ``widget``, through the window system."""
    point = widget.mapTo(window, at if at is not None else widget.rect().center())
    for _ in range(abs(ticks)):
        QTest.wheelEvent(window.windowHandle(), QPointF(point), QPoint(0, 120 if ticks > 0 else -120))
        QApplication.processEvents()


def handle_center(slider) -> QPoint:
    """Where the handle of a (superqt) slider is drawn, in the slider's coordinates."""
    return (
        slider.style()
        .subControlRect(QStyle.ComplexControl.CC_Slider, slider._styleOption, QStyle.SubControl.SC_SliderHandle, slider)
        .center()
    )


def history_labels(session) -> list[str]:
    return list(session.history)


# ----- 1. the wheel scrolls the Concepts list ----------------------------------------------
def test_wheel_over_the_concepts_list_scrolls_it_and_never_changes_a_value(qtbot, window):
    session = window.session
    dock = window.concepts_dock
    scroll = dock.findChild(QScrollArea)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0, "the test needs a Concepts list taller than its dock"
    row = dock.rows[CONCEPT_NAMES[0]]
    wheel(window, row.slider, ticks=-10)
    assert bar.value() > 0  # the list scrolled
    wheel(window, row.value_box, ticks=-3)  # wherever the pointer now is over the rows
    assert session.history_index == 0 and history_labels(session) == ["Start"]
    assert all(session.strength(name) == 0.0 for name in CONCEPT_NAMES)
    assert window.undo.stack.count() == 0

    # A slider the user clicked (it has the focus) takes the wheel, as in most Qt apps.
    bar.setValue(0)
    QApplication.processEvents()
    row.slider.setFocus(Qt.FocusReason.MouseFocusReason)
    wheel(window, row.slider, ticks=1)
    assert session.strength(CONCEPT_NAMES[0]) > 0.0


# ----- 2. a click on the handle changes nothing; a drag is one step ----------------------------
def test_a_click_on_a_slider_handle_changes_nothing_and_a_drag_is_one_step(qtbot, window):
    session = window.session
    name = CONCEPT_NAMES[1]
    row = window.concepts_dock.rows[name]
    row.value_box.setValue(1.23)
    assert session.strength(name) == pytest.approx(1.23) and session.history_index == 1
    slider = row.slider
    for _ in range(3):
        QTest.mouseClick(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, handle_center(slider))
    assert session.strength(name) == pytest.approx(1.23)
    assert session.history_index == 1 and len(session.history) == 2

    start = handle_center(slider)
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for dx in (10, 25, 40):
        QTest.mouseMove(slider, start + QPoint(dx, 0))
    QTest.mouseRelease(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(40, 0))
    assert session.strength(name) > 1.3
    assert len(session.history) == 3 and session.history_index == 2  # one drag, one step
    assert window.undo.stack.count() == 2

    # A click on the groove away from the handle jumps there: one step too.
    target = QPoint(slider.width() // 8, slider.height() // 2)
    QTest.mouseClick(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    assert session.strength(name) < 0 and len(session.history) == 4
    assert not any(label.endswith("+0.00") or label.endswith("-0.00") for label in session.history[1:])

    # A drag that comes back to its start leaves no step at all.
    start = handle_center(slider)
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(slider, start + QPoint(30, 0))
    QTest.mouseMove(slider, start)
    QTest.mouseRelease(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    assert len(session.history) == 4
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)


def test_a_change_that_changes_nothing_records_and_announces_nothing(generator):
    session = EditSession(generator, many_concepts_bundle(generator), seed=3)
    events: list[str] = []
    session.subscribe(lambda event, payload: events.append(event))
    session.set_strength(CONCEPT_NAMES[0], 0.5, merge=True)
    assert session.history == ["Start", f"{CONCEPT_NAMES[0]} +0.50"]
    events.clear()
    session.set_strength(CONCEPT_NAMES[0], 0.5, merge=True)  # a drag event that moved nothing
    session.set_strength(CONCEPT_NAMES[0], 0.5)
    session.set_jitter(strength=session.jitter.strength)
    assert events == [] and len(session.history) == 2


# ----- 3. Left / Right with the History list focused -----------------------------------------
def test_left_and_right_change_the_seed_with_the_history_list_focused(qtbot, window):
    session = window.session
    window.concepts_dock.rows[CONCEPT_NAMES[0]].value_box.setValue(1.0)
    history = window.history_dock.list
    history.setFocus(Qt.FocusReason.MouseFocusReason)
    assert QApplication.focusWidget() is history
    qtbot.keyClick(history, Qt.Key.Key_Right)
    assert session.seed == 4
    qtbot.keyClick(history, Qt.Key.Key_Left)
    qtbot.keyClick(history, Qt.Key.Key_Left)
    assert session.seed == 2
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)


# ----- 4. shortcuts after typing in a spin box; the canvas takes the focus back ---------------
def test_shortcuts_work_after_typing_in_a_spin_box_and_the_canvas_takes_the_focus(qtbot, window):
    session = window.session
    name = CONCEPT_NAMES[2]
    box = window.concepts_dock.rows[name].value_box
    box.setFocus(Qt.FocusReason.MouseFocusReason)
    box.selectAll()
    qtbot.keyClicks(QApplication.focusWidget(), "1.5")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Left)  # the box keeps its arrow keys while editing
    assert session.seed == 3
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert session.strength(name) == pytest.approx(1.5)
    assert QApplication.focusWidget() is window.canvas  # Enter hands the focus back

    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
    assert session.seed == 4
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_D)
    assert window.drag_tool.mode_action.isChecked()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_D)
    assert not window.drag_tool.mode_action.isChecked()

    # Letters are shortcuts even while a number box has the focus; Escape restores and leaves.
    seed_box = window.latent_dock.seed_box
    seed_box.setFocus(Qt.FocusReason.MouseFocusReason)
    seed_box.selectAll()
    qtbot.keyClicks(QApplication.focusWidget(), "77")
    qtbot.keyPress(QApplication.focusWidget(), Qt.Key.Key_C)
    assert window.canvas.comparing
    qtbot.keyRelease(QApplication.focusWidget(), Qt.Key.Key_C)
    assert not window.canvas.comparing
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.canvas and seed_box.value() == 4 and session.seed == 4
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_R)
    assert session.seed != 4

    # A click on the canvas takes the focus from a box.
    window.jitter_dock.strength_box.setFocus(Qt.FocusReason.MouseFocusReason)
    QTest.mouseClick(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(5, 5))
    assert QApplication.focusWidget() is window.canvas
    # The concepts filter is a text field: letters are typed into it.
    window.concepts_dock.filter_box.setFocus(Qt.FocusReason.MouseFocusReason)
    seed = session.seed
    qtbot.keyClicks(window.concepts_dock.filter_box, "rdc")
    assert window.concepts_dock.filter_box.text() == "rdc" and session.seed == seed
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)


# ----- 5. the default jitter ------------------------------------------------------------------
def test_the_default_jitter_is_the_measured_one_not_every_layer_at_full_strength(qtbot, window):
    from sceneedit.editing.state import default_jitter

    # docs/benchmarks.md "Jitter defaults": layers 0-3 of the default generator's 10, strength 0.75.
    assert default_jitter(10).layers == [0, 1, 2, 3] and default_jitter(10).strength == 0.75
    assert default_jitter(14).layers == list(range(6)) and default_jitter(1).layers == [0]
    jitter = window.session.jitter
    num_layers = window.session.generator.num_layers
    assert jitter == default_jitter(num_layers) and not jitter.enabled
    assert len(jitter.layers) < num_layers and jitter.strength < 1.0
    dock = window.jitter_dock
    assert dock.strength_box.value() == pytest.approx(0.75)
    assert tuple(dock.range_slider.value()) == (0, len(jitter.layers) - 1)


# ----- 6. dock widths ------------------------------------------------------------------------
def test_shrinking_and_enlarging_the_window_keeps_the_docks_usable(qtbot, window):
    docks = (window.concepts_dock, window.latent_dock, window.jitter_dock, window.history_dock)
    window.resize(1400, 900)
    QApplication.processEvents()
    window.resize(200, 150)
    QApplication.processEvents()
    window.resize(1400, 900)
    QApplication.processEvents()
    for dock in docks:
        assert dock.minimumWidth() >= 180
        assert dock.width() >= dock.minimumWidth(), dock.objectName()
    assert window.concepts_dock.width() >= 260


def squeeze_concepts_dock(window, width: int = 60) -> None:
    """The Concepts dock (and the Drag panel tabbed with it) squeezed to ``width`` px, as a
    layout of a version without minimum dock widths could be."""
    for dock in (window.concepts_dock, window.drag_dock):
        dock.setMinimumWidth(1)
        dock.widget().setMinimumWidth(1)
    window.resizeDocks([window.concepts_dock], [width], Qt.Orientation.Horizontal)
    QApplication.processEvents()


def test_an_unusable_saved_layout_is_discarded(qtbot, settings, generator):
    first = open_main_window(qtbot, settings, EditSession(generator, many_concepts_bundle(generator), seed=3))
    show_focused(qtbot, first)
    squeeze_concepts_dock(first)
    assert first.concepts_dock.width() < 200, "the test needs a narrow dock"
    first.close()  # saves the layout

    second = open_main_window(qtbot, settings, EditSession(generator, many_concepts_bundle(generator), seed=3))
    show_focused(qtbot, second)
    QApplication.processEvents()
    assert second.concepts_dock.width() >= second.concepts_dock.minimumWidth() >= 260
    from sceneedit.app.layout_guard import layout_problems

    assert layout_problems(second) == []

    # The guard itself: a layout found unusable gives way to the default one.
    second.move(30000, 30000)
    QApplication.processEvents()
    assert second.layout_guard.check() == ["the window is off every screen"]
    assert layout_problems(second) == []
    qtbot.waitUntil(second.render_idle, timeout=WAIT_MS)
    second.close()


# ----- 7. the History list keeps its current row in view -------------------------------------
def test_the_history_list_keeps_the_current_row_in_view(qtbot, window):
    session = window.session
    history = window.history_dock.list
    window.resizeDocks([window.history_dock], [120], Qt.Orientation.Vertical)
    box = window.concepts_dock.rows[CONCEPT_NAMES[3]].value_box
    for i in range(1, 41):
        box.setValue(i * 0.05)

    def current_row_visible() -> bool:
        QApplication.processEvents()
        rect = history.visualItemRect(history.item(session.history_index))
        return history.viewport().rect().contains(rect)

    assert history.verticalScrollBar().maximum() > 0, "the test needs a history longer than its list"
    assert current_row_visible()
    for _ in range(30):
        window.undo_action.trigger()
    assert session.history_index == 10 and current_row_visible()
    session.jump_to(0)
    assert current_row_visible()
    session.jump_to(40)
    assert current_row_visible()
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
