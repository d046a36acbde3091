"""Shared test setup.

* Qt runs offscreen; torch uses few threads on the small CI machine.
* Nothing a test does reaches the real user's files: QSettings (and ``$XDG_CONFIG_HOME`` for the
  editor started in subprocesses) and the error log live in a temporary folder for the whole session.
* Every test that uses ``qtbot`` is guarded against leftover QThreads and QTimers (``qt_guard.py``).
* ``make_tiny_stylegan`` / ``tiny_stylegan_file``: the one factory of tiny real generators
  (``tiny_models.py``, also importable by module-level helpers).
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("SCENEEDIT_DEVICE", "cpu")


def _fingerprint(path: Path) -> str | None:
    """A digest of a file's bytes, None when it does not exist."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _real_config_file() -> Path:
    """Where the editor's QSettings live for the real user (Linux/XDG; elsewhere under the home folder)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sceneedit" / "sceneedit.conf"


#: The user's real editor settings file and its digest before any test ran.
REAL_CONFIG_FILE = _real_config_file()
REAL_CONFIG_DIGEST = _fingerprint(REAL_CONFIG_FILE)
#: This session's stand-in for the user's folders (config, logs).
SANDBOX = Path(tempfile.mkdtemp(prefix="sceneedit-tests-"))
os.environ["XDG_CONFIG_HOME"] = str(SANDBOX / "config")  # the editor in subprocesses, platformdirs
os.environ["SCENEEDIT_LOG_DIR"] = str(SANDBOX / "logs")

import pytest  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

for _format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
    QSettings.setPath(_format, QSettings.Scope.UserScope, str(SANDBOX / "config"))
    QSettings.setPath(_format, QSettings.Scope.SystemScope, str(SANDBOX / "system-config"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

from qt_guard import qt_guards  # noqa: E402
from tiny_models import save_tiny_stylegan, tiny_stylegan  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SANDBOX, ignore_errors=True)
    if _fingerprint(REAL_CONFIG_FILE) != REAL_CONFIG_DIGEST:
        print(f"\nERROR: the tests changed the user's real editor settings {REAL_CONFIG_FILE}")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _qt_guards(request, monkeypatch):
    """Fail a Qt test (one using ``qtbot``) that leaves a QThread running or a QTimer active.

    Autouse fixtures are set up before the ones a test asks for, so these checks run after qtbot closed
    the test's widgets.
    """
    if "qtbot" not in request.fixturenames:
        yield
        return
    with qt_guards(monkeypatch):
        yield


@pytest.fixture
def make_tiny_stylegan():
    """``make_tiny_stylegan(seed=0, w_dim=None, eval_mode=True, frozen=False, **overrides)``: a real 16 px
    StyleGAN with random weights from ``seed`` (see ``tiny_models.tiny_stylegan``)."""
    return tiny_stylegan


@pytest.fixture
def tiny_stylegan_file(tmp_path):
    """``tiny_stylegan_file(filename="tiny.safetensors", seed=0, dataset=None, **options)``: a tiny StyleGAN
    (``options`` as for ``make_tiny_stylegan``) written to ``tmp_path / filename``; returns its path."""

    def write(filename: str = "tiny.safetensors", seed: int = 0, **options) -> Path:
        return save_tiny_stylegan(tmp_path / filename, seed, **options)

    return write
