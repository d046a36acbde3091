"""Batch export of edit sequences: PNG frames, GIF, MP4, contact sheet, manifest.

A *sequence* is a list of edit steps -- a sweep of one or several concepts, a jitter
series, or a recipe's timeline -- applied to each *source* (a seed, or a code from a
file). For a sequence named ``NAME`` in ``out_dir`` the exporter writes::

    NAME/frames/<source>/<step:03d>.png   one frame per source and step
    NAME/<source>.gif, NAME/<source>.mp4  one animation per source (steps in order)
    NAME/contact_sheet.png                rows = sources, columns = steps
    NAME/manifest.json                    every file written, with the recipe behind it

Every file is written to a temporary name and renamed, so a file under its final name is
always complete. ``manifest.json`` is written first (``"status": "in_progress"``) and
last (``"complete"``); a rerun with the same plan skips every file that exists and
renders only missing frames (resume). A folder holding a different plan is refused
unless ``overwrite``. Everything is validated before the first file is written.

:func:`run_export` is the engine: the CLI (``sceneedit export``) and the editor's export
dialog call it with a progress callback and a cancel flag.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .editing.recipe import RecipeError, bundle_fingerprint, validate_recipe
from .editing.replay import EditRun, start_edit
from .editing.state import JITTER_MODES, EditState
from .files import WriteError, atomic_path, atomic_write_text
from .generators.base import Generator
from .generators.fingerprint import generator_fingerprint
from .imaging import load_png, make_contact_sheet, save_png
from .render import render_batch
from .semantics.concepts import BoundaryBundle

EXPORT_FORMAT = "sceneedit-export"
EXPORT_VERSION = 1
FORMATS = ("png", "gif", "mp4", "sheet")
MANIFEST_NAME = "manifest.json"
#: Largest contact-sheet tile side; bigger frames are downscaled for the sheet only.
SHEET_TILE_MAX = 256

ProgressCallback = Callable[[int, int, str], None]


class ExportError(ValueError):
    """The export cannot run as asked (bad input, unwritable folder, a frame failed)."""


# ----- what to export ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConceptSweep:
    """One concept's part of a sweep: its strength goes from ``start`` to ``end``.

    Strengths are distances in units of the unit normal, offsets from the starting code;
    they replace whatever strength the starting recipe gave the concept. ``layers``
    overrides the concept's layer range (None keeps it).
    """

    concept: str
    start: float
    end: float
    layers: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SweepSequence:
    """Sweep one or several concepts together over ``steps`` evenly spaced frames."""

    concepts: tuple[ConceptSweep, ...]
    steps: int = 9
    name: str | None = None

    @property
    def default_name(self) -> str:
        return "sweep_" + "+".join(c.concept for c in self.concepts)


@dataclass(frozen=True)
class JitterSequence:
    """One frame per jitter seed: ``layers`` re-sampled with ``strength`` (see JitterSettings)."""

    layers: tuple[int, ...]
    seeds: tuple[int, ...]
    strength: float = 1.0
    mode: str = "gaussian"
    name: str | None = None

    @property
    def default_name(self) -> str:
        layers = "-".join(str(x) for x in self.layers)
        return f"jitter_{self.mode}_layers{layers}"


@dataclass(frozen=True)
class TimelineSequence:
    """One frame per step of a recipe's history (its start included)."""

    recipe: dict[str, Any]
    name: str | None = None
    #: Where the recipe came from (its file), for error messages.
    source: str = "timeline recipe"

    @property
    def default_name(self) -> str:
        return "timeline"


SequenceSpec = SweepSequence | JitterSequence | TimelineSequence


