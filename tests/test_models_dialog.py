"""File ▸ Open model…: the registry in the editor, downloads off the UI thread with Cancel."""

import threading
from pathlib import Path

import pytest
from gui_support import WAIT_MS  # noqa: E402
from model_server import FileServer  # noqa: E402

from sceneedit.models import add_model, find_model, is_downloaded  # noqa: E402
from sceneedit.models.download import part_path  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "nvidia-tf-pickles"
PAYLOAD = (FIXTURES / "stylegan2-64.pkl").read_bytes()
FILE = "stylegan2-church-config-f.pkl"


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("SCENEEDIT_MODELS_DIR", str(folder))
    return folder


@pytest.fixture
def server(monkeypatch):
    with FileServer({f"/stylegan2_church/{FILE}": PAYLOAD}) as running:
        monkeypatch.setenv("SCENEEDIT_MODELS_MIRROR", running.url)
        yield running


@pytest.fixture
def dialog(qtbot):
    from sceneedit.app.models_dialog import OpenModelDialog

    dlg = OpenModelDialog()
    qtbot.addWidget(dlg)
    return dlg


def test_dialog_lists_the_registry_and_downloads_with_progress(qtbot, dialog, server):
    names = [dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())]
    assert "stylegan_bedroom" in names and "stylegan2_church" in names and "biggan_deep_256" in names
    dialog.select_model("stylegan2_church")
    assert dialog.open_button.text() == "Download and open"
    progress = []
    dialog.progress_bar.valueChanged.connect(progress.append)
    with qtbot.waitSignal(dialog.model_ready, timeout=WAIT_MS) as ready:
        dialog.open_button.click()
        assert dialog.downloading() and dialog.cancel_button.isEnabled()  # the UI thread is free
    path, bundle = ready.args
    assert Path(path).read_bytes() == PAYLOAD and is_downloaded(find_model("stylegan2_church"))
    assert bundle.endswith("stylegan2_church.safetensors")
    assert progress and progress[-1] == 1000
    assert "first seen" in dialog.status_label.text()


def test_cancel_stops_the_download_and_keeps_the_part(qtbot, dialog, server, models_dir):
    server.chunk_pause = threading.Event()
    dialog.select_model("stylegan2_church")
    dialog.open_button.click()
    part = part_path(models_dir / "stylegan2_church" / FILE)
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size > 0, timeout=WAIT_MS)
    dialog.cancel_button.click()
    server.chunk_pause.set()
    qtbot.waitUntil(lambda: not dialog.downloading(), timeout=WAIT_MS)
    assert dialog.last_error == "cancelled" and "cancelled" in dialog.status_label.text()
    assert not (models_dir / "stylegan2_church" / FILE).exists() and part.exists()
    assert dialog.open_button.isEnabled() and not dialog.cancel_button.isEnabled()  # ready to try again


def test_a_missing_file_on_the_server_is_reported_in_the_dialog(qtbot, dialog, server):
    server.files.clear()
    dialog.select_model("stylegan2_church")
    dialog.open_button.click()
    qtbot.waitUntil(lambda: not dialog.downloading(), timeout=WAIT_MS)
    assert "HTTP 404" in dialog.last_error and "HTTP 404" in dialog.status_label.text()


def test_window_opens_a_downloaded_registry_model(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from sceneedit.app.window import MainWindow

    add_model("tiny_pggan", FIXTURES / "pggan-64.pkl")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    assert win.open_model_action in win.menuBar().actions()[0].menu().actions()
    dialog = win.open_model_dialog()
    dialog.select_model("tiny_pggan")
    assert dialog.open_button.text() == "Open"
    with qtbot.waitSignal(win.load_finished, timeout=WAIT_MS) as loaded:
        dialog.open_button.click()
    assert loaded.args == [True] and win.session.generator.arch == "pggan"
    win.close()
