"""The command-line surface around the README: torchrun-safe flags, help text, no-display launch.

(Every README command runs end to end in ``test_readme_run.py``.)
"""

from __future__ import annotations

import argparse

import pytest


def subcommand_flags() -> list[tuple[str, str]]:
    """(subcommand, option string) for every option of every ``sceneedit`` subcommand."""
    from sceneedit.cli import build_parser

    [subparsers] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return [
        (name, flag)
        for name, parser in subparsers.choices.items()
        for action in parser._actions
        for flag in action.option_strings
    ]


#: Aliases kept for plain use that torchrun's parser would take for its own options.
NOT_FOR_TORCHRUN = {("probe", "--num")}


@pytest.mark.parametrize("command,flag", subcommand_flags(), ids=lambda x: x)
def test_torchrun_passes_every_flag_through_to_sceneedit(command, flag):
    """torchrun parses the whole line: a flag that is a prefix of its own options is refused
    ("ambiguous option: --num could match --numa-binding") before sceneedit ever runs."""
    from torch.distributed.run import get_args_parser

    parser = get_args_parser()
    parser.exit_on_error = False
    line = ["--nproc_per_node", "2", "-m", "sceneedit", command, flag, "1"]
    if (command, flag) in NOT_FOR_TORCHRUN:
        with pytest.raises(SystemExit):
            parser.parse_args(line)
        return
    args = parser.parse_args(line)
    assert args.training_script == "sceneedit" and args.training_script_args == [command, flag, "1"]


def test_probe_sample_count_has_a_torchrun_safe_name():
    from sceneedit.cli import build_parser

    for flag in ("--num-samples", "-n", "--num"):
        assert build_parser().parse_args(["probe", "--out", "x", flag, "7"]).num == 7


def test_top_level_help_names_the_editor_options():
    from sceneedit.app.main import build_parser as editor_parser
    from sceneedit.cli import build_parser

    text = " ".join(build_parser().format_help().split())
    for action in editor_parser()._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in text, flag


def test_the_editor_without_a_display_says_so_in_one_line(monkeypatch, capsys):
    from sceneedit import launcher

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(launcher.sys, "platform", "linux")
    assert launcher.main([]) == 2  # Qt itself would abort the process (exit 134)
    err = capsys.readouterr().err
    assert err.startswith("sceneedit: error: no display:") and len(err.strip().splitlines()) == 1
    assert launcher.main(["info", "/no/such/generator.pth"]) == 2  # the CLI runs: its own error, not this one
    assert "no such file" in capsys.readouterr().err
    monkeypatch.setenv("DISPLAY", ":0")
    assert launcher.no_display_reason() is None
