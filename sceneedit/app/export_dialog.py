"""The export dialog: choose a sequence, sources, formats and a folder, then run the export
engine (``sceneedit.export.run_export``, the same one ``sceneedit export`` uses) on the
render thread with a progress dialog and Cancel.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from sceneedit.errors import SceneeditError, SettingsError

from ..semantics.layers import format_layer_list, format_layer_spec
from .error_dialog import show_error

#: Sequence kinds the dialog offers, with their labels.
SEQUENCE_KINDS = {"sweep": "Concept sweep", "jitter": "Jitter series", "timeline": "History timeline"}
#: Output formats of the export engine, with their labels.
FORMAT_LABELS = {"png": "PNG frames", "gif": "GIF", "mp4": "MP4 video", "sheet": "Contact sheet"}


def current_edit_recipe(session) -> dict:
    """The recipe "start from the current edit" exports from: every drag step in order,
    the concept settings and the jitter, on the current base
    (:meth:`~sceneedit.editing.session.EditSession.current_edit_recipe`)."""
    return session.current_edit_recipe()


class ExportDialog(QDialog):
    """Builds an ``ExportJob`` from the session and runs it in the background.

    ``worker``: the editor's RenderWorker (the export runs on its thread, which owns the
    generator). ``store``: WindowSettings (remembers the output folder).
    """

    #: Emitted when a run ends: ``(report or None, error or "")``.
    export_finished = Signal(object, str)

    def __init__(self, session, worker, store=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.session = session
        self.worker = worker
        self.store = store
        self.cancel_event = threading.Event()
        self.progress_dialog: QProgressDialog | None = None
        self.running = False
        self.last_report = None
        self.last_error = ""

        # --- sequence --------------------------------------------------------------------
        self.kind_box = QComboBox()
        for kind, label in SEQUENCE_KINDS.items():
            self.kind_box.addItem(label, kind)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._sweep_page())
        self.pages.addWidget(self._jitter_page())
        self.pages.addWidget(self._timeline_page())
        self.kind_box.currentIndexChanged.connect(self.pages.setCurrentIndex)
        if session.bundle is None or len(session.bundle) == 0:
            self.kind_box.setCurrentIndex(1)

        sequence_box = QGroupBox("Sequence")
        sequence_layout = QVBoxLayout(sequence_box)
        sequence_layout.addWidget(self.kind_box)
        sequence_layout.addWidget(self.pages)
        self.start_from_edit = QCheckBox("Start from the current edit")
        self.start_from_edit.setChecked(True)
        self.start_from_edit.setToolTip("Apply the sequence on top of the edit on screen (else on the plain scenes)")
        sequence_layout.addWidget(self.start_from_edit)

        # --- sources ---------------------------------------------------------------------
        self.this_scene = QRadioButton("This scene")
        self.seed_list = QRadioButton("Seeds")
        self.this_scene.setChecked(True)
        self._source_group = QButtonGroup(self)
        self._source_group.addButton(self.this_scene)
        self._source_group.addButton(self.seed_list)
        self.seeds_edit = QLineEdit("0-7")
        self.seeds_edit.setPlaceholderText("e.g. 0-15,20")
        self.seeds_edit.setEnabled(False)
        self.seed_list.toggled.connect(self.seeds_edit.setEnabled)
        sources_box = QGroupBox("Scenes")
        sources_layout = QHBoxLayout(sources_box)
        sources_layout.addWidget(self.this_scene)
        sources_layout.addWidget(self.seed_list)
        sources_layout.addWidget(self.seeds_edit, 1)

        # --- output ----------------------------------------------------------------------
        self.format_boxes: dict[str, QCheckBox] = {}
        formats_row = QHBoxLayout()
        for fmt, label in FORMAT_LABELS.items():
            box = QCheckBox(label)
            box.setChecked(fmt in ("png", "gif", "sheet"))
            self.format_boxes[fmt] = box
            formats_row.addWidget(box)
        self.fps_box = QDoubleSpinBox()
        self.fps_box.setRange(0.5, 120.0)
        self.fps_box.setValue(8.0)
        self.folder_edit = QLineEdit(self._default_folder())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("automatic")
        self.overwrite_box = QCheckBox("Replace a folder that holds another export")
        output_box = QGroupBox("Output")
        output_form = QFormLayout(output_box)
        output_form.addRow("Formats", formats_row)
        output_form.addRow("Frames per second", self.fps_box)
        output_form.addRow("Folder", folder_row)
        output_form.addRow("Sequence name", self.name_edit)
        output_form.addRow(self.overwrite_box)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.start)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(sequence_box)
        layout.addWidget(sources_box)
        layout.addWidget(output_box)
        layout.addWidget(buttons)
        self.worker.task_progress.connect(self._on_progress)
        self.worker.task_finished.connect(self._on_finished)

    # ----- pages -----------------------------------------------------------------------
    def _sweep_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.concept_list = QListWidget()
        self.concept_list.setMaximumHeight(150)
        bundle = self.session.bundle
        edited = set(self.session.edited_concepts())
        for name in [] if bundle is None else bundle.names:
            item = QListWidgetItem(f"{name}  (layers {format_layer_list(self.session.layers(name))})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in edited else Qt.CheckState.Unchecked)
            self.concept_list.addItem(item)
        if bundle is not None and not edited and self.concept_list.count():
            self.concept_list.item(0).setCheckState(Qt.CheckState.Checked)
        lo, hi = (-3.0, 3.0)
        if bundle is not None and len(bundle):
            lo, hi = sorted(float(v) for v in next(iter(bundle)).distance_range)
        self.sweep_start = QDoubleSpinBox()
        self.sweep_end = QDoubleSpinBox()
        for box, value in ((self.sweep_start, lo), (self.sweep_end, hi)):
            box.setRange(-100.0, 100.0)
            box.setDecimals(2)
            box.setValue(value)
        self.sweep_steps = QSpinBox()
        self.sweep_steps.setRange(1, 1000)
        self.sweep_steps.setValue(9)
        range_row = QHBoxLayout()
        range_row.addWidget(self.sweep_start)
        range_row.addWidget(self.sweep_end)
        form.addRow("Concepts (each on its current layers)", self.concept_list)
        form.addRow("Strength from / to", range_row)
        form.addRow("Steps", self.sweep_steps)
        return page

    def _jitter_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        jitter = self.session.jitter
        self.jitter_layers = QLineEdit(format_layer_spec(jitter.layers))
        self.jitter_layers.setPlaceholderText("e.g. 6-11 or 0,2,4")
        self.jitter_seeds = QLineEdit("0-7")
        self.jitter_strength = QDoubleSpinBox()
        self.jitter_strength.setRange(0.0, 10.0)
        self.jitter_strength.setValue(float(jitter.strength))
        self.jitter_mode = QComboBox()
        self.jitter_mode.addItem("Gaussian noise", "gaussian")
        self.jitter_mode.addItem("Style mixing", "style_mix")
        self.jitter_mode.setCurrentIndex(max(0, self.jitter_mode.findData(jitter.mode)))
        form.addRow("Layers", self.jitter_layers)
        form.addRow("Jitter seeds", self.jitter_seeds)
        form.addRow("Strength", self.jitter_strength)
        form.addRow("Mode", self.jitter_mode)
        return page

    def _timeline_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        steps = self.session.history_index + 1
        form.addRow(f"One frame per step of the history up to the current one ({steps} frames).", QWidget())
        return page

    # ----- building the job ------------------------------------------------------------
    def _default_folder(self) -> str:
        last = self.store.last_folder() if self.store is not None else ""
        return str(Path(last) / "exports") if last else str(Path.cwd() / "exports")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def build_job(self):
        """The ``ExportJob`` the dialog describes; ValueError naming the bad field."""
        from sceneedit.export import (
            ConceptSweep,
            ExportJob,
            JitterSequence,
            SweepSequence,
            TimelineSequence,
            parse_layers,
        )
        from sceneedit.seeds import parse_seeds

        session = self.session
        kind = self.kind_box.currentData()
        name = self.name_edit.text().strip() or None
        recipe = current_edit_recipe(session) if self.start_from_edit.isChecked() and kind != "timeline" else None
        if kind == "sweep":
            concepts = []
            for row in range(self.concept_list.count()):
                item = self.concept_list.item(row)
                if item.checkState() == Qt.CheckState.Checked:
                    concept = item.data(Qt.ItemDataRole.UserRole)
                    layers = session.layers(concept)
                    custom = layers != list(session.bundle[concept].layers)
                    concepts.append(
                        ConceptSweep(
                            concept, self.sweep_start.value(), self.sweep_end.value(), tuple(layers) if custom else None
                        )
                    )
            if not concepts:
                raise SettingsError("choose at least one concept to sweep")
            spec = SweepSequence(tuple(concepts), steps=int(self.sweep_steps.value()), name=name)
        elif kind == "jitter":
            spec = JitterSequence(
                tuple(parse_layers(self.jitter_layers.text())),
                tuple(parse_seeds(self.jitter_seeds.text())),
                strength=float(self.jitter_strength.value()),
                mode=self.jitter_mode.currentData(),
                name=name,
            )
        else:
            spec = TimelineSequence(session.to_recipe(), name=name)

        seeds = codes = None
        if self.seed_list.isChecked():
            seeds = parse_seeds(self.seeds_edit.text())
        elif kind != "timeline":
            if session.seed is not None:
                seeds = [int(session.seed)]
            else:
                codes = session.base_wp[None].copy()
        formats = tuple(fmt for fmt, box in self.format_boxes.items() if box.isChecked())
        if not formats:
            raise SettingsError("choose at least one output format")
        folder = self.folder_edit.text().strip()
        if not folder:
            raise SettingsError("choose an output folder")
        return ExportJob(
            sequences=[spec],
            out_dir=Path(folder).expanduser(),
            bundle=session.bundle,
            recipe=recipe,
            seeds=seeds,
            codes=codes,
            codes_source="the editor's base code" if codes is not None else None,
            truncation_psi=session.truncation_psi,
            formats=formats,
            fps=float(self.fps_box.value()),
            overwrite=self.overwrite_box.isChecked(),
        )

    # ----- running ---------------------------------------------------------------------
    def start(self) -> None:
        """Validate the form and start the export on the render thread."""
        if self.running:
            return
        try:
            job = self.build_job()
        except SceneeditError as exc:
            QMessageBox.critical(self, "Export", str(exc))
            return
        from sceneedit.export import run_export

        generator = self.session.generator
        self.cancel_event.clear()
        self.running = True
        self.export_button.setEnabled(False)
        if self.store is not None:
            self.store.set_last_folder(job.out_dir)
        self.progress_dialog = QProgressDialog("Planning the export…", "Cancel", 0, 0, self)
        self.progress_dialog.setWindowTitle("Exporting")
        self.progress_dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress_dialog.setMinimumDuration(0)
        self.progress_dialog.setAutoClose(False)
        self.progress_dialog.setAutoReset(False)
        self.progress_dialog.canceled.connect(self.cancel)
        self.progress_dialog.show()
        self.worker.request_task(
            "Export", lambda progress: run_export(generator, job, progress=progress, cancel=self.cancel_event)
        )

    def cancel(self) -> None:
        """Ask the running export to stop between frames (complete files are kept)."""
        self.cancel_event.set()
        if self.progress_dialog is not None:
            self.progress_dialog.setLabelText("Cancelling…")

    def _on_progress(self, name: str, done: int, total: int, message: str) -> None:
        if name != "Export" or self.progress_dialog is None:
            return
        self.progress_dialog.setMaximum(max(total, 1))
        self.progress_dialog.setValue(min(done, max(total, 1)))
        if not self.cancel_event.is_set():
            self.progress_dialog.setLabelText(message or f"Frame {done} of {total}")

    def _on_finished(self, result) -> None:
        if result.name != "Export" or not self.running:
            return
        self.running = False
        self.export_button.setEnabled(True)
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel)
            self.progress_dialog.close()
            self.progress_dialog = None
        self.last_report, self.last_error = result.value, result.error or ""
        self.export_finished.emit(result.value, result.error or "")
        if result.error:
            show_error(self, "Export failed", result.error)
            return
        report = result.value
        folders = ", ".join(str(s.folder) for s in report.sequences)
        if report.cancelled:
            QMessageBox.information(
                self,
                "Export cancelled",
                f"Stopped after {report.frames_rendered} frames; complete files were kept in "
                f"{folders}. Export again to resume.",
            )
            return
        QMessageBox.information(
            self,
            "Export finished",
            f"{len(report.written)} files written ({len(report.skipped)} already there) "
            f"in {report.seconds:.1f} s:\n{folders}",
        )
        self.accept()

    def done(self, code: int) -> None:  # noqa: D401 - Qt's name
        """Closing the dialog while exporting cancels the run (its complete files stay)."""
        if self.running:
            self.cancel()
            return
        self.worker.task_progress.disconnect(self._on_progress)
        self.worker.task_finished.disconnect(self._on_finished)
        super().done(code)
