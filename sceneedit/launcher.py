"""Entry point of the ``sceneedit`` console script.

With a subcommand it runs the (Qt-free) CLI; without one, or with ``edit``, it opens the
desktop editor. Kept outside the core so the core never imports Qt.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] == "edit" or (argv[0].startswith("--") and argv[0] not in ("--help", "--version")):
        from .app.main import main as app_main

        return app_main(argv[1:] if argv and argv[0] == "edit" else argv)
    from .cli import main as cli_main

    return cli_main(argv)
