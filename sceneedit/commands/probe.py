"""``sceneedit probe``: find which concepts a generator has learned, and at which layers.

Samples N codes, scores their images with a predictor, fits one linear boundary per
concept, re-scores each layer (Δs) and writes a boundary bundle plus a report.

Examples::

    sceneedit probe --generator G.safetensors --predictor world --num-samples 2000 --out runs/probe
    sceneedit probe --generator G.safetensors --predictor places365 \\
        --predictor-option root=/data/places365 --concepts indoor_lighting wood --out runs/p

At scale (N = 500,000), run shards anywhere (one per GPU or machine; torchrun, SLURM
array jobs or plain shells all work — shards share nothing but the seed), then merge::

    sceneedit probe --generator G --num-samples 500000 --shard 0/4 --out runs/s0   # ... up to 3/4
    sceneedit probe --generator G --num-samples 500000 --merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all

With torchrun, ``--shard auto`` takes the shard from RANK / WORLD_SIZE, the GPU from
LOCAL_RANK, and ``{rank}`` in --out from RANK::

    torchrun --nproc_per_node 4 -m sceneedit probe --generator G --num-samples 500000 --shard auto --out runs/s{rank}

Rerunning an interrupted command resumes it: finished chunks are kept.
"""

from __future__ import annotations

import argparse
import sys

