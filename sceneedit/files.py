"""Atomic file writes: write to a temporary name in the same folder, then rename.

A crash, Ctrl-C or full disk leaves either the old file or the complete new one, never a
half-written file under the final name. Outside the package layers, so every layer (the
generators at the bottom included) can use it.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import SceneeditError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class WriteError(SceneeditError, OSError):
    """A file could not be written (disk full, quota, permissions); the message names it."""


#: errno -> what happened, in words.
_WRITE_PROBLEMS = {
    errno.ENOSPC: "No space left on device (the disk is full)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is too large for this file system or process limit",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "an input/output error on the disk",
}
_IO_ERRNO = re.compile(r"os error (\d+)")


def write_error_words(exc: BaseException) -> str | None:
    """What a failed write means, in words, or None when ``exc`` is no write failure.

    Knows ``OSError`` by its errno and the safetensors writer's "I/O error: ... (os error N)".
    """
    number = exc.errno if isinstance(exc, OSError) else None
    if number is None and type(exc).__name__ == "SafetensorError" and "I/O error" in str(exc):
        match = _IO_ERRNO.search(str(exc))
        number = int(match.group(1)) if match else errno.EIO
    if number in _WRITE_PROBLEMS:
        return _WRITE_PROBLEMS[number]
    if isinstance(exc, OSError) and number is None and "written" in str(exc):
        # numpy's tofile: "N requested and M written" -- a write cut short, no errno.
        return f"a write was cut short ({exc}); is the disk full?"
    return None


#: Temporary files of writes in progress; removed at exit if an interrupt (a second
#: Ctrl-C during the cleanup itself) kept :func:`atomic_path` from removing them.
_PENDING: set[str] = set()


@atexit.register
def _remove_pending_temporaries() -> None:
    for name in list(_PENDING):
        with contextlib.suppress(OSError):
            os.unlink(name)
    _PENDING.clear()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    ``suffix`` (default: ``path``'s own suffix) is kept on the temporary name so tools that
    pick a format from the extension (ffmpeg, Pillow, ``np.savez``) still work. On any
    exception the temporary file is removed and the exception propagates; a write that
    failed for lack of space, quota or permission becomes :class:`WriteError` naming
    ``path`` in words. The folder must exist.
    """
    target = Path(path)
    suffix = target.suffix if suffix is None else suffix
    # Ctrl-C is held back while the temporary file is created and registered, so an
    # interrupt can only land where the cleanup below (or the exit-time sweep) covers it.
    blocked = _hold_interrupts()
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".partial{suffix}", dir=target.parent)
        _PENDING.add(tmp_name)
        os.close(fd)
        tmp = Path(tmp_name)
        _release_interrupts(blocked)
        blocked = None
        yield tmp
        # mkstemp creates 0600; give the final file the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
        _PENDING.discard(tmp_name)
    except BaseException as exc:
        held = _hold_interrupts()
        try:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                _PENDING.discard(tmp_name)
        finally:
            _release_interrupts(blocked if blocked is not None else held)
        words = None if isinstance(exc, WriteError) else write_error_words(exc)
        if words is not None:
            error = WriteError(f"cannot write {target}: {words}")
            error.errno = exc.errno if isinstance(exc, OSError) else None
            raise error from exc
        raise


def _hold_interrupts() -> set | None:
    """Block SIGINT for this thread (POSIX); returns the previous mask, or None if not held."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (OSError, ValueError):
        return None


def _release_interrupts(previous: set | None) -> None:
    """Restore the mask :func:`_hold_interrupts` returned; a held Ctrl-C is delivered now."""
    if previous is not None and signal.SIGINT not in previous:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return None


#: Names :func:`atomic_path` gives its temporary files: ``.NAME.XXXXXXXX.partial[.SUFFIX]``.
_TEMPORARY_NAME = re.compile(r"^\..+\.partial(\.[A-Za-z0-9]+)?$")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writes a killed process (SIGKILL, power loss) left in
    ``folder``; returns what was removed. Call it only when no other process writes there."""
    removed = []
    folder = Path(folder)
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_file() and _TEMPORARY_NAME.match(entry.name):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, **dumps: Any) -> None:
    """Write ``data`` as JSON (``json.dumps`` keywords ``dumps``; NaN refused unless
    ``allow_nan=True``) atomically."""
    atomic_write_text(path, json.dumps(data, **{"allow_nan": False, **dumps}))


def atomic_write_npy(path: str | os.PathLike, array: Any) -> None:
    """``np.save`` ``array`` (no pickles) to ``path`` atomically, whatever its suffix."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def atomic_copy(source: str | os.PathLike, target: str | os.PathLike, link: bool = False) -> None:
    """Copy ``source`` to ``target`` atomically; with ``link``, hard-link instead where the
    file system allows (same disk), else copy."""
    with atomic_path(target) as tmp:
        if link:
            tmp.unlink()
            try:
                os.link(source, tmp)
                return
            except OSError:
                pass
        shutil.copyfile(source, tmp)
