"""Load time of a full-size 256-px StyleGAN TensorFlow pickle against our safetensors copy.

Builds a pickle in the exact layout of NVIDIA's ``karras2019stylegan-*-256x256.pkl``
(``(G, D, Gs)``, ``dnnlib.tflib.network.Network`` objects, numpy arrays written through
``numpy.core.multiarray._reconstruct``; random weights, full size: fmap_base 8192,
fmap_max 512, 512-dim latents; D is a stand-in of D_basic's size) with the test writer,
converts it with ``sceneedit convert`` (verified), then times ``load_generator`` on both.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_tf_pickle_load.py [--out /tmp/sceneedit-bench] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import tf_pickle_writer as writer  # noqa: E402

RES, LATENT, FMAP_BASE, FMAP_MAX = 256, 512, 8192, 512


def nf(stage: int) -> int:
    return min(int(FMAP_BASE / 2.0**stage), FMAP_MAX)


def stylegan_networks(rng: np.random.Generator):
    log2 = int(np.log2(RES))

    def randn(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    def generator_variables():
        mapping = {}
        for i in range(8):
            mapping[f"Dense{i}/weight"] = randn(LATENT, LATENT)
            mapping[f"Dense{i}/bias"] = randn(LATENT)
        synthesis = {"lod": np.float32(0.0)}
        for k in range(2 * (log2 - 1)):
            r = 2 ** (k // 2 + 2)
            synthesis[f"noise{k}"] = randn(1, 1, r, r)

        def epilogue(scope, channels):
            synthesis[f"{scope}/Noise/weight"] = randn(channels)
            synthesis[f"{scope}/bias"] = randn(channels)
            synthesis[f"{scope}/StyleMod/weight"] = randn(LATENT, 2 * channels)
            synthesis[f"{scope}/StyleMod/bias"] = randn(2 * channels)

        for res_log2 in range(2, log2 + 1):
            r, c = 2**res_log2, nf(res_log2 - 1)
            if res_log2 == 2:
                synthesis["4x4/Const/const"] = randn(1, c, 4, 4)
                epilogue("4x4/Const", c)
                synthesis["4x4/Conv/weight"] = randn(3, 3, c, c)
                epilogue("4x4/Conv", c)
            else:
                synthesis[f"{r}x{r}/Conv0_up/weight"] = randn(3, 3, nf(res_log2 - 2), c)
                epilogue(f"{r}x{r}/Conv0_up", c)
                synthesis[f"{r}x{r}/Conv1/weight"] = randn(3, 3, c, c)
                epilogue(f"{r}x{r}/Conv1", c)
            synthesis[f"ToRGB_lod{log2 - res_log2}/weight"] = randn(1, 1, c, 3)
            synthesis[f"ToRGB_lod{log2 - res_log2}/bias"] = randn(3)
        return mapping, synthesis

    discriminator = {}
    for res_log2 in range(log2, 2, -1):
        c, c_next = nf(res_log2 - 1), nf(res_log2 - 2)
        discriminator[f"{2**res_log2}x{2**res_log2}/Conv0/weight"] = randn(3, 3, c, c)
        discriminator[f"{2**res_log2}x{2**res_log2}/Conv1_down/weight"] = randn(3, 3, c, c_next)
    discriminator["4x4/Dense0/weight"] = randn(nf(1) * 16, nf(0))
    kwargs = dict(num_channels=3, resolution=RES, label_size=0)
    source = "# networks source (never executed)\n" * 800

    def generator(name):
        mapping, synthesis = generator_variables()  # G and Gs hold different weights
        m = writer.network(
            writer.DNNLIB_MODULE,
            "G_mapping",
            "G_mapping",
            mapping,
            dict(kwargs, dlatent_broadcast=14),
            build_module_src=source,
            version=3,
        )
        s = writer.network(
            writer.DNNLIB_MODULE, "G_synthesis", "G_synthesis", synthesis, kwargs, build_module_src=source, version=3
        )
        return writer.network(
            writer.DNNLIB_MODULE,
            name,
            "G_style",
            {"lod": np.float32(0.0), "dlatent_avg": randn(LATENT)},
            kwargs,
            {"mapping": m, "synthesis": s},
            source,
            version=3,
        )

    d = writer.network(writer.DNNLIB_MODULE, "D", "D_basic", discriminator, kwargs, build_module_src=source, version=3)
    return generator("G"), d, generator("Gs")


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: imports, page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/sceneedit-bench-tf-pickle"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    from sceneedit.generators import load_generator
    from sceneedit.generators.convert import convert_generator

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    pkl = args.out / "stylegan-256-random.pkl"
    ours = args.out / "stylegan-256-random.safetensors"
    if not pkl.exists():
        start = time.perf_counter()
        pkl.write_bytes(writer.dumps(stylegan_networks(np.random.default_rng(0))))
        print(f"wrote {pkl} ({pkl.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f} s")
    report = convert_generator(pkl, ours, codes=2, tolerance=1e-5)
    print(f"converted: max abs diff {report.max_abs_diff:.3g} over {report.codes} codes")
    generator = load_generator(ours)
    params = sum(p.numel() for p in generator.parameters())
    print(f"generator: {generator.arch}, {generator.resolution} px, {params / 1e6:.1f} M parameters")
    for label, path in (("TF pickle (G, D, Gs)", pkl), ("our safetensors", ours)):
        times = timed(functools.partial(load_generator, path, device="cpu"), args.repeats)
        print(
            f"{label:<22} {path.stat().st_size / 2**20:7.1f} MiB  load median {statistics.median(times):6.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
