"""The one base class for errors a user can fix.

Anything raised as a ``SceneeditError`` (a bad file, flag or value) is shown to the user as its message alone.
Every other exception is a bug: the CLI and the editor keep and log its traceback.
"""

from __future__ import annotations


class SceneeditError(Exception):
    """An error the user can fix; ``str(error)`` says what was wrong and names the file or value."""


def is_user_error(exc: BaseException) -> bool:
    """True for errors caused by the user's input: printed as one line, not a traceback."""
    return isinstance(exc, (SceneeditError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError, OSError))
