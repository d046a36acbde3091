"""Minimum dock widths, and a saved window layout that is unusable is not restored.

A dock squeezed by a small window stays narrow when the window grows again (the central widget
takes the new room), and the narrow layout was saved and restored at every start. Docks now have
minimum widths (:data:`MIN_DOCK_WIDTHS`), and :class:`LayoutGuard` checks the restored layout
when the window is first shown: a docked dock narrower than its minimum, a central widget
narrower than its own, or a window with no usable part on any screen puts the default layout back.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow

#: Minimum widths in pixels of the editor's docks, by object name.
MIN_DOCK_WIDTHS = {"conceptsDock": 280, "dragDock": 280, "latentDock": 200, "jitterDock": 200, "historyDock": 180}
#: A window shows at least this much of itself (w, h in pixels) on some screen to be usable.
MIN_VISIBLE = (120, 60)


def set_min_width(dock: QDockWidget) -> None:
    """Give ``dock`` its minimum width from :data:`MIN_DOCK_WIDTHS` (if it has one)."""
    width = MIN_DOCK_WIDTHS.get(dock.objectName())
    if width is not None:
        dock.setMinimumWidth(width)


def on_some_screen(frame: QRect) -> bool:
    """Whether at least :data:`MIN_VISIBLE` of ``frame`` lies on one screen's available area."""
    for screen in QGuiApplication.screens():
        part = screen.availableGeometry().intersected(frame)
        if part.width() >= MIN_VISIBLE[0] and part.height() >= MIN_VISIBLE[1]:
            return True
    return False


def layout_problems(window: QMainWindow) -> list[str]:
    """What makes the shown layout of ``window`` unusable (empty when it is fine)."""
    problems = []
    for dock in window.findChildren(QDockWidget):
        if dock.isVisible() and not dock.isFloating() and dock.width() < dock.minimumWidth():
            problems.append(f"{dock.objectName()} is {dock.width()} px wide (minimum {dock.minimumWidth()})")
    central = window.centralWidget()
    if central is not None and central.width() < central.minimumWidth():
        problems.append(f"the canvas is {central.width()} px wide (minimum {central.minimumWidth()})")
    if not on_some_screen(window.frameGeometry()):
        problems.append("the window is off every screen")
    return problems


class LayoutGuard(QObject):
    """On the first show of ``window``, puts ``default_state`` (a ``saveState`` blob of the
    default layout, with ``version``) and ``default_size`` back if the restored layout is unusable.
    :attr:`discarded` lists the problems found (empty when the saved layout was kept)."""

    def __init__(
        self, window: QMainWindow, default_state: QByteArray, version: int, default_size: tuple[int, int]
    ) -> None:
        super().__init__(window)
        self._window = window
        self._default_state = default_state
        self._version = version
        self._default_size = default_size
        self.discarded: list[str] = []
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self._window and event.type() == QEvent.Type.Show:
            self._window.removeEventFilter(self)
            self.check()
        return False

    def check(self) -> list[str]:
        """Put the default layout back if the current one is unusable; returns the problems."""
        problems = layout_problems(self._window)
        if problems:
            self.discarded = problems
            window = self._window
            window.resize(*self._default_size)
            screen = window.screen() or QGuiApplication.primaryScreen()
            if screen is not None and not on_some_screen(window.frameGeometry()):
                window.move(screen.availableGeometry().topLeft())
            window.restoreState(self._default_state, self._version)
        return problems
