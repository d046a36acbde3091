"""Print GAN training speed (iterations/s, images/s) for a few trainer settings.

Usage: python benchmarks/gan_training_speed.py [--iterations 8] [--configs base,plain,warmup,nocl,wide,b16,t1]

``base`` is the default recipe after its warm-up (adversarial step + paired reconstruction of 16
rooms), ``plain`` the same without the reconstruction term, ``warmup`` a reconstruction-only
warm-up step.

Run it with OMP_WAIT_POLICY=PASSIVE on a shared CPU (``sceneedit train`` sets that itself).
The data come from a fixed in-memory pool (no worker), so only the networks are timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from sceneedit.training.gan import GANTrainer
from sceneedit.training.gan_config import TrainConfig

VARIANTS = {
    # the defaults: G/D fmaps_base 1024, channels-last, batch 32, 2 threads, past the warm-up
    "base": {"recon_warmup_kimg": 0.0},
    "plain": {"recon_weight": 0.0, "recon_warmup_kimg": 0.0},
    "warmup": {"recon_warmup_kimg": 1e6},
    "nocl": {"channels_last": False},
    "wide": {"g_fmaps_base": 2048, "d_fmaps_base": 2048},
    "b16": {"batch_size": 16},
    "b64": {"batch_size": 64},
    "t1": {"threads": 1},
    "w128": {"z_dim": 128, "w_dim": 128},
}


def flat_pool(seed: int, count: int, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images and codes: only the networks are timed, not the renderer."""
    from sceneedit.scenes import FACTOR_CODE_DIMS

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, resolution, resolution, 3), dtype=np.uint8)
    return images, rng.standard_normal((count, FACTOR_CODE_DIMS)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--configs", default="base,plain,warmup,nocl,wide,b16,t1")
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    for name in args.configs.split(","):
        overrides = VARIANTS[name]
        config = TrainConfig(
            resolution=args.resolution, data_source="pool", pool_size=256, data_workers=0, progress=False, **overrides
        )
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = GANTrainer(config, run_dir, render=flat_pool, log=lambda m: None)
            trainer.open_data()
            for _ in range(2):
                trainer.train_step()
            start = time.perf_counter()
            for _ in range(args.iterations):
                trainer.train_step()
            elapsed = time.perf_counter() - start
            trainer.close()
        g_params = sum(p.numel() for p in trainer.G.parameters())
        d_params = sum(p.numel() for p in trainer.D.parameters())
        speed = args.iterations / elapsed
        print(
            f"{name:6s} batch {config.batch_size:3d} threads {config.threads} "
            f"G {g_params / 1e6:.2f}M D {d_params / 1e6:.2f}M: {1 / speed:.2f} s/it, "
            f"{speed * config.batch_size:.1f} images/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
