"""Recipes that start from an inverted picture with a fine-tuned generator.

The recipe keeps the code itself (``base.wp``, or a ``set_base_code`` step); a pivotal-tuning
delta is written beside the recipe as ``<recipe stem>.delta.safetensors`` and named in
``base.generator_delta``. Replaying (the editor, ``sceneedit export``) applies the delta to a
copy of the loaded generator first: :func:`generator_for_recipe`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..editing.recipe import RecipeError, save_recipe
from ..generators.base import Generator
from .finetune import DeltaError, GeneratorDelta, apply_delta, delta_of

DELTA_KEY = "generator_delta"


def recipe_delta_path(recipe_path: str | os.PathLike) -> Path:
    path = Path(recipe_path)
    return path.with_name(path.stem + ".delta.safetensors")


def save_recipe_with_delta(recipe: dict[str, Any], generator: Generator, path: str | os.PathLike) -> Path | None:
    """Write ``recipe`` to ``path``; when ``generator`` is a fine-tuned copy, its delta beside it.

    Returns the delta's path (None without fine-tuning).
    """
    delta = delta_of(generator)
    delta_path = None
    recipe = dict(recipe, base=dict(recipe["base"]))
    recipe["base"].pop(DELTA_KEY, None)
    if delta is not None:
        delta_path = delta.save(recipe_delta_path(path))
        recipe["base"][DELTA_KEY] = delta_path.name
    save_recipe(recipe, path)
    return delta_path


def delta_name(recipe: dict[str, Any]) -> str | None:
    """The file name of the fine-tune delta ``recipe`` replays on (beside the recipe), or None."""
    return recipe.get("base", {}).get(DELTA_KEY) or None


def generator_for_recipe(
    recipe: dict[str, Any], generator: Generator, recipe_path: str | os.PathLike | None
) -> Generator:
    """``generator``, or its fine-tuned copy when the recipe names a delta (read beside the recipe)."""
    name = delta_name(recipe)
    if not name:
        return generator
    if recipe_path is None:
        raise RecipeError(f"the recipe needs its fine-tune delta {name!r}, which lives beside the recipe file")
    if Path(name).name != name:
        raise RecipeError(f"{recipe_path}: {DELTA_KEY} must be a file name beside the recipe, got {name!r}")
    delta_path = Path(recipe_path).with_name(name)
    try:
        return apply_delta(generator, GeneratorDelta.load(delta_path))
    except DeltaError as exc:
        raise RecipeError(f"{recipe_path}: {exc}") from None
