#!/usr/bin/env bash
# Ship the embedded default: export the training run's G_ema, evaluate it, write its model
# card, probe it for the default boundary bundle and write the probe report.
#
#   scripts/ship_default.sh [RUN_DIR] ["note on what the samples look like"]
#
# About 10-15 minutes on a 2-core CPU (the probe is most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${1:-/work/runs/paired64}"
NOTE="${2:-}"
export OMP_WAIT_POLICY=PASSIVE
bash scripts/export_default.sh "$RUN_DIR" resources/default_generator.safetensors
python -m sceneedit.training.evaluate --num 5000 --out runs/default_eval --cache-dir cache/eval
args=(--figures runs/default_eval --run-dir "$RUN_DIR")
[ -n "$NOTE" ] && args+=(--note "$NOTE")
python scripts/write_model_card.py "${args[@]}"
python scripts/make_default_bundle.py --threads 2
python -m pytest -q tests/test_default_generator.py tests/test_default_probe.py
