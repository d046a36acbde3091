#!/usr/bin/env bash
# Export the G_ema of the default generator's training run (its newest checkpoint that
# verifies; a corrupt newest one is reported and skipped) in sceneedit's safetensors format.
#
#   scripts/export_default.sh [RUN_DIR] [OUT]
#   defaults: RUN_DIR=/work/runs/paired64  OUT=resources/default_generator.safetensors
#
# Safe while the run is still training: checkpoints are written atomically.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${1:-/work/runs/paired64}"
OUT="${2:-resources/default_generator.safetensors}"
python -m sceneedit.training.gan --run-dir "$RUN_DIR" --export "$OUT"
