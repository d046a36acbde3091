"""The recipe file: a versioned JSON record of an edit that replays bit-for-bit.

Layout (version 1)::

    {
      "format": "sceneedit-recipe", "version": 1,
      "generator": {arch, resolution, num_layers, w_dim, weights_hash},
      "bundle": {"fingerprint": "<hex>" | null, "concepts": [names]},
      "base": {"seed": int | null, "truncation_psi": float, "truncation_layers": int,
               "wp": [[float, ...], ...] | null},       # wp only for an explicit code
      "initial": {"concepts": {name: settings}, "jitter": {...}},
      "edits": [{"label": str, "op": str, ...op fields}, ...]   # one per history step
    }

Version 2 is the same layout, written when ``edits`` holds a point-and-drag step
(``{"op": "drag", "layers", "offset": [[float] per layer], "handles", "targets",
"settings"}``: the code offset the drag produced, replayed by adding it; an optional
``"anchors"`` lists the fixed points it kept), and when the history's start already holds
drags (made before a new bundle restarted the history), ``initial.drag`` =
``{"layers", "offset"}`` records their sum; version 1 recipes (no drag) are still written
and read as before.

Floats are written with Python's shortest round-trip repr, so float32 codes and every
strength come back exactly. The replay itself lives in :mod:`sceneedit.editing.replay`
(each step through its operation in :mod:`sceneedit.editing.operations`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SceneeditError
from ..files import atomic_write_text
from ..semantics.concepts import BoundaryBundle
from .operations import OPERATIONS as _KINDS

RECIPE_FORMAT = "sceneedit-recipe"
RECIPE_VERSION = 1
#: Written when a recipe holds a drag edit (``op: "drag"``); version 1 recipes still read.
RECIPE_VERSION_DRAG = 2
SUPPORTED_RECIPE_VERSIONS = (RECIPE_VERSION, RECIPE_VERSION_DRAG)
#: Operations a recipe's ``edits`` may hold, with their required fields (each kind's one home is
#: its class in :mod:`sceneedit.editing.operations`).
OPERATIONS: dict[str, tuple[str, ...]] = {kind: kind_class.fields for kind, kind_class in _KINDS.items()}


class RecipeError(SceneeditError, ValueError):
    """A recipe file is malformed, of an unknown version, or for another generator/bundle."""


def bundle_fingerprint(bundle: BoundaryBundle | None) -> str | None:
    """SHA-256 (first 16 hex digits) of a bundle's concepts: names, normals, default layers.

    Normals are hashed as float32 bytes with their shapes, in name order, so the same
    bundle loaded from any file gives the same fingerprint. None for no bundle.
    """
    if bundle is None:
        return None
    digest = hashlib.sha256()
    for name in sorted(bundle.names):
        concept = bundle[name]
        normal = np.ascontiguousarray(concept.normal, dtype=np.float32)
        digest.update(name.encode("utf-8"))
        digest.update(str(tuple(normal.shape)).encode())
        digest.update(normal.tobytes())
        digest.update(json.dumps([int(x) for x in concept.layers]).encode())
    return digest.hexdigest()[:16]


def validate_recipe(recipe: Any, source: str = "recipe") -> dict[str, Any]:
    """Check a recipe's structure (not its fingerprints); return it. Errors name ``source``."""
    if not isinstance(recipe, dict):
        raise RecipeError(f"{source}: a recipe must be a JSON object, got {type(recipe).__name__}")
    if recipe.get("format") != RECIPE_FORMAT:
        raise RecipeError(f"{source}: not a sceneedit recipe (format is {_short(recipe.get('format'))})")
    version = recipe.get("version")
    if version not in SUPPORTED_RECIPE_VERSIONS:
        raise RecipeError(
            f"{source}: recipe version {_short(version)} is not supported (this sceneedit reads "
            f"{', '.join(str(v) for v in SUPPORTED_RECIPE_VERSIONS)})"
        )
    for key, kind in (("generator", dict), ("bundle", dict), ("base", dict), ("initial", dict), ("edits", list)):
        if not isinstance(recipe.get(key), kind):
            raise RecipeError(f"{source}: key {key!r} missing or not a {kind.__name__}")
    base = recipe["base"]
    if base.get("seed") is None and base.get("wp") is None:
        raise RecipeError(f"{source}: base needs a 'seed' or an explicit 'wp'")
    _check_numbers(recipe, source)
    for i, edit in enumerate(recipe["edits"]):
        if not isinstance(edit, dict) or not isinstance(edit.get("op"), str) or edit["op"] not in OPERATIONS:
            op = edit.get("op") if isinstance(edit, dict) else edit
            raise RecipeError(f"{source}: edit {i} has unknown op {_short(op)}; allowed: {', '.join(OPERATIONS)}")
        missing = [f for f in OPERATIONS[edit["op"]] if f not in edit]
        if missing:
            raise RecipeError(f"{source}: edit {i} ({edit['op']}) lacks {', '.join(missing)}")
        needs = _KINDS[edit["op"]].min_version
        if version < needs:
            raise RecipeError(
                f"{source}: edit {i} is a {edit['op'].replace('_', ' ')}, which needs recipe version {needs}"
            )
    return recipe


