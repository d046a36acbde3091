"""Entry point of the ``sceneedit`` console script.

With a subcommand it runs the (Qt-free) CLI; without one, or with ``edit``, it opens the
desktop editor. Kept outside the core so the core never imports Qt.
"""

from __future__ import annotations

import os
import sys


def no_display_reason() -> str | None:
    """Why the editor cannot open a window here (Linux without X11/Wayland), else None.

    Without this check Qt aborts the process (exit 134) after several lines of plugin errors.
    """
    if not sys.platform.startswith("linux"):
        return None
    if any(os.environ.get(name) for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")):
        return None
    return (
        "no display: DISPLAY and WAYLAND_DISPLAY are unset, so the editor cannot open a window; "
        "start it in a desktop session (or set QT_QPA_PLATFORM), or use the command line: sceneedit --help"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] == "edit" or (argv[0].startswith("--") and argv[0] not in ("--help", "--version")):
        reason = no_display_reason()
        if reason and not {"-h", "--help"} & set(argv):
            print(f"sceneedit: error: {reason}", file=sys.stderr)
            return 2
        from .app.main import main as app_main

        try:
            return app_main(argv[1:] if argv and argv[0] == "edit" else argv)
        except KeyboardInterrupt:
            print("sceneedit: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - a user error is one line; anything else is a logged bug
            from .cli import report_error

            return report_error(exc, "sceneedit")
    from .cli import main as cli_main

    return cli_main(argv)
