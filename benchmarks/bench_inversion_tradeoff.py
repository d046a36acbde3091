"""PSNR against editability of the inversion, one line per setting: the trade-off curve.

The same held-out rooms as ``bench_inversion.py`` (scenes 0..N-1 of world stream 2,100,000),
inverted in one batch with each setting; editability as there (each concept of the shipped
bundle at its slider maximum along the editor's default direction, change of its own predictor
score on the inverted codes / on ``--sampled`` sampled codes at the default truncation), without
FD-world and fine-tuning. CPU seconds are this process's (all threads) per room.

Usage: python benchmarks/bench_inversion_tradeoff.py [--num 8] [--sampled 32] [--threads 1]
           '{}' '{"prior_weight": 0.001}' '{"prior_weight": 0, "regularizer_final": 1}' ...
Each argument is a JSON object of InversionSettings fields (plus "encoder": "none" or a file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inversion import HELD_OUT_SEED, MIN_SAMPLED_DELTA, SAMPLED_SEED, edited_codes, synthesize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="+", help="JSON objects of InversionSettings fields")
    parser.add_argument("--num", type=int, default=8, help="held-out rooms (one batch)")
    parser.add_argument("--sampled", type=int, default=32, help="sampled codes the effects are compared with")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from sceneedit.editing.manipulation import truncation_strengths
    from sceneedit.generators import load_generator
    from sceneedit.inversion import InversionSettings, Inverter, load_encoder
    from sceneedit.inversion.noise import batch_noise
    from sceneedit.resources import default_bundle_path, default_generator_path
    from sceneedit.scenes import render_batch
    from sceneedit.semantics.bundle import load_bundle
    from sceneedit.semantics.predictors.world import load_world_predictor

    generator = load_generator(default_generator_path()).requires_grad_(False)
    predictor = load_world_predictor()
    bundle = load_bundle(default_bundle_path())
    names = list(predictor.score_names)
    rooms, _ = render_batch(args.num, seed=HELD_OUT_SEED, resolution=generator.resolution)

    def effects(codes: np.ndarray, scale: np.ndarray, noise: dict | None = None) -> dict[str, float]:
        out = {}
        for concept in bundle:
            if concept.name not in names:
                continue
            distance = float(concept.distance_range[1])
            column = names.index(concept.name)
            plus = predictor.score(
                synthesize(generator, edited_codes(codes, concept, distance, scale, bundle), noise=noise)
            )
            minus = predictor.score(
                synthesize(generator, edited_codes(codes, concept, -distance, scale, bundle), noise=noise)
            )
            out[concept.name] = float((plus[:, column] - minus[:, column]).mean() / 2)
        return out

    sampled = generator.map(generator.sample_z(args.sampled, SAMPLED_SEED)).detach().cpu().numpy()
    sampled_effects = effects(
        sampled, truncation_strengths(generator.num_layers, generator.truncation_psi, generator.truncation_layers)
    )
    ones = np.ones(generator.num_layers, np.float32)
    print(f"{args.num} rooms, {args.sampled} sampled codes, {torch.get_num_threads()} thread(s), bundle {len(bundle)}")
    for text in args.settings:
        fields = json.loads(text)
        choice = fields.pop("encoder", "auto")
        encoder = "auto" if choice == "auto" else (None if choice == "none" else load_encoder(choice, generator))
        inverter = Inverter(generator, InversionSettings(**fields), encoder=encoder)
        cpu_started = time.process_time()
        results = inverter.invert_batch(list(rooms))
        cpu = (time.process_time() - cpu_started) / args.num
        psnrs = [r.psnr_db for r in results]
        # Inverted codes are edited with their fitted noise maps (the noise phase), as the editor draws them.
        inverted = effects(np.stack([r.wp for r in results]), ones, batch_noise(generator, [r.delta for r in results]))
        ratios = {
            k: inverted[k] / v for k, v in sampled_effects.items() if abs(v) >= MIN_SAMPLED_DELTA and k in inverted
        }
        below = {k: round(v, 2) for k, v in ratios.items() if v < 0.8}
        print(
            f"{json.dumps(fields)}: PSNR median {np.median(psnrs):.2f} dB (min {min(psnrs):.2f}; code alone "
            f"{np.median([r.code_psnr_db for r in results]):.2f}), "
            f"{cpu:.2f} CPU s/room | editability ratio min {min(ratios.values()):.2f} median "
            f"{np.median(list(ratios.values())):.2f}, {sum(v >= 0.8 for v in ratios.values())}/{len(ratios)} "
            f">= 0.8; below: {below}",
            flush=True,
        )


if __name__ == "__main__":
    main()
