"""Every ``sceneedit`` command line shown in README.md parses with the real CLI parsers.

Guards the user's guide against drift (a flag renamed or an alias missing in the code).
Nothing is run: only argparse sees the lines.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_command_lines() -> list[list[str]]:
    """The argument lists of the ``sceneedit`` commands in README's bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part)
                if "-m" in words and "sceneedit" in words:  # torchrun ... -m sceneedit ARGS
                    words = words[words.index("sceneedit"):]
                if words and words[0] == "sceneedit":
                    commands.append(words[1:])
    return commands


def test_readme_shows_commands():
    subcommands = {words[0] for words in readme_command_lines() if words and not words[0].startswith("-")}
    assert {"info", "synth", "bundle", "probe", "export"} <= subcommands


@pytest.mark.parametrize("words", readme_command_lines(), ids=lambda words: " ".join(words)[:60])
def test_readme_command_parses(words):
    if not words or words[0].startswith("--"):  # the editor: its own parser
        from sceneedit.app.main import build_parser

        build_parser().parse_args(words)
        return
    from sceneedit.cli import build_parser

    args = build_parser().parse_args(words)
    assert callable(args.func)


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
