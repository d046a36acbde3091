"""The History dock: the session's undo history as a list; clicking an entry jumps to it.

Entries after the current one (the redo branch) are drawn greyed out; the current entry
stays in view (after every change, and when the list is resized or shown).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QListWidget, QListWidgetItem, QWidget

from sceneedit.editing.events import SessionEvent

from ..qt_utils import SessionLink, signals_blocked


class HistoryList(QListWidget):
    """The list of steps; it keeps its current row in view when it is resized or shown
    (a shrinking dock or window would otherwise leave the current step out of sight)."""

    def keep_current_in_view(self) -> None:
        item = self.currentItem()
        if item is not None:
            self.doItemsLayout()  # rows are laid out lazily; scroll to where they will be
            self.scrollToItem(item, QAbstractItemView.ScrollHint.EnsureVisible)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.keep_current_in_view()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.keep_current_in_view()


class HistoryDock(QDockWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("History", parent)
        self.setObjectName("historyDock")
        self.session = None
        self._session_link = SessionLink(self._on_session_event)
        self.list = HistoryList()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setToolTip("Click an entry to go back (or forward) to it")
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemClicked.connect(self._on_clicked)
        self.list.currentRowChanged.connect(self._on_row)
        self.setWidget(self.list)

    def set_session(self, session) -> None:
        self._session_link.drop()
        self.session = session
        if session is not None:
            self._session_link.follow(session)
        self.refresh()

    def _on_session_event(self, event: SessionEvent, payload: dict) -> None:
        if event is SessionEvent.HISTORY_CHANGED:
            self.refresh()

    def refresh(self) -> None:
        with signals_blocked(self.list):
            self.list.clear()
            if self.session is None:
                return
            current = int(self.session.history_index)
            muted = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            for i, label in enumerate(self.session.history):
                item = QListWidgetItem(f"{i}. {label}")
                item.setToolTip(label)
                if i > current:
                    item.setForeground(muted)
                if i == current:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.list.addItem(item)
            self.list.setCurrentRow(current)
        self.list.keep_current_in_view()

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.jump(self.list.row(item))

    def _on_row(self, row: int) -> None:
        # Keyboard navigation of the list moves through the history too.
        if row >= 0:
            self.jump(row)

    def jump(self, index: int) -> None:
        if self.session is not None and index != self.session.history_index:
            self.session.jump_to(int(index))
