"""File ▸ Open model…: the registry's scene models, downloaded or not, beside "Open file…".

Downloads run on a thread of their own with a progress bar and Cancel; the UI stays live.
When the model is ready the dialog emits ``model_ready(path, bundle_path_or_None)``: the
model's file and (if "Load its HiGAN boundaries" is ticked) its official boundary bundle.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sceneedit.errors import describe_error

from ..models import (
    DownloadCancelled,
    ModelEntry,
    all_models,
    bundle_path,
    fetch_model,
    is_downloaded,
    model_path,
)

COLUMNS = ("Model", "Architecture", "Pixels", "Downloaded", "Boundaries", "Source")


class FetchWorker(QObject):
    """Runs :func:`fetch_model` on its thread; reports progress, the result or an error."""

    progress = Signal(int, int)  # done bytes, total bytes (0 = unknown)
    file_started = Signal(str)
    finished = Signal(object, str)  # FetchResult or None, error text ("" = none; "cancelled")

    def __init__(self, name: str, source: str | None) -> None:
        super().__init__()
        self.name = name
        self.source = source
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            result = fetch_model(
                self.name,
                source=self.source,
                progress=lambda done, total: self.progress.emit(done, total or 0),
                cancelled=self.cancel_event.is_set,
                file_started=lambda filename, index, count: self.file_started.emit(filename),
            )
        except DownloadCancelled:
            self.finished.emit(None, "cancelled")
        except Exception as exc:  # shown in the dialog, never a crash; a bug is logged with its traceback
            self.finished.emit(None, " ".join(describe_error(exc, "model download").split()) or type(exc).__name__)
        else:
            self.finished.emit(result, "")


class OpenModelDialog(QDialog):
    """The registry's models; Open downloads (if needed) then emits :attr:`model_ready`."""

    model_ready = Signal(str, object)
    open_file_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open model")
        self.resize(820, 480)
        self._thread: QThread | None = None
        self._worker: FetchWorker | None = None
        self.last_error = ""

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())

        self.load_bundle_box = QCheckBox("Load its HiGAN boundaries")
        self.load_bundle_box.setChecked(True)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)

        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.open_selected)
        self.from_file_button = QPushButton("Use a downloaded file…")
        self.from_file_button.setToolTip(
            "For links that open in a browser (Google Drive, SharePoint): "
            "pick the file you downloaded; it is verified and copied"
        )
        self.from_file_button.clicked.connect(self._from_file)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.clicked.connect(self._open_file)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        for button in (self.open_button, self.from_file_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_file_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.load_bundle_box)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.refresh()

    # ----- listing ---------------------------------------------------------------------------
    def refresh(self) -> None:
        self.entries: list[ModelEntry] = all_models()
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            source = (
                "added by hand"
                if entry.user_added
                else (entry.files[0].urls[0].split("/")[2] if entry.files[0].urls else "")
            )
            values = (
                entry.name,
                entry.arch,
                str(entry.resolution),
                "yes" if is_downloaded(entry) else "—",
                entry.boundaries or "—",
                source,
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == 0:
                    item.setToolTip(entry.note or entry.dataset)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def select_model(self, name: str) -> None:
        for row, entry in enumerate(self.entries):
            if entry.name == name:
                self.table.selectRow(row)
                return
        raise KeyError(name)

    def selected_entry(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def downloading(self) -> bool:
        return self._thread is not None

    def _update_buttons(self) -> None:
        entry = self.selected_entry()
        busy = self.downloading()
        self.open_button.setEnabled(entry is not None and not busy)
        self.open_button.setText("Open" if entry is None or is_downloaded(entry) else "Download and open")
        self.from_file_button.setEnabled(entry is not None and not busy and not entry.user_added)
        self.cancel_button.setEnabled(busy)
        self.load_bundle_box.setEnabled(entry is not None and bundle_path(entry) is not None)

    # ----- actions ---------------------------------------------------------------------------
    def open_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or self.downloading():
            return
        if is_downloaded(entry):
            self._emit_ready(entry)
        else:
            self._start_fetch(entry, None)

    def _from_file(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, f"File for {entry.name}", "", "All files (*)")
        if path:
            self._start_fetch(entry, path)

    def _open_file(self) -> None:
        self.open_file_requested.emit()
        self.reject()

    def _start_fetch(self, entry: ModelEntry, source: str | None) -> None:
        self.last_error = ""
        self.status_label.setText(f"Downloading {entry.name}…" if source is None else f"Copying {Path(source).name}…")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(True)
        self._thread = QThread(self)
        self._worker = FetchWorker(entry.name, source)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.file_started.connect(lambda name: self.status_label.setText(f"Downloading {name}…"))
        self._worker.finished.connect(self._on_finished)
        self._thread.start()
        self._update_buttons()

    def cancel_download(self) -> None:
        if self._worker is not None:
            self._worker.cancel_event.set()
            self.status_label.setText("Cancelling…")

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * done / total))
            self.progress_bar.setFormat(f"{done / 2**20:.1f} / {total / 2**20:.1f} MiB")
        else:
            self.progress_bar.setFormat(f"{done / 2**20:.1f} MiB")

    def _on_finished(self, result, error: str) -> None:
        thread, self._thread, self._worker = self._thread, None, None
        if thread is not None:
            thread.quit()
            thread.wait()
        self.progress_bar.setVisible(False)
        self.refresh()
        if error == "cancelled":
            self.status_label.setText("Download cancelled; the part already downloaded is kept for next time.")
            self.last_error = error
            return
        if error:
            self.last_error = error
            self.status_label.setText(f"Could not get the model: {error}")
            return
        self.status_label.setText("\n".join(result.warnings))
        self._emit_ready(result.entry)

    def _emit_ready(self, entry: ModelEntry) -> None:
        bundle = bundle_path(entry) if self.load_bundle_box.isChecked() else None
        self.model_ready.emit(str(model_path(entry)), None if bundle is None else str(bundle))
        self.accept()

    def done(self, result: int) -> None:  # noqa: D401 - Qt override
        if self.downloading():
            self.cancel_download()
            thread = self._thread
            if thread is not None:
                thread.quit()
                thread.wait(10000)
        super().done(result)
