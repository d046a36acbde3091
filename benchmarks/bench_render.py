"""Rendering speed of the procedural room world: images per second, in-process and in workers.

Usage: python benchmarks/bench_render.py [--n 600] [--resolution 64] [--workers 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import time

from sceneedit.scenes import RenderPool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600, help="images per measurement")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--supersample", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    print(
        f"cpu_count={os.cpu_count()} load={os.getloadavg()[0]:.2f} resolution={args.resolution} "
        f"supersample={args.supersample} n={args.n}"
    )
    for workers in args.workers:
        with RenderPool(workers, args.resolution, args.supersample) as pool:
            pool.render(8, seed=123)  # warm up (fork, imports)
            start = time.perf_counter()
            images, _ = pool.render(args.n, seed=0)
            elapsed = time.perf_counter() - start
        print(
            f"workers={workers}: {args.n / elapsed:8.1f} images/s  ({1000 * elapsed / args.n:.2f} ms/image, "
            f"shape {tuple(images.shape)})"
        )


if __name__ == "__main__":
    main()
