"""The Drag tool: point-and-drag editing on the canvas (DragGAN-style).

In drag mode (toolbar toggle, key D) what a click on the canvas does depends on
:attr:`DragTool.point_kind`: ``"handle"`` (default) sets a handle point and the next click
its target (handles red, targets blue, joined by an arrow); ``"anchor"`` pins a point that
must not move (green); ``"mask"`` paints the region allowed to change with a round brush
of :attr:`DragTool.brush_radius` px (click and drag; shown tinted). "Run drag" optimizes
the code on the editor's worker thread (never the UI thread), shows a frame every
:attr:`DragTool.preview_every` steps with the live distance to the targets, can be
stopped, and ends as ONE step of the session's history (so one undo step). The
optimization itself is :func:`sceneedit.editing.drag.run_drag`; the session stores its
code offset. The first time drag mode is on, the canvas shows a hint until the first
click. The drag panel (:class:`sceneedit.app.docks.drag.DragDock`) is a view of this tool.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QImage, QKeySequence, QPainter, QPen, QPolygonF

from .error_dialog import show_internal_error
from .qt_utils import icon

HANDLE_COLOR = QColor(230, 40, 40)
TARGET_COLOR = QColor(40, 110, 240)
ANCHOR_COLOR = QColor(40, 200, 90)
MASK_COLOR = (255, 200, 40, 90)  # RGBA tint of the region allowed to change
TASK_NAME = "Drag"
#: What a click in drag mode adds.
POINT_KINDS = {"handle": "Handle → target", "anchor": "Fixed point", "mask": "Mask brush"}
HINT_TEXT = "Click a point on the object, then where it should go"


class DragTool(QObject):
    """Owns the drag actions, the picked points and a running drag for one window.

    ``window``: the :class:`~sceneedit.app.window.MainWindow` (its canvas, worker and
    session are used). Points are image pixels ``(y, x)``; ``handles[i]`` goes with
    ``targets[i]`` (a handle without its target yet is :attr:`pending_handle`).

    Signals: ``points_changed()`` (handles, targets, anchors or the mask changed);
    ``options_changed()`` (steps, learning rate, layers, point kind, brush);
    ``progress(step, steps, distance)`` while running; ``running_changed(bool)``;
    ``drag_finished(object)`` with the
    ``DragResult`` (or None after an error; :attr:`last_error` says why).
    """

    points_changed = Signal()
    options_changed = Signal()
    progress = Signal(int, int, float)
    running_changed = Signal(bool)
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
        self.anchors: list[tuple[float, float]] = []
        #: The region allowed to change, float32 ``[H, W]`` (1 = may change), or None.
        self.mask = None
        self.brush_radius = 4.0
        self.point_kind = "handle"
        #: Changes to the generator's default settings made in the panel (steps, lr, layers).
        self.overrides: dict[str, Any] = {}
        #: Settings of the next run (a DragSettings; None = the generator's defaults with
        #: :attr:`overrides`). The mask, when painted, replaces its mask.
        self.settings = None
        #: Largest distance to the targets in the last progress report (pixels), or None.
        self.last_distance: float | None = None
        self.hint_visible = False
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
        self.canvas.point_dragged.connect(self._brush_move)
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
        self.mask = None  # painted for the old generator's image size
        self.clear_points()
        if session is None:
            self.mode_action.setChecked(False)
        self._update_enabled()

    def set_mode(self, on: bool) -> None:
        """Drag mode: canvas clicks pick points (instead of panning)."""
        on = bool(on) and self.session is not None
        if self.mode_action.isChecked() != on:
            self.mode_action.setChecked(on)
        store = getattr(self.window, "store", None)
        seen = store.drag_hint_seen() if store is not None else False
        self.hint_visible = on and not seen and not (self.handles or self.anchors or self.pending_handle)
        self.canvas.set_picking_points(on)
        self.canvas.update()
        self._update_enabled()

    def _update_enabled(self) -> None:
        has_session = self.session is not None
        self.mode_action.setEnabled(has_session)
        self.run_action.setEnabled(has_session and bool(self.handles) and not self.running)
        self.stop_action.setEnabled(self.running)
        self.clear_action.setEnabled(bool(self.handles or self.pending_handle or self.anchors) and not self.running)

    # ----- points ------------------------------------------------------------------------
    def add_point(self, y: float, x: float) -> None:
        """A click in drag mode: by :attr:`point_kind`, a new handle or the target of the
        pending handle, an anchor, or a dab of the mask brush."""
        if self.running or not self.mode_action.isChecked():
            return
        if self.hint_visible:
            self.hint_visible = False
            store = getattr(self.window, "store", None)
            if store is not None:
                store.set_drag_hint_seen()
        if self.point_kind == "mask":
            self.paint_mask(y, x)
            return
        if self.point_kind == "anchor":
            self.anchors.append((float(y), float(x)))
        elif self.pending_handle is None:
            self.pending_handle = (float(y), float(x))
        else:
            self.handles.append(self.pending_handle)
            self.targets.append((float(y), float(x)))
            self.pending_handle = None
        self._points_changed()

    def _brush_move(self, y: float, x: float) -> None:
        if self.point_kind == "mask" and self.mode_action.isChecked() and not self.running:
            self.paint_mask(y, x)

    def paint_mask(self, y: float, x: float, erase: bool = False) -> None:
        """Mark the disk of :attr:`brush_radius` px around ``(y, x)`` as allowed to change
        (or not, with ``erase``)."""
        import numpy as np

        if self.session is None:
            return
        size = int(self.session.generator.resolution)
        if self.mask is None or self.mask.shape != (size, size):
            self.mask = np.zeros((size, size), np.float32)
        ys, xs = np.mgrid[0:size, 0:size]
        disk = (ys - y) ** 2 + (xs - x) ** 2 <= float(self.brush_radius) ** 2
        self.mask[disk] = 0.0 if erase else 1.0
        if not self.mask.any():
            self.mask = None
        self._points_changed()

    def clear_mask(self) -> None:
        if self.running or self.mask is None:
            return
        self.mask = None
        self._points_changed()

    def remove_pair(self, index: int) -> None:
        """Remove handle/target pair ``index``."""
        if self.running or not 0 <= index < len(self.handles):
            return
        del self.handles[index], self.targets[index]
        self._points_changed()

    def remove_anchor(self, index: int) -> None:
        if self.running or not 0 <= index < len(self.anchors):
            return
        del self.anchors[index]
        self._points_changed()

    def set_point_kind(self, kind: str) -> None:
        if kind not in POINT_KINDS:
            raise ValueError(f"unknown point kind {kind!r}; allowed: {', '.join(POINT_KINDS)}")
        if kind != self.point_kind:
            self.point_kind = kind
            self.pending_handle = None if kind != "handle" else self.pending_handle
            self.canvas.update()
            self.options_changed.emit()

    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = max(0.5, float(radius))
        self.options_changed.emit()

    def set_option(self, name: str, value) -> None:
        """Override one setting of the generator's defaults (``steps``, ``lr``, ``layers``);
        None goes back to the default."""
        if name not in ("steps", "lr", "layers"):
            raise ValueError(f"unknown drag option {name!r}")
        if value is None:
            self.overrides.pop(name, None)
        else:
            self.overrides[name] = value
        self.options_changed.emit()

    def effective_settings(self):
        """The DragSettings the next run uses (None when no session)."""
        if self.session is None:
            return None
        return self._settings_for(self.session.generator)

    def clear_points(self) -> None:
        if self.running:
            return
        self.handles, self.targets, self.pending_handle, self.tracked = [], [], None, None
        self.anchors = []
        self.last_distance = None
        self._points_changed()

    def _points_changed(self) -> None:
        self._update_enabled()
        self.canvas.update()
        self.points_changed.emit()

    # ----- running -----------------------------------------------------------------------
    def _settings_for(self, generator):
        from dataclasses import replace

        from sceneedit.editing.drag import default_settings

        settings = (
            self.settings if self.settings is not None else replace(default_settings(generator), **self.overrides)
        )
        if self.mask is not None and self.mask.shape == (generator.resolution, generator.resolution):
            settings = replace(settings, mask=self.mask)
        return settings

    def run(self) -> bool:
        """Start the drag on the worker thread; False when there is nothing to run."""
        session = self.session
        if session is None or self.running or not self.handles:
            return False
        from sceneedit.editing.drag import run_drag
        from sceneedit.editing.resolve import RenderSpec, masked_drag_inputs
        from sceneedit.editing.state import edited_wp

        generator = session.generator
        settings = self._settings_for(generator)
        handles, targets, anchors = list(self.handles), list(self.targets), list(self.anchors)
        # The start code (and a masked drag's kept code) is resolved on the render thread (mapping a seed is torch).
        spec, resolve = RenderSpec(session.snapshot(), session.bundle), self.window.worker.resolve
        psi = session.truncation_psi
        cancel = threading.Event()
        every = max(1, int(self.preview_every))
        emit_progress = self._progress.emit

        def task(progress):
            def on_step(update) -> None:
                emit_progress(update)
                progress(update.step, update.steps, f"{update.distance:.1f} px to go")

            state = resolve(generator, spec)
            blend = masked_drag_inputs(settings, state)  # a masked drag: the kept code and the masks' union
            return run_drag(
                generator,
                edited_wp(state),
                handles,
                targets,
                settings,
                callback=on_step,
                cancel=cancel.is_set,
                callback_every=every,
                anchors=anchors,
                truncation_psi=psi,
                **blend,
            )

        self._cancel = cancel
        self._run = {
            "session": session,
            "handles": handles,
            "targets": targets,
            "settings": settings,
            "anchors": anchors,
        }
        self.tracked = list(handles)
        self.last_error = None
        self._update_enabled()
        self.running_changed.emit(True)
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
        self.last_distance = float(update.distance)
        self.progress.emit(int(update.step), int(update.steps), float(update.distance))
        self.frames_streamed += 1
        self.canvas.set_image(update.image)
        self.window.statusBar().showMessage(
            f"Drag step {update.step}/{update.steps}: {update.distance:.1f} px to go", 2000
        )

    def _on_task_finished(self, result) -> None:
        if result.name != TASK_NAME or self._run is None:
            return
        run, self._run, self._cancel = self._run, None, None
        drag = result.value
        if result.error:
            self.last_error = result.error
            self.window.statusBar().showMessage(f"Drag failed: {result.error}", 10000)
            if getattr(result.error, "internal", False):  # a bug: show its traceback
                show_internal_error(self.window, "Drag failed", result.error)
            drag = None
        elif run["session"] is not None and run["session"] is self.session and drag.steps_run > 0:
            # The handles continue from where tracking found them (DragGAN does the same).
            self.handles = [(float(y), float(x)) for y, x in drag.handles_final]
            self.last_distance = float(drag.distance) if drag.distance == drag.distance else self.last_distance
            self.session.apply_drag(drag, run["handles"], run["targets"], run["settings"], run["anchors"])
            state = "reached its targets" if drag.converged else ("stopped" if drag.cancelled else "ran out of steps")
            self.window.statusBar().showMessage(f"Drag {state} after {drag.steps_run} steps", 5000)
        else:
            self.window.request_render()  # nothing changed: put the session's frame back
        if run["session"] is not self.session:  # the window moved to another session meanwhile
            self.handles, self.targets, self.pending_handle, self.anchors = [], [], None, []
        self.tracked = None
        self.running_changed.emit(False)
        self._points_changed()
        self.drag_finished.emit(drag)

    # ----- painting ----------------------------------------------------------------------
    def _paint_overlay(self, painter: QPainter) -> None:
        if not self.mode_action.isChecked() and not self.running:
            return
        if self.mask is not None:
            painter.drawImage(self.canvas.image_rect(), self._mask_image())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for anchor in self.anchors:
            self._dot(painter, self.canvas.image_to_widget(*anchor), ANCHOR_COLOR)
        handles = self.tracked if self.tracked is not None else self.handles
        for handle, target in zip(handles, self.targets, strict=False):
            start = self.canvas.image_to_widget(*handle)
            end = self.canvas.image_to_widget(*target)
            self._arrow(painter, start, end)
            self._dot(painter, start, HANDLE_COLOR)
            self._dot(painter, end, TARGET_COLOR)
        if self.pending_handle is not None:
            self._dot(painter, self.canvas.image_to_widget(*self.pending_handle), HANDLE_COLOR)
        if self.hint_visible:
            self._hint(painter)

    def _mask_image(self) -> QImage:
        import numpy as np

        rgba = np.zeros((*self.mask.shape, 4), np.uint8)
        rgba[self.mask > 0.5] = MASK_COLOR
        image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4, QImage.Format.Format_RGBA8888)
        return image.copy()  # own the pixels (rgba goes away)

    def _hint(self, painter: QPainter) -> None:
        rect = self.canvas.rect().adjusted(16, 16, -16, -16)
        metrics = painter.fontMetrics()
        box = metrics.boundingRect(
            rect,
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap),
            HINT_TEXT,
        ).adjusted(-10, -6, 10, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(QColor(0, 0, 0, 170)))
        painter.drawRoundedRect(box, 6, 6)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), HINT_TEXT)

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