@dataclass
class ExportJob:
    """Everything one export run needs besides the generator.

    Sources: ``seeds`` (each mapped with ``truncation_psi``), or ``codes`` float
    ``[N, L, D]`` (from a file), or neither -- then the starting ``recipe``'s own base code.
    ``recipe``: the starting point of sweeps and jitter series (its final state), and the
    source of nothing else. ``formats``: a subset of :data:`FORMATS`.
    """

    sequences: list[SequenceSpec]
    out_dir: Path
    bundle: BoundaryBundle | None = None
    recipe: dict[str, Any] | None = None
    seeds: list[int] | None = None
    codes: np.ndarray | None = None
    codes_source: str | None = None
    truncation_psi: float | None = None
    formats: tuple[str, ...] = FORMATS
    fps: float = 8.0
    batch_size: int = 8
    overwrite: bool = False
    allow_hash_mismatch: bool = False
    #: Where the starting ``recipe`` came from (its file), for error messages.
    recipe_source: str = "starting recipe"


@dataclass
class SequenceReport:
    name: str
    folder: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    frames_rendered: int = 0
    render_seconds: float = 0.0


@dataclass
class ExportReport:
    """What a run did. ``cancelled``: stopped by the cancel flag (rerun to resume)."""

    sequences: list[SequenceReport]
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def written(self) -> list[Path]:
        return [p for s in self.sequences for p in s.written]

    @property
    def skipped(self) -> list[Path]:
        return [p for s in self.sequences for p in s.skipped]

    @property
    def frames_rendered(self) -> int:
        return sum(s.frames_rendered for s in self.sequences)


# ----- planning (all validation happens here, before any file is written) -----------------
@dataclass
class _Source:
    label: str
    seed: int | None
    wp: np.ndarray | None


@dataclass
class _Plan:
    spec: SequenceSpec
    name: str
    folder: Path
    sources: list[_Source]
    step_labels: list[str]
    states: list[list[EditState]]  # [source][step]
    recipe: dict[str, Any] | None
    description: dict[str, Any]
    key: str = ""


_NAME_OK = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str) -> str:
    """A file-system-safe version of ``text`` (letters, digits, ``._+-``)."""
    cleaned = _NAME_OK.sub("_", text).strip("._")
    return cleaned[:80] or "sequence"


def _sources(job: ExportJob, generator: Generator) -> list[_Source]:
    if job.seeds is not None and job.codes is not None:
        raise ExportError("give seeds or a codes file, not both")
    if job.seeds is not None:
        if not job.seeds:
            raise ExportError("the seed list is empty")
        return [_Source(f"seed{s:04d}", int(s), None) for s in job.seeds]
    if job.codes is not None:
        codes = np.asarray(job.codes)
        expected = (generator.num_layers, generator.w_dim)
        where = job.codes_source or "codes"
        if codes.ndim != 3 or tuple(codes.shape[1:]) != expected or codes.shape[0] == 0:
            raise ExportError(
                f"{where}: expected codes of shape [N, {expected[0]}, {expected[1]}], got {list(codes.shape)}"
            )
        if not np.issubdtype(codes.dtype, np.floating) or not np.all(np.isfinite(codes)):
            raise ExportError(f"{where}: codes must be finite floating-point numbers")
        return [_Source(f"code{i:04d}", None, codes[i].astype(np.float32)) for i in range(len(codes))]
    if job.recipe is not None:
        return [_Source("recipe", None, None)]
    for spec in job.sequences:
        if isinstance(spec, TimelineSequence):
            return [_Source("recipe", None, None)]
    raise ExportError("nothing to apply the sequence to: give seeds, a codes file or a recipe")


def _start_session(
    job: ExportJob, generator: Generator, source: _Source, recipe: dict[str, Any] | None, what: str
) -> EditRun:
    """A non-undoable edit at the starting point for ``source``: ``recipe`` replayed, or a plain base."""
    return start_edit(
        generator,
        job.bundle,
        recipe,
        base_seed=source.seed,
        base_wp=source.wp,
        truncation_psi=job.truncation_psi,
        source=what,
        allow_hash_mismatch=job.allow_hash_mismatch,
    )


