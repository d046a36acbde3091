#!/usr/bin/env bash
# Export the G_ema of the default generator's training run (its newest checkpoint that
# verifies; a corrupt newest one is reported and skipped) in sceneedit's safetensors format.
#
#   scripts/export_default.sh RUN_DIR [OUT]
#
# RUN_DIR and OUT are relative to the current folder; OUT defaults to the checkout's
# resources/default_generator.safetensors. Safe while the run is still training:
# checkpoints are written atomically.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: scripts/export_default.sh RUN_DIR [OUT]  (RUN_DIR: a training run folder${1:+; not a folder: $1})" >&2
  exit 2
fi
REPO="$(cd "$(dirname "$0")/.." && pwd)"
RUN_DIR="$(cd "$1" && pwd)"
OUT="${2:-$REPO/resources/default_generator.safetensors}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
cd "$REPO"
python -m sceneedit.training.gan --run-dir "$RUN_DIR" --export "$OUT"
