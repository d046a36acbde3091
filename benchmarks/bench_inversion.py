"""GAN inversion of held-out rendered rooms into the default generator: PSNR, seconds per
image, editability and FD-world of edited inversions, with and without pivotal tuning.

Inverted codes are drawn and edited with their fitted noise maps (the noise phase; saved in
``OUT/noise.npz``), as the editor and ``sceneedit export`` draw them.

Held-out rooms: scenes 0..N-1 of world stream 2,100,000 at the generator's resolution (no
training used it: the GAN trained on stream 0, the predictor on 0 and 1, the evaluation sets
are 2,000,001-2,000,004; the encoder trains on generated samples only).

Editability, per concept of the bundle, at the ends (lo, hi) of the concept's slider range on its
own layers: ``delta = mean(score(G(wp + hi n)) - score(G(wp + lo n))) / 2`` of the concept's own
predictor score, on the inverted codes and on sampled codes (``sample_z(N, 2,100,001)`` at the
generator's default truncation, with the editor's truncation-aware steps); ratio = inverted /
sampled. FD-world (the world predictor's pooled features, as ``sceneedit.training.evaluate``)
of all edited inversions and of all edited samples (same count) against rendered rooms
(stream 2,000,002).

Usage: python benchmarks/bench_inversion.py [--num 32] [--finetune-num 8] [--out runs/bench_inversion]
       [--figure docs/inversion.png] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

HELD_OUT_SEED = 2_100_000
SAMPLED_SEED = 2_100_001
REFERENCE_SEED = 2_000_002
#: Concepts whose score moves less than this on sampled codes get no ratio (it would divide by ~0).
MIN_SAMPLED_DELTA = 0.05
FIGURE_CONCEPTS = ("indoor_lighting", "wall_hue", "camera_yaw", "floor_wood", "furniture_warmth", "bedroom")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def edit_directions(concept, bundle, num_layers: int) -> np.ndarray:
    """The editor's default direction for ``concept``: its normal conditioned on the concepts
    the bundle says to hold (``extra['hold']``), as a fresh slider in the editor moves it."""
    from sceneedit.editing.manipulation import conditional_layer_normals

    hold = [
        bundle[name].normal for name in (concept.extra.get("hold") or []) if name in bundle and name != concept.name
    ]
    return conditional_layer_normals(concept.normal, hold, num_layers)


def edited_codes(codes: np.ndarray, concept, distance: float, scale: np.ndarray, bundle) -> np.ndarray:
    from sceneedit.editing.manipulation import concept_edit, joint_edit

    directions = edit_directions(concept, bundle, codes.shape[1])
    edit = concept_edit(concept.name, directions, concept.layers, distance, codes.shape[1])
    return joint_edit(codes, [edit], scale)


def synthesize(generator, codes: np.ndarray, batch: int = 64, noise: dict | None = None) -> torch.Tensor:
    """Draw ``codes [N, L, D]``; ``noise``: per-code noise maps ``[N, 1, r, r]`` by buffer name
    (the inversions' fitted maps, :func:`sceneedit.inversion.noise.batch_noise`), drawn on a twin."""
    from sceneedit.inversion.noise import noise_override, noise_twin

    drawer = noise_twin(generator) if noise else generator
    out = []
    with torch.no_grad():
        for i in range(0, len(codes), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(codes[i : i + batch]))
            if noise:
                with noise_override(drawer, {k: v[i : i + batch] for k, v in noise.items()}):
                    out.append(drawer.synthesize(chunk))
            else:
                out.append(drawer.synthesize(chunk))
    return torch.cat(out)


def log_scores(predictor, images: torch.Tensor) -> torch.Tensor:
    """Scores before their squashing: log-probabilities of the categories, logits of the binary
    factors, the continuous factors as they are (these do not saturate near 0 or 1)."""
    with torch.no_grad():
        raw = predictor.net(predictor.preprocess(images))
    k, b = len(predictor.config.categories), len(predictor.config.binary)
    return torch.cat([raw[:, :k].log_softmax(dim=1), raw[:, k : k + b], predictor.score(images)[:, k + b :]], dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=32, help="held-out rooms inverted")
    parser.add_argument("--finetune-num", type=int, default=8, help="of those, how many also with pivotal tuning")
    parser.add_argument("--finetune-steps", type=int, default=100)
    parser.add_argument(
        "--finetune-lr", type=float, default=None, help="pivotal-tuning learning rate (default: the settings')"
    )
    parser.add_argument("--steps", type=int, default=None, help="code optimization steps (default: the settings')")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an InversionSettings field (repeatable), e.g. --set prior_weight=0.01",
    )
    parser.add_argument("--encoder", default="auto", help="'auto' (shipped), 'none' or a file")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="rooms optimized together (same codes as one by one; seconds are per room)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--reference", type=int, default=2000, help="rendered rooms for FD-world")
    parser.add_argument("--out", default="runs/bench_inversion")
    parser.add_argument("--figure", default=None, help="write originals / reconstructions / edits here (PNG)")
    parser.add_argument(
        "--figure-only", action="store_true", help="only draw --figure from the codes an earlier run saved in --out"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from sceneedit.editing.manipulation import truncation_strengths
    from sceneedit.generators import load_generator
    from sceneedit.inversion import InversionSettings, Inverter, load_encoder
    from sceneedit.inversion.noise import batch_noise
    from sceneedit.resources import default_bundle_path, default_generator_path
    from sceneedit.scenes import render_batch
    from sceneedit.semantics.bundle import load_bundle
    from sceneedit.semantics.predictors.world import load_world_predictor
    from sceneedit.training.evaluate import FeatureStats, frechet_distance, pooled_features_and_scores

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    generator = load_generator(default_generator_path()).requires_grad_(False)
    predictor = load_world_predictor()
    bundle = load_bundle(default_bundle_path())
    resolution = int(generator.resolution)
    print(
        f"cpu_count={os.cpu_count()} threads={torch.get_num_threads()} load={os.getloadavg()[0]:.2f} "
        f"num={args.num} resolution={resolution}",
        flush=True,
    )

    rooms, _ = render_batch(args.num, seed=HELD_OUT_SEED, resolution=resolution)
    if args.figure_only:
        from sceneedit.generators.base import to_uint8_images
        from sceneedit.inversion.losses import psnr

        codes_arr = np.load(out / "codes.npy")[: args.num]
        noise = None
        if (out / "noise.npz").is_file():
            noise = {k: torch.from_numpy(v[: args.num]) for k, v in np.load(out / "noise.npz").items()}
        images = synthesize(generator, codes_arr, noise=noise)
        draw_figure(
            args.figure,
            generator,
            predictor,
            bundle,
            rooms,
            list(to_uint8_images(images)),
            psnr(images, to_tensor(rooms)).tolist(),
            codes_arr,
            noise,
        )
        return
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        default = getattr(InversionSettings(), name)
        overrides[name] = float(value) if default is None else type(default)(value)
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.finetune_lr is not None:
        overrides["finetune_lr"] = args.finetune_lr
    settings = InversionSettings(**overrides)
    encoder = (
        "auto"
        if args.encoder == "auto"
        else (None if args.encoder == "none" else load_encoder(args.encoder, generator))
    )
    inverter = Inverter(generator, settings, encoder=encoder)
    print(
        f"settings: {settings}\nencoder: {'yes' if inverter.encoder is not None else 'no'}; "
        f"perceptual: {inverter.perceptual_name}",
        flush=True,
    )
    inverter.invert(rooms[0])  # warm-up (allocations, prior), not timed

    codes, psnrs, seconds, recons, warnings, deltas = [], [], [], [], 0, []
    batched, cpu_seconds = [], []
    for start in range(0, len(rooms), args.batch_size):
        chunk = list(rooms[start : start + args.batch_size])
        cpu_started = time.process_time()
        batched += inverter.invert_batch(chunk)
        # CPU seconds of this process (all its threads), per room: honest on a shared machine.
        cpu_seconds += [(time.process_time() - cpu_started) / len(chunk)] * len(chunk)
    for i, result in enumerate(batched):
        codes.append(result.wp)
        deltas.append(result.delta)
        psnrs.append(result.psnr_db)
        seconds.append(result.seconds)
        recons.append(result.reconstruction)
        warnings += result.warning is not None
        print(f"room {i}: {result.psnr_db:.2f} dB {result.seconds:.2f} s (cpu {cpu_seconds[i]:.2f} s)", flush=True)
    codes_arr = np.stack(codes)
    np.save(out / "codes.npy", codes_arr)
    # Fitted noise maps [N, 1, r, r] per buffer (the noise phase): inverted codes are drawn and edited with them.
    noise = batch_noise(generator, deltas) or None
    if noise:
        np.savez(out / "noise.npz", **{k: v.numpy() for k, v in noise.items()})
    elif (out / "noise.npz").exists():
        (out / "noise.npz").unlink()

    tuned_psnr, tuned_seconds = [], []
    if args.finetune_num > 0:
        tuner = inverter.with_settings(finetune_steps=args.finetune_steps)
        for i, room in enumerate(rooms[: args.finetune_num]):
            result = tuner.invert(room)
            tuned_psnr.append(result.psnr_db)
            tuned_seconds.append(result.seconds)
            print(
                f"room {i} fine-tuned: {result.psnr_db:.2f} dB (code {result.code_psnr_db:.2f}) {result.seconds:.2f} s",
                flush=True,
            )

    # ----- editability --------------------------------------------------------------------------
    count = len(codes_arr)
    sampled = generator.map(generator.sample_z(count, SAMPLED_SEED)).detach().cpu().numpy()
    sampled_scale = truncation_strengths(generator.num_layers, generator.truncation_psi, generator.truncation_layers)
    ones = np.ones(generator.num_layers, np.float32)
    # Also against untruncated samples (psi 1): inverted codes are not truncated either.
    untruncated = generator.map(generator.sample_z(count, SAMPLED_SEED), truncation_psi=1.0).detach().cpu().numpy()
    names = list(predictor.score_names)
    rows, edited_inv, edited_smp = [], [], []
    for concept in bundle:
        if concept.name not in names:
            continue
        column = names.index(concept.name)
        low, distance = (float(v) for v in concept.distance_range)
        deltas, log_deltas = {}, {}
        for label, base, scale, sink, maps in (
            ("inverted", codes_arr, ones, edited_inv, noise),
            ("sampled", sampled, sampled_scale, edited_smp, None),
            ("sampled_psi1", untruncated, ones, [], None),
        ):
            plus = synthesize(generator, edited_codes(base, concept, distance, scale, bundle), noise=maps)
            minus = synthesize(generator, edited_codes(base, concept, low, scale, bundle), noise=maps)
            score_plus = predictor.score(plus)[:, column]
            score_minus = predictor.score(minus)[:, column]
            deltas[label] = float((score_plus - score_minus).mean() / 2)
            log_deltas[label] = float(
                (log_scores(predictor, plus)[:, column] - log_scores(predictor, minus)[:, column]).mean() / 2
            )
            sink += [plus, minus]
        # A concept that barely moves its score on sampled codes either has no meaningful ratio.
        measurable = abs(deltas["sampled"]) >= MIN_SAMPLED_DELTA
        ratio = deltas["inverted"] / deltas["sampled"] if measurable else float("nan")
        log_ratio = log_deltas["inverted"] / log_deltas["sampled"] if measurable else float("nan")
        psi1_ratio = (
            deltas["inverted"] / deltas["sampled_psi1"]
            if abs(deltas["sampled_psi1"]) >= MIN_SAMPLED_DELTA
            else float("nan")
        )
        rows.append(
            {
                "concept": concept.name,
                "layers": list(concept.layers),
                "distance": distance,
                "range": [low, distance],
                "delta_inverted": deltas["inverted"],
                "delta_sampled": deltas["sampled"],
                "ratio": ratio,
                "log_delta_inverted": log_deltas["inverted"],
                "log_delta_sampled": log_deltas["sampled"],
                "log_ratio": log_ratio,
                "delta_sampled_psi1": deltas["sampled_psi1"],
                "ratio_psi1": psi1_ratio,
            }
        )
        print(
            f"{concept.name:>18}: range {low:g}..{distance:g} delta inverted {deltas['inverted']:+.3f} sampled "
            f"{deltas['sampled']:+.3f} ratio {ratio:.2f} | before squashing {log_deltas['inverted']:+.3f} vs "
            f"{log_deltas['sampled']:+.3f} ratio {log_ratio:.2f} | vs psi 1 samples {deltas['sampled_psi1']:+.3f} "
            f"ratio {psi1_ratio:.2f}",
            flush=True,
        )

    reference, _ = render_batch(args.reference, seed=REFERENCE_SEED, resolution=resolution)
    ref_stats = FeatureStats.of(pooled_features_and_scores(predictor, to_tensor(reference))[0])

    def fd(images: torch.Tensor) -> float:
        feats = np.concatenate(
            [pooled_features_and_scores(predictor, images[i : i + 256])[0] for i in range(0, len(images), 256)]
        )
        return frechet_distance(FeatureStats.of(feats), ref_stats)

    fd_inv = fd(torch.cat(edited_inv))
    fd_smp = fd(torch.cat(edited_smp))
    fd_unedited_inv = fd(to_tensor(np.stack(recons)))
    fd_unedited_smp = fd(synthesize(generator, sampled))

    ratios = [r["ratio"] for r in rows if np.isfinite(r["ratio"])]
    log_ratios = [r["log_ratio"] for r in rows if np.isfinite(r["log_ratio"])]
    summary = {
        "num": count,
        "batch_size": args.batch_size,
        "settings": settings.__dict__,
        "encoder": inverter.encoder is not None,
        "perceptual": inverter.perceptual_name,
        "threads": torch.get_num_threads(),
        "load": os.getloadavg()[0],
        "psnr_median": float(np.median(psnrs)),
        "psnr_min": float(np.min(psnrs)),
        "psnr_max": float(np.max(psnrs)),
        "seconds_median": float(np.median(seconds)),
        "seconds_mean": float(np.mean(seconds)),
        "cpu_seconds_median": float(np.median(cpu_seconds)),
        "out_of_domain_warnings": int(warnings),
        "finetune": {
            "num": len(tuned_psnr),
            "steps": args.finetune_steps,
            "psnr_median": float(np.median(tuned_psnr)) if tuned_psnr else None,
            "seconds_median": float(np.median(tuned_seconds)) if tuned_seconds else None,
        },
        "editability": rows,
        "ratio_min": float(np.min(ratios)),
        "ratio_median": float(np.median(ratios)),
        "concepts_at_or_above_0.8": int(sum(r >= 0.8 for r in ratios)),
        "concepts_measurable": len(ratios),
        "concepts": len(rows),
        "log_ratio_min": float(np.min(log_ratios)),
        "log_concepts_at_or_above_0.8": int(sum(r >= 0.8 for r in log_ratios)),
        "psi1_concepts_at_or_above_0.8": int(sum(r["ratio_psi1"] >= 0.8 for r in rows if np.isfinite(r["ratio_psi1"]))),
        "psi1_concepts_measurable": int(sum(np.isfinite(r["ratio_psi1"]) for r in rows)),
        "fd_world": {
            "edited_inverted": fd_inv,
            "edited_sampled": fd_smp,
            "ratio": fd_inv / fd_smp,
            "unedited_inverted": fd_unedited_inv,
            "unedited_sampled": fd_unedited_smp,
            "edited_images_each": int(sum(len(t) for t in edited_inv)),
            "reference": args.reference,
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "editability"}, indent=1))

    if args.figure:
        draw_figure(args.figure, generator, predictor, bundle, rooms, recons, psnrs, codes_arr, noise)


