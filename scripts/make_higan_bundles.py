"""Convert HiGAN's 50 official boundary files into one bundle per model in boundaries/higan/.

Usage::

    python scripts/make_higan_bundles.py [HIGAN_BOUNDARIES_FOLDER] [OUT_FOLDER]

Defaults: ``tests/fixtures/higan-boundaries`` (the vendored copy of genforce/higan's
``boundaries/``, MIT) and ``boundaries/higan``. The work is
:func:`sceneedit.semantics.higan_bundles.write_higan_bundles`.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sceneedit.semantics.higan_bundles import write_higan_bundles  # noqa: E402


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else REPO / "tests" / "fixtures" / "higan-boundaries"
    out = Path(argv[1]) if len(argv) > 1 else REPO / "boundaries" / "higan"
    written = write_higan_bundles(source, out)
    for model, count, path in written:
        print(f"{model}: {count} concepts -> {path}")
    print(f"{sum(count for _, count, _ in written)} boundaries in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
