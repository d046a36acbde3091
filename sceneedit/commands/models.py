"""``sceneedit models``: the registry of official scene models (HiGAN's names).

Examples::

    sceneedit models list
    sceneedit models fetch stylegan2_church
    sceneedit models fetch stylegan_bedroom --from ~/Downloads/karras2019stylegan-bedrooms-256x256.pkl
    sceneedit edit --generator "$(sceneedit models path stylegan2_church)"
    sceneedit models add my_church church.pkl
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, download and locate the official scene models",
        description="The official scene models under HiGAN's names (PGGAN, StyleGAN, StyleGAN2 on LSUN "
        "scenes; BigGAN-deep), downloaded resumably and checksum-verified into the user's cache folder "
        "($SCENEEDIT_MODELS_DIR overrides it).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples::", 1)[1],
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every model, whether it is downloaded, its boundary set")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(func=run_list)
    fetch = actions.add_parser("fetch", help="download a model (resumable, verified)")
    fetch.add_argument("name", metavar="NAME")
    fetch.add_argument(
        "--from",
        dest="source",
        default=None,
        metavar="URL_OR_FILE",
        help="a mirror URL or a file brought by hand (a folder or URL prefix for BigGAN)",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=run_fetch)
    path = actions.add_parser("path", help="print a downloaded model's path (to pass to --generator)")
    path.add_argument("name", metavar="NAME")
    path.set_defaults(func=run_path)
    add = actions.add_parser("add", help="put a file into the registry under NAME")
    add.add_argument("name", metavar="NAME")
    add.add_argument("file", metavar="FILE")
    add.set_defaults(func=run_add)


def run_list(args: argparse.Namespace) -> int:
    import json

    from ..models import all_models, bundle_path, is_downloaded, model_path, models_dir

    rows: list[dict[str, Any]] = []
    for entry in all_models():
        bundle = bundle_path(entry)
        rows.append(
            {
                "name": entry.name,
                "arch": entry.arch,
                "resolution": entry.resolution,
                "dataset": entry.dataset,
                "downloaded": is_downloaded(entry),
                "path": str(model_path(entry)),
                "files": [f.name for f in entry.files],
                "sources": [u for f in entry.files for u in f.urls],
                "boundaries": entry.boundaries,
                "bundle": str(bundle) if bundle else None,
                "user_added": entry.user_added,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"models folder: {models_dir()}")
    print(f"{'name':<24} {'arch':<9} {'px':>4}  {'here':<4}  {'boundaries':<22} file")
    for row in rows:
        print(
            f"{row['name']:<24} {row['arch']:<9} {row['resolution']:>4}  {'yes' if row['downloaded'] else '-':<4}  "
            f"{row['boundaries'] or '-':<22} {', '.join(row['files'])}"
        )
    return 0


def _progress_bar(quiet: bool):
    """``(progress(done, total), file_started(name, i, n), close())`` drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    state: dict = {"bar": None}

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()
            state["bar"] = None

    def file_started(name: str, index: int, count: int) -> None:
        close()
        if not quiet:
            state["bar"] = tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)

    def progress(done: int, total: int | None) -> None:
        bar = state["bar"]
        if bar is None:
            return
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return progress, file_started, close


def run_fetch(args: argparse.Namespace) -> int:
    from ..models import fetch_model

    progress, file_started, close = _progress_bar(args.quiet)
    try:
        result = fetch_model(args.name, source=args.source, progress=progress, file_started=file_started)
    finally:
        close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not result.downloaded:
        print(f"{result.entry.name}: already downloaded", file=sys.stderr)
    print(result.path)
    return 0


def run_path(args: argparse.Namespace) -> int:
    from ..models import RegistryError, find_model, is_downloaded, model_path

    entry = find_model(args.name)
    if not is_downloaded(entry):
        raise RegistryError(f"{entry.name} is not downloaded; run: sceneedit models fetch {entry.name}")
    print(model_path(entry))
    return 0


def run_add(args: argparse.Namespace) -> int:
    from ..models import add_model

    result = add_model(args.name, args.file)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.path)
    return 0
