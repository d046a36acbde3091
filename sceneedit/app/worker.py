"""The one background thread that owns the generator and runs every torch call of the editor.

The UI thread never synthesizes. It hands :class:`RenderJob` objects to
:meth:`RenderWorker.submit`; each job carries a stamp that grows with every request. The
worker keeps only the newest pending job of each kind ("edit": the edited scene, "base":
the unedited scene shown while comparing), so a burst of requests renders far fewer
frames and the last frame always matches the last request (the stylegan3 visualizer's
AsyncRenderer idea). Results go back through queued signals, never by touching widgets.

Long tasks (loading a generator or a bundle, exporting) run on the same thread, so the
generator is never used by two threads for heavy work at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

#: Job kinds, in the order the worker serves them when several are pending.
JOB_KINDS = ("edit", "base")


@dataclass(frozen=True)
class RenderJob:
    """One render request.

    ``kind``: "edit" (the edited scene) or "base" (the unedited scene shown while
    comparing); ``payload`` is a plain :class:`~sceneedit.editing.resolve.RenderSpec` that the
    worker resolves (maps seeds, builds directions) or a ready ``EditState``, for
    ``sceneedit.render.render``. ``generator`` is the generator it belongs to (a reference;
    the worker runs it).
    """

    stamp: int
    kind: str
    generator: Any
    payload: Any


@dataclass(frozen=True)
class FrameResult:
    """A finished render: ``image`` uint8 ``[H, W, 3]`` or None when ``error`` is set."""

    stamp: int
    kind: str
    image: np.ndarray | None
    elapsed_ms: float
    error: str | None = None
    wp: np.ndarray | None = None


@dataclass(frozen=True)
class LoadRequest:
    """Open a generator (and optionally a bundle) from files; ``seed`` starts the session."""

    generator_path: str
    bundle_path: str | None = None
    device: str | None = None
    seed: int = 0


@dataclass
class LoadResult:
    """What a :class:`LoadRequest` produced: a ready ``EditSession`` or an ``error``."""

    request: LoadRequest
    session: Any = None
    error: str | None = None
    bundle_error: str | None = None


@dataclass
class BundleResult:
    """A bundle read and validated against the current generator, or an ``error``."""

    path: str
    bundle: Any = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: True when only the weights hash differs (the user may choose to load it anyway).
    hash_mismatch: bool = False


@dataclass
class TaskResult:
    """A generic background task (export): its return ``value`` or an ``error``."""

    name: str
    value: Any = None
    error: str | None = None
    cancelled: bool = False


@dataclass
class _Pending:
    jobs: dict[str, RenderJob] = field(default_factory=dict)
    submitted: int = 0


def _error_text(exc: BaseException) -> str:
    """One line for user errors; for anything else (a bug) the message says "internal error", the traceback
    is logged and kept in the message's ``details`` (an :class:`~sceneedit.errors.ErrorMessage`)."""
    from sceneedit.errors import describe_error

    return describe_error(exc, "editor worker")


