"""The Jitter dock: random variation of chosen layers (HiGAN's "jittering").

Controls write the session's :class:`JitterSettings` through ``set_jitter``. The animate
toggle cycles jitter seeds as a preview: each tick emits :attr:`JitterDock.preview_seed`
and the window renders the session's state with that seed, without adding history steps;
stopping keeps the session's own seed.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)
from superqt import QRangeSlider

from sceneedit.editing.events import SessionEvent

from ...seeds import MAX_SEED
from ...semantics.layers import format_layer_list
from ..qt_utils import SessionLink, icon, signals_blocked
from ..sliders import StepSlider

#: Jitter modes the engine supports, with their labels.
JITTER_MODES = {"gaussian": "Gaussian noise", "style_mix": "Style mixing"}
STRENGTH_RANGE = (0.0, 2.0)


class JitterDock(QDockWidget):
    preview_seed = Signal(int)
    preview_stopped = Signal()

    def __init__(self, parent: QWidget | None = None, animate_interval_ms: int = 350) -> None:
        super().__init__("Jitter", parent)
        self.setObjectName("jitterDock")
        self.session = None
        self._session_link = SessionLink(self._on_session_event)
        self._animated_seed = 0

        self.enabled_box = QCheckBox("Enable jitter")
        self.mode_box = QComboBox()
        for mode, label in JITTER_MODES.items():
            self.mode_box.addItem(label, mode)
        self.layer_label = QLabel()
        self.range_slider = QRangeSlider(Qt.Orientation.Horizontal)
        self.range_slider.setToolTip("Layers whose codes are jittered")
        self.strength_slider = StepSlider()
        self.strength_slider.setRange(*STRENGTH_RANGE)
        self.strength_box = QDoubleSpinBox()
        self.strength_box.setRange(*STRENGTH_RANGE)
        self.strength_box.setDecimals(2)
        self.strength_box.setSingleStep(0.05)
        self.strength_box.setKeyboardTracking(False)
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, MAX_SEED)
        self.seed_box.setKeyboardTracking(False)
        self.new_button = QPushButton(icon("fa5s.dice"), "New jitter")
        self.new_button.setToolTip("Draw a new random jitter seed")
        self.animate_button = QPushButton(icon("fa5s.play"), "Animate")
        self.animate_button.setCheckable(True)
        self.animate_button.setToolTip("Cycle jitter seeds (a preview; the history is not touched)")

        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength_slider, 1)
        strength_row.addWidget(self.strength_box)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_box, 1)
        seed_row.addWidget(self.new_button)
        layers_row = QHBoxLayout()
        layers_row.addWidget(self.layer_label)
        layers_row.addWidget(self.range_slider, 1)

        body = QWidget()
        form = QFormLayout(body)
        form.addRow(self.enabled_box)
        form.addRow("Mode", self.mode_box)
        form.addRow("Layers", layers_row)
        form.addRow("Strength", strength_row)
        form.addRow("Seed", seed_row)
        form.addRow(self.animate_button)
        self.setWidget(body)

        self.timer = QTimer(self)
        self.timer.setInterval(animate_interval_ms)
        self.timer.timeout.connect(self._animate_tick)

        self.enabled_box.toggled.connect(lambda on: self._write(enabled=bool(on)))
        self.mode_box.currentIndexChanged.connect(lambda _i: self._write(mode=self.mode_box.currentData()))
        self.range_slider.valuesChanged.connect(self._on_range)
        self.range_slider.sliderReleased.connect(self._commit_range)
        self.strength_slider.sliderPressed.connect(self._close_merge)
        self.strength_slider.sliderReleased.connect(self._close_merge)
        self.strength_slider.valueChanged.connect(self._on_strength_slider)
        self.strength_box.valueChanged.connect(lambda v: self._write(strength=float(v)))
        self.seed_box.valueChanged.connect(lambda v: self._write(seed=int(v)))
        self.new_button.clicked.connect(self.new_jitter)
        self.animate_button.toggled.connect(self.set_animating)
        self.set_session(None)

    # ----- binding ---------------------------------------------------------------------
    def set_session(self, session) -> None:
        self.set_animating(False)
        self._session_link.drop()
        self.session = session
        self.widget().setEnabled(session is not None)
        if session is not None:
            with signals_blocked(self.range_slider):
                self.range_slider.setRange(0, max(0, int(session.generator.num_layers) - 1))
            self._session_link.follow(session)
            self.refresh()

    def _on_session_event(self, event: SessionEvent, payload: dict) -> None:
        if event in (SessionEvent.JITTER_CHANGED, SessionEvent.BUNDLE_CHANGED):
            self.refresh()

    def refresh(self) -> None:
        jitter = self.session.jitter
        layers = [int(i) for i in jitter.layers]
        widgets = (
            self.enabled_box,
            self.mode_box,
            self.range_slider,
            self.strength_slider,
            self.strength_box,
            self.seed_box,
        )
        with signals_blocked(*widgets):
            self.enabled_box.setChecked(bool(jitter.enabled))
            self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(jitter.mode)))
            if layers:
                self.range_slider.setValue((min(layers), max(layers)))
            self.strength_slider.setValue(float(jitter.strength))
            self.strength_box.setValue(float(jitter.strength))
            self.seed_box.setValue(int(jitter.seed))
        self.layer_label.setText(format_layer_list(layers))

    # ----- widgets -> model ------------------------------------------------------------
    def _write(self, merge: bool = False, **changes) -> None:
        if self.session is None:
            return
        current = self.session.jitter
        if all(getattr(current, key) == value for key, value in changes.items()):
            return
        self.session.set_jitter(merge=merge, **changes)

    def _close_merge(self) -> None:
        if self.session is not None:
            self.session.close_merge()

    def _on_strength_slider(self, value: float) -> None:
        # A drag is one undo step: changes while the handle is down merge into it.
        self._write(merge=self.strength_slider.isSliderDown(), strength=float(value))

    def _on_range(self, values) -> None:
        lo, hi = int(values[0]), int(values[1])
        self.layer_label.setText(format_layer_list(list(range(lo, hi + 1))))
        if not self.range_slider.isSliderDown():
            self._commit_range()

    def _commit_range(self) -> None:
        lo, hi = (int(v) for v in self.range_slider.value())
        self._write(layers=list(range(lo, hi + 1)))

    def new_jitter(self) -> None:
        """A fresh random jitter seed (and jitter switched on)."""
        self._write(enabled=True, seed=random.randint(0, MAX_SEED))

    # ----- animation -------------------------------------------------------------------
    def set_animating(self, on: bool) -> None:
        with signals_blocked(self.animate_button):
            self.animate_button.setChecked(on)
        self.animate_button.setIcon(icon("fa5s.stop" if on else "fa5s.play"))
        if on and self.session is not None:
            self._animated_seed = int(self.session.jitter.seed)
            self.timer.start()
        elif self.timer.isActive():
            self.timer.stop()
            self.preview_stopped.emit()

    def _animate_tick(self) -> None:
        self._animated_seed = (self._animated_seed + 1) % (MAX_SEED + 1)
        self.preview_seed.emit(self._animated_seed)
