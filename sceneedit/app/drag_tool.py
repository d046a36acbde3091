"""The Drag tool: point-and-drag editing on the canvas (DragGAN-style).

In drag mode (toolbar toggle, key D) a click on the canvas sets a handle point and the
next click its target; handles are drawn red, targets blue, joined by an arrow. "Run
drag" optimizes the code on the editor's worker thread (never the UI thread), shows a
frame every :attr:`DragTool.preview_every` steps, can be stopped, and ends as ONE step of
the session's history (so one undo step). The optimization itself is
:func:`sceneedit.editing.drag.run_drag`; the session stores its code offset.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence, QPainter, QPen, QPolygonF

from .qt_utils import icon

HANDLE_COLOR = QColor(230, 40, 40)
TARGET_COLOR = QColor(40, 110, 240)
TASK_NAME = "Drag"


class DragTool(QObject):
    """Owns the drag actions, the picked points and a running drag for one window.

    ``window``: the :class:`~sceneedit.app.window.MainWindow` (its canvas, worker and
    session are used). Points are image pixels ``(y, x)``; ``handles[i]`` goes with
    ``targets[i]`` (a handle without its target yet is :attr:`pending_handle`).

    Signals: ``points_changed()``; ``drag_finished(object)`` with the ``DragResult`` (or
    None after an error; :attr:`last_error` says why).
    """

    points_changed = Signal()
    drag_finished = Signal(object)
    #: Internal: emitted from the worker thread with a DragProgress, delivered queued.
    _progress = Signal(object)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = window.canvas
        self.session = None
        self.handles: list[tuple[float, float]] = []
        self.targets: list[tuple[float, float]] = []
        self.pending_handle: tuple[float, float] | None = None
        self.tracked: list[tuple[float, float]] | None = None  # live handle positions while running
        #: Settings of the next run (a DragSettings; None = defaults scaled to the generator).
        self.settings = None
        #: Show a frame every this many optimizer steps.
        self.preview_every = 5
        self.frames_streamed = 0
        self.last_error: str | None = None
        self._cancel: threading.Event | None = None
        self._run: dict[str, Any] | None = None

        self.mode_action = QAction(icon("fa5s.hand-pointer"), "&Drag tool", window)
        self.mode_action.setCheckable(True)
        self.mode_action.setShortcut(QKeySequence("D"))
        self.mode_action.setToolTip("Drag points: click a handle, then its target (D)")
        self.mode_action.setStatusTip("Click a handle point, then where it should go")
        self.mode_action.toggled.connect(self.set_mode)
        self.run_action = QAction(icon("fa5s.play"), "&Run drag", window)
        self.run_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.run_action.setToolTip("Move every handle to its target (Ctrl+Return)")
        self.run_action.triggered.connect(lambda _checked=False: self.run())
        self.stop_action = QAction(icon("fa5s.stop"), "&Stop drag", window)
        self.stop_action.setToolTip("Stop the running drag and keep what it reached")
        self.stop_action.triggered.connect(lambda _checked=False: self.cancel())
        self.clear_action = QAction(icon("fa5s.times-circle"), "&Clear points", window)
        self.clear_action.setToolTip("Remove every handle and target point")
        self.clear_action.triggered.connect(lambda _checked=False: self.clear_points())
        self.actions = [self.mode_action, self.run_action, self.stop_action, self.clear_action]
        for action in self.actions:
            window.addAction(action)  # shortcuts work wherever focus is in the window
        self.toolbar = window.addToolBar("Drag")
        self.toolbar.setObjectName("dragToolbar")
        self.toolbar.addActions(self.actions)

        self.canvas.point_clicked.connect(self.add_point)
        self.canvas.overlay = self._paint_overlay
        self._progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        window.worker.task_finished.connect(self._on_task_finished)
        self._update_enabled()

    # ----- state -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run is not None

    def set_session(self, session) -> None:
        """Follow a new session: a running drag is stopped (its result dropped), points cleared."""
        if self._run is not None:
            self._run["session"] = None  # the result belongs to the old session
            self.cancel()
        self.session = session
        self.clear_points()
        if session is None:
            self.mode_action.setChecked(False)
        self._update_enabled()

    def set_mode(self, on: bool) -> None:
        """Drag mode: canvas clicks pick points (instead of panning)."""
        on = bool(on) and self.session is not None
        if self.mode_action.isChecked() != on:
            self.mode_action.setChecked(on)
        self.canvas.set_picking_points(on)
        self.canvas.update()
        self._update_enabled()

    def _update_enabled(self) -> None:
        has_session = self.session is not None
        self.mode_action.setEnabled(has_session)
        self.run_action.setEnabled(has_session and bool(self.handles) and not self.running)
        self.stop_action.setEnabled(self.running)
        self.clear_action.setEnabled(bool(self.handles or self.pending_handle) and not self.running)

    # ----- points ------------------------------------------------------------------------
    def add_point(self, y: float, x: float) -> None:
        """A click in drag mode: a new handle, or the target of the pending handle."""
        if self.running or not self.mode_action.isChecked():
            return
        if self.pending_handle is None:
            self.pending_handle = (float(y), float(x))
        else:
            self.handles.append(self.pending_handle)
            self.targets.append((float(y), float(x)))
            self.pending_handle = None
        self._points_changed()

    def clear_points(self) -> None:
        if self.running:
            return
        self.handles, self.targets, self.pending_handle, self.tracked = [], [], None, None
        self._points_changed()

    def _points_changed(self) -> None:
        self._update_enabled()
        self.canvas.update()
        self.points_changed.emit()

    # ----- running -----------------------------------------------------------------------
    def _settings_for(self, generator):
        from sceneedit.editing.drag import DragSettings

        if self.settings is not None:
            return self.settings
        # DragGAN's radii (3 and 12 px at 256-512 px) scaled to this resolution.
        resolution = int(generator.resolution)
        return DragSettings(steps=200, lr=2e-3, motion_radius=max(2.0, resolution / 32),
                            track_radius=max(3.0, resolution / 16))

    def run(self) -> bool:
        """Start the drag on the worker thread; False when there is nothing to run."""
        session = self.session
        if session is None or self.running or not self.handles:
            return False
        from sceneedit.editing.drag import run_drag

        generator = session.generator
        settings = self._settings_for(generator)
        handles, targets = list(self.handles), list(self.targets)
        start_wp = session.current_wp()
        cancel = threading.Event()
        every = max(1, int(self.preview_every))
        emit_progress = self._progress.emit

        def task(progress):
            def on_step(update) -> None:
                emit_progress(update)
                progress(update.step, update.steps, f"{update.distance:.1f} px to go")

            return run_drag(generator, start_wp, handles, targets, settings,
                            callback=on_step, cancel=cancel.is_set, callback_every=every)

        self._cancel = cancel
        self._run = {"session": session, "handles": handles, "targets": targets, "settings": settings}
        self.tracked = list(handles)
        self.last_error = None
        self._update_enabled()
        self.window.worker.request_task(TASK_NAME, task)
        return True

    def cancel(self) -> None:
        """Stop a running drag after its current step (what it reached is kept)."""
        if self._cancel is not None:
            self._cancel.set()

    def _on_progress(self, update) -> None:
        if self._run is None or self._run["session"] is not self.session:
            return  # a late frame of a finished or abandoned drag
        self.tracked = list(update.handles)
        self.frames_streamed += 1
        self.canvas.set_image(update.image)
        self.window.statusBar().showMessage(
            f"Drag step {update.step}/{update.steps}: {update.distance:.1f} px to go", 2000)

    def _on_task_finished(self, result) -> None:
        if result.name != TASK_NAME or self._run is None:
            return
        run, self._run, self._cancel = self._run, None, None
        drag = result.value
        if result.error:
            self.last_error = result.error
            self.window.statusBar().showMessage(f"Drag failed: {result.error}", 10000)
            drag = None
        elif run["session"] is not None and run["session"] is self.session and drag.steps_run > 0:
            # The handles continue from where tracking found them (DragGAN does the same).
            self.handles = [(float(y), float(x)) for y, x in drag.handles_final]
            self.session.apply_drag(drag, run["handles"], run["targets"], run["settings"])
            state = "reached its targets" if drag.converged else ("stopped" if drag.cancelled else "ran out of steps")
            self.window.statusBar().showMessage(f"Drag {state} after {drag.steps_run} steps", 5000)
        else:
            self.window.request_render()  # nothing changed: put the session's frame back
        if run["session"] is not self.session:  # the window moved to another session meanwhile
            self.handles, self.targets, self.pending_handle = [], [], None
        self.tracked = None
        self._points_changed()
        self.drag_finished.emit(drag)

    # ----- painting ----------------------------------------------------------------------
    def _paint_overlay(self, painter: QPainter) -> None:
        if not self.mode_action.isChecked() and not self.running:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        handles = self.tracked if self.tracked is not None else self.handles
        for handle, target in zip(handles, self.targets):
            start = self.canvas.image_to_widget(*handle)
            end = self.canvas.image_to_widget(*target)
            self._arrow(painter, start, end)
            self._dot(painter, start, HANDLE_COLOR)
            self._dot(painter, end, TARGET_COLOR)
        if self.pending_handle is not None:
            self._dot(painter, self.canvas.image_to_widget(*self.pending_handle), HANDLE_COLOR)

    @staticmethod
    def _dot(painter: QPainter, centre: QPointF, color: QColor) -> None:
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.setBrush(QBrush(color))
        painter.drawEllipse(centre, 5.0, 5.0)

    @staticmethod
    def _arrow(painter: QPainter, start: QPointF, end: QPointF) -> None:
        dx, dy = end.x() - start.x(), end.y() - start.y()
        length = math.hypot(dx, dy)
        if length < 1.0:
            return
        painter.setPen(QPen(QColor(255, 255, 255), 2.0))
        painter.setBrush(QBrush(QColor(255, 255, 255)))
        painter.drawLine(start, end)
        ux, uy = dx / length, dy / length
        size = min(10.0, length / 2)
        back = QPointF(end.x() - ux * (size + 5), end.y() - uy * (size + 5))  # tip stops at the dot's edge
        tip = QPointF(end.x() - ux * 5, end.y() - uy * 5)
        left = QPointF(back.x() - uy * size / 2, back.y() + ux * size / 2)
        right = QPointF(back.x() + uy * size / 2, back.y() - ux * size / 2)
        painter.drawPolygon(QPolygonF([tip, left, right]))
