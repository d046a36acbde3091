#!/usr/bin/env python3
"""Probe the default generator and write the shipped boundary bundle and its report.

The command line of :mod:`sceneedit.semantics.default_bundle` (its docstring lists the files
written and the options)::

    python scripts/make_default_bundle.py                      # the shipped files
    python scripts/make_default_bundle.py --generator /tmp/G.safetensors \\
        --bundle /tmp/default.safetensors --docs /tmp/probe_docs  # a trial
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Import this checkout's sceneedit even when another copy is installed.
sys.path.insert(0, str(REPO))

from sceneedit.cli import main as sceneedit_main  # noqa: E402
from sceneedit.semantics.default_bundle import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sceneedit_main=sceneedit_main))
