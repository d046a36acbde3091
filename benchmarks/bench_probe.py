"""Probe speed: sampling throughput and boundary fitting against HiGAN's SVC baseline.

Part 1 — throughput of ``sample_and_score`` (map + synthesize + score, written to disk)
and of re-scoring (``L + 2`` syntheses per code), in images per second.

Part 2 — boundary fit time: our ``LinearSVC`` fit (``fit_on_sets``) against
``sklearn.svm.SVC(kernel='linear')`` (HiGAN's ``train_boundary.py``) on the same training
sets: 4,000 x 512 (HiGAN's K = 2,000 per class) and 20,000 x 512 (K = 10,000). SVC runs in
a child process killed after ``--svc-cap`` seconds. Data: synthetic W-like codes with a
planted direction and noisy scores, or a real probe run (``--probe-dir DIR --concept C``).

    python benchmarks/bench_probe.py                          # random StyleGAN 64 px, channel predictor
    python benchmarks/bench_probe.py --generator G --predictor world --num 2000
    python benchmarks/bench_probe.py --skip-throughput --svc-cap 600
    python benchmarks/bench_probe.py --probe-dir runs/probe --concept indoor_lighting

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np


# ----- part 1: throughput ---------------------------------------------------------------------
class ChannelStatsPredictor:
    """A cheap real predictor (per-channel means and brightness) for throughput figures
    when no trained predictor is given."""

    name = "channel-stats"
    score_names = ["red", "green", "blue", "brightness"]
    score_levels = {n: "color" for n in score_names}

    def score(self, images):
        means = images.mean(dim=(2, 3))
        return __import__("torch").cat([means, means.mean(1, keepdim=True)], dim=1)

    def to(self, device):
        return self


def random_stylegan(resolution: int):
    import torch

    from sceneedit.generators.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    return StyleGANGenerator(
        resolution=resolution,
        z_dim=512,
        w_dim=512,
        mapping_layers=8,
        fmaps_base=max(resolution * 32, 2048),
        fmaps_max=256,
    ).eval()


def throughput(args) -> None:
    import torch

    from sceneedit.device import describe_device, resolve_device
    from sceneedit.generators import load_generator
    from sceneedit.semantics.predictors.registry import build_predictor, parse_options
    from sceneedit.semantics.probe import ProbeConfig, fit_concepts, rescore_concepts, sample_and_score

    device = resolve_device(args.device)
    generator = (
        load_generator(args.generator, device=device) if args.generator else random_stylegan(args.resolution).to(device)
    )
    predictor = (
        build_predictor(args.predictor, parse_options(args.predictor_option), device=device)
        if args.predictor
        else ChannelStatsPredictor()
    )
    concept = args.concept or predictor.score_names[0]
    with tempfile.TemporaryDirectory() as tmp:
        config = ProbeConfig(num=args.num, batch_size=args.batch_size, chunk_size=max(args.num // 4, 1))
        sample_and_score(
            generator,
            predictor,
            Path(tmp) / "warm",
            ProbeConfig(num=args.batch_size, batch_size=args.batch_size),
            progress=False,
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        store = sample_and_score(generator, predictor, Path(tmp) / "run", config, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        sample_seconds = time.perf_counter() - start
        fits = fit_concepts(store, [concept], chosen=min(2000, args.num // 4), progress=False)
        start = time.perf_counter()
        rescore_concepts(
            generator, predictor, store, fits, num_samples=args.rescore, batch_size=args.batch_size * 4, progress=False
        )
        if device.type == "cuda":
            torch.cuda.synchronize()
        rescore_seconds = time.perf_counter() - start
    images_rescored = args.rescore * (generator.num_layers + 2)
    print(f"\n### Probe throughput ({describe_device(device)})\n")
    print(
        f"generator: {generator.arch} {generator.resolution} px, {generator.num_layers} layers; "
        f"predictor: {predictor.name}; batch {args.batch_size}\n"
    )
    print("| stage | images | seconds | images/s |")
    print("|---|---:|---:|---:|")
    print(
        f"| sample + synthesize + score + store | {args.num} | {sample_seconds:.2f} | {args.num / sample_seconds:.1f} |"
    )
    print(
        f"| re-score 1 concept ({args.rescore} codes x {generator.num_layers + 2}) | {images_rescored} | "
        f"{rescore_seconds:.2f} | {images_rescored / rescore_seconds:.1f} |"
    )


# ----- part 2: boundary fitting ----------------------------------------------------------------
def synthetic_sets(per_class: int, noise: float = 1.0, dim: int = 512, seed: int = 0):
    """Top/bottom ``per_class`` of 5x as many W-like codes scored by a planted direction
    plus Gaussian noise of std ``noise`` (1: a strong concept; 4: a weak, overlapping one)."""
    from sceneedit.semantics.boundaries import select_extremes

    rng = np.random.default_rng(seed)
    n = per_class * 5
    direction = rng.standard_normal(dim)
    direction /= np.linalg.norm(direction)
    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim) + np.eye(dim)  # correlated, like W
    codes = (rng.standard_normal((n, dim)) @ mixing).astype(np.float32)
    scores = codes @ direction + noise * rng.standard_normal(n)
    selection = select_extremes(scores, per_class)
    return codes[selection.positive], codes[selection.negative], direction


def probe_sets(probe_dir: str, concept: str, per_class: int):
    from sceneedit.semantics.boundaries import select_extremes
    from sceneedit.semantics.storage import ProbeStore

    store = ProbeStore.open(probe_dir)
    selection = select_extremes(store.score_column(concept), per_class, concept)
    return store.gather("w", selection.positive), store.gather("w", selection.negative), None


def split(positive, negative, ratio=0.7, seed=0):
    rng = np.random.default_rng(seed)
    p, q = rng.permutation(len(positive)), rng.permutation(len(negative))
    cp, cq = int(len(p) * ratio), int(len(q) * ratio)
    x_train = np.concatenate([positive[p[:cp]], negative[q[:cq]]])
    y_train = np.concatenate([np.ones(cp), np.zeros(cq)])
    x_val = np.concatenate([positive[p[cp:]], negative[q[cq:]]])
    y_val = np.concatenate([np.ones(len(p) - cp), np.zeros(len(q) - cq)])
    return x_train, y_train, x_val, y_val


def _svc_child(x_train, y_train, x_val, y_val, queue) -> None:
    from sklearn.svm import SVC

    start = time.perf_counter()
    classifier = SVC(kernel="linear").fit(x_train, y_train)
    seconds = time.perf_counter() - start
    coef = classifier.coef_.reshape(-1)
    queue.put((seconds, float((classifier.predict(x_val) == y_val).mean()), coef / np.linalg.norm(coef)))


def run_svc(x_train, y_train, x_val, y_val, cap: float):
    queue: mp.Queue = mp.get_context("fork").Queue()
    process = mp.get_context("fork").Process(target=_svc_child, args=(x_train, y_train, x_val, y_val, queue))
    start = time.perf_counter()
    process.start()
    process.join(cap)
    if process.is_alive():
        process.terminate()
        process.join()
        return None, time.perf_counter() - start
    return queue.get(timeout=10), None


def fitting(args) -> None:
    from sceneedit.semantics.boundaries import fit_on_sets

    print("\n### Boundary fit time: LinearSVC (ours) vs SVC(kernel='linear') (HiGAN)\n")
    print(f"SVC time cap: {args.svc_cap:.0f} s\n")
    print(
        "| training set | solver | fit seconds | held-out accuracy | cos(normal, SVC normal) | cos(normal, planted) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    cases = (
        [(per_class, None) for per_class in args.sizes]
        if args.probe_dir
        else [(per_class, noise) for noise in args.noise for per_class in args.sizes]
    )
    for per_class, noise in cases:
        if args.probe_dir:
            positive, negative, planted = probe_sets(args.probe_dir, args.concept, per_class)
        else:
            positive, negative, planted = synthetic_sets(per_class, noise)
        label = f"{len(positive) + len(negative):,} x {positive.shape[1]}" + (
            "" if noise is None else f", noise {noise:g}"
        )
        fit = fit_on_sets(positive, negative, 0.7, seed=0)
        ours = fit.normal[0].astype(np.float64)
        x_train, y_train, x_val, y_val = split(positive, negative)
        svc, timed_out = run_svc(x_train, y_train, x_val, y_val, args.svc_cap)
        cos_planted = "-" if planted is None else f"{abs(ours @ planted):.3f}"
        cos_svc = "-" if svc is None else f"{ours @ svc[2]:.3f}"
        print(
            f"| {label} | LinearSVC (ours) | {fit.fit_seconds:.2f} | {fit.accuracy:.3f} | {cos_svc} | {cos_planted} |"
        )
        if svc is None:
            print(f"| {label} | SVC linear (HiGAN) | > {timed_out:.0f} (capped) | - | - | - |")
        else:
            cos_svc_planted = "-" if planted is None else f"{abs(svc[2] @ planted):.3f}"
            print(f"| {label} | SVC linear (HiGAN) | {svc[0]:.2f} | {svc[1]:.3f} | 1.000 | {cos_svc_planted} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generator", help="generator file (default: a random StyleGAN)")
    parser.add_argument("--resolution", type=int, default=64, help="random StyleGAN resolution (default: 64)")
    parser.add_argument("--predictor", help="predictor spec (default: per-channel color statistics)")
    parser.add_argument("--predictor-option", action="append", default=[])
    parser.add_argument("--concept", help="concept to fit / re-score (default: the first score)")
    parser.add_argument("--num", type=int, default=512, help="samples for the throughput run")
    parser.add_argument("--rescore", type=int, default=32, help="codes re-scored in the throughput run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[2000, 10000], help="positives per class (default: 2000 10000)"
    )
    parser.add_argument(
        "--noise",
        type=float,
        nargs="+",
        default=[1.0, 4.0],
        help="synthetic score noise levels (default: 1 = strong concept, 4 = weak)",
    )
    parser.add_argument("--svc-cap", type=float, default=120.0, help="seconds before the SVC baseline is stopped")
    parser.add_argument("--probe-dir", help="fit on a real probe run's W codes instead of synthetic data")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-fitting", action="store_true")
    args = parser.parse_args()
    if args.probe_dir and not args.concept:
        parser.error("--probe-dir needs --concept")
    if not args.skip_throughput:
        throughput(args)
    if not args.skip_fitting:
        fitting(args)


if __name__ == "__main__":
    main()
