"""Files an inversion writes: ``<stem>.npy`` (the code ``[L, D]`` float32), ``<stem>.png``
(the reconstruction), ``<stem>.recipe.json`` (a recipe starting from the code) and, with
fitted noise maps or after fine-tuning, ``<stem>.delta.safetensors`` (the generator delta)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..editing.codes import read_code
from ..files import atomic_write_npy
from ..imaging import save_png
from .finetune import GeneratorDelta
from .optimize import InversionResult

DELTA_SUFFIX = ".delta.safetensors"


def delta_path_for(code_path: str | os.PathLike) -> Path:
    """Where the generator delta (fitted noise / fine-tune) of the code ``X.npy`` lives: ``X.delta.safetensors``."""
    path = Path(code_path)
    return path.with_name(path.stem + DELTA_SUFFIX)


def save_inversion(result: InversionResult, out_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    """Write the code, the reconstruction and (with fitted noise or fine-tuning) the delta; return their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    code_path = folder / f"{stem}.npy"
    atomic_write_npy(code_path, np.asarray(result.wp, dtype=np.float32))
    paths = {"code": code_path, "reconstruction": save_png(result.reconstruction, folder / f"{stem}.png")}
    delta_path = delta_path_for(code_path)
    if result.delta is not None:
        paths["delta"] = result.delta.save(delta_path)
    elif delta_path.exists():
        delta_path.unlink()  # a stale delta from an earlier run would not fit this code
    return paths


def load_inverted_code(
    path: str | os.PathLike, num_layers: int, w_dim: int
) -> tuple[np.ndarray, GeneratorDelta | None]:
    """``(wp [L, D] float32, delta or None)`` from ``X.npy`` (read as the editor's Load code reads
    it) and, if present, ``X.delta.safetensors``."""
    path = Path(path)
    wp = read_code(path, num_layers, w_dim)
    delta_path = delta_path_for(path)
    return wp, GeneratorDelta.load(delta_path) if delta_path.is_file() else None


def write_starting_recipe(
    generator, result: InversionResult, out_dir: str | os.PathLike, stem: str, source: str | None = None
) -> Path:
    """``<stem>.recipe.json``: a recipe whose base is the inverted code (and, with fitted noise or
    after fine-tuning, whose ``base.generator_delta`` names ``<stem>.delta.safetensors`` beside it), for
    ``sceneedit export --recipe`` and File ▸ Open recipe."""
    from ..editing.recipe import save_recipe
    from ..editing.session import EditSession
    from .recipes import DELTA_KEY

    session = EditSession(generator, None, seed=0)
    recipe = session.to_recipe()
    recipe["base"].update(seed=None, wp=np.asarray(result.wp, dtype=np.float32).tolist())
    if source:
        recipe["base"]["source"] = str(source)
    if result.delta is not None:
        recipe["base"][DELTA_KEY] = delta_path_for(Path(out_dir) / f"{stem}.npy").name
    path = Path(out_dir) / f"{stem}.recipe.json"
    save_recipe(recipe, path)
    return path
