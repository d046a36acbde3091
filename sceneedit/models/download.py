"""Resumable, verified, atomic downloads (HTTP range requests) and copies of local files.

A download goes to ``<dest>.part``; an interrupted one (cut connection, cancel) keeps that
file and the next attempt asks the server for the rest (``Range: bytes=<have>-``). Only a
file whose size and SHA-256 match what is expected is renamed to ``dest``; a mismatch
discards it. Progress is reported as ``progress(done_bytes, total_bytes_or_None)``; a
``cancelled()`` callable returning True stops the transfer (:class:`DownloadCancelled`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import SceneeditError

ProgressFn = Callable[[int, "int | None"], None]
CancelFn = Callable[[], bool]
CHUNK = 1 << 16
USER_AGENT = "sceneedit-model-fetch/1"


class DownloadError(SceneeditError, OSError):
    """A download or copy failed (names the address and the reason)."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the partial file is kept for resuming."""


class ChecksumMismatch(DownloadError):
    """The bytes arrived but are not the expected file; they were discarded."""


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def sha256_of(path: Path, cancelled: CancelFn | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            if cancelled is not None and cancelled():
                raise DownloadCancelled(f"{path}: checksum cancelled")
            digest.update(block)
    return digest.hexdigest()


def fetch_to(
    source: str,
    dest: str | os.PathLike,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    retries: int = 3,
    timeout: float = 30.0,
) -> str:
    """Bring ``source`` (an http(s) URL or a local file) to ``dest``, verified; returns its SHA-256."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if is_url(source):
        _download(source, part, expected_size, progress, cancelled, retries, timeout)
    else:
        _copy(Path(source).expanduser(), part, progress, cancelled)
    return _verify_and_commit(source, part, dest, expected_sha256, expected_size, cancelled)


def _verify_and_commit(
    source: str,
    part: Path,
    dest: Path,
    expected_sha256: str | None,
    expected_size: int | None,
    cancelled: CancelFn | None,
) -> str:
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{source}: got {size} bytes, expected {expected_size}; the file was discarded")
    digest = sha256_of(part, cancelled)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{source}: SHA-256 {digest} does not match the expected {expected_sha256}; the file was discarded"
        )
    os.replace(part, dest)
    return digest


def _copy(source: Path, part: Path, progress: ProgressFn | None, cancelled: CancelFn | None) -> None:
    if not source.is_file():
        raise DownloadError(f"{source}: no such file")
    total = source.stat().st_size
    done = 0
    with open(source, "rb") as reader, open(part, "wb") as writer:
        while block := reader.read(1 << 20):
            if cancelled is not None and cancelled():
                raise DownloadCancelled(f"{source}: copy cancelled")
            writer.write(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    if done != total:
        raise DownloadError(f"{source}: the file changed while it was copied")


def _download(
    url: str,
    part: Path,
    expected_size: int | None,
    progress: ProgressFn | None,
    cancelled: CancelFn | None,
    retries: int,
    timeout: float,
) -> None:
    failures: list[str] = []
    for _attempt in range(max(1, retries)):
        try:
            if _download_once(url, part, expected_size, progress, cancelled, timeout):
                return
            failures.append("the connection closed before the end of the file")
        except DownloadError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            failures.append(str(getattr(exc, "reason", exc)) or type(exc).__name__)
    have = part.stat().st_size if part.exists() else 0
    raise DownloadError(
        f"{url}: download interrupted after {have} bytes ({failures[-1]}); run the same command again to resume"
    )


def _download_once(
    url: str,
    part: Path,
    expected_size: int | None,
    progress: ProgressFn | None,
    cancelled: CancelFn | None,
    timeout: float,
) -> bool:
    """One request; True when the file is complete. Raises DownloadError for answers that a
    retry cannot fix (404, a web page instead of the file, ...)."""
    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have == expected_size:
        return True
    if expected_size is not None and have > expected_size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return True  # nothing left to send: the part file is whole (verified next)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    with response:
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("text/html"):
            raise DownloadError(
                f"{url}: the server sent a web page ({content_type}), not the file; download it in a "
                "browser and use --from FILE"
            )
        if response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != have:
                raise DownloadError(f"{url}: the server resumed at byte {start}, not {have}")
            mode = "ab"
        else:
            have, mode = 0, "wb"  # the server ignored the range: start again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else expected_size
        done = have
        with open(part, mode) as writer:
            while True:
                if cancelled is not None and cancelled():
                    raise DownloadCancelled(f"{url}: download cancelled after {done} bytes (kept for resuming)")
                block = response.read(CHUNK)
                if not block:
                    break
                writer.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        return total is None or done >= total


def _content_range_start(header: str) -> int | None:
    # "bytes 100-199/200"
    try:
        return int(header.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None
