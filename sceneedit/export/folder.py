"""A sequence's output folder: its manifest, resuming, replacing and leftover temporaries.

``manifest.json`` is written first (``"status": "in_progress"``) and last (``"complete"``);
a folder whose manifest names the same plan is resumed, any other is refused unless the
job says ``overwrite`` (then only what our earlier export wrote is removed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..editing.recipe import bundle_fingerprint
from ..files import atomic_path, atomic_write_text, remove_stale_temporaries
from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from .jobs import EXPORT_FORMAT, EXPORT_VERSION, MANIFEST_NAME, ExportError, ExportJob
from .planning import Plan


def check_writable(folder: Path) -> None:
    """Create ``folder`` and write a probe file there, or raise :class:`ExportError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / ".sceneedit-write-test") as probe:
            probe.write_bytes(b"ok")
        (folder / ".sceneedit-write-test").unlink()
    except OSError as exc:
        raise ExportError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The export manifest at ``path``, or None when missing, unreadable or not ours."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not JSON, nested absurdly deep
        return None
    return data if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT else None


def prepare_folder(plan: Plan, overwrite: bool) -> None:
    """Leave ``plan.folder`` empty or holding this plan's earlier run; else refuse, or with
    ``overwrite`` remove what another export of ours wrote there."""
    folder = plan.folder
    manifest = folder / MANIFEST_NAME
    if not folder.exists() or not any(folder.iterdir()):
        return
    old = read_manifest(manifest)
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
    _remove_export(folder, old)


def _remove_export(folder: Path, manifest: dict[str, Any]) -> None:
    """Remove only what an earlier export (described by ``manifest``) wrote in ``folder``."""
    for entry in manifest.get("files", []):
        target = folder / str(entry.get("path", ""))
        if target.is_file() and folder in target.resolve().parents:
            target.unlink()
    frames = folder / "frames"
    if frames.is_dir():
        shutil.rmtree(frames)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> None:
    """Delete temporary files a killed earlier run of this export left in ``folder``."""
    for path in [folder, *(p for p in (folder / "frames").rglob("*") if p.is_dir())]:
        remove_stale_temporaries(path)


def manifest(
    generator: Generator, job: ExportJob, plan: Plan, status: str, files: list[dict], formats: list[str]
) -> dict[str, Any]:
    """The manifest of ``plan``: what it is, what it was made from and ``files`` written."""
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
        "formats": formats,
    }


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
