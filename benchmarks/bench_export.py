"""Export speed: frames/s batched vs one by one (synthesis alone, and the whole export).

Uses ``resources/default_generator.safetensors`` when it exists, otherwise a StyleGAN at
64 px with random weights (the output says which). Concept normals are random unit
vectors: they do not change the cost of a frame.

Usage: python benchmarks/bench_export.py [--frames 32] [--batch-size 8] [--device cpu]
       [--generator PATH] [--formats png,gif,mp4,sheet]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GENERATOR = ROOT / "resources" / "default_generator.safetensors"


def load_model(path: Path | None, device: torch.device):
    from sceneedit.generators.checkpoints import load_generator
    from sceneedit.generators.stylegan import StyleGANGenerator

    path = path or (DEFAULT_GENERATOR if DEFAULT_GENERATOR.exists() else None)
    if path is not None:
        return load_generator(path, device=device), f"{path.name} (trained weights)"
    torch.manual_seed(0)
    generator = StyleGANGenerator(resolution=64).to(device).eval()
    return generator, "StyleGAN 64 px with RANDOM weights (no default generator in resources/ yet)"


def random_bundle(generator):
    from sceneedit.generators.fingerprint import generator_fingerprint
    from sceneedit.semantics.concepts import BoundaryBundle, Concept

    rng = np.random.RandomState(0)
    normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
    normal /= np.linalg.norm(normal)
    layers = list(range(min(4, generator.num_layers)))
    return BoundaryBundle(
        {"probe": Concept("probe", normal, layers)}, generator_fingerprint=generator_fingerprint(generator)
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=32, help="frames per measurement")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default=None)
    parser.add_argument("--generator", type=Path, default=None)
    parser.add_argument("--formats", default="png,gif,mp4,sheet")
    parser.add_argument("--repeats", type=int, default=2, help="best of N timings")
    args = parser.parse_args()

    from sceneedit.device import describe_device, resolve_device
    from sceneedit.editing.session import EditSession
    from sceneedit.export import ConceptSweep, ExportJob, SweepSequence, run_export
    from sceneedit.render import render_batch

    device = resolve_device(args.device)
    generator, what = load_model(args.generator, device)
    bundle = random_bundle(generator)
    print(
        f"model: {what}; resolution {generator.resolution}, {generator.num_layers} layers, "
        f"{sum(p.numel() for p in generator.parameters()) / 1e6:.1f} M parameters"
    )
    print(
        f"device: {describe_device(device)}; torch {torch.__version__}; cpu_count={os.cpu_count()} "
        f"load={os.getloadavg()[0]:.2f}"
    )

    # Synthesis alone: the same sweep states rendered one per pass vs batched.
    session = EditSession(generator, bundle, seed=0)
    states = []
    for value in np.linspace(-3, 3, args.frames):
        session.set_strength("probe", float(value))
        states.append(session.state())
    render_batch(generator, states[: args.batch_size], batch_size=args.batch_size)  # warm up
    for batch in (1, args.batch_size):
        best = float("inf")
        for _ in range(args.repeats):
            sync(device)
            start = time.perf_counter()
            results = render_batch(generator, states, batch_size=batch)
            sync(device)
            best = min(best, time.perf_counter() - start)
        assert all(r.error is None for r in results), results[0].error
        print(
            f"render_batch  batch={batch:3d}: {args.frames / best:8.1f} frames/s  "
            f"({1000 * best / args.frames:.1f} ms/frame)"
        )

    # The whole export (PNG + GIF + MP4 + sheet), 4 seeds x frames/4 steps.
    steps = max(1, args.frames // 4)
    formats = tuple(f for f in args.formats.split(",") if f)
    for batch in (1, args.batch_size):
        with tempfile.TemporaryDirectory() as tmp:
            job = ExportJob(
                sequences=[SweepSequence((ConceptSweep("probe", -3.0, 3.0),), steps=steps)],
                out_dir=Path(tmp),
                bundle=bundle,
                seeds=[0, 1, 2, 3],
                batch_size=batch,
                formats=formats,
            )
            start = time.perf_counter()
            report = run_export(generator, job)
            total = time.perf_counter() - start
        frames = report.frames_rendered
        render_s = sum(s.render_seconds for s in report.sequences)
        print(
            f"run_export    batch={batch:3d}: {frames / total:8.1f} frames/s end to end "
            f"({frames} frames, {len(report.written)} files, {total:.2f} s; synthesis {frames / render_s:.1f} frames/s)"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
