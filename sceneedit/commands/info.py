"""``sceneedit info``: describe a generator file (arch, resolution, codes, truncation)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="describe a generator file",
        description="Print a generator's architecture, resolution, number of layer-wise codes, "
        "latent dimensions, truncation defaults and parameter count.",
    )
    parser.add_argument("path", metavar="PATH", help="generator file")
    parser.add_argument("--arch", default=None, help="force the architecture of a foreign file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..generators import load_generator

    generator = load_generator(args.path, arch=args.arch, device="cpu")
    info = describe_generator(generator, args.path)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
        return 0
    width = max(len(key) for key in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {format_value(key, value)}")
    return 0


def describe_generator(generator, path) -> dict:
    """``generator.describe()`` plus where it came from (file, format, dataset, provenance)."""
    info: dict[str, Any] = {"file": str(path)}
    info.update(generator.describe())
    meta = getattr(generator, "checkpoint_metadata", None) or {}
    info["format"] = meta.get("format", "sceneedit safetensors" if "format_version" in meta else None)
    for key in ("dataset", "provenance"):
        if key in meta:
            info[key] = meta[key]
    return {k: v for k, v in info.items() if v is not None}


def format_value(key: str, value) -> str:
    if key == "parameters" and isinstance(value, int):
        return f"{value:,} ({value / 1e6:.3g} M)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
