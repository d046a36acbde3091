#!/usr/bin/env bash
# One prepared run of the 128 px growth on a lent GPU machine (issue 13), for the device tool:
#
#   scripts/gpu_grow128.sh MINUTES [more sceneedit train flags]
#
# FROM=default grows anew from the shipped 64 px generator instead of continuing the checkpoint.
# DEVICE (default cuda) picks the device; a dry run here: DEVICE=cpu OUT=/tmp/g scripts/gpu_grow128.sh 0.2 --pool-size 64
#
# Continues resources/training/grow128_checkpoint.safetensors on cuda for MINUTES of training
# steps (the image pool is rendered first, on every CPU core), then writes into $OUT (or
# runs/gpu_grow128 without it): the carried-on portable checkpoint, the exported G_ema, the
# last sample grid and the training log. Bring those back, look at the samples, commit the
# checkpoint to resources/training/ (it stays ~12 MB) and continue here or in the next session.
set -euo pipefail
MINUTES="${1:?usage: scripts/gpu_grow128.sh MINUTES [more sceneedit train flags]}"
shift
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-runs/gpu_grow128}"
RUN_DIR="${RUN_DIR:-runs/grow128_gpu}"
mkdir -p "$OUT_DIR"
CORES="$(nproc)"
if [ -d "$RUN_DIR/checkpoints" ]; then
  resume=(--resume)
elif [ "${FROM:-checkpoint}" = "default" ]; then
  # Grow anew from the shipped 64 px generator (a fresh 128 px block and discriminator), the way
  # the carried run started: to compare the two at equal images.
  resume=(--init-from resources/default_generator.safetensors --resolution 128 --fade-kimg 20 --recon-warmup-kimg 0)
else
  resume=(--resume-from resources/training/grow128_checkpoint.safetensors)
fi
sceneedit train --run-dir "$RUN_DIR" "${resume[@]}" --device "${DEVICE:-cuda}" --minutes "$MINUTES" \
  --data-workers "$((CORES > 2 ? CORES - 2 : 1))" --threads 2 --checkpoint-minutes 2 "$@"
sceneedit train --run-dir "$RUN_DIR" --export-checkpoint "$OUT_DIR/grow128_checkpoint.safetensors"
sceneedit train --run-dir "$RUN_DIR" --export "$OUT_DIR/grow128_G.safetensors"
cp "$RUN_DIR/log.jsonl" "$OUT_DIR/"
cp "$RUN_DIR/samples/latest.png" "$OUT_DIR/samples_latest.png" 2>/dev/null || true
tail -n 3 "$RUN_DIR/log.jsonl"
