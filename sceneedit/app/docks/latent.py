"""The Latent dock: the scene's seed, truncation, and loading / saving its code.

"Save code…" writes the edited code (what the canvas shows) as ``.npy`` ``[L, D]``
float32; "Load code…" makes a ``.npy`` code the new base scene (edits apply on top).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from sceneedit.editing.codes import read_code  # noqa: F401  (Load code; tests import it from here)
from sceneedit.editing.events import SessionEvent
from sceneedit.editing.resolve import RenderSpec
from sceneedit.editing.state import edited_wp
from sceneedit.errors import USER_ERRORS, user_message

from ...files import atomic_write_npy
from ...seeds import MAX_SEED
from ..qt_utils import SessionLink, icon, signals_blocked


def write_code(path: str | Path, wp: np.ndarray) -> Path:
    """Save ``wp [L, D]`` as ``.npy`` atomically (temp file, then rename)."""
    path = Path(path)
    atomic_write_npy(path, np.asarray(wp, dtype=np.float32))
    return path


#: The worker task name of Save code.
SAVE_CODE_TASK = "Save code"


class LatentDock(QDockWidget):
    #: The path a Save code task wrote (on the UI thread, after the render thread wrote it).
    code_saved = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Latent", parent)
        self.setObjectName("latentDock")
        self.session = None
        self._session_link = SessionLink(self._on_session_event)
        self._worker = None

        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, MAX_SEED)
        self.seed_box.setKeyboardTracking(False)
        self.prev_button = QToolButton()
        self.prev_button.setIcon(icon("fa5s.chevron-left"))
        self.prev_button.setToolTip("Previous seed (Left)")
        self.next_button = QToolButton()
        self.next_button.setIcon(icon("fa5s.chevron-right"))
        self.next_button.setToolTip("Next seed (Right)")
        self.random_button = QToolButton()
        self.random_button.setIcon(icon("fa5s.dice"))
        self.random_button.setToolTip("Random seed (R)")

        self.truncation_default = QToolButton()
        self.truncation_default.setIcon(icon("fa5s.undo-alt"))
        self.truncation_default.setToolTip("Back to the generator's default truncation")
        self.truncation_box = QDoubleSpinBox()
        self.truncation_box.setRange(0.0, 2.0)
        self.truncation_box.setSingleStep(0.05)
        self.truncation_box.setDecimals(2)
        self.truncation_box.setKeyboardTracking(False)
        self.truncation_box.setToolTip("Truncation psi: 1 = none, smaller = closer to the average scene")

        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setStyleSheet("color: palette(mid);")
        self.load_button = QPushButton(icon("fa5s.file-import"), "Load code…")
        self.load_button.setToolTip("Use a saved .npy code [L, D] as the base scene")
        self.save_button = QPushButton(icon("fa5s.file-export"), "Save code…")
        self.save_button.setToolTip("Save the edited code [L, D] as .npy")

        seed_row = QHBoxLayout()
        seed_row.addWidget(self.prev_button)
        seed_row.addWidget(self.seed_box, 1)
        seed_row.addWidget(self.next_button)
        seed_row.addWidget(self.random_button)
        truncation_row = QHBoxLayout()
        truncation_row.addWidget(self.truncation_box, 1)
        truncation_row.addWidget(self.truncation_default)
        code_row = QHBoxLayout()
        code_row.addWidget(self.load_button)
        code_row.addWidget(self.save_button)

        body = QWidget()
        form = QFormLayout(body)
        form.addRow("Seed", seed_row)
        form.addRow("Truncation ψ", truncation_row)
        form.addRow(code_row)
        form.addRow(self.source_label)
        self.setWidget(body)

        self.seed_box.valueChanged.connect(self._on_seed)
        self.prev_button.clicked.connect(lambda: self.step_seed(-1))
        self.next_button.clicked.connect(lambda: self.step_seed(+1))
        self.random_button.clicked.connect(self.random_seed)
        self.truncation_box.valueChanged.connect(self._on_truncation)
        self.truncation_default.clicked.connect(self.default_truncation)
        self.load_button.clicked.connect(self.load_code_dialog)
        self.save_button.clicked.connect(self.save_code_dialog)
        self.set_session(None)

    # ----- binding ---------------------------------------------------------------------
    def set_session(self, session) -> None:
        self._session_link.drop()
        self.session = session
        self.widget().setEnabled(session is not None)
        if session is not None:
            self._session_link.follow(session)
            self.refresh()

    def _on_session_event(self, event: SessionEvent, payload: dict) -> None:
        if event is SessionEvent.BASE_CHANGED:
            self.refresh()

    def refresh(self) -> None:
        session = self.session
        psi = session.truncation_psi
        default_psi = float(session.generator.truncation_psi)
        with signals_blocked(self.seed_box, self.truncation_box):
            if session.seed is not None:
                self.seed_box.setValue(int(min(session.seed, MAX_SEED)))
            self.truncation_box.setValue(float(psi))
        self.truncation_default.setEnabled(float(psi) != default_psi)
        # Truncation shapes codes mapped from seeds; an explicit code is used as it is.
        self.truncation_box.setEnabled(session.seed is not None)
        self.source_label.setText(
            "Base: a loaded code (seed controls replace it)" if session.seed is None else f"Base: seed {session.seed}"
        )

    # ----- actions ---------------------------------------------------------------------
    def _on_seed(self, seed: int) -> None:
        if self.session is not None and seed != self.session.seed:
            self.session.set_seed(int(seed))

    def step_seed(self, delta: int) -> None:
        if self.session is None:
            return
        current = self.session.seed if self.session.seed is not None else self.seed_box.value()
        self.session.set_seed(int(min(max(current + delta, 0), MAX_SEED)))

    def random_seed(self) -> None:
        if self.session is not None:
            self.session.set_seed(random.randint(0, MAX_SEED))

    def _on_truncation(self, psi: float) -> None:
        if self.session is not None and float(psi) != self.session.truncation_psi:
            self.session.set_truncation(float(psi))

    def default_truncation(self) -> None:
        if self.session is not None:
            self.session.set_truncation(float(self.session.generator.truncation_psi))

    def load_code(self, path: str | Path) -> None:
        generator = self.session.generator
        wp = read_code(path, int(generator.num_layers), int(generator.w_dim))
        self.session.set_base_code(wp)

    def use_worker(self, worker) -> None:
        """Save code on ``worker`` (a ``RenderWorker``): resolving the edited code maps seeds (torch)."""
        self._worker = worker
        worker.task_finished.connect(self._on_task_finished)

    def save_code(self, path: str | Path) -> None:
        """Write the edited code float32 ``[L, D]`` to ``path`` from the render thread; the
        outcome shows in the status bar (or an error box)."""
        session, worker = self.session, self._worker
        spec = RenderSpec(session.snapshot(), session.bundle)
        generator = session.generator

        def task(progress) -> Path:
            state = worker.resolve(generator, spec)
            return write_code(path, np.asarray(edited_wp(state), dtype=np.float32))

        worker.request_task(SAVE_CODE_TASK, task)

    def _on_task_finished(self, result) -> None:
        if result.name != SAVE_CODE_TASK:
            return
        if result.error is not None:
            QMessageBox.critical(self, "Save code", result.error)
            return
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(f"saved the code to {result.value}", 5000)
        self.code_saved.emit(str(result.value))

    def load_code_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load latent code", "", "NumPy arrays (*.npy)")
        if path:
            try:
                self.load_code(path)
            except USER_ERRORS as exc:
                QMessageBox.critical(self, "Load code", user_message(exc))

    def save_code_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save latent code", "code.npy", "NumPy arrays (*.npy)")
        if path:
            if not path.endswith(".npy"):
                path += ".npy"
            try:
                self.save_code(path)
            except USER_ERRORS as exc:
                QMessageBox.critical(self, "Save code", user_message(exc))
