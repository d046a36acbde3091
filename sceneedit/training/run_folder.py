"""A GAN training run folder, read back: the log's events and final statistics, the config.

A run folder (``sceneedit.training.gan``) holds ``config.json``, ``log.jsonl`` (one JSON record
per logged iteration, plus ``{"event": ...}`` records such as retuning on resume), ``checkpoints/``
and ``samples/``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: Log records averaged for the "final losses" line.
FINAL_WINDOW = 50


def read_run_log(run_dir: Path, up_to_iteration: int) -> dict[str, Any]:
    """Logged events (retuning) and the final training statistics of a run, up to ``up_to_iteration``."""
    log_path = run_dir / "log.jsonl"
    if not log_path.is_file():
        raise FileNotFoundError(f"{log_path}: no training log (is --run-dir a training run folder?)")
    records, events = [], []
    for number, line in enumerate(log_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            print(f"warning: {log_path}:{number}: not JSON, skipped", file=sys.stderr)
            continue
        iteration = int(record.get("iteration", 0))
        if "event" in record:
            # An event logged at the exported iteration (a retune on resume) came after its weights.
            if iteration < up_to_iteration:
                events.append(record)
        elif iteration <= up_to_iteration:
            records.append(record)
    final = records[-FINAL_WINDOW:]

    def mean(key: str) -> float | None:
        values = [r[key] for r in final if isinstance(r.get(key), (int, float))]
        return sum(values) / len(values) if values else None

    config_path = run_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    return {
        "events": events,
        "final_from": final[0]["iteration"] if final else None,
        "final_to": final[-1]["iteration"] if final else None,
        "final": {k: mean(k) for k in ("loss_d", "loss_g", "real_score", "fake_score", "images_per_s", "recon")},
        "config": config,
    }
