"""``sceneedit convert IN OUT.safetensors``: any supported generator file into our format.

Example::

    sceneedit convert karras2019stylegan-bedrooms-256x256.pkl stylegan_bedroom.safetensors
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a generator file to sceneedit's safetensors format (verified)",
        description="Read any supported generator file (NVIDIA TF or PyTorch .pkl, genforce/HiGAN "
        ".pth, rosinality .pt, BigGAN pytorch_model.bin, ours) and write it as one .safetensors "
        "file; then synthesize a few codes with both and compare (fails above the tolerance).",
    )
    parser.add_argument("source", metavar="IN", help="generator file to convert")
    parser.add_argument("output", metavar="OUT.safetensors", help="file to write")
    parser.add_argument("--arch", default=None, help="force the architecture of a foreign file")
    parser.add_argument("--codes", type=int, default=4, metavar="N", help="codes compared (default 4)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="T",
        help="largest allowed pixel difference, image units in [-1, 1] (default 1e-5)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..generators.convert import DEFAULT_TOLERANCE, convert_generator

    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    report = convert_generator(args.source, args.output, arch=args.arch, codes=args.codes, tolerance=tolerance)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print(
            f"converted {report.source} ({report.source_format}) -> {report.output}: {report.arch}, "
            f"{report.resolution} px; {report.codes} codes compared, max abs diff {report.max_abs_diff:.3g} "
            f"(tolerance {report.tolerance:g}) in {report.seconds:.1f} s"
        )
    return 0
