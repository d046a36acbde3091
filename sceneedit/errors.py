"""The one base class for errors a user can fix, and how every other exception (a bug) is reported.

Anything raised as a ``SceneeditError`` (a bad file, flag or value) is shown to the user as its message alone.
So is an OS error about a path the user gave (missing, no permission, a folder where a file belongs).
Every other exception is a bug: :func:`describe_error` logs its traceback to :func:`log_file` (and the
``sceneedit`` logger) and says so in one line; the CLI exits with :data:`EXIT_INTERNAL_ERROR`, the editor
shows the traceback in a dialog's details box.
"""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

#: Exit code of the CLI for a user error (bad input; argparse uses the same).
EXIT_USER_ERROR = 2
#: Exit code of the CLI for an internal error (a bug): BSD's EX_SOFTWARE.
EXIT_INTERNAL_ERROR = 70
#: Environment variable naming the folder of the log file (default: platformdirs' user log dir).
LOG_DIR_ENV = "SCENEEDIT_LOG_DIR"

logger = logging.getLogger("sceneedit")


class SceneeditError(Exception):
    """An error the user can fix; ``str(error)`` says what was wrong and names the file or value."""


class CommandError(SceneeditError, ValueError):
    """A subcommand rejected its arguments (a bad flag value or combination): one line, exit code 2."""


class SettingsError(SceneeditError, ValueError):
    """A setting (a flag, a dialog field, a device name, a training option) is not one of its allowed values."""


class MissingFileError(SceneeditError, FileNotFoundError):
    """A file or folder the user named does not exist; the message names it."""


#: OS errors that are the user's to fix when they carry the path (``exc.filename``) the user gave.
USER_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)
#: What an ``except`` clause that reports user errors catches; anything else must propagate as a bug.
USER_ERRORS = (SceneeditError, *USER_OS_ERRORS)


def is_user_error(exc: BaseException) -> bool:
    """True for errors the user can fix (shown as one line); everything else is a bug."""
    if isinstance(exc, SceneeditError):
        return True
    return isinstance(exc, USER_OS_ERRORS) and exc.filename is not None


def user_message(exc: BaseException) -> str:
    """The one line shown for a user error: its message, or ``path: reason`` for an OS error."""
    if isinstance(exc, OSError) and not isinstance(exc, SceneeditError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or type(exc).__name__}"
    return str(exc)


class ErrorMessage(str):
    """The text shown for an error; for a bug, ``internal`` is True and ``details`` holds the traceback.

    A ``str``, so it travels wherever an error message does (worker results, status bars).
    """

    internal: bool = False
    details: str = ""
    log_path: Path | None = None


def describe_error(exc: BaseException, context: str = "") -> ErrorMessage:
    """One line for ``exc``: its message if the user can fix it; else log the bug and say where."""
    if is_user_error(exc):
        return ErrorMessage(user_message(exc))
    log_path = log_internal_error(exc, context)
    where = f"details in {log_path}" if log_path is not None else "details on stderr"
    message = ErrorMessage(f"internal error: {type(exc).__name__}: {exc} ({where})")
    message.internal = True
    message.details = "".join(traceback.format_exception(exc))
    message.log_path = log_path
    return message


def log_file() -> Path:
    """``sceneedit.log`` in ``$SCENEEDIT_LOG_DIR``, else in platformdirs' user log dir."""
    folder = os.environ.get(LOG_DIR_ENV)
    if not folder:
        import platformdirs

        folder = platformdirs.user_log_dir("sceneedit", appauthor=False)
    return Path(folder) / "sceneedit.log"


def log_internal_error(exc: BaseException, context: str = "") -> Path | None:
    """Log ``exc`` with its traceback to the ``sceneedit`` logger and :func:`log_file`.

    Returns the log file, or None when it cannot be written (then the traceback goes to stderr).
    """
    path = _attach_file_handler()
    if path is None:
        traceback.print_exception(exc)
    logger.error("internal error%s", f" in {context}" if context else "", exc_info=exc)
    return path


def _attach_file_handler() -> Path | None:
    path = log_file()
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename == os.path.abspath(path):
            return path
    for handler in [h for h in logger.handlers if getattr(h, "_sceneedit_log", False)]:
        logger.removeHandler(handler)  # the log folder changed (tests set $SCENEEDIT_LOG_DIR)
        handler.close()
    try:
        from logging.handlers import RotatingFileHandler

        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler._sceneedit_log = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    return path
