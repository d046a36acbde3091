"""``sceneedit bundle``: inspect, import, merge and report boundary bundles.

Examples::

    sceneedit bundle info boundaries/default.safetensors
    sceneedit bundle import path/to/higan/boundaries/stylegan_bedroom --out bedroom.safetensors
    sceneedit bundle import view_boundary.npy --generator G.safetensors --layers 0-4 --out view.safetensors
    sceneedit bundle merge a.safetensors b.safetensors --out ab.safetensors
    sceneedit bundle report bundle.safetensors --out docs/probe
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bundle",
        help="inspect, import, merge or report boundary bundles",
        description=__doc__.split("\n\n")[0].replace("\n", " ").replace("``", ""),
        epilog=__doc__.split("\n\n", 1)[1].replace("::", ":"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    info = actions.add_parser("info", help="print a bundle's generator record and concepts")
    info.add_argument("path", help="bundle .safetensors (or anything 'import' reads)")
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")
    info.set_defaults(func=_info)

    imp = actions.add_parser("import", help="convert HiGAN / InterFaceGAN boundaries into a bundle")
    imp.add_argument("source", help="HiGAN boundary folder, boundary list (.txt), or one .npy array")
    imp.add_argument("--out", required=True, help="bundle file to write (.safetensors)")
    target = imp.add_mutually_exclusive_group()
    target.add_argument("--generator", help="the generator the boundaries are for (records its fingerprint)")
    target.add_argument("--num-layers", type=int, help="layer count of the target generator (when no generator file)")
    imp.add_argument("--name", help="concept name (single .npy only; default: from the file name)")
    imp.add_argument("--layers", help="manipulation layers, e.g. 6-11 (single .npy only)")
    imp.add_argument(
        "--level",
        choices=("layout", "objects", "attributes", "color", "unknown"),
        help="abstraction level (single .npy only; default: inferred from the name)",
    )
    imp.set_defaults(func=_import)

    merge = actions.add_parser("merge", help="combine bundles of the same generator")
    merge.add_argument("paths", nargs="+", help="bundle files")
    merge.add_argument("--out", required=True, help="bundle file to write")
    merge.add_argument("--replace", action="store_true", help="a concept in several bundles: keep the last")
    merge.set_defaults(func=_merge)

    report = actions.add_parser("report", help="write the Δs heatmap and table of a probed bundle")
    report.add_argument("path", help="bundle .safetensors")
    report.add_argument("--out", required=True, help="report folder")
    report.set_defaults(func=_report)


def _read(path: str):
    from pathlib import Path

    from ..semantics.importers import import_any

    return import_any(Path(path))


def _info(args: argparse.Namespace) -> int:
    from ..semantics.bundle import bundle_manifest
    from ..semantics.layers import format_layer_spec
    from ..semantics.report import level_summary

    bundle = _read(args.path)
    if args.json:
        print(json.dumps(bundle_manifest(bundle), indent=2, sort_keys=True))
        return 0
    fp = bundle.generator_fingerprint or {}
    print(f"bundle: {args.path}")
    print(
        f"generator: arch {fp.get('arch')}, {fp.get('resolution')} px, {fp.get('num_layers')} layers, "
        f"w_dim {fp.get('w_dim')}, weights {fp.get('weights_hash') or 'unknown'}"
    )
    print(f"{len(bundle)} concepts:")
    print(f"  {'name':<24} {'level':<10} {'space':<5} {'layers':<10} {'range':<14} {'acc':>6} {'Δs all':>8}  predictor")
    for c in bundle:
        acc = "-" if c.accuracy is None else f"{c.accuracy:.3f}"
        ds = "-" if c.delta_s_all is None else f"{c.delta_s_all:.4f}"
        rng = f"{c.distance_range[0]:g}..{c.distance_range[1]:g}"
        print(
            f"  {c.name:<24} {c.level:<10} {c.space:<5} {format_layer_spec(c.layers):<10} {rng:<14} {acc:>6} {ds:>8}  "
            f"{c.predictor or '-'}"
        )
    for line in level_summary(bundle):
        print(line)
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..semantics.bundle import BundleError, fingerprint_for, save_bundle
    from ..semantics.importers import import_any, import_array

    source = Path(args.source)
    fingerprint = None
    if args.generator:
        from ..generators import load_generator

        fingerprint = fingerprint_for(load_generator(args.generator, device="cpu"))
    single = source.suffix == ".npy" and source.is_file()
    if not single and (args.name or args.layers or args.level):
        raise BundleError("--name, --layers and --level apply to a single .npy source only")
    if single:
        bundle = import_array(
            source,
            name=args.name,
            num_layers=args.num_layers,
            fingerprint=fingerprint,
            layers=args.layers,
            level=args.level,
        )
    else:
        bundle = import_any(source, num_layers=args.num_layers, fingerprint=fingerprint)
    path = save_bundle(bundle, args.out)
    for warning in bundle.extra.get("import_warnings", []) or []:
        print(f"warning: {warning}")
    print(f"wrote {path}: {len(bundle)} concept{'' if len(bundle) == 1 else 's'} ({', '.join(bundle.names)})")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from ..semantics.bundle import load_bundle, merge_bundles, save_bundle

    merged = merge_bundles([load_bundle(p) for p in args.paths], replace=args.replace)
    path = save_bundle(merged, args.out)
    print(f"wrote {path}: {len(merged)} concepts")
    return 0


def _report(args: argparse.Namespace) -> int:
    from ..semantics.bundle import load_bundle
    from ..semantics.report import level_summary, write_report

    paths = write_report(load_bundle(args.path), args.out)
    for line in level_summary(load_bundle(args.path)):
        print(line)
    print(f"report: {paths['markdown']} (heatmap {paths['heatmap']})")
    return 0