class RenderWorker(QObject):
    """Lives in :class:`WorkerThread`; every slot runs there.

    Signals (delivered queued to the UI thread):
    ``frame_ready(FrameResult)``, ``loaded(LoadResult)``, ``bundle_loaded(BundleResult)``,
    ``task_finished(TaskResult)``, ``task_progress(name, done, total, message)``, ``busy(str)``
    (a non-empty message while a long task runs, "" when done).
    """

    frame_ready = Signal(object)
    loaded = Signal(object)
    bundle_loaded = Signal(object)
    task_finished = Signal(object)
    task_progress = Signal(str, int, int, str)
    busy = Signal(str)

    # Internal: queued into the worker thread.
    _wake = Signal()
    _load = Signal(object)
    _import_bundle = Signal(object, object)
    _run_task = Signal(str, object)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._resolver: Any = None  # sceneedit.editing.resolve.Resolver, made on the worker thread
        #: Counters, readable from any thread (ints are replaced atomically).
        self.frames_rendered = 0
        self.jobs_dropped = 0
        self._wake.connect(self._drain)
        self._load.connect(self._do_load)
        self._import_bundle.connect(self._do_import_bundle)
        self._run_task.connect(self._do_task)

    # ----- called from the UI thread -------------------------------------------------
    def submit(self, job: RenderJob) -> None:
        """Queue ``job``, replacing (dropping) any pending job of the same kind."""
        if job.kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {job.kind!r}; allowed: {', '.join(JOB_KINDS)}")
        with self._lock:
            if job.kind in self._pending.jobs:
                self.jobs_dropped += 1
            self._pending.jobs[job.kind] = job
            self._pending.submitted += 1
        self._wake.emit()

    def pending_count(self) -> int:
        """Jobs waiting (not yet started); at most one per kind."""
        with self._lock:
            return len(self._pending.jobs)

    def request_load(self, request: LoadRequest) -> None:
        self._load.emit(request)

    def request_bundle_import(self, path: str | Path, generator: Any, allow_hash_mismatch: bool = False) -> None:
        """Read ``path`` (bundle file or HiGAN boundary folder) and check it fits ``generator``."""
        self._import_bundle.emit(str(path), (generator, bool(allow_hash_mismatch)))

    def request_task(self, name: str, function: Callable[[Callable[..., None]], Any]) -> None:
        """Run ``function(progress)`` on the worker thread; ``progress(done, total, message="")``
        emits :attr:`task_progress`. The result arrives in :attr:`task_finished`."""
        self._run_task.emit(name, function)

    # ----- worker-thread slots --------------------------------------------------------
    def _take_next(self) -> RenderJob | None:
        with self._lock:
            for kind in JOB_KINDS:
                job = self._pending.jobs.pop(kind, None)
                if job is not None:
                    return job
        return None

    @Slot()
    def _drain(self) -> None:
        # Several wake signals may be queued for one job; the extra ones find nothing.
        while True:
            job = self._take_next()
            if job is None:
                return
            self.frame_ready.emit(self._render(job))

    def _render(self, job: RenderJob) -> FrameResult:
        start = time.perf_counter()
        try:
            from sceneedit.render import render

            result = render(job.generator, self.resolve(job.generator, job.payload))
            if result.error:
                return FrameResult(job.stamp, job.kind, None, float(result.elapsed_ms), str(result.error))
            self.frames_rendered += 1
            return FrameResult(job.stamp, job.kind, np.asarray(result.image), float(result.elapsed_ms), None, result.wp)
        except Exception as exc:  # reported to the UI; the next job runs normally
            elapsed = (time.perf_counter() - start) * 1000.0
            return FrameResult(job.stamp, job.kind, None, elapsed, _error_text(exc))

    def resolve(self, generator: Any, payload: Any) -> Any:
        """``payload`` (a ``RenderSpec``, or an ``EditState`` kept as it is) as an ``EditState``.

        Worker thread only: maps seeds with ``generator`` (cached across jobs).
        """
        from sceneedit.editing.resolve import RenderSpec, Resolver

        if not isinstance(payload, RenderSpec):
            return payload
        if self._resolver is None:
            self._resolver = Resolver()
        return self._resolver.state(generator, payload)

    @Slot(object)
    def _do_load(self, request: LoadRequest) -> None:
        self.busy.emit(f"Loading {Path(request.generator_path).name}…")
        result = LoadResult(request)
        try:
            result.session = _open_session(request, result)
        except Exception as exc:
            result.error = _error_text(exc)
        finally:
            self.busy.emit("")
        self.loaded.emit(result)

    @Slot(object, object)
    def _do_import_bundle(self, path: str, target: tuple) -> None:
        from sceneedit.semantics.bundle import BundleHashMismatch

        generator, allow_hash_mismatch = target
        self.busy.emit(f"Importing {Path(path).name}…")
        result = BundleResult(path)
        try:
            result.bundle, result.warnings = read_bundle_for(path, generator, allow_hash_mismatch)
        except BundleHashMismatch as exc:
            result.error, result.hash_mismatch = str(exc), True
        except Exception as exc:
            result.error = _error_text(exc)
        finally:
            self.busy.emit("")
        self.bundle_loaded.emit(result)

    @Slot(str, object)
    def _do_task(self, name: str, function: Callable) -> None:
        self.busy.emit(f"{name}…")
        result = TaskResult(name)

        def progress(done: int, total: int, message: str = "") -> None:
            self.task_progress.emit(name, int(done), int(total), str(message))

        try:
            result.value = function(progress)
            result.cancelled = bool(getattr(result.value, "cancelled", False))
        except Exception as exc:
            result.error = _error_text(exc)
        finally:
            self.busy.emit("")
        self.task_finished.emit(result)


def read_bundle_for(path: str | Path, generator: Any, allow_hash_mismatch: bool = False):
    """Load a bundle file, a HiGAN boundary folder / list or a ``.npy`` normal and
    validate it against ``generator``.

    Returns ``(bundle, warnings)``. Raises a ValueError/OSError naming the file on any
    problem (``BundleHashMismatch`` when only the weights hash differs).
    """
    from sceneedit.semantics.bundle import check_compatible, fingerprint_for
    from sceneedit.semantics.importers import import_any

    # Foreign boundaries (HiGAN folders, lists, .npy) carry no generator record: they are
    # taken to be for the generator they are imported into.
    bundle = import_any(Path(path), fingerprint=fingerprint_for(generator))
    warnings = check_compatible(bundle, generator, allow_hash_mismatch=allow_hash_mismatch)
    return bundle, list(warnings)


def _open_session(request: LoadRequest, result: LoadResult):
    from sceneedit.editing.session import EditSession
    from sceneedit.generators import load_generator

    generator = load_generator(request.generator_path, device=request.device)
    bundle = None
    if request.bundle_path:
        try:
            bundle, _warnings = read_bundle_for(request.bundle_path, generator)
        except Exception as exc:  # the generator is still usable without its bundle
            text = _error_text(exc)  # readers' errors usually name the file already
            result.bundle_error = text if Path(request.bundle_path).name in text else f"{request.bundle_path}: {text}"
    # The drag tool shows its default settings, which need one probing synthesis per generator:
    # run it here so the UI thread never does.
    from sceneedit.editing.drag import default_settings

    default_settings(generator)
    return EditSession(generator, bundle=bundle, seed=request.seed)


class WorkerThread:
    """Owns the QThread and the :class:`RenderWorker` living in it.

    ``stop()`` must be called before the application quits (the window does it on close).
    """

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("sceneedit-render")
        self.worker = RenderWorker()
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self) -> None:
        """Finish the current job and end the thread; pending render jobs are discarded.

        Blocks until the running job (a render, a load, an export step) is done: the
        thread must not outlive its QThread object.
        """
        if not self.thread.isRunning():
            return
        with self.worker._lock:
            self.worker._pending.jobs.clear()
        self.thread.quit()
        self.thread.wait()
