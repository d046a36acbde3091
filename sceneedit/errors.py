"""Which exceptions are user errors (bad input) rather than bugs."""

from __future__ import annotations


def is_user_error(exc: BaseException) -> bool:
    """True for errors caused by the user's input: printed as one line, not a traceback."""
    return isinstance(exc, (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, OSError))
