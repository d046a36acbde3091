"""The export engine: render each planned sequence in batches and write its files.

Sources go in groups of about four batches' worth of frames, so batches stay full across
sources; a group's full-size frames are dropped once its animations are written (only the
contact sheet's thumbnails are kept). A frame already on disk is read back, not rendered
(resume). The cancel flag is checked between batches and files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..generators.base import Generator
from ..imaging import load_png
from ..render import render_batch
from . import writers
from .folder import check_writable, manifest, prepare_folder, read_manifest, remove_temporaries, write_manifest
from .jobs import MANIFEST_NAME, SHEET_NAME, ExportError, ExportJob, ExportReport, ProgressCallback, SequenceReport
from .planning import Plan, plan_export

ANIMATIONS = ("gif", "mp4")

#: ``tick(frames_done, message)``: progress inside one run.
Tick = Callable[[int, str], None]


class _Cancelled(Exception):
    pass


def _is_cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def run_export(
    generator: Generator,
    job: ExportJob,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> ExportReport:
    """Export every sequence of ``job``; returns what was written and skipped.

    ``progress(done, total, message)`` is called as frames complete (``total`` counts
    frames over all sequences, skipped ones included). ``cancel`` is a
    ``threading.Event`` or a callable returning True to stop: the run stops between
    batches/files, leaving only complete files, and the report says ``cancelled``
    (rerunning resumes). Raises :class:`ExportError` for bad input -- before anything is
    written -- or when a file cannot be written.
    """
    started = time.perf_counter()
    plans = plan_export(generator, job)
    check_writable(Path(job.out_dir))
    if not job.overwrite:
        for plan in plans:  # refuse conflicting folders before writing anything
            prepare_folder(plan, overwrite=False)
    total = sum(plan.frame_count for plan in plans)
    done = 0

    def tick(count: int, message: str) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total, message)

    report = ExportReport(sequences=[])
    for plan in plans:
        sequence_report = SequenceReport(plan.name, plan.folder)
        report.sequences.append(sequence_report)
        try:
            _SequenceExport(generator, job, plan, sequence_report, tick, cancel).run()
        except _Cancelled:
            report.cancelled = True
            break
    report.seconds = time.perf_counter() - started
    return report


class _SequenceExport:
    """One planned sequence written into its folder (frames, animations, sheet, manifest)."""

    def __init__(
        self, generator: Generator, job: ExportJob, plan: Plan, report: SequenceReport, tick: Tick, cancel: Any
    ) -> None:
        self.generator, self.job, self.plan, self.report = generator, job, plan, report
        self.tick, self.cancel = tick, cancel
        self.folder = plan.folder
        self.formats = set(job.formats)
        self.steps = len(plan.step_labels)
        self.sources = plan.sources
        self.animations = [kind for kind in ANIMATIONS if kind in self.formats]
        self.sheet_path = self.folder / SHEET_NAME
        self.manifest_path = self.folder / MANIFEST_NAME
        self.need_sheet = False
        self.thumbnails: dict[tuple[int, int], np.ndarray] = {}
        self.files: list[dict[str, Any]] = []

    # ----- the steps -----------------------------------------------------------------------
    def run(self) -> None:
        prepare_folder(self.plan, self.job.overwrite)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._already_complete():
            return
        write_manifest(self.manifest_path, self._manifest("in_progress", []))
        self.need_sheet = "sheet" in self.formats and not self.sheet_path.is_file()
        group = max(1, math.ceil(4 * self.job.batch_size / max(self.steps, 1)))
        for first in range(0, len(self.sources), group):
            self._export_group(range(first, min(first + group, len(self.sources))))
        self._list_frames_and_animations()
        if "sheet" in self.formats:
            self._finish_sheet()
        final = self._manifest("complete", sorted(self.formats))
        writers.guarded_write(lambda: write_manifest(self.manifest_path, final), self.manifest_path)
        self.report.written.append(self.manifest_path)

    def _already_complete(self) -> bool:
        """True (and everything reported skipped) when an earlier run of this plan wrote every
        file asked; stale temporaries of a killed run are removed either way."""
        old = read_manifest(self.manifest_path)
        if old is None:
            return False
        remove_temporaries(self.folder)
        if old.get("status") != "complete" or old.get("plan_key") != self.plan.key:
            return False
        entries = old.get("files", [])
        if not all((self.folder / e["path"]).is_file() for e in entries):
            return False
        if not self.formats <= set(old.get("formats", [])):
            return False
        self.report.skipped.append(self.manifest_path)
        self.report.skipped.extend(self.folder / e["path"] for e in entries)
        self.tick(self.plan.frame_count, f"{self.plan.name}: complete, skipped")
        return True

    def _export_group(self, members: range) -> None:
        """Render the missing frames of sources ``members``, then write their animations."""
        missing = {s: [k for k in self.animations if not self._animation_path(s, k).is_file()] for s in members}
        in_memory = {s for s in members if missing[s] or self.need_sheet}
        # A frame is rendered when it is wanted (as PNG, or for an animation or the sheet)
        # and not already on disk from an earlier run.
        wanted = [s for s in members if "png" in self.formats or s in in_memory]
        todo = [(s, k) for s in wanted for k in range(self.steps) if not self._frame_path(s, k).is_file()]
        skipped = len(members) * self.steps - len(todo)
        if skipped:
            self.tick(skipped, f"{self.plan.name}: {skipped} frames already on disk")
        images = self._render(todo, in_memory)
        for s in sorted(in_memory):
            frames = [
                images.pop((s, k)) if (s, k) in images else load_png(self._frame_path(s, k)) for k in range(self.steps)
            ]
            self._finish_source(s, frames, missing[s])

    def _render(self, todo: list[tuple[int, int]], keep: set[int]) -> dict[tuple[int, int], np.ndarray]:
        """Render frames ``todo`` (source, step) in batches, writing PNGs if asked; returns
        the images of sources in ``keep``."""
        images: dict[tuple[int, int], np.ndarray] = {}
        batch_size = self.job.batch_size
        for offset in range(0, len(todo), batch_size):
            self._check_cancel()
            chunk = todo[offset : offset + batch_size]
            start = time.perf_counter()
            results = render_batch(self.generator, [self.plan.states[s][k] for s, k in chunk], batch_size=batch_size)
            self.report.render_seconds += time.perf_counter() - start
            for (s, k), result in zip(chunk, results, strict=True):
                image = result.image
                if result.error is not None or image is None:
                    label = self.sources[s].label
                    raise ExportError(f"{self.plan.name}: frame {k} of {label} failed to render: {result.error}")
                self._write_frame(s, k, image)
                if s in keep:
                    images[(s, k)] = image
            self.report.frames_rendered += len(chunk)
            self.tick(len(chunk), f"{self.plan.name}: rendered {self.report.frames_rendered} frames")
        return images

    def _write_frame(self, source: int, step: int, image: np.ndarray) -> None:
        if "png" in self.formats:
            path = self._frame_path(source, step)
            writers.guarded_write(lambda: writers.write_png(image, path), path)
            self.report.written.append(path)

    def _finish_source(self, source: int, frames: list[np.ndarray], missing: list[str]) -> None:
        """Write the ``missing`` animations of ``source``; keep its sheet thumbnails."""
        for kind in missing:
            self._check_cancel()
            path = self._animation_path(source, kind)
            self.tick(0, f"{self.plan.name}: writing {path.name}")
            write = writers.write_gif if kind == "gif" else writers.write_mp4
            writers.guarded_write(partial(write, frames, path, self.job.fps), path)
            self.report.written.append(path)
        if self.need_sheet:
            for step, frame in enumerate(frames):
                self.thumbnails[(source, step)] = writers.sheet_tile(frame)

    def _list_frames_and_animations(self) -> None:
        """Everything but the sheet is on disk now: list it, and report what was skipped."""
        written = set(self.report.written)
        for s, source in enumerate(self.sources):
            if "png" in self.formats:
                for k in range(self.steps):
                    path = self._frame_path(s, k)
                    self._record(path, "frame", source=source.label, step=k)
                    if path not in written:
                        self.report.skipped.append(path)
            for kind in self.animations:
                path = self._animation_path(s, kind)
                if path not in written:
                    self.report.skipped.append(path)
                extra = {"gif_frames": writers.gif_frame_count(path)} if kind == "gif" else {}
                self._record(path, kind, source=source.label, frames=self.steps, **extra)

    def _finish_sheet(self) -> None:
        """Write the contact sheet (rows = sources, columns = steps) unless it exists."""
        if self.need_sheet:
            self._check_cancel()
            count = len(self.sources)
            tiles = [self.thumbnails[(s, k)] for s in range(count) for k in range(self.steps)]
            labels = [
                f"{self.sources[s].short} {self.plan.step_labels[k]}" for s in range(count) for k in range(self.steps)
            ]
            path = self.sheet_path
            writers.guarded_write(lambda: writers.write_contact_sheet(tiles, self.steps, labels, path), path)
            self.report.written.append(path)
        else:
            self.report.skipped.append(self.sheet_path)
        self._record(self.sheet_path, "contact_sheet", rows=len(self.sources), columns=self.steps)

    # ----- helpers ------------------------------------------------------------------------
    def _frame_path(self, source: int, step: int) -> Path:
        return self.folder / "frames" / self.sources[source].label / f"{step:03d}.png"

    def _animation_path(self, source: int, kind: str) -> Path:
        return self.folder / f"{self.sources[source].label}.{kind}"

    def _record(self, path: Path, kind: str, **extra: Any) -> None:
        entry = {"path": path.relative_to(self.folder).as_posix(), "kind": kind, "bytes": path.stat().st_size}
        self.files.append({**entry, **extra})

    def _manifest(self, status: str, formats: list[str]) -> dict[str, Any]:
        return manifest(self.generator, self.job, self.plan, status, self.files, formats)

    def _check_cancel(self) -> None:
        if _is_cancelled(self.cancel):
            raise _Cancelled