def _plan_sweep(job, generator, spec: SweepSequence, sources) -> tuple[list[str], list[list[EditState]], dict]:
    if not spec.concepts:
        raise ExportError("a sweep needs at least one concept")
    if not isinstance(spec.steps, int) or spec.steps < 1:
        raise ExportError(f"sweep steps must be a whole number >= 1, got {spec.steps!r}")
    if job.bundle is None:
        raise ExportError("a concept sweep needs a boundary bundle")
    for c in spec.concepts:
        if c.concept not in job.bundle:
            raise ExportError(f"unknown concept {c.concept!r}; the bundle has: {', '.join(job.bundle.names) or 'none'}")
        if not (math.isfinite(c.start) and math.isfinite(c.end)):
            raise ExportError(f"sweep of {c.concept!r}: start and end must be finite numbers")
    values = {c.concept: np.linspace(c.start, c.end, spec.steps).tolist() for c in spec.concepts}
    states = []
    for source in sources:
        session = _start_session(job, generator, source, job.recipe, job.recipe_source)
        for c in spec.concepts:
            if c.layers is not None:
                session.set_layers(c.concept, list(c.layers))
            session.set_layer_strengths(c.concept, None)
        row = []
        for step in range(spec.steps):
            for c in spec.concepts:
                session.set_strength(c.concept, values[c.concept][step])
            row.append(session.state())
        states.append(row)
    if len(spec.concepts) == 1:
        labels = [f"{v:+.2f}" for v in values[spec.concepts[0].concept]]
    else:
        labels = [f"step {i}" for i in range(spec.steps)]
    description = {
        "type": "sweep",
        "steps": spec.steps,
        "concepts": [
            {
                "concept": c.concept,
                "start": c.start,
                "end": c.end,
                "layers": None if c.layers is None else list(c.layers),
                "values": values[c.concept],
            }
            for c in spec.concepts
        ],
    }
    return labels, states, description


def _plan_jitter(job, generator, spec: JitterSequence, sources):
    if not spec.seeds:
        raise ExportError("a jitter series needs at least one jitter seed")
    if spec.mode not in JITTER_MODES:
        raise ExportError(f"unknown jitter mode {spec.mode!r}; allowed: {', '.join(JITTER_MODES)}")
    if not spec.layers:
        raise ExportError("a jitter series needs at least one layer")
    states = []
    for source in sources:
        session = _start_session(job, generator, source, job.recipe, job.recipe_source)
        session.set_jitter(enabled=True, layers=list(spec.layers), strength=spec.strength, mode=spec.mode)
        row = []
        for seed in spec.seeds:
            session.set_jitter(seed=int(seed))
            row.append(session.state())
        states.append(row)
    description = {
        "type": "jitter",
        "layers": list(spec.layers),
        "strength": spec.strength,
        "mode": spec.mode,
        "seeds": list(spec.seeds),
    }
    return [f"jitter {s}" for s in spec.seeds], states, description


def _plan_timeline(job, generator, spec: TimelineSequence, sources):
    validate_recipe(spec.recipe, spec.source)
    states = []
    labels: list[str] = []
    for source in sources:
        session = _start_session(job, generator, source, spec.recipe, spec.source)
        labels = session.history
        states.append(session.timeline_states())
    return labels, states, {"type": "timeline", "steps": len(labels), "labels": labels}


