"""Synthesis speed: ms/image at batch 1 and 8 (map + synthesize), printed as a Markdown table.

StyleGAN at 64/128/256 px with genforce's full channel configuration (at 256 px this is the
public HiGAN StyleGAN network: 26 M parameters, 14 layers; reference figure about 360
ms/image on the project's 2-core CPU), and the other architectures at a small size when their
modules import. Random weights: speed does not depend on the values.

    python benchmarks/bench_synthesis.py                      # everything, current device
    python benchmarks/bench_synthesis.py --quick              # StyleGAN 64 px only
    python benchmarks/bench_synthesis.py --device cuda --repeats 20
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def machine_info(device) -> list[str]:
    import torch

    from sceneedit.device import describe_device

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = "load average {:.1f} / {:.1f} / {:.1f} (1/5/15 min)".format(*os.getloadavg())
    except OSError:
        load = "load average unknown"
    return [
        f"- device: {describe_device(device)}; {load}",
        f"- CPU: {cpu} ({os.cpu_count()} logical cores visible)",
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} {platform.release()}",
    ]


def small_configs(args) -> list[tuple[str, dict]]:
    """(arch, constructor kwargs) to benchmark."""
    configs = []
    for resolution in args.stylegan_resolutions:
        configs.append(("stylegan", dict(resolution=resolution)))
    if not args.quick:
        configs += [
            ("stylegan2", dict(resolution=64)),
            ("pggan", dict(resolution=64)),
            ("biggan", dict(output_dim=128)),
        ]
    return [(arch, kwargs) for arch, kwargs in configs if arch in args.archs]


def time_generator(generator, batch_size: int, repeats: int, device) -> float:
    """Median ms/image of ``synthesize(map(z))`` over ``repeats`` runs after one warm-up."""
    import torch

    z = generator.sample_z(batch_size, seed=0)
    timings = []
    with torch.inference_mode():
        for run in range(repeats + 1):
            began = time.perf_counter()
            image = generator.synthesize(generator.map(z))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elif device.type == "mps":
                torch.mps.synchronize()
            elapsed = time.perf_counter() - began
            assert image.shape[0] == batch_size
            if run > 0:  # the first pass pays one-off kernel selection / allocation
                timings.append(elapsed)
    return 1000 * statistics.median(timings) / batch_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--batch-sizes", default="1,8", help="comma list (default 1,8)")
    parser.add_argument("--stylegan-resolutions", default="64,128,256", help="comma list (default 64,128,256)")
    parser.add_argument("--archs", default="stylegan,stylegan2,pggan,biggan", help="comma list")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row after one warm-up (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="StyleGAN at 64 px only")
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    args.stylegan_resolutions = [64] if args.quick else [int(r) for r in args.stylegan_resolutions.split(",")]
    args.archs = set(args.archs.split(","))

    import torch

    from sceneedit.device import resolve_device
    from sceneedit.generators.checkpoints import ARCHITECTURES

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    try:
        import sceneedit.generators  # noqa: F401  (registers every architecture)
    except Exception as exc:  # a sibling architecture may be mid-development
        print(f"note: importing all architectures failed ({exc}); benchmarking what registered")
        import sceneedit.generators.stylegan  # noqa: F401

    print("# Synthesis speed\n")
    print("\n".join(machine_info(device)))
    print(
        f"- command: `python benchmarks/{os.path.basename(__file__)} "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}`"
    )
    print(f"- median of {args.repeats} runs after one warm-up; ms per image for map + synthesize; random weights\n")
    print("| arch | resolution | parameters | layers | batch | ms/image |")
    print("|---|---:|---:|---:|---:|---:|")
    for arch, kwargs in small_configs(args):
        cls = ARCHITECTURES.get(arch)
        if cls is None:
            print(f"| {arch} | – | – | – | – | skipped: not available |")
            continue
        try:
            torch.manual_seed(0)
            generator = cls(**kwargs).to(device).eval().requires_grad_(False)
        except Exception as exc:
            print(f"| {arch} | – | – | – | – | skipped: {type(exc).__name__}: {exc} |")
            continue
        params = sum(p.numel() for p in generator.parameters())
        for batch_size in args.batch_sizes:
            try:
                ms = time_generator(generator, batch_size, args.repeats, device)
                cell = f"{ms:.1f}"
            except Exception as exc:
                cell = f"failed: {type(exc).__name__}: {exc}"
            print(
                f"| {arch} | {generator.resolution} | {params / 1e6:.1f} M | {generator.num_layers} "
                f"| {batch_size} | {cell} |",
                flush=True,
            )
        del generator
    return 0


if __name__ == "__main__":
    sys.exit(main())
