"""Recipes that start from an inverted picture with a generator delta (fitted noise maps and/or
fine-tuned weights).

The recipe keeps the code itself (``base.wp``, or a ``set_base_code`` step); the generator
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
    """Write ``recipe`` to ``path``; when ``generator`` carries a delta (fitted noise / fine-tune),
    the delta beside it.

    Returns the delta's path (None without one).
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
    """The file name of the generator delta ``recipe`` replays on (beside the recipe), or None."""
    return recipe.get("base", {}).get(DELTA_KEY) or None


def generator_for_recipe(
    recipe: dict[str, Any], generator: Generator, recipe_path: str | os.PathLike | None
) -> Generator:
    """``generator``, or its copy with the delta the recipe names (read beside the recipe)."""
    name = delta_name(recipe)
    if not name:
        return generator
    if recipe_path is None:
        raise RecipeError(
            f"the recipe needs its generator delta {name!r} (fitted noise / fine-tune), "
            "which lives beside the recipe file"
        )
    if Path(name).name != name:
        raise RecipeError(f"{recipe_path}: {DELTA_KEY} must be a file name beside the recipe, got {name!r}")
    delta_path = Path(recipe_path).with_name(name)
    try:
        return apply_delta(generator, GeneratorDelta.load(delta_path))
    except DeltaError as exc:
        raise RecipeError(f"{recipe_path}: {exc}") from None