def plan_export(generator: Generator, job: ExportJob) -> list[_Plan]:
    """Validate ``job`` and compute every frame's :class:`EditState` (writes nothing)."""
    unknown = set(job.formats) - set(FORMATS)
    if unknown or not job.formats:
        raise ExportError(
            f"unknown output format(s) {', '.join(sorted(unknown)) or '(none given)'}; allowed: {', '.join(FORMATS)}"
        )
    if not (isinstance(job.fps, (int, float)) and math.isfinite(job.fps) and 0 < job.fps <= 120):
        raise ExportError(f"fps must be in (0, 120], got {job.fps!r}")
    if not isinstance(job.batch_size, int) or job.batch_size < 1:
        raise ExportError(f"batch size must be a whole number >= 1, got {job.batch_size!r}")
    if not job.sequences:
        raise ExportError("nothing to export: no sequence given")
    if job.recipe is not None:
        try:
            validate_recipe(job.recipe, job.recipe_source)
        except RecipeError as exc:
            raise ExportError(str(exc)) from None
    sources = _sources(job, generator)
    plans: list[_Plan] = []
    used_names: set[str] = set()
    for spec in job.sequences:
        try:
            if isinstance(spec, SweepSequence):
                labels, states, description = _plan_sweep(job, generator, spec, sources)
                recipe = job.recipe
            elif isinstance(spec, JitterSequence):
                labels, states, description = _plan_jitter(job, generator, spec, sources)
                recipe = job.recipe
            elif isinstance(spec, TimelineSequence):
                labels, states, description = _plan_timeline(job, generator, spec, sources)
                recipe = spec.recipe
            else:
                raise ExportError(f"unknown sequence type {type(spec).__name__}")
        except ValueError as exc:  # EditError, RecipeError, BundleError: bad input
            if isinstance(exc, ExportError):
                raise
            raise ExportError(str(exc)) from None
        name = safe_name(spec.name or spec.default_name)
        if name in used_names:
            raise ExportError(f"two sequences are named {name!r}; give them distinct names")
        used_names.add(name)
        plan = _Plan(spec, name, Path(job.out_dir) / name, sources, labels, states, recipe, description)
        plan.key = _plan_key(generator, job, plan)
        plans.append(plan)
    return plans


