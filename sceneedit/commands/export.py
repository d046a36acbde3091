"""``sceneedit export``: render edit sequences to PNG frames, GIF, MP4 and a contact sheet.

Examples::

    sceneedit export --generator g.safetensors --bundle b.safetensors \\
        --sweep wall_color=-3:3 --steps 9 --seeds 0-7 --out exports/
    sceneedit export --generator g.safetensors --bundle b.safetensors \\
        --sweep lamp=-2:2@4-7 --sweep clutter=0:3 --separate --seeds 1,5,9 --out exports/
    sceneedit export --generator g.safetensors --jitter-layers 0-1 --jitter-seeds 0-11 \\
        --jitter-strength 1.0 --seeds 3 --out exports/
    sceneedit export --generator g.safetensors --bundle b.safetensors \\
        --recipe my_edit.json --timeline --seeds 0-3 --out exports/

A rerun with the same arguments skips every complete file (resume after Ctrl-C).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export edit sequences (sweeps, jitter series, recipe timelines) as PNG/GIF/MP4",
        description="Render edit sequences of one or several seeds (or codes from a file) to PNG "
        "frames, animated GIFs, H.264 MP4s and a contact sheet, with a manifest of every file. "
        "A rerun skips complete outputs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    source = parser.add_argument_group("model")
    source.add_argument(
        "--generator", "-g", type=Path, default=None, help="generator file (default: the embedded default generator)"
    )
    source.add_argument("--bundle", type=Path, default=None, help="boundary bundle (needed for concept sweeps)")
    source.add_argument(
        "--allow-hash-mismatch", action="store_true", help="use a bundle made for other weights of the same shape"
    )
    source.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")

    seq = parser.add_argument_group("sequences")
    seq.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=START:END[@LAYERS]",
        help="sweep a concept's strength (distance in units of the unit normal); repeat to "
        "sweep several concepts together",
    )
    seq.add_argument("--steps", type=int, default=9, help="frames per sweep (default 9)")
    seq.add_argument("--separate", action="store_true", help="one sequence per --sweep instead of a joint sweep")
    seq.add_argument(
        "--jitter-layers",
        default=None,
        metavar="LAYERS",
        help="export a jitter series re-sampling these layers, e.g. 0-1",
    )
    seq.add_argument("--jitter-seeds", default="0-7", metavar="SEEDS", help="one frame per jitter seed (default 0-7)")
    seq.add_argument("--jitter-strength", type=float, default=1.0, help="jitter strength (default 1.0)")
    seq.add_argument("--jitter-mode", default="gaussian", choices=["gaussian", "style_mix"])
    seq.add_argument(
        "--recipe", type=Path, default=None, help="starting point for sweeps and jitter series (its final state)"
    )
    seq.add_argument("--timeline", action="store_true", help="export the recipe's timeline, one frame per step")
    seq.add_argument("--name", default=None, help="folder name of the sequence (one sequence only)")

    apply = parser.add_argument_group("scenes")
    apply.add_argument("--seeds", default=None, help="seeds, e.g. 0-7 or 1,5,9 (default: the recipe's base, else 0)")
    apply.add_argument("--codes", type=Path, default=None, help=".npy of codes [N, L, D] instead of seeds")
    apply.add_argument(
        "--truncation-psi", type=float, default=None, help="truncation for seeds (default: the generator's)"
    )

    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="output folder")
    out.add_argument("--formats", default="png,gif,mp4,sheet", help="any of png,gif,mp4,sheet (default: all)")
    out.add_argument("--fps", type=float, default=8.0, help="frames per second of GIF/MP4 (default 8)")
    out.add_argument("--batch-size", type=int, default=8, help="frames per forward pass (default 8)")
    out.add_argument("--overwrite", action="store_true", help="replace an earlier, different export in the folder")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _build_job(args: argparse.Namespace, generator, bundle):
    import dataclasses

    from ..editing.recipe import load_recipe
    from ..export import (
        ExportError,
        ExportJob,
        JitterSequence,
        SweepSequence,
        TimelineSequence,
        load_codes,
        parse_layers,
        parse_sweep,
    )
    from ..seeds import parse_seeds

    recipe = load_recipe(args.recipe) if args.recipe is not None else None
    sequences: list[SweepSequence | JitterSequence | TimelineSequence] = []
    sweeps = [parse_sweep(text) for text in args.sweep]
    if sweeps:
        if args.separate:
            sequences += [SweepSequence((s,), steps=args.steps) for s in sweeps]
        else:
            sequences.append(SweepSequence(tuple(sweeps), steps=args.steps))
    if args.jitter_layers is not None:
        sequences.append(
            JitterSequence(
                layers=tuple(parse_layers(args.jitter_layers)),
                seeds=tuple(parse_seeds(args.jitter_seeds)),
                strength=args.jitter_strength,
                mode=args.jitter_mode,
            )
        )
    if args.timeline:
        if recipe is None:
            raise ExportError("--timeline needs --recipe")
        sequences.append(TimelineSequence(recipe, source=str(args.recipe)))
    if not sequences:
        raise ExportError("nothing to export: give --sweep, --jitter-layers or --timeline")
    if args.name is not None:
        if len(sequences) > 1:
            raise ExportError("--name applies to a single sequence; this run has several")
        sequences = [dataclasses.replace(sequences[0], name=args.name)]
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    codes = load_codes(args.codes, generator) if args.codes is not None else None
    if seeds is None and codes is None and recipe is None:
        seeds = [0]  # without seeds, codes or a recipe: seed 0
    return ExportJob(
        sequences=sequences,
        out_dir=args.out,
        bundle=bundle,
        # The recipe is the starting point of sweeps / jitter series (a timeline has its own).
        recipe=recipe if (sweeps or args.jitter_layers is not None) else None,
        seeds=seeds,
        codes=codes,
        codes_source=str(args.codes) if args.codes is not None else None,
        truncation_psi=args.truncation_psi,
        formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
        fps=args.fps,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        allow_hash_mismatch=args.allow_hash_mismatch,
        recipe_source=str(args.recipe) if args.recipe is not None else "starting recipe",
    )


def _run(args: argparse.Namespace) -> int:
    import signal
    import sys
    import threading

    from tqdm import tqdm

    from ..device import describe_device, resolve_device
    from ..export import ExportError, run_export
    from ..generators.checkpoints import load_generator
    from ..resources import default_bundle_path, default_generator_path

    generator_path = args.generator or default_generator_path()
    if args.generator is None and not Path(generator_path).exists():
        raise ExportError(f"no --generator given and the default {generator_path} does not exist")
    if args.generator is None and args.bundle is None and default_bundle_path().exists():
        args.bundle = str(default_bundle_path())  # the default generator's own bundle
    device = resolve_device(args.device)
    generator = load_generator(generator_path, device=device)
    bundle = None
    if args.bundle is not None:
        from ..semantics.bundle import check_compatible, load_bundle

        bundle = load_bundle(args.bundle)
        for warning in check_compatible(bundle, generator, allow_hash_mismatch=args.allow_hash_mismatch):
            print(f"sceneedit export: warning: {warning}", file=sys.stderr)
    if args.recipe is not None:  # a recipe from an inversion carries a generator delta (fitted noise / fine-tune)
        from ..editing.recipe import load_recipe
        from ..inversion.recipes import generator_for_recipe

        generator = generator_for_recipe(load_recipe(args.recipe), generator, args.recipe)
    job = _build_job(args, generator, bundle)

    stop = threading.Event()
    bar = None  # opened on the first progress call, so input errors print no empty bar first

    def progress(done: int, total: int, message: str) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="frame", dynamic_ncols=True, desc="export")
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message[-60:], refresh=False)
        bar.refresh()

    def on_sigint(signum, frame):  # first Ctrl-C: finish the current batch, then stop
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nsceneedit export: stopping after the current batch (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        report = run_export(generator, job, progress=progress, cancel=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    fps = report.frames_rendered / max(sum(s.render_seconds for s in report.sequences), 1e-9)
    print(f"device: {describe_device(device)}")
    for seq in report.sequences:
        print(f"{seq.folder}: {len(seq.written)} files written, {len(seq.skipped)} already complete")
    if report.frames_rendered:
        print(f"rendered {report.frames_rendered} frames at {fps:.1f} frames/s (batch {job.batch_size})")
    if report.cancelled:
        print("sceneedit export: stopped; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0
