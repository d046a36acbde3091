#!/usr/bin/env bash
# Ship the embedded default: export the training run's G_ema, evaluate it, write its model
# card, probe it for the default boundary bundle and write the probe report.
#
#   scripts/ship_default.sh RUN_DIR ["note on what the samples look like"]
#
# RUN_DIR: the GAN training run folder (sceneedit train --run-dir RUN_DIR), relative to the
# current folder; everything written goes into this checkout (resources/, docs/, runs/, cache/).
# About 10-15 minutes on a 2-core CPU (the probe is most of it).
set -euo pipefail
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: scripts/ship_default.sh RUN_DIR [NOTE]  (RUN_DIR: a training run folder${1:+; not a folder: $1})" >&2
  exit 2
fi
RUN_DIR="$(cd "$1" && pwd)"  # absolute: the steps below run from the repository root
NOTE="${2:-}"
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
bash scripts/export_default.sh "$RUN_DIR" resources/default_generator.safetensors
python -m sceneedit.training.evaluate --num 5000 --out runs/default_eval --cache-dir cache/eval
args=(--figures runs/default_eval --run-dir "$RUN_DIR")
[ -n "$NOTE" ] && args+=(--note "$NOTE")
python scripts/write_model_card.py "${args[@]}"
python scripts/make_default_bundle.py --threads 2
python -m pytest -q tests/test_default_generator.py tests/test_default_probe.py
