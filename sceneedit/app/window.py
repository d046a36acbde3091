"""The editor's main window: canvas in the centre, docks around it, menus, toolbar, status.

The window is a view of one :class:`~sceneedit.editing.session.EditSession` (the model).
Every session event asks for a render; requests made in one pass of the event loop are
sent as one job, and the worker keeps only the newest job, so a slider drag renders far
fewer frames than it has events while the last frame always shows the final state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QToolButton,
    QWidget,
)

from sceneedit.editing.events import SessionEvent
from sceneedit.errors import USER_ERRORS, SceneeditError, user_message

from .canvas import SceneCanvas
from .dialogs import model_card_path, show_about, show_model_card
from .docks.concepts import ConceptsDock
from .docks.drag import DragDock
from .docks.history import HistoryDock
from .docks.jitter import JitterDock
from .docks.latent import LatentDock
from .drag_tool import DragTool
from .error_dialog import show_error
from .file_kinds import classify_path
from .input_rules import InputRules
from .invert_tool import InvertTool
from .layout_guard import LayoutGuard, set_min_width
from .qt_utils import SessionLink, icon
from .settings import RECENT_KINDS, STATE_VERSION, WindowSettings
from .undo import UndoMirror
from .worker import BundleResult, FrameResult, LoadRequest, LoadResult, RenderJob, WorkerThread

DEFAULT_SIZE = (1400, 900)
#: The worker task name of opening a recipe with a generator delta (fitted noise / fine-tune).
OPEN_RECIPE_TASK = "Open recipe"
GENERATOR_FILTER = "Generators (*.safetensors *.pth *.pkl *.pt);;All files (*)"
BUNDLE_FILTER = "Boundary bundles (*.safetensors);;HiGAN boundary lists (*.txt);;Boundary arrays (*.npy);;All files (*)"
RECIPE_FILTER = "Recipes (*.json);;All files (*)"


class MainWindow(QMainWindow):
    """The editor window.

    ``settings``: where geometry, dock layout and recent files live (the user's QSettings
    by default; tests pass a temporary INI file). ``device``: torch device for generators
    opened from files (None = automatic).
    """

    #: Emitted on the UI thread after a frame is put on the canvas (its stamp).
    frame_shown = Signal(int)
    #: Emitted when the newest requested frames are all on the canvas (nothing pending).
    render_settled = Signal()
    #: Emitted after a load (generator or bundle) finished, successfully or not.
    load_finished = Signal(bool)
    #: A recipe's session is shown (its path).
    recipe_opened = Signal(str)

    def __init__(
        self, settings: QSettings | None = None, device: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("sceneedit")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.store = WindowSettings(settings)
        self.device = device
        self.session = None
        self.generator_path: str | None = None
        self.bundle_path: str | None = None
        self._session_link = SessionLink(self._on_session_event)
        self._closed = False

        # Render bookkeeping (UI thread only).
        self._stamp = 0
        self._last_shown = {"edit": 0, "base": 0}
        self._last_submitted = {"edit": 0, "base": 0}
        self._submitted_total = 0
        self._results_total = 0
        self._base_key: tuple | None = None
        self._preview_jitter_seed: int | None = None
        self.frames_shown = 0
        self.last_frame_ms: float | None = None
        self.last_error: str | None = None

        self.worker_thread = WorkerThread()
        self.worker = self.worker_thread.worker
        self._pending_recipe: str | None = None
        self.worker.task_finished.connect(self._on_recipe_task)
        self.worker.frame_ready.connect(self._on_frame)
        self.worker.loaded.connect(self._on_loaded)
        self.worker.bundle_loaded.connect(self._on_bundle_loaded)
        self.worker.busy.connect(self._on_busy)

        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._submit_render)

        self.canvas = SceneCanvas()
        self.setCentralWidget(self.canvas)
        self.concepts_dock = ConceptsDock(self)
        self.jitter_dock = JitterDock(self)
        self.latent_dock = LatentDock(self)
        self.latent_dock.use_worker(self.worker)
        self.history_dock = HistoryDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.concepts_dock)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.latent_dock)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.jitter_dock)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        self.resizeDocks([self.concepts_dock], [380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.latent_dock], [280], Qt.Orientation.Horizontal)
        self.resizeDocks(
            [self.latent_dock, self.jitter_dock, self.history_dock], [150, 230, 400], Qt.Orientation.Vertical
        )
        self.jitter_dock.preview_seed.connect(self._on_jitter_preview)
        self.jitter_dock.preview_stopped.connect(self._on_jitter_preview_stopped)

        self.undo = UndoMirror(self)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.drag_tool = DragTool(self)  # point-and-drag editing (its own toolbar and actions)
        self.drag_dock = DragDock(self.drag_tool, self)  # its panel, tabbed with the concepts
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.drag_dock)
        self.tabifyDockWidget(self.concepts_dock, self.drag_dock)
        self.concepts_dock.raise_()
        self.drag_tool.mode_action.toggled.connect(lambda on: on and (self.drag_dock.show(), self.drag_dock.raise_()))
        self._view_menu.insertAction(self._view_menu.actions()[4], self.drag_dock.toggleViewAction())
        self.invert_tool = InvertTool(self)  # File ▸ Open image…: GAN inversion of a picture
        self.input_rules = InputRules(self, self.canvas, self.set_comparing)  # wheel, shortcut keys, focus
        self._restore_layout()
        self._update_enabled()
        self.canvas.set_message("No generator loaded.\nFile ▸ Open generator… (Ctrl+O)")

    # ===== actions, menus, toolbar, status ============================================
    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work wherever focus is in the window
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_generator_action = a(
            "&Open generator…",
            self.open_generator_dialog,
            QKeySequence.StandardKey.Open,
            "fa5s.folder-open",
            "Open a generator checkpoint",
        )
        self.open_model_action = a(
            "Open &model…",
            self.open_model_dialog,
            "Ctrl+Shift+M",
            "fa5s.cloud-download-alt",
            "Open one of the official scene models (downloaded if needed)",
        )
        self.import_bundle_action = a(
            "&Import boundary bundle…",
            self.import_bundle_dialog,
            "Ctrl+I",
            "fa5s.layer-group",
            "Import a boundary bundle or HiGAN boundary folder",
        )
        self.import_folder_action = a(
            "Import HiGAN boundary &folder…",
            self.import_folder_dialog,
            None,
            "fa5s.folder",
            "Import a folder of HiGAN *_boundary.npy files",
        )
        self.open_recipe_action = a(
            "Open &recipe…", self.open_recipe_dialog, "Ctrl+Shift+O", "fa5s.file-import", "Open an edit recipe (.json)"
        )
        self.save_recipe_action = a(
            "&Save recipe…",
            self.save_recipe_dialog,
            QKeySequence.StandardKey.Save,
            "fa5s.save",
            "Save the current edit as a recipe (.json)",
        )
        self.export_action = a(
            "&Export…", self.export_dialog, "Ctrl+E", "fa5s.film", "Export edit sequences as images, GIF or video"
        )
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit, "fa5s.sign-out-alt")

        self.undo_action = self.undo.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.setIcon(icon("fa5s.undo"))
        self.redo_action = self.undo.stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icon("fa5s.redo"))
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        self.reset_all_action = a(
            "Reset &all edits", self.reset_all, "Ctrl+Shift+R", "fa5s.eraser", "Set every concept back to zero"
        )
        self.random_seed_action = a(
            "&Random seed", self.latent_dock.random_seed, "R", "fa5s.dice", "A new random scene"
        )
        self.prev_seed_action = a(
            "&Previous seed",
            lambda: self.latent_dock.step_seed(-1),
            "Left",
            "fa5s.chevron-left",
            "The previous seed's scene",
        )
        self.next_seed_action = a(
            "&Next seed",
            lambda: self.latent_dock.step_seed(+1),
            "Right",
            "fa5s.chevron-right",
            "The next seed's scene",
        )

        self.zoom_fit_action = a(
            "Zoom to &fit",
            lambda: self.canvas.set_zoom("fit"),
            "Ctrl+0",
            "fa5s.expand",
            "Scale the scene to the window",
        )
        self.zoom_actual_action = a(
            "&Actual size",
            lambda: self.canvas.set_zoom(1.0),
            "Ctrl+1",
            "fa5s.compress",
            "One image pixel per screen pixel",
        )
        self.zoom_in_action = a("Zoom &in", self.canvas.zoom_in, QKeySequence.StandardKey.ZoomIn, "fa5s.search-plus")
        self.zoom_out_action = a(
            "Zoom &out", self.canvas.zoom_out, QKeySequence.StandardKey.ZoomOut, "fa5s.search-minus"
        )

        self.about_action = a("&About sceneedit", lambda: show_about(self), None, "fa5s.info-circle")
        self.model_card_action = a(
            "Generator &model card", self.show_model_card, None, "fa5s.id-card", "The loaded generator's model card"
        )

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = self.file_menu = bar.addMenu("&File")
        file_menu.addActions(
            [self.open_generator_action, self.open_model_action, self.import_bundle_action, self.import_folder_action]
        )
        file_menu.addSeparator()
        file_menu.addActions([self.open_recipe_action, self.save_recipe_action])
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        self.recent_menu = file_menu.addMenu(icon("fa5s.history"), "Recent &files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addAction(self.reset_all_action)
        edit_menu.addSeparator()
        edit_menu.addActions([self.random_seed_action, self.prev_seed_action, self.next_seed_action])

        view_menu = bar.addMenu("&View")
        self._view_menu = view_menu
        for dock in (self.concepts_dock, self.latent_dock, self.jitter_dock, self.history_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addActions([self.zoom_fit_action, self.zoom_actual_action, self.zoom_in_action, self.zoom_out_action])

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.model_card_action, self.about_action])

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(True)
        bar.addActions(
            [
                self.open_generator_action,
                self.import_bundle_action,
                self.open_recipe_action,
                self.save_recipe_action,
                self.export_action,
            ]
        )
        bar.addSeparator()
        bar.addActions([self.undo_action, self.redo_action, self.reset_all_action])
        bar.addSeparator()
        bar.addActions([self.prev_seed_action, self.random_seed_action, self.next_seed_action])
        bar.addSeparator()
        bar.addActions([self.zoom_fit_action, self.zoom_actual_action, self.zoom_in_action, self.zoom_out_action])
        bar.addSeparator()
        self.compare_button = QToolButton()
        self.compare_button.setIcon(icon("fa5s.adjust"))
        self.compare_button.setText("Compare")
        self.compare_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.compare_button.setToolTip("Hold to see the unedited scene (or hold C)")
        self.compare_button.pressed.connect(lambda: self.set_comparing(True))
        self.compare_button.released.connect(lambda: self.set_comparing(False))
        bar.addWidget(self.compare_button)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setVisible(False)
        self.busy_label = QLabel()
        self.device_label = QLabel("device: –")
        self.generator_label = QLabel("no generator")
        self.frame_label = QLabel("frame: –")
        self.pending_label = QLabel("pending: 0")
        self.zoom_label = QLabel(self.canvas.zoom_label())
        self.canvas.zoom_changed.connect(self.zoom_label.setText)
        status.addWidget(self.busy_bar)
        status.addWidget(self.busy_label)
        for label in (self.device_label, self.generator_label, self.frame_label, self.pending_label, self.zoom_label):
            status.addPermanentWidget(label)

    def _update_enabled(self) -> None:
        has_session = self.session is not None
        for action in (
            self.import_bundle_action,
            self.import_folder_action,
            self.open_recipe_action,
            self.save_recipe_action,
            self.export_action,
            self.reset_all_action,
            self.random_seed_action,
            self.prev_seed_action,
            self.next_seed_action,
        ):
            action.setEnabled(has_session)
        self.compare_button.setEnabled(has_session)
        self.model_card_action.setEnabled(model_card_path(self.generator_path) is not None)

    # ===== session =====================================================================
    def set_session(self, session, generator_path: str | None = None, bundle_path: str | None = None) -> None:
        """Show ``session`` (an EditSession); the docks, undo stack and canvas follow it."""
        self.jitter_dock.set_animating(False)
        self._session_link.drop()
        self.session = session
        self.generator_path = generator_path
        self.bundle_path = bundle_path
        self._base_key = None
        if session is not None:
            self._session_link.follow(session)
        for dock in (self.concepts_dock, self.jitter_dock, self.latent_dock, self.history_dock):
            dock.set_session(session)
        self.undo.set_session(session)
        self.drag_tool.set_session(session)
        if hasattr(self, "invert_tool"):
            self.invert_tool.update_enabled()
        self._update_status()
        self._update_enabled()
        self.canvas.set_image(None)
        self.canvas.set_base_image(None)
        if session is not None:
            self.canvas.set_message("")
            self.request_render()

    def _on_session_event(self, event: SessionEvent, payload: dict) -> None:
        if event in (SessionEvent.CHANGED, SessionEvent.BASE_CHANGED, SessionEvent.BUNDLE_CHANGED):
            self.request_render()
        if event is SessionEvent.BUNDLE_CHANGED:
            self._update_status()

    def _update_status(self) -> None:
        from sceneedit.device import describe_device

        session = self.session
        if session is None:
            self.device_label.setText("device: –")
            self.generator_label.setText("no generator")
            self.setWindowTitle("sceneedit")
            return
        generator = session.generator
        self.device_label.setText(f"device: {describe_device(generator.device)}")
        res = int(generator.resolution)
        concepts = 0 if session.bundle is None else len(session.bundle)
        self.generator_label.setText(
            f"{generator.name} · {res}×{res} · {generator.num_layers} layers · {concepts} concepts"
        )
        title = Path(self.generator_path).name if self.generator_path else generator.name
        self.setWindowTitle(f"{title} — sceneedit")

    # ===== rendering ===================================================================
    def request_render(self) -> None:
        """Ask for a frame of the current state (coalesced to one job per event-loop pass)."""
        if self.session is not None and not self._closed:
            self._render_timer.start()

    def _next_stamp(self) -> int:
        self._stamp += 1
        return self._stamp

    def _submit(self, kind: str, payload: Any) -> None:
        stamp = self._next_stamp()
        self._last_submitted[kind] = stamp
        self._submitted_total += 1
        self.worker.submit(RenderJob(stamp, kind, self.session.generator, payload))
        self._update_pending()

    def _submit_render(self) -> None:
        # Plain data only: the worker maps seeds and builds the state (no torch on this thread).
        from sceneedit.editing.resolve import RenderSpec

        if self.session is None or self._closed:
            return
        snapshot = self.session.snapshot()
        bundle = self.session.bundle
        self._submit("edit", RenderSpec(snapshot, bundle, jitter_seed=self._preview_jitter_seed))
        if snapshot.base_key != self._base_key:
            # The unedited scene, for hold-to-compare: the base code with no edits.
            self._base_key = snapshot.base_key
            self._submit("base", RenderSpec(snapshot, bundle, unedited=True))

    def _on_frame(self, result: FrameResult) -> None:
        self._results_total += 1
        self._update_pending()
        if self._closed or result.stamp <= self._last_shown[result.kind]:
            return  # an older frame arriving after a newer one
        self._last_shown[result.kind] = result.stamp
        try:
            self._show_frame(result)
        finally:
            if self.render_idle():
                self.render_settled.emit()

    def _show_frame(self, result: FrameResult) -> None:
        if result.error:
            self.last_error = result.error
            self.canvas.set_message(f"Render failed: {result.error}")
            self.statusBar().showMessage(f"Render failed: {result.error}", 10000)
            self.frame_shown.emit(result.stamp)
            return
        if result.kind == "base":
            # An inverted picture's code compares with the picture itself.
            photo = self.invert_tool.photo_for(result.wp)
            self.canvas.set_base_image(result.image if photo is None else photo)
            return
        self.last_error = None
        self.canvas.set_message("")
        self.canvas.set_image(result.image)
        self.frames_shown += 1
        self.last_frame_ms = float(result.elapsed_ms)
        self.frame_label.setText(f"frame: {result.elapsed_ms:.1f} ms")
        self.frame_shown.emit(result.stamp)

    def _update_pending(self) -> None:
        pending = max(0, self._submitted_total - self._results_total - self.worker.jobs_dropped)
        self.pending_label.setText(f"pending: {pending}")

    def render_idle(self) -> bool:
        """True when the newest requested frame is on the canvas (nothing left to render)."""
        return (
            not self._render_timer.isActive()
            and self._last_shown["edit"] == self._last_submitted["edit"]
            and self._last_shown["base"] == self._last_submitted["base"]
        )

    def set_comparing(self, on: bool) -> None:
        """Show the unedited scene while ``on`` (hold-to-compare)."""
        self.canvas.set_comparing(bool(on) and self.session is not None)

    # ----- jitter animation preview ----------------------------------------------------
    def _on_jitter_preview(self, seed: int) -> None:
        self._preview_jitter_seed = seed
        self.request_render()

    def _on_jitter_preview_stopped(self) -> None:
        self._preview_jitter_seed = None
        self.request_render()

    # ===== loading =====================================================================
    def open_generator(self, generator_path: str | Path, bundle_path: str | Path | None = None, seed: int = 0) -> None:
        """Load a generator (and bundle) on the worker thread; the window stays responsive."""
        request = LoadRequest(
            str(generator_path), None if bundle_path is None else str(bundle_path), self.device, int(seed)
        )
        self.canvas.set_message(f"Loading {Path(generator_path).name}…")
        self.open_generator_action.setEnabled(False)
        self.worker.request_load(request)

    def _on_loaded(self, result: LoadResult) -> None:
        self.open_generator_action.setEnabled(True)
        if self._closed:
            return
        if result.error:
            if self.session is None:
                self.canvas.set_message(f"Could not open the generator:\n{result.error}")
            self._error("Open generator", result.error)
            self.load_finished.emit(False)
            return
        request = result.request
        self.set_session(
            result.session, request.generator_path, request.bundle_path if result.bundle_error is None else None
        )
        self.store.add_recent("generator", request.generator_path)
        if result.bundle_error:
            self._error("Import boundary bundle", result.bundle_error)
        elif request.bundle_path:
            self.store.add_recent("bundle", request.bundle_path)
        self.load_finished.emit(True)

    def import_bundle(self, path: str | Path, allow_hash_mismatch: bool = False) -> None:
        """Read and validate a bundle (file, HiGAN folder or list) off the UI thread; on
        success it replaces the session's bundle, on error a dialog explains and nothing changes."""
        if self.session is None:
            self._error("Import boundary bundle", "Open a generator first: a bundle is checked against it.")
            return
        self.worker.request_bundle_import(str(path), self.session.generator, allow_hash_mismatch)

    def _on_bundle_loaded(self, result: BundleResult) -> None:
        if self._closed or self.session is None:
            return
        if result.error:
            if result.hash_mismatch and self._ask(
                "Import boundary bundle", f"{result.error}\n\nUse the bundle with this generator anyway?"
            ):
                self.import_bundle(result.path, allow_hash_mismatch=True)
                return
            self._error("Import boundary bundle", result.error)
            self.load_finished.emit(False)
            return
        try:
            self.session.set_bundle(result.bundle)
        except SceneeditError as exc:
            self._error("Import boundary bundle", f"{result.path}: {exc}")
            self.load_finished.emit(False)
            return
        self.bundle_path = result.path
        self.store.add_recent("bundle", result.path)
        if result.warnings:
            self.statusBar().showMessage("; ".join(result.warnings), 15000)
        self._update_status()
        self.load_finished.emit(True)

    def _on_busy(self, message: str) -> None:
        self.busy_bar.setVisible(bool(message))
        self.busy_label.setText(message)

    # ===== file dialogs ================================================================
    def _ask_path(self, title: str, filters: str, save: bool = False, default_name: str = "") -> str | None:
        folder = self.store.last_folder()
        start = str(Path(folder) / default_name) if folder and default_name else (folder or default_name)
        dialog = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = dialog(self, title, start, filters)
        if path:
            self.store.set_last_folder(path)
        return path or None

    def open_generator_dialog(self) -> None:
        path = self._ask_path("Open generator", GENERATOR_FILTER)
        if path:
            self.open_generator(path)

    def open_model_dialog(self) -> Any:
        """File ▸ Open model…: the registry's models; the chosen one opens with its boundaries."""
        from .models_dialog import OpenModelDialog

        dialog = OpenModelDialog(self)
        dialog.model_ready.connect(lambda path, bundle: self.open_generator(path, bundle))
        dialog.open_file_requested.connect(self.open_generator_dialog)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def import_bundle_dialog(self) -> None:
        path = self._ask_path("Import boundary bundle", BUNDLE_FILTER)
        if path:
            self.import_bundle(path)

    def import_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import HiGAN boundary folder", self.store.last_folder())
        if path:
            self.store.set_last_folder(path)
            self.import_bundle(path)

    def open_recipe(self, path: str | Path) -> None:
        """Replay a recipe into a new session on the loaded generator and bundle (each of
        its steps becomes a history step); a recipe for other weights or another bundle is
        refused with a dialog and the current edit is kept. A recipe with a generator delta
        builds its tuned generator on the render thread; :attr:`recipe_opened` fires when the
        new session is shown."""
        from sceneedit.editing.session import EditSession
        from sceneedit.inversion.recipes import delta_name

        try:
            recipe = EditSession.load_recipe(path)
            if delta_name(recipe):
                self._open_tuned_recipe(recipe, path)
                return
            session = EditSession.from_recipe(recipe, self.session.generator, self.session.bundle, source=str(path))
        except USER_ERRORS as exc:
            self._error("Open recipe", user_message(exc))
            return
        self._show_recipe_session(session, path)

    def _open_tuned_recipe(self, recipe: dict, path: str | Path) -> None:
        from sceneedit.editing.session import EditSession
        from sceneedit.inversion.finetune import base_generator_of
        from sceneedit.inversion.recipes import generator_for_recipe

        base, bundle = base_generator_of(self.session.generator), self.session.bundle

        def task(progress):
            generator = generator_for_recipe(recipe, base, path)  # applies the weights delta: torch
            return EditSession.from_recipe(recipe, generator, bundle, source=str(path))

        self._pending_recipe = str(path)
        self.worker.request_task(OPEN_RECIPE_TASK, task)

    def _on_recipe_task(self, result) -> None:
        if result.name != OPEN_RECIPE_TASK or self._pending_recipe is None:
            return
        path, self._pending_recipe = self._pending_recipe, None
        if result.error is not None:
            self._error("Open recipe", result.error)
            return
        self._show_recipe_session(result.value, path)

    def _show_recipe_session(self, session, path: str | Path) -> None:
        self.set_session(session, self.generator_path, self.bundle_path)
        self.store.add_recent("recipe", path)
        self.recipe_opened.emit(str(path))

    def open_recipe_dialog(self) -> None:
        path = self._ask_path("Open recipe", RECIPE_FILTER)
        if path:
            self.open_recipe(path)

    def save_recipe_dialog(self) -> None:
        path = self._ask_path("Save recipe", RECIPE_FILTER, save=True, default_name="recipe.json")
        if not path:
            return
        if not path.endswith(".json"):
            path += ".json"
        from sceneedit.inversion.recipes import save_recipe_with_delta

        try:  # the generator delta (fitted noise / fine-tune) goes beside the recipe
            save_recipe_with_delta(self.session.to_recipe(), self.session.generator, path)
        except USER_ERRORS as exc:
            self._error("Save recipe", user_message(exc))
            return
        self.store.add_recent("recipe", path)
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def export_dialog(self) -> None:
        from .export_dialog import ExportDialog

        if self.session is not None:
            ExportDialog(self.session, self.worker, self.store, self).exec()

    def show_model_card(self) -> None:
        card = model_card_path(self.generator_path)
        if card is not None:
            show_model_card(self, card)

    def _fill_recent_menu(self) -> None:
        menu: QMenu = self.recent_menu
        menu.clear()
        entries = self.store.recent_files()
        if not entries:
            menu.addAction("(none)").setEnabled(False)
            return
        for kind, path in entries:
            action = menu.addAction(f"{RECENT_KINDS[kind]}: {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _c=False, k=kind, p=path: self.open_path(p, k))
        menu.addSeparator()
        menu.addAction("Clear list", self.store.clear_recent)

    def open_path(self, path: str | Path, kind: str | None = None) -> None:
        """Open whatever ``path`` is: a generator, a bundle (file or HiGAN folder) or a recipe."""
        path = Path(path)
        if not path.exists():
            self._error("Open", f"{path}: no such file or folder")
            return
        kind = kind or classify_path(path)
        if kind == "image":
            if self.session is None:
                self._error("Open image", "Open a generator first: a picture is inverted into its codes.")
            else:
                self.invert_tool.invert_path(path)
        elif kind == "generator":
            self.open_generator(path)
        elif kind == "recipe":
            if self.session is None:
                self._error("Open recipe", "Open a generator first: a recipe applies to one.")
            else:
                self.open_recipe(path)
        else:
            self.import_bundle(path)

    # ===== edit actions ================================================================
    def reset_all(self) -> None:
        if self.session is not None:
            self.session.reset_all()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_C and not event.isAutoRepeat() and not event.modifiers():
            self.set_comparing(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_C and not event.isAutoRepeat():
            self.set_comparing(False)
            return
        super().keyReleaseEvent(event)

    # ===== drag and drop ===============================================================
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(url.isLocalFile() for url in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    # ===== messages ====================================================================
    def _error(self, title: str, text: str) -> None:
        """A user error in a dialog; a bug (an ``ErrorMessage`` marked internal) with its traceback."""
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        show_error(self, title, text)

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    # ===== window state ================================================================
    def _restore_layout(self) -> None:
        for dock in self.findChildren(QDockWidget):
            set_min_width(dock)
        default_state = self.saveState(STATE_VERSION)
        geometry = self.store.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(*DEFAULT_SIZE)
        state = self.store.window_state()
        if state is not None:
            self.restoreState(state, STATE_VERSION)
        # An unusable saved layout (a squeezed dock, off screen) gives way to the default on first show.
        self.layout_guard = LayoutGuard(self, default_state, STATE_VERSION, DEFAULT_SIZE)

    def shutdown(self) -> None:
        """Save the layout and stop the render thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._render_timer.stop()
        self.jitter_dock.set_animating(False)
        self.store.save_layout(self.saveGeometry(), self.saveState(STATE_VERSION))
        self._session_link.drop()
        self.drag_tool.cancel()  # a running drag ends after its current step
        self.worker_thread.stop()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
