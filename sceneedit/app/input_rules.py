"""How keys and the mouse wheel reach the editor window's widgets (one application event filter).

Rules, for the widgets of one main window:

* **Wheel.** A value widget (slider, spin box, combo box; not a scroll bar) takes the wheel only
  while it has the keyboard focus (from a click or Tab, as in most Qt apps); the wheel never gives
  it the focus. Otherwise the wheel scrolls the scroll area the widget sits in (the Concepts list),
  so scrolling over a list of sliders never changes one.
* **Shortcuts.** A number box has no use for letters, so single-letter shortcuts (D, R) work while
  one has the focus; it keeps its arrow keys while being edited. Widgets that use Left / Right
  claim them (line edits, number boxes, :class:`~.sliders.StepSlider`); the others (the History
  list, the layer range selectors) leave them to the seed shortcuts.
* **Compare.** Holding C shows the unedited scene wherever the focus is, except in a text field.
* **Focus back.** Enter in a number box commits it and Escape restores its value; both hand the
  focus back to the canvas, and a click on the canvas takes it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

_KEY_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
_HANDLED = frozenset({QEvent.Type.Wheel, QEvent.Type.ShortcutOverride, QEvent.Type.Polish, *_KEY_EVENTS})
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


def value_widget(obj: QObject) -> QWidget | None:
    """The slider, spin box or combo box ``obj`` is (or whose line edit it is), else None."""
    if isinstance(obj, QScrollBar):
        return None
    if isinstance(obj, (QAbstractSlider, QAbstractSpinBox, QComboBox)):
        return obj
    if isinstance(obj, QLineEdit) and isinstance(obj.parentWidget(), (QAbstractSpinBox, QComboBox)):
        return obj.parentWidget()
    return None


def is_text_field(obj: QObject) -> bool:
    """Whether ``obj`` takes typed text (a line or text edit that is not part of a spin box)."""
    return isinstance(obj, (QLineEdit, QTextEdit, QPlainTextEdit)) and value_widget(obj) is None


def _is_letter(event: QKeyEvent) -> bool:
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    plain = modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
    return plain and Qt.Key.Key_A.value <= event.key() <= Qt.Key.Key_Z.value


class InputRules(QObject):
    """Applies the module's rules to ``window``; ``canvas`` takes the focus back and
    ``set_comparing(bool)`` shows / hides the unedited scene. Installed on the application
    for the window's lifetime."""

    def __init__(self, window: QWidget, canvas: QWidget, set_comparing: Callable[[bool], None]) -> None:
        super().__init__(window)
        self._window = window
        self._canvas = canvas
        self._set_comparing = set_comparing
        canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click on the canvas takes the focus
        # A child of the window: Qt drops the filter from the application when the window goes.
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind not in _HANDLED or not isinstance(obj, QWidget):
            return False
        try:
            if obj.window() is not self._window:
                return False
        except RuntimeError:  # a widget being destroyed
            return False
        if kind == QEvent.Type.Polish:
            widget = value_widget(obj)
            if widget is obj and widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel never takes the focus
            return False
        if kind == QEvent.Type.Wheel:
            return self._wheel(obj, event)
        if kind == QEvent.Type.ShortcutOverride:
            return self._shortcut_override(obj, event)
        return self._key(obj, event)

    # ----- wheel -----------------------------------------------------------------------
    def _wheel(self, obj: QWidget, event: QWheelEvent) -> bool:
        widget = value_widget(obj)
        if widget is None or widget.hasFocus():
            return False
        area = widget.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            event.ignore()  # propagates to the parent, as for a widget that does not take the wheel
            return True
        viewport = area.viewport()
        position = viewport.mapFromGlobal(event.globalPosition())
        forwarded = QWheelEvent(
            position,
            event.globalPosition(),
            event.pixelDelta(),
            event.angleDelta(),
            event.buttons(),
            event.modifiers(),
            event.phase(),
            event.inverted(),
            event.source(),
        )
        QApplication.sendEvent(viewport, forwarded)
        event.accept()
        return True

    # ----- keys ------------------------------------------------------------------------
    def _shortcut_override(self, obj: QWidget, event: QKeyEvent) -> bool:
        widget = value_widget(obj)
        if isinstance(widget, QAbstractSpinBox) and _is_letter(event):
            event.ignore()  # not accepted: the shortcut runs instead of typing into the box
            return True
        return False

    def _key(self, obj: QWidget, event: QKeyEvent) -> bool:
        key = event.key()
        if key == Qt.Key.Key_C and event.modifiers() == Qt.KeyboardModifier.NoModifier and not is_text_field(obj):
            if not event.isAutoRepeat():
                self._set_comparing(event.type() == QEvent.Type.KeyPress)
            event.accept()
            return True
        widget = value_widget(obj)
        if event.type() != QEvent.Type.KeyPress or not isinstance(widget, QAbstractSpinBox):
            return False
        if key in _ENTER_KEYS:
            widget.interpretText()  # commit what was typed
        elif key == Qt.Key.Key_Escape:
            if hasattr(widget, "setValue"):
                widget.setValue(widget.value())  # drop what was typed: the box shows its value again
        else:
            return False
        self._canvas.setFocus(Qt.FocusReason.OtherFocusReason)
        event.accept()
        return True