def _plan_key(generator: Generator, job: ExportJob, plan: _Plan) -> str:
    """Hash of what the frames and animations depend on (not of which formats are asked)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(generator_fingerprint(generator), sort_keys=True).encode())
    digest.update(json.dumps([s.label for s in plan.sources]).encode())
    digest.update(repr(float(job.fps)).encode())
    for row in plan.states:
        for state in row:
            digest.update(state.key().encode())
    return digest.hexdigest()[:16]


# ----- writing ---------------------------------------------------------------------------
def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / ".sceneedit-write-test") as probe:
            probe.write_bytes(b"ok")
        (folder / ".sceneedit-write-test").unlink()
    except OSError as exc:
        raise ExportError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested absurdly deep
        return None
    return data if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT else None


def _prepare_folder(plan: _Plan, overwrite: bool) -> None:
    folder = plan.folder
    manifest = folder / MANIFEST_NAME
    if not folder.exists() or not any(folder.iterdir()):
        return
    old = _read_manifest(manifest)
    if old is not None and old.get("plan_key") == plan.key:
        return  # same plan: resume / skip what exists
    if not overwrite:
        what = "a different export" if old is not None else "files that are not a sceneedit export"
        raise ExportError(
            f"{folder} already holds {what}; choose another output folder or sequence name, "
            f"or replace it (--overwrite; in the editor: 'Replace a folder that holds another export')"
        )
    if old is None:
        raise ExportError(f"{folder} holds files that are not a sceneedit export; refusing to overwrite it")
    # Replace only what our previous export wrote.
    for entry in old.get("files", []):
        target = folder / str(entry.get("path", ""))
        if target.is_file() and folder in target.resolve().parents:
            target.unlink()
    frames = folder / "frames"
    if frames.is_dir():
        shutil.rmtree(frames)
    manifest.unlink(missing_ok=True)


def _manifest(generator: Generator, job: ExportJob, plan: _Plan, status: str, files: list[dict]) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "status": status,
        "plan_key": plan.key,
        "sequence": {"name": plan.name, **plan.description},
        "generator": generator_fingerprint(generator),
        "bundle_fingerprint": bundle_fingerprint(job.bundle),
        "recipe": plan.recipe,
        "sources": [
            {
                "label": s.label,
                "seed": s.seed,
                **({"codes_file": job.codes_source, "index": i} if s.wp is not None else {}),
            }
            for i, s in enumerate(plan.sources)
        ],
        "truncation_psi": job.truncation_psi if job.truncation_psi is not None else generator.truncation_psi,
        "step_labels": plan.step_labels,
        "fps": job.fps,
        "files": files,
    }


def _write_manifest(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")


def _write_gif(frames: list[np.ndarray], path: Path, fps: float) -> int:
    """Animated GIF, looping; returns the frame count as stored.

    Pillow stores identical consecutive frames once, with their durations added, so the
    count can be below ``len(frames)`` while the playback is the same.
    """
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0
        )
    return _gif_frame_count(path)


def _write_mp4(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """H.264 MP4 (yuv420p) through imageio-ffmpeg's bundled ffmpeg."""
    import imageio.v2 as imageio

    height, width = frames[0].shape[:2]
    if height % 2 or width % 2:  # yuv420p needs even sides: pad by one pixel
        frames = [np.pad(f, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge") for f in frames]
    with atomic_path(path) as tmp:
        writer = imageio.get_writer(
            tmp,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=2,
            ffmpeg_log_level="error",
        )
        try:
            for frame in frames:
                writer.append_data(frame)
        finally:
            writer.close()


def _thumbnail(image: np.ndarray) -> np.ndarray:
    side = max(image.shape[:2])
    if side <= SHEET_TILE_MAX:
        return image
    from PIL import Image

    scale = SHEET_TILE_MAX / side
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


class _Cancelled(Exception):
    pass


def _is_cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def _export_one(
    generator: Generator,
    job: ExportJob,
    plan: _Plan,
    report: SequenceReport,
    tick: Callable[[int, str], None],
    cancel: Any,
) -> None:
    folder = plan.folder
    _prepare_folder(plan, job.overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST_NAME
    old = _read_manifest(manifest_path)
    if old is not None:
        _remove_stale_temporaries(folder)
    if old is not None and old.get("status") == "complete" and old.get("plan_key") == plan.key:
        done_formats = set(old.get("formats", []))
        files_ok = all((folder / e["path"]).is_file() for e in old.get("files", []))
        if files_ok and set(job.formats) <= done_formats:
            report.skipped.append(manifest_path)
            report.skipped.extend(folder / e["path"] for e in old.get("files", []))
            tick(sum(len(r) for r in plan.states), f"{plan.name}: complete, skipped")
            return
    _write_manifest(manifest_path, {**_manifest(generator, job, plan, "in_progress", []), "formats": []})

    files: list[dict[str, Any]] = []
    steps = len(plan.step_labels)
    formats = set(job.formats)
    sources = plan.sources

    def frame_path(source: int, step: int) -> Path:
        return folder / "frames" / sources[source].label / f"{step:03d}.png"

    def record(path: Path, kind: str, **extra: Any) -> None:
        files.append({"path": path.relative_to(folder).as_posix(), "kind": kind, "bytes": path.stat().st_size, **extra})

    sheet_path = folder / "contact_sheet.png"
    need_sheet = "sheet" in formats and not sheet_path.is_file()
    animations = [k for k in ("gif", "mp4") if k in formats]
    thumbnails: dict[tuple[int, int], np.ndarray] = {}
    # Sources go in groups of about four batches' worth of frames, so batches stay full
    # across sources; a group's full-size frames are dropped once its animations are
    # written (only the sheet's thumbnails are kept).
    group = max(1, math.ceil(4 * job.batch_size / max(steps, 1)))
    for first in range(0, len(sources), group):
        members = range(first, min(first + group, len(sources)))
        missing_anim = {
            s: [k for k in animations if not (folder / f"{sources[s].label}.{k}").is_file()] for s in members
        }
        in_memory = {s for s in members if missing_anim[s] or need_sheet}
        # A frame is rendered when it is wanted (as PNG, or for an animation or the sheet)
        # and not already on disk from an earlier run.
        todo = [
            (s, k)
            for s in members
            for k in range(steps)
            if ("png" in formats or s in in_memory) and not frame_path(s, k).is_file()
        ]
        skipped = len(members) * steps - len(todo)
        if skipped:
            tick(skipped, f"{plan.name}: {skipped} frames already on disk")
        images: dict[tuple[int, int], np.ndarray] = {}
        for offset in range(0, len(todo), job.batch_size):
            if _is_cancelled(cancel):
                raise _Cancelled
            chunk = todo[offset : offset + job.batch_size]
            start = time.perf_counter()
            results = render_batch(generator, [plan.states[s][k] for s, k in chunk], batch_size=job.batch_size)
            report.render_seconds += time.perf_counter() - start
            for (s, k), result in zip(chunk, results):
                if result.error is not None:
                    raise ExportError(f"{plan.name}: frame {k} of {sources[s].label} failed to render: {result.error}")
                if "png" in formats:
                    path = frame_path(s, k)
                    _guarded_write(lambda p=path, im=result.image: save_png(im, p), path)
                    report.written.append(path)
                if s in in_memory:
                    images[(s, k)] = result.image
            report.frames_rendered += len(chunk)
            tick(len(chunk), f"{plan.name}: rendered {report.frames_rendered} frames")
        for s in members:
            if s not in in_memory:
                continue
            frames = [images[(s, k)] if (s, k) in images else load_png(frame_path(s, k)) for k in range(steps)]
            for kind in missing_anim[s]:
                if _is_cancelled(cancel):
                    raise _Cancelled
                path = folder / f"{sources[s].label}.{kind}"
                tick(0, f"{plan.name}: writing {path.name}")
                writer = _write_gif if kind == "gif" else _write_mp4
                _guarded_write(lambda w=writer, p=path, f=frames: w(f, p, job.fps), path)
                report.written.append(path)
            if need_sheet:
                for k in range(steps):
                    thumbnails[(s, k)] = _thumbnail(frames[k])
        images.clear()

    # Everything the plan produces is on disk now; list it.
    for s, source in enumerate(sources):
        if "png" in formats:
            for k in range(steps):
                record(frame_path(s, k), "frame", source=source.label, step=k)
        for kind in animations:
            path = folder / f"{source.label}.{kind}"
            if path not in report.written:
                report.skipped.append(path)
            extra = {"gif_frames": _gif_frame_count(path)} if kind == "gif" else {}
            record(path, kind, source=source.label, frames=steps, **extra)
    if "png" in formats:
        written = set(report.written)
        report.skipped.extend(
            frame_path(s, k) for s in range(len(sources)) for k in range(steps) if frame_path(s, k) not in written
        )
    if "sheet" in formats:
        if need_sheet:
            if _is_cancelled(cancel):
                raise _Cancelled
            tiles = [thumbnails[(s, k)] for s in range(len(sources)) for k in range(steps)]
            labels = [f"{_short(sources[s])} {plan.step_labels[k]}" for s in range(len(sources)) for k in range(steps)]
            sheet = make_contact_sheet(tiles, columns=steps, labels=labels)
            _guarded_write(lambda: save_png(sheet, sheet_path), sheet_path)
            report.written.append(sheet_path)
        else:
            report.skipped.append(sheet_path)
        record(sheet_path, "contact_sheet", rows=len(sources), columns=steps)
    final = {**_manifest(generator, job, plan, "complete", files), "formats": sorted(formats)}
    _guarded_write(lambda: _write_manifest(manifest_path, final), manifest_path)
    report.written.append(manifest_path)


_TEMPORARY = re.compile(r"^\..+\.(partial\.[A-Za-z0-9]+|tmp)$")


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files a killed earlier run of this export left in ``folder``."""
    for path in [folder, *(p for p in (folder / "frames").rglob("*") if p.is_dir())]:
        if not path.is_dir():
            continue
        for child in path.iterdir():
            if child.is_file() and _TEMPORARY.match(child.name):
                child.unlink(missing_ok=True)


def _short(source: _Source) -> str:
    """Compact source label for sheet tiles: ``s7`` (seed 7), ``c3`` (code 3)."""
    if source.seed is not None:
        return f"s{source.seed}"
    if source.label.startswith("code"):
        return f"c{int(source.label[4:])}"
    return source.label


def _gif_frame_count(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return int(getattr(image, "n_frames", 1))


def _guarded_write(write: Callable[[], Any], path: Path) -> Any:
    """Run one atomic write; turn an OSError (disk full, permissions) into a clear error."""
    try:
        return write()
    except WriteError as exc:  # already says which file and what happened
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


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
    _check_writable(Path(job.out_dir))
    for plan in plans:  # refuse conflicting folders before writing anything
        if not job.overwrite:
            _prepare_folder(plan, overwrite=False)
    total = sum(len(row) for plan in plans for row in plan.states)
    done = 0

    def tick(count: int, message: str) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total, message)

    report = ExportReport(sequences=[])
    for plan in plans:
        seq_report = SequenceReport(plan.name, plan.folder)
        report.sequences.append(seq_report)
        try:
            _export_one(generator, job, plan, seq_report, tick, cancel)
        except _Cancelled:
            report.cancelled = True
            break
    report.seconds = time.perf_counter() - started
    return report


def load_codes(path: str | os.PathLike, generator: Generator) -> np.ndarray:
    """Read a codes file (``.npy``): ``[N, L, D]`` codes, one ``[L, D]`` code, or ``[N, D]``
    ``w`` codes (repeated on every layer). Returns float32 ``[N, L, D]``."""
    p = Path(path)
    if p.suffix.lower() != ".npy":
        raise ExportError(f"{p}: codes must be a .npy file")
    from .semantics.safe_npy import load_npy_array

    try:
        codes = load_npy_array(p, max_bytes=None)
    except FileNotFoundError:
        raise ExportError(f"{p}: no such file") from None
    except (ValueError, OSError) as exc:  # a malformed header, a truncated or foreign file
        raise ExportError(str(exc) if str(p) in str(exc) else f"{p}: {exc}") from None
    num_layers, dim = generator.num_layers, generator.w_dim
    if codes.ndim == 2 and codes.shape == (num_layers, dim):
        codes = codes[None]
    elif codes.ndim == 2 and codes.shape[1] == dim:
        codes = np.repeat(codes[:, None], num_layers, axis=1)
    if codes.ndim != 3 or tuple(codes.shape[1:]) != (num_layers, dim) or len(codes) == 0:
        raise ExportError(
            f"{p}: expected codes of shape [N, {num_layers}, {dim}], [{num_layers}, {dim}] or [N, {dim}], "
            f"got {list(codes.shape)}"
        )
    if not np.issubdtype(codes.dtype, np.floating):
        raise ExportError(f"{p}: codes must be finite floating-point numbers")
    with np.errstate(over="ignore"):
        codes = codes.astype(np.float32)
    if not np.all(np.isfinite(codes)):
        raise ExportError(f"{p}: codes must be finite floating-point numbers (within float32 range)")
    return codes


def parse_sweep(text: str) -> ConceptSweep:
    """``"NAME=START:END"`` or ``"NAME=START:END@LAYERS"`` (layers like ``2-5`` or ``1,3``)."""
    match = re.fullmatch(r"\s*([^=]+?)\s*=\s*([^:@]+):([^@]+?)\s*(?:@\s*(.+))?", text or "")
    if not match:
        raise ExportError(f"bad sweep {text!r}; expected NAME=START:END or NAME=START:END@LAYERS, e.g. wall=-3:3@2-5")
    name, start, end, layers = match.groups()
    try:
        start_value, end_value = float(start), float(end)
    except ValueError:
        raise ExportError(f"bad sweep {text!r}: start and end must be numbers") from None
    return ConceptSweep(name, start_value, end_value, None if layers is None else tuple(parse_layers(layers)))


def parse_layers(text: str) -> list[int]:
    """``"2-5"`` -> [2, 3, 4, 5]; ``"0,3,7"`` -> [0, 3, 7] (0-based layer indices)."""
    from .seeds import SeedSyntaxError, parse_seeds

    try:
        return parse_seeds(text)
    except SeedSyntaxError as exc:
        raise ExportError(f"bad layer list: {str(exc).replace('seed', 'layer')}") from None
