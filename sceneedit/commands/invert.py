"""``sceneedit invert``: invert pictures into a generator's layer-wise codes.

Examples::

    sceneedit invert photo.jpg room2.png --out inverted/          # the default generator
    sceneedit invert photo.jpg --noise-steps 0 --out inverted/    # the code alone (no fitted noise maps)
    sceneedit invert photo.jpg --finetune 100 --out inverted/     # + pivotal tuning (a weight delta)
    sceneedit export --recipe inverted/photo.recipe.json --sweep indoor_lighting=-2:2 --out out/photo

Writes ``<stem>.npy`` (the code ``[L, D]``), ``<stem>.png`` (the reconstruction),
``<stem>.recipe.json`` (a recipe starting from the code: ``sceneedit export --recipe``) and,
when noise maps were fitted (the default, for generators with per-layer noise) or with
``--finetune``, ``<stem>.delta.safetensors`` (the generator delta, named by the recipe); prints
one line per image with PSNR and seconds.
"""

from __future__ import annotations

import argparse
from typing import Literal

from ..errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "invert",
        help="invert pictures into layer-wise codes (.npy + reconstruction PNG)",
        description="Invert pictures (any format Pillow reads; center-cropped and resized to the "
        "generator's resolution; grayscale repeated onto RGB, transparency composited over white) "
        "into the generator's layer-wise codes: encoder start, then an optimization with pixel + "
        "perceptual losses and an in-domain regularizer; then, for StyleGAN generators, the finest "
        "layers' noise maps are fitted per image (written as <stem>.delta.safetensors beside the code). "
        "A code whose reconstruction stays below 22 dB PSNR gets an out-of-domain warning (edits may not behave).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="picture files")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument(
        "--generator",
        "-g",
        default=None,
        metavar="PATH",
        help="generator file (default: the embedded default generator)",
    )
    parser.add_argument("--arch", default=None, help="force the architecture of a foreign file")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    parser.add_argument(
        "--encoder",
        default="auto",
        metavar="PATH",
        help="encoder file from `sceneedit train-encoder`; 'auto' (default) uses the shipped "
        "one when it fits the generator, 'none' starts from the mean code",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimization steps of the code (default 100; 0 = the encoder's reading alone); a generator "
        "without noise maps to fit adds the noise steps to these",
    )
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate of the code (default 0.1)")
    parser.add_argument(
        "--prior-weight",
        type=float,
        default=None,
        metavar="W",
        help="weight of the in-domain prior (default 0.002): higher keeps edits behaving as on sampled codes, "
        "lower fits the picture closer (the trade-off: docs/benchmarks.md, GAN inversion)",
    )
    parser.add_argument(
        "--perceptual",
        default="auto",
        choices=("auto", "world", "ssim", "none"),
        help="perceptual loss: world-predictor features for room-world generators, multi-scale SSIM for others (auto)",
    )
    parser.add_argument(
        "--noise-steps",
        type=int,
        default=None,
        metavar="STEPS",
        help="steps fitting the finest layers' noise maps per image after the code's (default "
        "100; 0 = off; generators without per-layer noise spend them on the code); the maps are "
        "written beside the code as <stem>.delta.safetensors",
    )
    parser.add_argument(
        "--finetune",
        type=int,
        default=0,
        metavar="STEPS",
        help="pivotal-tuning steps of the generator (default 0 = off); the tuned weights join the delta "
        "written beside the code",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="images optimized together (default 8; the same results as one by one, faster)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    import torch

    from ..device import resolve_device
    from ..generators import load_generator
    from ..inversion import (
        Encoder,
        InversionResult,
        InversionSettings,
        Inverter,
        load_encoder,
        load_image_for_inversion,
        save_inversion,
    )
    from ..inversion.outputs import write_starting_recipe
    from ..resources import default_generator_path

    if args.threads:
        torch.set_num_threads(int(args.threads))
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out}: a file has that name; give a folder")
    changes = {"perceptual": args.perceptual, "finetune_steps": args.finetune}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.lr is not None:
        changes["lr"] = args.lr
    if args.prior_weight is not None:
        changes["prior_weight"] = args.prior_weight
    if args.noise_steps is not None:
        changes["noise_steps"] = args.noise_steps
    settings = InversionSettings(**changes)
    generator = load_generator(
        args.generator or default_generator_path(), arch=args.arch, device=resolve_device(args.device)
    )
    encoder: Encoder | Literal["auto"] | None
    if args.encoder == "auto":
        encoder = "auto"
    elif args.encoder == "none":
        encoder = None
    else:
        encoder = load_encoder(args.encoder, generator)
    inverter = Inverter(generator, settings, encoder=encoder)
    images = [(path, load_image_for_inversion(path, generator.resolution)) for path in args.images]
    stems: dict[str, int] = {}
    print(
        f"inverting {len(images)} image(s) at {generator.resolution} px: encoder "
        f"{'yes' if inverter.encoder is not None and settings.use_encoder else 'no (mean code)'}, "
        f"{inverter.code_steps} steps, perceptual={inverter.perceptual_name}, "
        f"noise={settings.noise_steps if inverter.noise_names else 0} steps on {len(inverter.noise_names)} maps, "
        f"finetune={settings.finetune_steps}"
    )
    warnings = 0
    results: list[tuple[str, InversionResult]] = []
    for start in range(0, len(images), args.batch_size):
        chunk = images[start : start + args.batch_size]
        results += zip([path for path, _ in chunk], inverter.invert_batch([image for _, image in chunk]), strict=True)
    for path, result in results:
        stem = Path(path).stem
        count = stems.get(stem, 0)
        stems[stem] = count + 1
        if count:
            stem = f"{stem}-{count + 1}"
        paths = save_inversion(result, out, stem)
        write_starting_recipe(generator, result, out, stem, source=Path(path).name)
        tuned = (
            f" ({result.delta.describe()}; code alone {result.code_psnr_db:.2f} dB)" if result.delta is not None else ""
        )
        print(f"{path}: PSNR {result.psnr_db:.2f} dB{tuned}, {result.seconds:.2f} s -> {paths['code']}", flush=True)
        if result.warning:
            warnings += 1
            print(f"{path}: warning: {result.warning}", file=sys.stderr)
    return 0
