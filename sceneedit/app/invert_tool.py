"""Open image: invert a picture into the generator's codes and make it the base scene.

File ▸ Open image… (or a picture dropped on the window) runs the inversion
(:class:`sceneedit.inversion.Inverter`) on the editor's worker thread, streams its frames to
the canvas and can be cancelled (the previous scene stays). The result becomes the session's
base code as one history step ("Base code: photo.jpg"); while that code is the base, the
Compare button shows the original picture. For StyleGAN generators the inversion also fits
the finest layers' noise maps to the picture (the default noise phase); with *Fine-tune
generator* checked, pivotal tuning follows. Either way the session moves to a copy of the
generator that draws with the fitted maps / tuned weights (the generator delta, saved beside
recipes); *Drop fitted noise / fine-tune* replays the history on the generator as loaded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from .qt_utils import icon

TASK_NAME = "Invert image"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.ppm *.pgm);;All files (*)"
#: Pivotal-tuning steps when *Fine-tune generator* is checked.
FINETUNE_STEPS = 300


class InvertTool(QObject):
    """Owns the Open image / Cancel / Fine-tune actions and a running inversion for one window.

    ``settings``: the :class:`~sceneedit.inversion.InversionSettings` of the next run (None =
    defaults); ``encoder``: "auto" (the shipped encoder when it fits), None, or an Encoder.
    Signals: ``inversion_finished(object)`` with the InversionResult, or None when cancelled
    or failed (:attr:`last_error` says why).
    """

    inversion_finished = Signal(object)
    _progress = Signal(object)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.settings = None
        self.encoder: Any = "auto"
        self.frames_streamed = 0
        self.last_error: str | None = None
        #: Original pictures by the bytes of the code they were inverted into (for Compare).
        self._photos: dict[bytes, np.ndarray] = {}
        self._inverters: dict[int, Any] = {}
        self._cancel: threading.Event | None = None
        self._run: dict[str, Any] | None = None

        self.open_action = QAction(icon("fa5s.image"), "Open &image…", window)
        self.open_action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        self.open_action.setStatusTip("Invert a picture into the generator's codes and edit it")
        self.open_action.triggered.connect(lambda _checked=False: self.open_image_dialog())
        self.cancel_action = QAction(icon("fa5s.stop"), "&Cancel inversion", window)
        self.cancel_action.setShortcut(QKeySequence("Escape"))
        self.cancel_action.setStatusTip("Stop the running inversion and keep the previous scene")
        self.cancel_action.triggered.connect(lambda _checked=False: self.cancel())
        self.finetune_action = QAction("&Fine-tune generator on opened images", window)
        self.finetune_action.setCheckable(True)
        self.finetune_action.setStatusTip(
            "Pivotal tuning after the inversion: a closer fit, kept as an undoable weight delta"
        )
        self.drop_finetune_action = QAction("&Drop fitted noise / fine-tune", window)
        self.drop_finetune_action.setStatusTip(
            "Go back to the generator as loaded: its own noise maps and weights (the history is replayed)"
        )
        self.drop_finetune_action.triggered.connect(lambda _checked=False: self.drop_finetune())
        for action in (self.open_action, self.cancel_action):
            window.addAction(action)
        menu = window.file_menu
        menu.insertActions(
            window.open_recipe_action, [self.open_action, self.finetune_action, self.drop_finetune_action]
        )
        self.toolbar = window.addToolBar("Invert")
        self.toolbar.setObjectName("invertToolbar")
        self.toolbar.addActions([self.open_action, self.cancel_action])
        self._progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        window.worker.task_finished.connect(self._on_task_finished)
        self.update_enabled()

    # ----- state -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run is not None

    def update_enabled(self) -> None:
        session = self.window.session
        self.open_action.setEnabled(session is not None and not self.running)
        self.cancel_action.setEnabled(self.running)
        tuned = session is not None and getattr(session.generator, "_sceneedit_delta", None) is not None
        self.drop_finetune_action.setEnabled(tuned and not self.running)

    def photo_for(self, wp: np.ndarray | None) -> np.ndarray | None:
        """The original picture whose inversion is the code ``wp`` (None if it is not one)."""
        if wp is None:
            return None
        return self._photos.get(np.ascontiguousarray(wp, dtype=np.float32).tobytes())

    # ----- running -----------------------------------------------------------------------
    def open_image_dialog(self) -> None:
        if self.window.session is None:
            self.window._error("Open image", "Open a generator first: a picture is inverted into its codes.")
            return
        path = self.window._ask_path("Open image", IMAGE_FILTER)
        if path:
            self.invert_path(path)

    def _inverter_for(self, generator):
        from sceneedit.inversion import InversionSettings, Inverter

        settings = self.settings or InversionSettings()
        if self.finetune_action.isChecked() and settings.finetune_steps == 0:
            settings = InversionSettings(**{**settings.__dict__, "finetune_steps": FINETUNE_STEPS})
        key = id(generator)
        inverter = self._inverters.get(key)
        if inverter is None or inverter.generator is not generator:
            inverter = Inverter(generator, settings, encoder=self.encoder)
            self._inverters = {key: inverter}
        elif inverter.settings != settings:
            inverter = inverter.with_settings(**settings.__dict__)
        return inverter

    def invert_path(self, path: str | Path) -> bool:
        """Start inverting the picture at ``path`` on the worker thread; False if not started."""
        session = self.window.session
        if session is None or self.running:
            return False
        from sceneedit.inversion import InversionCancelled, load_image_for_inversion
        from sceneedit.inversion.finetune import base_generator_of

        generator = base_generator_of(session.generator)
        path = Path(path)
        cancel = threading.Event()
        emit_progress = self._progress.emit

        def task(progress):
            image = load_image_for_inversion(path, int(generator.resolution))
            inverter = self._inverter_for(generator)

            def on_frame(update) -> None:
                emit_progress(update)
                progress(update.step, update.total, f"{update.phase} {update.psnr_db:.1f} dB")

            try:
                inverted = inverter.invert(image, progress=on_frame, cancel=cancel.is_set)
            except InversionCancelled:
                return None  # the previous scene stays
            if inverted.delta is not None:  # the copy with fitted noise / tuned weights: torch stays off the UI thread
                from sceneedit.inversion import apply_delta

                built["tuned"] = apply_delta(generator, inverted.delta)
            return inverted

        built: dict = {}
        self._cancel = cancel
        self._run = {"session": session, "path": path, "built": built}
        self.last_error = None
        self.update_enabled()
        self.window.statusBar().showMessage(f"Inverting {path.name}…", 5000)
        self.window.worker.request_task(TASK_NAME, task)
        return True

    def cancel(self) -> None:
        """Stop a running inversion; the previous scene stays."""
        if self._cancel is not None:
            self._cancel.set()

    def _on_progress(self, update) -> None:
        if self._run is None or self._run["session"] is not self.window.session:
            return
        self.frames_streamed += 1
        self.window.canvas.set_image(update.image)
        self.window.statusBar().showMessage(
            f"Inverting {self._run['path'].name}: {update.phase} {update.step}/{update.total}, "
            f"{update.psnr_db:.1f} dB (Esc cancels)",
            3000,
        )

    def _on_task_finished(self, result) -> None:
        if result.name != TASK_NAME or self._run is None:
            return
        run, self._run, self._cancel = self._run, None, None
        window = self.window
        inverted = None
        if result.error or result.value is None:
            if result.error:
                self.last_error = result.error
                window._error("Open image", result.error)
            else:
                window.statusBar().showMessage("Inversion cancelled; the previous scene is kept", 5000)
            window.request_render()  # put the session's own frame back over the live frames
        elif run["session"] is window.session:
            inverted = result.value
            self._apply(inverted, run["path"], run["built"].get("tuned"))
        self.update_enabled()
        self.inversion_finished.emit(inverted)

    def _apply(self, inverted, path: Path, tuned=None) -> None:
        """Make ``inverted`` the base scene; ``tuned``: the generator with its delta (fitted noise
        maps and/or fine-tuned weights), built on the render thread."""
        window = self.window
        session = window.session
        if inverted.delta is not None and tuned is not None:
            from sceneedit.editing.session import EditSession

            session = EditSession(tuned, session.bundle, seed=0)
            window.set_session(session, window.generator_path, window.bundle_path)
        self._photos[np.ascontiguousarray(inverted.wp, dtype=np.float32).tobytes()] = inverted.target
        session.set_base_code(inverted.wp, source=path.name)
        tuned_text = (
            f" ({inverted.delta.describe()}; the code alone {inverted.code_psnr_db:.1f} dB)"
            if inverted.delta is not None
            else ""
        )
        text = f"Inverted {path.name}: PSNR {inverted.psnr_db:.1f} dB{tuned_text} in {inverted.seconds:.1f} s"
        if inverted.warning:
            text += f" — warning: {inverted.warning}"
        window.statusBar().showMessage(text, 15000)

    def drop_finetune(self) -> None:
        """Replay the session's history on the generator as loaded (drops fitted noise and fine-tune)."""
        session = self.window.session
        if session is None or getattr(session.generator, "_sceneedit_delta", None) is None:
            return
        from sceneedit.editing.session import EditSession
        from sceneedit.inversion.finetune import base_generator_of

        base = base_generator_of(session.generator)
        replayed = EditSession.from_recipe(session.to_recipe(), base, session.bundle, source="history")
        self.window.set_session(replayed, self.window.generator_path, self.window.bundle_path)
        self.update_enabled()
