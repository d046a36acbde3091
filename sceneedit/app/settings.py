"""Persistent window settings: geometry, dock layout and recent files (QSettings).

The dock layout is keyed with the Qt version (Anki's ``_qt_state_key`` idea): a state
blob saved by another Qt version is never restored, so an upgrade cannot bring back a
broken layout.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, qVersion

ORGANIZATION = "sceneedit"
APPLICATION = "sceneedit"
#: Bump when the set of docks / toolbars changes so old layouts are ignored.
STATE_VERSION = 1
MAX_RECENT = 10
#: Kinds of recent files, with their menu labels.
RECENT_KINDS = {"generator": "Generator", "bundle": "Bundle", "recipe": "Recipe"}


def default_settings() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


def state_key() -> str:
    """Settings key of the dock layout for the running Qt version."""
    return f"window/state_qt{qVersion()}"


class WindowSettings:
    """Typed access to the editor's QSettings."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings if settings is not None else default_settings()

    # ----- geometry and layout ---------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value(state_key())
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue(state_key(), state)
        self.qsettings.sync()

    # ----- recent files ----------------------------------------------------------------
    def recent_files(self) -> list[tuple[str, str]]:
        """``[(kind, path), ...]``, newest first; kinds are :data:`RECENT_KINDS`."""
        raw = self.qsettings.value("recent/files", [])
        if isinstance(raw, str):
            raw = [raw]
        entries = []
        for item in raw or []:
            kind, _, path = str(item).partition("|")
            if kind in RECENT_KINDS and path:
                entries.append((kind, path))
        return entries

    def add_recent(self, kind: str, path: str | Path) -> None:
        if kind not in RECENT_KINDS:
            raise ValueError(f"unknown recent-file kind {kind!r}; allowed: {', '.join(RECENT_KINDS)}")
        entry = (kind, str(Path(path).resolve()))
        entries = [entry] + [e for e in self.recent_files() if e != entry]
        self.qsettings.setValue("recent/files", [f"{k}|{p}" for k, p in entries[:MAX_RECENT]])
        self.qsettings.sync()

    def clear_recent(self) -> None:
        self.qsettings.remove("recent/files")
        self.qsettings.sync()

    # ----- last folder used by file dialogs --------------------------------------------
    def drag_hint_seen(self) -> bool:
        """Whether the drag tool's first-use hint was already shown and followed."""
        return str(self.qsettings.value("drag/hint_seen", "false")).lower() == "true"

    def set_drag_hint_seen(self) -> None:
        self.qsettings.setValue("drag/hint_seen", "true")

    def last_folder(self) -> str:
        return str(self.qsettings.value("dialogs/last_folder", "") or "")

    def set_last_folder(self, path: str | Path) -> None:
        folder = Path(path)
        self.qsettings.setValue("dialogs/last_folder", str(folder if folder.is_dir() else folder.parent))
