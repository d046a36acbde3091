"""``sceneedit train-encoder``: train the inversion encoder of a generator on its own samples.

Examples::

    sceneedit train-encoder --run-dir runs/encoder                  # the default generator
    sceneedit train-encoder -g G.pth --run-dir runs/enc_g --steps 20000 --export G_encoder.safetensors
    sceneedit invert photo.jpg -g G.pth --encoder G_encoder.safetensors --out inverted/
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-encoder",
        help="train the inversion encoder of a generator (resumable)",
        description="Train the encoder that gives `sceneedit invert` its starting code, on the "
        "generator's own samples. The run folder holds the resumable state (linear-stats.pt or "
        "encoder-ckpt.pt, resumed automatically), log.txt and encoder.safetensors.",
    )
    parser.add_argument(
        "--generator",
        "-g",
        default=None,
        metavar="PATH",
        help="generator file (default: the embedded default generator)",
    )
    parser.add_argument("--arch", default=None, help="force the architecture of a foreign file")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="run folder (checkpoint, log, export)")
    parser.add_argument(
        "--kind",
        default="linear",
        choices=("linear", "cnn"),
        help="linear: ridge regression from pooled pixels, fitted in closed form (default); "
        "cnn: a small convolutional network trained by gradient steps",
    )
    parser.add_argument("--samples", type=int, default=8192, help="linear: sampled codes fitted (default 8192)")
    parser.add_argument("--ridge", type=float, default=100.0, help="linear: ridge strength (default 100)")
    parser.add_argument("--steps", type=int, default=6000, help="cnn: training steps (default 6000)")
    parser.add_argument("--batch-size", type=int, default=16, help="samples per step (default 16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3, cosine decay)")
    parser.add_argument(
        "--perceptual",
        default="auto",
        choices=("auto", "world", "ssim", "none"),
        help="perceptual loss: world predictor features for room-world generators, multi-scale SSIM otherwise (auto)",
    )
    parser.add_argument("--fresh", action="store_true", help="start over instead of resuming the run's checkpoint")
    parser.add_argument(
        "--time-limit", type=float, default=None, metavar="SECONDS", help="stop (checkpointed) after this long"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--export", default=None, metavar="PATH", help="also copy the trained encoder here")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    import torch

    from ..device import resolve_device
    from ..generators import load_generator
    from ..inversion.train import EncoderTrainingConfig, train_encoder
    from ..resources import default_generator_path

    if args.threads:
        torch.set_num_threads(int(args.threads))
    config = EncoderTrainingConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, perceptual=args.perceptual)
    generator = load_generator(
        args.generator or default_generator_path(), arch=args.arch, device=resolve_device(args.device)
    )
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        print(line, flush=True)
        with open(run_dir / "log.txt", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    if args.kind == "linear":
        from ..inversion.train import LINEAR_STATS_NAME, fit_linear_encoder

        if args.fresh and (run_dir / LINEAR_STATS_NAME).exists():
            (run_dir / LINEAR_STATS_NAME).unlink()
        out = fit_linear_encoder(generator, run_dir, samples=args.samples, ridge=args.ridge, log=log)
    else:
        out = train_encoder(generator, run_dir, config, resume=not args.fresh, time_limit_s=args.time_limit, log=log)
    if args.export:
        Path(args.export).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, args.export)
        log(f"copied to {args.export}")
    return 0
