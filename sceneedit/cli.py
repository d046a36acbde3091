"""The ``sceneedit`` command line (core: never imports Qt).

Each subcommand lives in ``sceneedit/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed arguments and returning an exit code. Heavy imports happen inside ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import CommandError  # noqa: F401 - re-exported: commands raise it for bad arguments

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "synth",
    "info",
    "train",
    "probe",
    "bundle",
    "export",
    "convert",
    "models",
    "invert",
    "train-encoder",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sceneedit",
        description="Semantic scene editing through the layer-wise latent codes of GANs. "
        "Run without a subcommand to open the editor.",
        epilog="editor: sceneedit [--generator PATH] [--bundle PATH] [--device D] [--seed N] "
        "[--quit-after-first-frame] "
        "(details: sceneedit edit --help)",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sceneedit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module_name = f"sceneedit.commands.{name.replace('-', '_')}"
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("sceneedit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        _silence_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 - a user error is one line; anything else is a logged bug
        return report_error(exc, f"sceneedit {args.command}")


def report_error(exc: BaseException, prefix: str) -> int:
    """Print ``exc`` as one line on stderr; returns the exit code.

    A user error (:class:`~sceneedit.errors.SceneeditError`, or an OS error on the user's path) prints its
    message and returns 2; anything else is a bug: its traceback goes to the log file, the line says where,
    and the code is 70.
    """
    from .errors import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, describe_error

    message = describe_error(exc, prefix)
    print(f"{prefix}: {'' if message.internal else 'error: '}{message}", file=sys.stderr)
    return EXIT_INTERNAL_ERROR if message.internal else EXIT_USER_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
