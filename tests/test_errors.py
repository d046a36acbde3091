"""User errors are one line; anything else is a bug, logged with its traceback (CLI and core).

The bug here is real code, not a stub: a plug-in predictor whose scoring adds arrays of shapes that
do not broadcast (the classic numpy slip), loaded through the registry like any plug-in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import tiny_stylegan

from sceneedit.errors import (
    EXIT_INTERNAL_ERROR,
    EXIT_USER_ERROR,
    LOG_DIR_ENV,
    SceneeditError,
    describe_error,
    is_user_error,
    log_file,
    user_message,
)


class MisalignedPredictor:
    """A plug-in predictor with a shape bug: it adds a per-image score to a per-channel bias."""

    name = "misaligned"
    score_names = ["brightness"]
    score_levels = {"brightness": "attributes"}

    def score(self, images: torch.Tensor) -> torch.Tensor:
        per_image = images.mean(dim=(1, 2, 3)).numpy()  # [N]
        bias = np.zeros(images.shape[1])  # [3]: meant per image, written per channel
        return torch.from_numpy(per_image + bias)[:, None]  # ValueError unless N == 3

    def to(self, device):
        return self


def make_misaligned_predictor(**options):
    return MisalignedPredictor()


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv(LOG_DIR_ENV, str(folder))
    return folder


def test_a_numpy_broadcast_bug_in_a_command_is_an_internal_error_with_its_traceback_logged(tmp_path, log_dir, capsys):
    from sceneedit.cli import main
    from sceneedit.generators import save_generator

    generator = save_generator(tiny_stylegan(), tmp_path / "tiny.safetensors")
    code = main(
        [
            "probe",
            "--generator",
            str(generator),
            "--predictor",
            "test_errors:make_misaligned_predictor",
            "--num",
            "8",
            "--chunk-size",
            "8",
            "--batch-size",
            "8",
            "--no-progress",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_INTERNAL_ERROR != EXIT_USER_ERROR
    assert err[-1].startswith("sceneedit probe: internal error: ValueError: operands could not be broadcast"), err
    assert f"details in {log_dir / 'sceneedit.log'}" in err[-1]
    logged = (log_dir / "sceneedit.log").read_text()
    assert "Traceback (most recent call last)" in logged
    assert "in score" in logged and "per_image + bias" in logged  # the frame of the bug itself


def test_a_bad_file_is_still_one_line_naming_it_and_logs_nothing(tmp_path, log_dir, capsys):
    from sceneedit.cli import main

    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    code = main(["synth", "--generator", str(bad), "--seeds", "0", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_USER_ERROR
    assert len(err) == 1 and err[0].startswith("sceneedit synth: error: ") and "broken.safetensors" in err[0], err
    assert "internal error" not in err[0]
    assert not (log_dir / "sceneedit.log").exists()


def test_a_missing_user_file_is_a_user_error_naming_the_path(tmp_path, log_dir, capsys, tiny_stylegan_file):
    from sceneedit.cli import main

    missing = tmp_path / "nowhere" / "codes.npy"
    generator_file = tiny_stylegan_file()
    code = main(["synth", "--generator", str(generator_file), "--codes", str(missing), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_USER_ERROR and len(err) == 1 and str(missing) in err[0], err


def test_a_bad_flag_value_raises_command_error(tmp_path, capsys, tiny_stylegan_file):
    from sceneedit.cli import CommandError, main
    from sceneedit.commands.synth import load_codes

    generator = tiny_stylegan()
    generator_file = tiny_stylegan_file()
    codes = tmp_path / "codes.npy"
    np.save(codes, np.zeros((2, 5), np.float32))  # fits neither z nor wp
    with pytest.raises(CommandError, match="codes.npy"):
        load_codes(codes, generator)
    assert issubclass(CommandError, SceneeditError)
    arguments = ["synth", "-g", str(generator_file), "--batch-size", "0", "--seeds", "0", "--out", str(tmp_path / "o")]
    assert main(arguments) == EXIT_USER_ERROR
    assert "--batch-size must be >= 1" in capsys.readouterr().err


def test_os_errors_count_as_user_errors_only_on_a_named_path(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        open(tmp_path / "absent.txt")
    assert is_user_error(caught.value)
    assert user_message(caught.value) == f"{tmp_path / 'absent.txt'}: No such file or directory"
    assert not is_user_error(FileNotFoundError("some internal lookup"))  # no path: our bug
    assert not is_user_error(ValueError("operands could not be broadcast"))
    assert not is_user_error(KeyError("concept"))


def test_every_user_error_class_derives_from_sceneedit_error_and_keeps_its_old_base():
    from sceneedit.editing.recipe import RecipeError
    from sceneedit.editing.session import EditError
    from sceneedit.export import ExportError
    from sceneedit.files import WriteError
    from sceneedit.generators.base import GeneratorError
    from sceneedit.generators.checkpoints import CheckpointError
    from sceneedit.inversion.images import ImageLoadError
    from sceneedit.json_input import JSONInputError
    from sceneedit.models.download import DownloadError
    from sceneedit.models.store import RegistryError
    from sceneedit.seeds import SeedSyntaxError
    from sceneedit.semantics.bundle import BundleError
    from sceneedit.semantics.layers import LayerSpecError

    value_errors = [BundleError, CheckpointError, GeneratorError, RecipeError, EditError, ExportError]
    value_errors += [JSONInputError, ImageLoadError, RegistryError, SeedSyntaxError, LayerSpecError]
    for cls in value_errors:
        assert issubclass(cls, SceneeditError) and issubclass(cls, ValueError), cls
    for cls in (WriteError, DownloadError):
        assert issubclass(cls, SceneeditError) and issubclass(cls, OSError), cls


def test_describe_error_keeps_the_traceback_of_a_bug(log_dir):
    try:
        np.ones((2, 3)) + np.ones(4)
    except ValueError as exc:
        message = describe_error(exc, "unit test")
    assert message.internal and message.log_path == log_file() == log_dir / "sceneedit.log"
    assert message.startswith("internal error: ValueError: operands could not be broadcast")
    assert "Traceback (most recent call last)" in message.details and "np.ones((2, 3)) + np.ones(4)" in message.details
    user = describe_error(SceneeditError("bad.json: not a recipe"))
    assert not user.internal and user == "bad.json: not a recipe" and user.details == ""
