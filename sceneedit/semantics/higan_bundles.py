"""HiGAN's official boundary files as shipped bundles: one bundle per model (``boundaries/higan/``).

Each bundle is fingerprinted by architecture, resolution, layers and dimensions only (the
weights hash is unknown until the model is present); HiGAN's MIT LICENSE is copied beside them.
``scripts/make_higan_bundles.py`` is the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..files import atomic_copy
from .bundle import save_bundle
from .importers import import_higan_folder

#: Where the boundary files come from, recorded in every bundle.
HIGAN_REPOSITORY = "https://github.com/genforce/higan (boundaries/, MIT license)"


def write_higan_bundles(source: str | os.PathLike, out: str | os.PathLike) -> list[tuple[str, int, Path]]:
    """Import every model folder of ``source`` (genforce/higan's ``boundaries/``) into
    ``out/<model>.safetensors`` and copy its LICENSE; returns ``(model, concepts, path)``."""
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        bundle = import_higan_folder(folder)
        bundle.extra["source_repository"] = HIGAN_REPOSITORY
        bundle.source = f"genforce/higan boundaries/{folder.name}"
        path = out / f"{folder.name}.safetensors"
        save_bundle(bundle, path)
        written.append((folder.name, len(bundle.concepts), path))
    atomic_copy(source / "LICENSE", out / "LICENSE")
    return written
