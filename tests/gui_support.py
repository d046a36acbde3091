"""Shared pieces of the GUI tests: the tiny generator they edit and how a window is opened.

Import from a GUI test module.
"""

from __future__ import annotations

from sceneedit.editing.session import EditSession

#: How long a GUI test waits for the render thread or the window manager.
WAIT_MS = 20000


def open_main_window(qtbot, settings, session: EditSession):
    """A MainWindow on ``session``, registered with qtbot, not shown yet."""
    from sceneedit.app.window import MainWindow

    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.set_session(session)
    return window


def show_focused(qtbot, window) -> None:
    """Show ``window`` and wait until it is active (keyboard shortcuts need it)."""
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