#: Largest recipe file read (a recipe with explicit codes is a few hundred KB).
MAX_RECIPE_BYTES = 64 * 1024 * 1024
#: Most values a recipe may hold (numbers, strings, lists, objects together).
MAX_RECIPE_VALUES = 4_000_000


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_numbers(recipe: Any, source: str) -> None:
    """Refuse NaN / infinite numbers anywhere in ``recipe`` (they replay nothing and cannot be
    written back as JSON); bounded by :data:`MAX_RECIPE_VALUES`."""
    stack, seen = [recipe], 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_RECIPE_VALUES:
            raise RecipeError(f"{source}: recipe holds more than {MAX_RECIPE_VALUES} values")
        if isinstance(value, float) and not math.isfinite(value):
            raise RecipeError(f"{source}: recipe holds the number {value}; only finite numbers are allowed")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """Read and structurally validate a recipe file; clear errors for malformed JSON."""
    from ..json_input import parse_json

    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise RecipeError(f"{p}: cannot read the recipe ({exc.strerror or exc})") from None
    if size > MAX_RECIPE_BYTES:
        raise RecipeError(f"{p}: {size} bytes is too large for a recipe")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{p}: not a text file ({exc.reason})") from None
    data = parse_json(text, str(p), RecipeError, what="recipe")
    return validate_recipe(data, source=str(p))


def save_recipe(recipe: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``recipe`` as indented JSON, atomically."""
    validate_recipe(recipe)
    atomic_write_text(path, json.dumps(recipe, indent=1, allow_nan=False) + "\n")


def uses_concepts(recipe: dict[str, Any]) -> bool:
    """Whether replaying ``recipe`` needs concepts from a bundle."""
    if recipe["initial"].get("concepts"):
        return True
    return any(_KINDS[edit["op"]].uses_concept for edit in recipe["edits"])


def check_generator(recipe: dict[str, Any], fingerprint: dict[str, Any], source: str = "recipe") -> None:
    """Raise :class:`RecipeError` if the recipe was made for another generator."""
    expected = recipe["generator"]
    diffs = [k for k in sorted(set(expected) | set(fingerprint)) if expected.get(k) != fingerprint.get(k)]
    if diffs:
        detail = ", ".join(
            f"{_short(k, 30)}: recipe {_short(expected.get(k))} vs loaded {_short(fingerprint.get(k))}"
            for k in diffs[:6]
        )
        raise RecipeError(f"{source} was made for another generator ({detail})")


def check_bundle(recipe: dict[str, Any], bundle: BoundaryBundle | None, source: str = "recipe") -> None:
    """Raise :class:`RecipeError` if the recipe needs another boundary bundle.

    A recipe that touches no concept (only base code and jitter) applies with any bundle.
    """
    wanted = recipe["bundle"].get("fingerprint")
    if wanted is None or not uses_concepts(recipe):
        return
    have = bundle_fingerprint(bundle)
    if have is None:
        raise RecipeError(f"{source} needs a boundary bundle (fingerprint {_short(wanted)}); none is loaded")
    if have != wanted:
        raise RecipeError(
            f"{source} was made with another boundary bundle (fingerprint {_short(wanted)}, loaded {have})"
        )
