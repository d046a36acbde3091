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
strength come back exactly. The replay itself lives in
:meth:`sceneedit.editing.session.EditSession.from_recipe`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..semantics.concepts import BoundaryBundle
from ..files import atomic_write_text

RECIPE_FORMAT = "sceneedit-recipe"
RECIPE_VERSION = 1
#: Written when a recipe holds a drag edit (``op: "drag"``); version 1 recipes still read.
RECIPE_VERSION_DRAG = 2
SUPPORTED_RECIPE_VERSIONS = (RECIPE_VERSION, RECIPE_VERSION_DRAG)
#: Operations a recipe's ``edits`` may hold, with their required fields.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "set_seed": ("seed",),
    "set_truncation": ("psi",),
    "set_base_code": ("wp",),
    "set_strength": ("concept", "value"),
    "set_layer_strengths": ("concept", "values"),
    "set_layers": ("concept", "layers"),
    "set_conditioning": ("concept", "others"),
    "reset_concept": ("concept",),
    "reset_all": (),
    "set_jitter": ("changes",),
    # A point-and-drag edit (recipe version 2): the code offset on ``layers``
    # ([len(layers), D] floats), plus the points and settings that produced it.
    "drag": ("layers", "offset", "handles", "targets", "settings"),
}


class RecipeError(ValueError):
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
        raise RecipeError(f"{source}: not a sceneedit recipe (format is {recipe.get('format')!r})")
    version = recipe.get("version")
    if version not in SUPPORTED_RECIPE_VERSIONS:
        raise RecipeError(
            f"{source}: recipe version {version!r} is not supported (this sceneedit reads "
            f"{', '.join(str(v) for v in SUPPORTED_RECIPE_VERSIONS)})"
        )
    for key, kind in (("generator", dict), ("bundle", dict), ("base", dict), ("initial", dict), ("edits", list)):
        if not isinstance(recipe.get(key), kind):
            raise RecipeError(f"{source}: key {key!r} missing or not a {kind.__name__}")
    base = recipe["base"]
    if base.get("seed") is None and base.get("wp") is None:
        raise RecipeError(f"{source}: base needs a 'seed' or an explicit 'wp'")
    for i, edit in enumerate(recipe["edits"]):
        if not isinstance(edit, dict) or edit.get("op") not in OPERATIONS:
            op = edit.get("op") if isinstance(edit, dict) else edit
            raise RecipeError(
                f"{source}: edit {i} has unknown op {op!r}; allowed: {', '.join(OPERATIONS)}"
            )
        missing = [f for f in OPERATIONS[edit["op"]] if f not in edit]
        if missing:
            raise RecipeError(f"{source}: edit {i} ({edit['op']}) lacks {', '.join(missing)}")
        if edit["op"] == "drag" and version < RECIPE_VERSION_DRAG:
            raise RecipeError(f"{source}: edit {i} is a drag, which needs recipe version {RECIPE_VERSION_DRAG}")
    return recipe


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """Read and structurally validate a recipe file; clear errors for malformed JSON."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{p}: not a text file ({exc.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{p}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return validate_recipe(data, source=str(p))


def save_recipe(recipe: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``recipe`` as indented JSON, atomically."""
    validate_recipe(recipe)
    atomic_write_text(path, json.dumps(recipe, indent=1, allow_nan=False) + "\n")


def uses_concepts(recipe: dict[str, Any]) -> bool:
    """Whether replaying ``recipe`` needs concepts from a bundle."""
    if recipe["initial"].get("concepts"):
        return True
    return any(edit["op"] not in ("set_seed", "set_truncation", "set_base_code", "set_jitter", "reset_all", "drag")
               for edit in recipe["edits"])


def check_generator(recipe: dict[str, Any], fingerprint: dict[str, Any], source: str = "recipe") -> None:
    """Raise :class:`RecipeError` if the recipe was made for another generator."""
    expected = recipe["generator"]
    diffs = [k for k in sorted(set(expected) | set(fingerprint)) if expected.get(k) != fingerprint.get(k)]
    if diffs:
        detail = ", ".join(f"{k}: recipe {expected.get(k)!r} vs loaded {fingerprint.get(k)!r}" for k in diffs)
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
        raise RecipeError(f"{source} needs a boundary bundle (fingerprint {wanted}); none is loaded")
    if have != wanted:
        raise RecipeError(
            f"{source} was made with another boundary bundle (fingerprint {wanted}, loaded {have})"
        )
