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

Modules: ``jobs`` (what to export, reports), ``parsing`` (sweeps, layer lists, codes
files), ``sources`` and ``planning`` (validation, every frame's state), ``states`` (the one
state builder), ``folder`` (manifest, resume, temporaries), ``writers`` (PNG, GIF, MP4,
contact sheet) and ``engine`` (:func:`run_export`: the CLI ``sceneedit export`` and the
editor's export dialog call it with a progress callback and a cancel flag).
"""

from .engine import run_export
from .jobs import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    FORMATS,
    MANIFEST_NAME,
    ConceptSweep,
    ExportError,
    ExportJob,
    ExportReport,
    JitterSequence,
    ProgressCallback,
    SequenceReport,
    SequenceSpec,
    SweepSequence,
    TimelineSequence,
)
from .parsing import load_codes, parse_layers, parse_sweep
from .planning import Plan, plan_export, safe_name
from .writers import SHEET_TILE_MAX

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "FORMATS",
    "MANIFEST_NAME",
    "SHEET_TILE_MAX",
    "ConceptSweep",
    "ExportError",
    "ExportJob",
    "ExportReport",
    "JitterSequence",
    "Plan",
    "ProgressCallback",
    "SequenceReport",
    "SequenceSpec",
    "SweepSequence",
    "TimelineSequence",
    "load_codes",
    "parse_layers",
    "parse_sweep",
    "plan_export",
    "run_export",
    "safe_name",
]
