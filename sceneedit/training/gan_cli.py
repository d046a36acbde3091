"""Command-line options of GAN training (no torch import: ``sceneedit --help`` stays fast)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def prefer_passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning; effective only before torch loads.

    On a CPU shared with other busy processes, spinning threads slowed 2-thread training
    about 4x here (13.8 vs 3.4 s/iteration, 64 px, batch 32). ``OMP_WAIT_POLICY`` set by the
    user wins.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_FIELD_FLAGS: list[tuple[str, str, Any, str]] = [
    # (flag, field, type, help)
    ("--resolution", "resolution", int, "image size, a power of two >= 8 (default 64)"),
    ("--z-dim", "z_dim", int, "latent z size (default 32)"),
    ("--w-dim", "w_dim", int, "style code size (default 256)"),
    ("--mapping-layers", "mapping_layers", int, "mapping network depth (default 8)"),
    ("--mapping-lr-mul", "mapping_lr_mul", float, "mapping network learning-rate multiplier (default 1)"),
    ("--g-fmaps-base", "g_fmaps_base", int, "G channels: min(base // res, max) (default 1024)"),
    ("--g-fmaps-max", "g_fmaps_max", int, "G channel cap (default 128)"),
    ("--d-fmaps-base", "d_fmaps_base", int, "D channels: min(base // res, max) (default 1024)"),
    ("--d-fmaps-max", "d_fmaps_max", int, "D channel cap (default 128)"),
    ("--truncation-psi", "truncation_psi", float, "default psi stored with the exported G (0.7)"),
    ("--truncation-layers", "truncation_layers", int, "default truncated layers stored with G (6)"),
    ("--name", "name", str, "generator name stored with the export"),
    ("--batch-size", "batch_size", int, "images per iteration (default 32)"),
    ("--g-lr", "g_lr", float, "G Adam learning rate (default 2e-3)"),
    ("--d-lr", "d_lr", float, "D Adam learning rate (default 2e-3)"),
    ("--r1-gamma", "r1_gamma", float, "R1 weight (default 1)"),
    ("--r1-interval", "r1_interval", int, "lazy R1 every N iterations (default 16)"),
    ("--style-mixing", "style_mixing_prob", float, "style mixing probability (default 0.9)"),
    ("--ema-kimg", "ema_kimg", float, "G_ema half-life in thousands of images (default 10)"),
    ("--ema-rampup", "ema_rampup", float, "EMA ramp-up fraction of images seen (default 0.05)"),
    ("--recon-weight", "recon_weight", float, "paired reconstruction weight (default 1; 0 = plain GAN)"),
    (
        "--recon-feature-weight",
        "recon_feature_weight",
        float,
        "world-predictor feature term inside the reconstruction (default 1)",
    ),
    ("--recon-batch", "recon_batch", int, "rooms per iteration in the reconstruction (default 16; 0 = batch)"),
    (
        "--recon-warmup-kimg",
        "recon_warmup_kimg",
        float,
        "thousands of images of reconstruction-only training before D starts (default 200)",
    ),
    ("--seed", "seed", int, "random seed (default 0)"),
    (
        "--init-from",
        "init_from",
        str,
        "start from this generator file (e.g. the shipped default) with a fresh D; its architecture "
        "is taken, and it is grown (a new block faded in) when --resolution is higher",
    ),
    ("--fade-kimg", "fade_kimg", float, "thousands of images over which a grown block fades in (default 0)"),
    ("--data", "data_source", str, "'pool' (in-memory pool refreshed by workers) or 'stream'"),
    ("--pool-size", "pool_size", int, "images in the pool (default 8192)"),
    ("--data-workers", "data_workers", int, "render worker processes refreshing the pool (default 1)"),
    ("--iterations", "iterations", int, "stop at this iteration (default 100000)"),
    ("--minutes", "minutes", float, "stop after this many minutes in this session (0 = no limit)"),
    ("--checkpoint-minutes", "checkpoint_minutes", float, "checkpoint every N minutes (default 5)"),
    ("--checkpoint-every", "checkpoint_every", int, "also checkpoint every N iterations (0 = off)"),
    ("--keep-checkpoints", "keep_checkpoints", int, "checkpoints kept (default 3, at least 2)"),
    ("--sample-every", "sample_every", int, "sample grid every N iterations (default 200; 0 = off)"),
    ("--log-every", "log_every", int, "log line every N iterations (default 10)"),
    ("--device", "device", str, "cpu, cuda, cuda:N or mps (default cpu)"),
    ("--threads", "threads", int, "torch CPU threads (default 2)"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``sceneedit train`` (shared with ``python -m sceneedit.training.gan``)."""
    parser.add_argument("--run-dir", required=True, type=Path, help="run folder (checkpoints, samples, log)")
    parser.add_argument("--resume", action="store_true", help="continue from the run's newest good checkpoint")
    parser.add_argument(
        "--export",
        type=Path,
        metavar="PATH",
        help="write the newest checkpoint's G_ema as a sceneedit .safetensors and exit",
    )
    parser.add_argument(
        "--export-checkpoint",
        type=Path,
        metavar="PATH",
        help="write the newest checkpoint as one small portable file (G, G_ema, D in fp16, "
        "Adam second moments if they fit) and exit; continue it with --resume-from",
    )
    parser.add_argument(
        "--resume-from",
        type=Path,
        metavar="PATH",
        help="continue training in a new --run-dir from a portable checkpoint "
        "(--export-checkpoint), e.g. resources/training/grow128_checkpoint.safetensors",
    )
    for flag, field_name, kind, help_text in _FIELD_FLAGS:
        parser.add_argument(flag, dest=field_name, type=kind, default=argparse.SUPPRESS, help=help_text)
    parser.add_argument(
        "--channels-last",
        dest="channels_last",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="channels-last memory format (default on)",
    )
    parser.add_argument(
        "--progress",
        dest="progress",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="show a progress bar (default on)",
    )


def explicit_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields given on the command line."""
    names = {field_name for _, field_name, _, _ in _FIELD_FLAGS} | {"channels_last", "progress"}
    return {k: v for k, v in vars(args).items() if k in names}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sceneedit.training.gan", description="Train the default StyleGAN on the procedural room world."
    )
    add_arguments(parser)
    return parser
