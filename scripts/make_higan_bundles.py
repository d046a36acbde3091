"""Convert HiGAN's 50 official boundary files into one bundle per model in boundaries/higan/.

Usage::

    python scripts/make_higan_bundles.py [HIGAN_BOUNDARIES_FOLDER] [OUT_FOLDER]

Defaults: ``tests/fixtures/higan-boundaries`` (the vendored copy of genforce/higan's
``boundaries/``, MIT) and ``boundaries/higan``. Each bundle is fingerprinted by architecture,
resolution, layers and dimensions only (the weights hash is unknown until the model is
present); HiGAN's MIT LICENSE is copied beside them.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sceneedit.semantics.bundle import save_bundle  # noqa: E402
from sceneedit.semantics.importers import import_higan_folder  # noqa: E402


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else REPO / "tests" / "fixtures" / "higan-boundaries"
    out = Path(argv[1]) if len(argv) > 1 else REPO / "boundaries" / "higan"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        bundle = import_higan_folder(folder)
        bundle.extra["source_repository"] = "https://github.com/genforce/higan (boundaries/, MIT license)"
        bundle.source = f"genforce/higan boundaries/{folder.name}"
        save_bundle(bundle, out / f"{folder.name}.safetensors")
        total += len(bundle.concepts)
        print(f"{folder.name}: {len(bundle.concepts)} concepts -> {out / (folder.name + '.safetensors')}")
    shutil.copyfile(source / "LICENSE", out / "LICENSE")
    print(f"{total} boundaries in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
