"""``sceneedit train``: train the default StyleGAN on the procedural room world, resume a
run, or export a run's G_ema as a sceneedit generator file.

Examples::

    sceneedit train --run-dir runs/rooms64                 # start (64 px defaults)
    sceneedit train --run-dir runs/rooms64 --resume        # continue after an interruption
    sceneedit train --run-dir runs/rooms64 --export resources/default_generator.safetensors
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the default generator on the procedural room world",
        description="Train the default StyleGAN on the procedural room world, resume a run "
        "(--resume), or export a run's G_ema as a sceneedit generator file (--export PATH). "
        "A run folder holds checkpoints (every --checkpoint-minutes), sample grids and log.jsonl.",
    )
    from ..training.gan_cli import add_arguments

    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..training.gan_cli import prefer_passive_openmp

    prefer_passive_openmp()
    from ..training.gan import run_from_args

    return run_from_args(args)