#: Samples drawn when --num-samples is not given.
DEFAULT_NUM = 2000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="probe a generator: score samples, fit boundaries, re-score layers, write a bundle",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--generator",
        "-g",
        default=None,
        help="generator file (any supported checkpoint; default: the shipped default generator)",
    )
    parser.add_argument(
        "--predictor",
        default="world",
        help="predictor: world, places365, a plug-in name, or module.path:factory (default: world)",
    )
    parser.add_argument(
        "--predictor-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option passed to the predictor factory (repeatable), e.g. root=DIR for places365",
    )
    parser.add_argument("--out", required=True, help="run folder (codes, scores, fits, re-scores, bundle)")
    # Not "--num" first: torchrun reads every argument and takes "--num" for an ambiguous
    # prefix of its own --numa-binding; "--num" stays an alias for plain use.
    parser.add_argument(
        "--num-samples",
        "-n",
        "--num",
        dest="num",
        type=int,
        default=None,
        help="number of samples N (default: 2000; with --merge: the shards' N)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="sample only shard I of N (0-based), then stop; 'auto' reads torchrun's RANK/WORLD_SIZE",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="DIR",
        help="merge these shard folders into --out, then fit, re-score and write the bundle",
    )
    parser.add_argument(
        "--concepts",
        nargs="+",
        default=None,
        help="concepts (score names) to probe; default: all the predictor's scores",
    )
    parser.add_argument(
        "--k",
        type=float,
        default=2000,
        help="positives (and negatives) per concept: top/bottom K; a value <= 1 is a ratio of N (default: 2000)",
    )
    parser.add_argument("--split", type=float, default=0.7, help="train share of the chosen samples (default: 0.7)")
    parser.add_argument(
        "--space",
        choices=("w", "wp"),
        default="w",
        help="fit one normal in W shared by all layers (w, default) or one per layer (wp)",
    )
    parser.add_argument(
        "--rescore-samples", type=int, default=2000, help="codes moved per concept and layer (default: 2000)"
    )
    parser.add_argument(
        "--lambda", dest="lam", type=float, default=2.0, help="re-scoring step along the normal (default: 2)"
    )
    parser.add_argument(
        "--share",
        type=float,
        default=0.6,
        help="layer selection: smallest contiguous range holding this share of the total Δs (default: 0.6)",
    )
    parser.add_argument(
        "--effect-seeds",
        type=int,
        default=200,
        help="seeds of the concept x score matrix: each concept edited over its slider range, "
        "every score's change in std; picks layers, default hold and slider range "
        "(0 = skip; default: 200)",
    )
    parser.add_argument(
        "--select-seeds",
        type=int,
        default=32,
        help="of those, seeds used while choosing layers, hold and range (default: 32)",
    )
    parser.add_argument(
        "--gradient-seeds",
        type=int,
        default=64,
        help="codes whose mean score gradients may refine each concept's direction (the leaked scores "
        "projected out, kept when more selective; 0 = HiGAN's SVM normals as they are; default: 64)",
    )
    parser.add_argument(
        "--realism-samples",
        type=int,
        default=300,
        help="unedited samples against which each slider end is bounded for realism (nearest-neighbour ratio "
        "in the predictor's features; predictors without features skip it; 0 = off; default: 300)",
    )
    parser.add_argument(
        "--layer-rule",
        choices=("selectivity", "share"),
        default="selectivity",
        help="selectivity: the most selective contiguous range with own effect >= 1 std "
        "(needs --effect-seeds); share: HiGAN's smallest range holding --share of Δs",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="images per synthesis call (default: 32)")
    parser.add_argument("--chunk-size", type=int, default=10000, help="samples per file on disk (default: 10000)")
    parser.add_argument("--truncation-psi", type=float, default=None, help="override the generator's truncation psi")
    parser.add_argument("--truncation-layers", type=int, default=None, help="override the generator's truncated layers")
    parser.add_argument("--bundle", default=None, help="bundle file to write (default: OUT/bundle.safetensors)")
    parser.add_argument("--report", default=None, help="report folder (default: OUT/report)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)


def _concepts(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _torchrun_shard() -> tuple[str, int, int]:
    """``('RANK/WORLD_SIZE', rank, local_rank)`` from torchrun's environment."""
    import os

    from ..semantics.storage import StoreError

    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        raise StoreError("--shard auto needs RANK and WORLD_SIZE in the environment (run it under torchrun)") from None
    return f"{rank}/{world}", rank, int(os.environ.get("LOCAL_RANK", rank))


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..device import describe_device, resolve_device
    from ..generators import load_generator
    from ..semantics.bundle import save_bundle
    from ..semantics.predictors.registry import build_predictor, parse_options
    from ..semantics.probe import (
        ProbeConfig,
        ProbeError,
        build_bundle,
        check_probe_matches,
        fit_concepts,
        rescore_concepts,
        resolve_concepts,
        sample_and_score,
    )
    from ..semantics.report import level_summary, write_report
    from ..semantics.storage import ProbeStore, merge_runs, parse_shard

    if args.shard and args.merge:
        raise ProbeError("--shard and --merge exclude each other: sample shards first, then merge them")
    num_given = args.num is not None
    args.num = DEFAULT_NUM if args.num is None else args.num
    for option, value, minimum in (
        ("--num-samples", args.num, 1),
        ("--rescore-samples", args.rescore_samples, 1),
        ("--effect-seeds", args.effect_seeds, 0),
        ("--select-seeds", args.select_seeds, 1),
        ("--gradient-seeds", args.gradient_seeds, 0),
        ("--realism-samples", args.realism_samples, 0),
        ("--batch-size", args.batch_size, 1),
        ("--chunk-size", args.chunk_size, 1),
    ):
        if value < minimum:
            raise ProbeError(f"{option} must be >= {minimum}, got {value}")
    if not 0 < args.split < 1:
        raise ProbeError(f"--split must be in (0, 1), got {args.split}")
    if not 0 < args.share <= 1:
        raise ProbeError(f"--share must be in (0, 1], got {args.share}")
    if args.k <= 0:
        raise ProbeError(f"--k must be positive, got {args.k}")
    device_name = args.device
    if args.shard == "auto":
        args.shard, rank, local_rank = _torchrun_shard()
        args.out = args.out.replace("{rank}", str(rank))
        if device_name is None and torch_cuda_available():
            device_name = f"cuda:{local_rank}"
    shard = parse_shard(args.shard) if args.shard else None
    progress = not args.no_progress
    device = resolve_device(device_name)
    out = Path(args.out)

    if args.generator is None:
        from ..resources import resource_path

        args.generator = str(resource_path("default_generator.safetensors"))
        if not Path(args.generator).is_file():
            raise ProbeError(f"no --generator given and the default {args.generator} does not exist")
    generator = load_generator(args.generator, device=device)
    predictor = build_predictor(args.predictor, parse_options(args.predictor_option), device=device)
    print(
        f"probe: {generator.arch} {generator.resolution} px, {generator.num_layers} layers; "
        f"predictor {predictor.name} ({len(predictor.score_names)} scores); {describe_device(device)}",
        file=sys.stderr,
    )
    concepts = resolve_concepts(_concepts(args.concepts), list(predictor.score_names))  # fail before sampling
    config = ProbeConfig(
        num=args.num,
        seed=args.seed,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        shard=shard,
        store_wp=args.space == "wp",
        truncation_psi=args.truncation_psi,
        truncation_layers=args.truncation_layers,
    )

    if args.merge:
        first_shard = ProbeStore.open(args.merge[0])
        check_probe_matches(first_shard, generator, predictor)
        if num_given and first_shard.manifest.get("num") != args.num:
            raise ProbeError(
                f"--num-samples {args.num} differs from N = {first_shard.manifest.get('num')} of the shards "
                f"in {args.merge[0]}; give the shards' N or leave --num-samples out"
            )
        store = merge_runs(args.merge, out)
    else:
        store = sample_and_score(generator, predictor, out, config, progress)
        if shard and shard[1] > 1:
            chunks = len(store.shard_chunks(shard))
            print(
                f"shard {shard[0]}/{shard[1]} done in {out}: {chunks} chunk{'' if chunks == 1 else 's'}. "
                f"Merge all shards with: sceneedit probe --generator {args.generator} --merge DIR... --out MERGED"
            )
            if chunks == 0:  # shards split whole chunks: a small N may leave a shard nothing to do
                print(
                    f"note: N = {args.num} fills {store.num_chunks} chunk(s) of {args.chunk_size}, fewer than "
                    f"{shard[1]} shards; lower --chunk-size to spread the work",
                    file=sys.stderr,
                )
            return 0
    fits = fit_concepts(store, concepts, args.k, args.split, args.space, args.seed, progress)
    rescores = rescore_concepts(
        generator,
        predictor,
        store,
        fits,
        args.rescore_samples,
        args.lam,
        max(args.batch_size, generator.num_layers + 2),
        progress,
    )
    bundle = build_bundle(store, fits, rescores, args.share)
    if args.effect_seeds > 0:
        from ..semantics.probe import measure_effects

        bundle = measure_effects(
            generator,
            predictor,
            bundle,
            args.effect_seeds,
            rule=args.layer_rule,
            select_seeds=args.select_seeds,
            batch_size=args.batch_size,
            progress=progress,
            gradient_seeds=args.gradient_seeds,
            realism_samples=args.realism_samples,
        )
    elif args.layer_rule == "selectivity":
        print("note: --effect-seeds 0 measures no effects; layers follow the share rule", file=sys.stderr)
    bundle_path = save_bundle(bundle, args.bundle or out / "bundle.safetensors")
    report = write_report(bundle, args.report or out / "report")

    from ..semantics.report import format_delta

    print(f"{'concept':<24} {'level':<10} {'acc':>6} {'Δs all':>8}  layers")
    for concept in bundle:
        print(
            f"{concept.name:<24} {concept.level:<10} {concept.accuracy:6.3f} {format_delta(concept.delta_s_all):>8}  "
            f"{concept.extra.get('layer_spec')}"
        )
    for line in level_summary(bundle):
        print(line)
    from ..semantics.effects import effect_goals

    goals = effect_goals(bundle)
    if goals:
        print(
            f"effects: {goals['own_ok']} of {goals['concepts']} concepts move their own score >= 1 std and more "
            f"than any other; median selectivity {goals['median_selectivity']:.2f}"
            + (f"; failing: {', '.join(goals['failing'])}" if goals["failing"] else "")
            + (
                ""
                if not goals["flip_rates"]
                else "; category flips: " + ", ".join(f"{k} {v:.0%}" for k, v in goals["flip_rates"].items())
            )
        )
    print(f"bundle: {bundle_path}\nreport: {report['markdown']} (heatmap {report['heatmap']})")
    return 0
