"""A start-up check of the Qt binding for a known class of crash.

PySide6 6.12.0 on Python 3.11 drops a reference to ``True`` on every ``Signal.emit`` and
to ``None`` on every ``processEvents`` call. Python < 3.12 does not make these objects
immortal, so after some thousands of slider moves the interpreter aborts with
"Fatal Python error: bool_dealloc" / "none_dealloc". PySide6 6.11.3 does not have the bug,
nor does any build on Python >= 3.12. The editor probes for it and warns.
"""

from __future__ import annotations

import sys

#: Emits made by the probe; a leaking binding loses one reference per emit.
PROBE_EMITS = 64


def binding_drops_references() -> bool:
    """True when emitting a Qt signal from Python loses references to ``True``.

    On an affected binding the references the probe lost are given back, so the probe
    itself leaves the interpreter as it found it.
    """
    import ctypes

    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(PROBE_EMITS):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    if lost >= PROBE_EMITS // 2:
        for _ in range(lost):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
        return True
    return False


def binding_warning() -> str | None:
    """A user-facing warning when the binding is affected, else None."""
    if sys.version_info >= (3, 12) or not binding_drops_references():
        return None
    import PySide6

    return (
        f"PySide6 {PySide6.__version__} on Python {sys.version_info.major}.{sys.version_info.minor} "
        "loses a reference on every Qt signal, which crashes the editor after some thousands "
        'of slider moves. Install another PySide6 (pip install "PySide6-Essentials<6.12") '
        "or run on Python 3.12 or newer."
    )
