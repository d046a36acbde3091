"""``sceneedit synth``: render samples from a generator to PNGs plus a contact sheet.

Examples::

    sceneedit synth --generator resources/default_generator.safetensors --seeds 0-15 --out samples
    sceneedit synth --generator stylegan_bedroom.pth --codes wp.npy --out edits
"""

from __future__ import annotations

import argparse

from ..errors import CommandError, MissingFileError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="synthesize samples (one PNG each and a contact sheet)",
        description="Synthesize images from a generator for seeds or saved codes; writes one PNG "
        "per sample and contact_sheet.png, and prints the device and ms/image.",
    )
    parser.add_argument(
        "--generator",
        "-g",
        required=True,
        metavar="PATH",
        help="generator file (.safetensors, genforce/HiGAN .pth, NVIDIA .pkl, ...)",
    )
    parser.add_argument("--arch", default=None, help="force the architecture of a foreign file")
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:N or mps (default: $SCENEEDIT_DEVICE, else the best available)"
    )
    parser.add_argument(
        "--seeds",
        default=None,
        metavar="LIST",
        help="seeds, e.g. '0-15' or '1,5,9-12' (default 0-15 unless --codes is given)",
    )
    parser.add_argument(
        "--codes", default=None, metavar="FILE.npy", help="latent codes: z [N, z_dim] or wp [N, num_layers, w_dim]"
    )
    parser.add_argument(
        "--truncation",
        type=float,
        default=None,
        metavar="PSI",
        help="truncation psi for z codes (default: the generator's; 1 = none); for wp "
        "codes, the psi they were mapped with",
    )
    parser.add_argument(
        "--truncation-layers",
        type=int,
        default=None,
        metavar="N",
        help="number of leading layers truncated (default: the generator's)",
    )
    parser.add_argument("--batch-size", type=int, default=8, metavar="N", help="samples per forward pass (default 8)")
    parser.add_argument(
        "--columns", type=int, default=None, metavar="N", help="contact sheet columns (default: square)"
    )
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import torch

    from ..device import describe_device, resolve_device
    from ..generators import load_generator, to_uint8_images
    from ..imaging import make_contact_sheet, save_png
    from ..seeds import parse_seeds

    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.codes is not None and args.seeds is not None:
        raise CommandError("give either --seeds or --codes, not both")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise CommandError(f"--out {args.out}: a file has that name; give a folder")
    device = resolve_device(args.device)
    generator = load_generator(args.generator, arch=args.arch, device=device)

    if args.codes is not None:
        codes, kind = load_codes(Path(args.codes), generator)
        labels = [f"code {i}" for i in range(len(codes))]
        stems = [f"code_{i:04d}" for i in range(len(codes))]
    else:
        seeds = parse_seeds(args.seeds if args.seeds is not None else "0-15")
        codes, kind = generator.sample_z_for_seeds(seeds).cpu(), "z"
        labels = [f"seed {s}" for s in seeds]
        stems = [f"seed_{s:04d}" for s in seeds]
    if kind == "wp" and args.truncation_layers is not None:
        print("note: --truncation-layers applies to z codes only; wp codes are used as given")

    out = Path(args.out)
    print(f"device: {describe_device(device)}")
    print(
        f"generator: {generator.name} ({generator.arch}, {generator.resolution} px, "
        f"{generator.num_layers} layers) from {args.generator}"
    )
    images = []
    batch_seconds: list[tuple[float, int]] = []
    with torch.inference_mode():
        for start in range(0, len(codes), args.batch_size):
            batch = codes[start : start + args.batch_size].to(device)
            began = time.perf_counter()
            if kind == "z":
                wp = generator.map(batch, truncation_psi=args.truncation, truncation_layers=args.truncation_layers)
            else:
                wp = batch
            # The psi travels with the codes (BigGAN's batch-norm statistics depend on it).
            pixels = to_uint8_images(generator.synthesize(wp, truncation_psi=args.truncation))  # .cpu() waits
            batch_seconds.append((time.perf_counter() - began, len(pixels)))
            for offset, image in enumerate(pixels):
                save_png(image, out / f"{stems[start + offset]}.png")
                images.append(image)
    sheet = make_contact_sheet(images, columns=args.columns, labels=labels)
    save_png(sheet, out / "contact_sheet.png")
    print(f"wrote {len(images)} image{'' if len(images) == 1 else 's'} and contact_sheet.png to {out}")
    print(f"synthesis: {describe_speed(batch_seconds, args.batch_size)}")
    return 0


def describe_speed(batch_seconds: list[tuple[float, int]], batch_size: int) -> str:
    """ms/image; the first batch (which pays one-off warm-up) is reported apart when
    later batches exist."""
    first_time, first_count = batch_seconds[0]
    if len(batch_seconds) == 1:
        return f"{1000 * first_time / first_count:.1f} ms/image (batch size {batch_size}, one batch incl. warm-up)"
    rest_time = sum(t for t, _ in batch_seconds[1:])
    rest_count = sum(n for _, n in batch_seconds[1:])
    return (
        f"{1000 * rest_time / rest_count:.1f} ms/image (batch size {batch_size}; "
        f"first batch incl. warm-up {1000 * first_time / first_count:.1f} ms/image)"
    )


def load_codes(path, generator):
    """Read ``.npy`` codes: ``(tensor, 'z')`` for ``[N, z_dim]``, ``(tensor, 'wp')`` for
    ``[N, num_layers, w_dim]``. Raises a user error naming the file and expected shapes."""
    import numpy as np
    import torch

    if not path.exists():
        raise MissingFileError(f"{path}: no such codes file")
    from ..semantics.safe_npy import load_npy_array

    array = load_npy_array(path, max_bytes=None)  # ValueError naming the file for a malformed or foreign file
    expected = f"z [N, {generator.z_dim}] nor wp [N, {generator.num_layers}, {generator.w_dim}]"
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
        raise CommandError(f"{path}: codes must be a float array, got dtype {getattr(array, 'dtype', '?')}")
    if array.ndim == 2 and array.shape[1] == generator.z_dim:
        kind = "z"
    elif array.ndim == 3 and array.shape[1:] == (generator.num_layers, generator.w_dim):
        kind = "wp"
    else:
        raise CommandError(f"{path}: codes of shape {list(array.shape)} fit neither {expected}")
    if array.shape[0] == 0:
        raise CommandError(f"{path}: holds no codes (shape {list(array.shape)})")
    with np.errstate(over="ignore"):
        array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise CommandError(f"{path}: codes contain NaN or infinite values (or values beyond float32 range)")
    return torch.from_numpy(array), kind
