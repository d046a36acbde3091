"""Write the default generator's model card: the command line of ``sceneedit.training.model_card``.

python scripts/write_model_card.py --figures runs/default_eval --run-dir RUN_DIR --note "..."
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # this checkout's sceneedit, whichever one is installed
    sys.path.insert(0, str(REPO))

from sceneedit.training.model_card import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