def draw_figure(path, generator, predictor, bundle, rooms, recons, psnrs, codes_arr, noise=None) -> None:
    """Rows: held-out rooms, their reconstructions, one edit each (6 columns, 2x nearest); with
    fitted noise maps (``noise``), a last row: the same edits drawn with the generator's own noise."""
    from PIL import Image

    from sceneedit.generators.base import to_uint8_images
    from sceneedit.imaging import make_contact_sheet, save_png

    names = list(predictor.score_names)
    ones = np.ones(generator.num_layers, np.float32)
    count = len(codes_arr)
    if True:
        picks = list(range(min(6, count)))
        # The shipped bundle decides which concepts exist: preferred ones first, then the rest.
        shown = [n for n in FIGURE_CONCEPTS if n in bundle and n in names]
        shown += [c.name for c in bundle if c.name not in shown and c.name in names]
        originals, reconstructions, edits, labels, plain = [], [], [], [], []
        for column, i in enumerate(picks):
            concept = bundle[shown[column % len(shown)]]
            current = float(predictor.score(to_tensor(rooms[i : i + 1]))[0, names.index(concept.name)])
            sign = -1.0 if current > 0.5 else 1.0  # push the concept the other way
            end = concept.distance_range[1] if sign > 0 else concept.distance_range[0]
            code = edited_codes(codes_arr[i : i + 1], concept, float(end), ones, bundle)
            own = {k: v[i : i + 1] for k, v in noise.items()} if noise else None
            edited = synthesize(generator, code, noise=own)
            if noise:
                plain.append(to_uint8_images(synthesize(generator, code))[0])
            originals.append(rooms[i])
            reconstructions.append(recons[i])
            edits.append(to_uint8_images(edited)[0])
            labels.append(f"{'+' if sign > 0 else '-'}{concept.name}")

        def big(image: np.ndarray) -> np.ndarray:
            return np.asarray(Image.fromarray(image).resize((128, 128), Image.Resampling.NEAREST))

        tiles = [big(x) for x in originals + reconstructions + edits + plain]
        tile_labels = [f"room {i}" for i in picks] + [f"{psnrs[i]:.1f} dB" for i in picks] + labels
        tile_labels += ["same, own noise"] * len(plain)
        sheet = make_contact_sheet(tiles, columns=len(picks), labels=tile_labels)
        save_png(sheet, path)
        extra = "; the same edits with the generator's own noise maps" if plain else ""
        print(f"figure: {path} (rows: held-out rooms, reconstructions, one edit each{extra})")


if __name__ == "__main__":
    main()
