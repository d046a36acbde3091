"""The scripts in scripts/ are thin command lines over the package, with no fixed paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"


@pytest.mark.parametrize("script", ["ship_default.sh", "export_default.sh"])
def test_shipping_scripts_take_the_run_folder_as_an_argument(script, tmp_path):
    text = (SCRIPTS / script).read_text()
    assert "/work/" not in text and "runs/paired" not in text  # no fixed run folder
    for arguments in ([], [str(tmp_path / "missing")]):
        done = subprocess.run(["bash", str(SCRIPTS / script), *arguments], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 2 and "usage: scripts/" in done.stderr and "RUN_DIR" in done.stderr
    assert not list(tmp_path.iterdir())  # refused before writing anything


@pytest.mark.parametrize("script", ["write_model_card.py", "make_higan_bundles.py", "make_default_bundle.py"])
def test_python_scripts_are_thin_wrappers_over_the_package(script):
    text = (SCRIPTS / script).read_text()
    assert len(text.splitlines()) < 60, f"{script} holds logic; it belongs in the sceneedit package"
    assert "from sceneedit." in text


def test_model_card_command_runs_from_any_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "write_model_card.py"), "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and "--figures" in done.stdout
