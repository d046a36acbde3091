"""A float slider whose handle can be grabbed without moving it.

superqt's :class:`QDoubleSlider` moves the value to the pixel under the pointer on every press,
so a click on the handle nudges the value by up to one pixel's worth (0.01-0.04 on a 6-unit
slider) and records an edit, and the nudge comes before the slider is "down", so a drag made
two undo steps. :class:`StepSlider` instead:

* leaves the value alone on a press on the handle (and on moves that stay on the press pixel);
* is down before a press on the groove jumps the handle there, so jump and drag are one change;
* steps with the arrow, Page and Home / End keys while focused (superqt's sliders ignore keys);
* snaps values set with the mouse or keys to multiples of :attr:`quantum` (the value box's precision),
  so what a history label says ("+0.25") is what was set, and a drag back to 0 is exactly 0.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QSlider, QStyle, QWidget
from superqt import QDoubleSlider


class StepSlider(QDoubleSlider):
    """A horizontal :class:`QDoubleSlider` for strengths; ``quantum`` (> 0) is the step of
    values set with the mouse (default 0.01, the value boxes' two decimals)."""

    def __init__(self, parent: QWidget | None = None, quantum: float = 0.01) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        if not quantum > 0:
            raise ValueError(f"quantum must be > 0, got {quantum}")
        self.quantum = float(quantum)
        self._press_pick: int | None = None
        self._press_value: float | None = None

    def _handle_rect(self):
        return self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, self._styleOption, QStyle.SubControl.SC_SliderHandle, self
        )

    def _pixelPosToRangeValue(self, pos: int) -> float:  # noqa: N802 - superqt's name
        value = super()._pixelPosToRangeValue(pos)
        snapped = round(value / self.quantum) * self.quantum
        return float(min(max(snapped, self.minimum()), self.maximum()))

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self.minimum() == self.maximum() or ev.buttons() ^ ev.button():
            ev.ignore()
            return
        if ev.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            ev.ignore()
            return
        ev.accept()
        pos = ev.position().toPoint()
        self._pressedControl = QStyle.SubControl.SC_SliderHandle
        self.setRepeatAction(QSlider.SliderAction.SliderNoAction)
        self.setSliderDown(True)  # before any change: the whole press-drag-release is one change
        handle = self._handle_rect()
        if not handle.contains(pos):  # a press on the groove: the handle jumps under the pointer
            offset = handle.center() - handle.topLeft()
            self.setSliderPosition(self._pixelPosToRangeValue(self._pick(pos - offset)))
        self._press_pick = self._pick(pos)
        self._press_value = self.value()
        self._setClickOffset(pos)
        self.update()

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if self._press_pick is not None and self._pick(ev.position().toPoint()) == self._press_pick:
            ev.accept()
            self.setSliderPosition(self._press_value)  # back on the press pixel: the value it had
            return
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        self._press_pick = self._press_value = None
        super().mouseReleaseEvent(ev)

    # ----- keys (superqt's sliders ignore them) ----------------------------------------
    def _key_target(self, key: int) -> float | None:
        """The value a key moves to, or None for a key the slider does not use."""
        single, page = self.singleStep(), self.pageStep()
        steps = {
            Qt.Key.Key_Left: -single,
            Qt.Key.Key_Down: -single,
            Qt.Key.Key_Right: single,
            Qt.Key.Key_Up: single,
            Qt.Key.Key_PageDown: -page,
            Qt.Key.Key_PageUp: page,
        }
        if key == Qt.Key.Key_Home:
            return float(self.minimum())
        if key == Qt.Key.Key_End:
            return float(self.maximum())
        if key not in steps:
            return None
        value = round((self.value() + steps[key]) / self.quantum) * self.quantum
        return float(min(max(value, self.minimum()), self.maximum()))

    def event(self, ev: QEvent) -> bool:
        # Claim the arrow keys while focused (as a line edit does), so window shortcuts on
        # Left / Right leave them to the slider.
        if ev.type() == QEvent.Type.ShortcutOverride and not ev.modifiers() and self._key_target(ev.key()) is not None:
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        target = None if ev.modifiers() else self._key_target(ev.key())
        if target is None:
            super().keyPressEvent(ev)
            return
        ev.accept()
        self.setValue(target)
