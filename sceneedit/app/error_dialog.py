"""How the editor shows errors: a user error in the usual one-line dialog, a bug with its traceback.

A bug (any exception that is not a :class:`~sceneedit.errors.SceneeditError` or an OS error on the user's
path) is logged with its traceback (:func:`sceneedit.errors.describe_error`) and shown in a non-blocking
QMessageBox whose "Show Details..." box holds the traceback. :func:`install_excepthook` routes exceptions
escaping Qt slots on the UI thread there too, so a bug never takes the editor down.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from sceneedit.errors import ErrorMessage, describe_error


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A user error as a modal critical box; a bug's :class:`ErrorMessage` with its details box."""
    if isinstance(message, ErrorMessage) and message.internal:
        show_internal_error(parent, title, message)
    else:
        QMessageBox.critical(parent, title, str(message))


def show_internal_error(parent: QWidget | None, title: str, message: ErrorMessage) -> QMessageBox:
    """A window-modal, non-blocking box: ``message`` (one line) and the traceback under "Show Details..."."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, str(message), QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("internal_error_box")
    box.setInformativeText("This is a bug in sceneedit; the editor keeps running.")
    box.setDetailedText(message.details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def report_exception(parent: QWidget | None, title: str, exc: BaseException) -> None:
    """Show ``exc`` raised on the UI thread: one line for a user error; for a bug, log it and show details."""
    show_error(parent, title, describe_error(exc, title))


def install_excepthook(parent: Callable[[], QWidget | None]) -> Callable:
    """Route exceptions that escape Qt slots to :func:`report_exception`; returns the previous hook.

    ``parent`` returns the widget to show the dialog over (None once the window is gone).
    """
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        try:
            report_exception(parent(), "sceneedit", exc.with_traceback(tb))
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            traceback.print_exception(exc_type, exc, tb)

    sys.excepthook = hook
    return previous
