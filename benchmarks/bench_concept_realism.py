"""Do the shipped sliders keep the picture a room? Realism along each concept's slider range.

Per concept of a bundle, at fractions of its slider range (both ends), on ``--seeds`` editor
codes of the default generator: the own effect (std), the category flip rate (category
concepts) and the nearest-neighbour ratio of the edited images in the world predictor's
pooled features (:mod:`sceneedit.semantics.realism`: 1.0 = as typical as unedited samples;
the worse of the two ends). ``--sheet`` draws seeds edited along chosen concepts from the
bottom to the top of their ranges, to look at.

    python benchmarks/bench_concept_realism.py --seeds 64 --sheet realism.png --sheet-concepts bedroom kitchen

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default=str(REPO / "boundaries/default.safetensors"))
    parser.add_argument("--generator", default=str(REPO / "resources/default_generator.safetensors"))
    parser.add_argument("--predictor-file", default=str(REPO / "resources/world_predictor.safetensors"))
    parser.add_argument("--seeds", type=int, default=64, help="editor codes 0..N-1 edited per point")
    parser.add_argument("--reference", type=int, default=300, help="unedited samples (seeds 10,000+) as reference")
    parser.add_argument("--concepts", nargs="+", default=None, help="only these concepts")
    parser.add_argument("--sheet", default=None, help="write a contact sheet PNG")
    parser.add_argument("--sheet-concepts", nargs="+", default=["bedroom"], help="concepts drawn in the sheet")
    parser.add_argument("--sheet-seeds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from sceneedit.generators import load_generator
    from sceneedit.semantics.bundle import load_bundle
    from sceneedit.semantics.concepts import format_distance_range
    from sceneedit.semantics.effects import EffectMeter, conditioned_directions, reliable_scores
    from sceneedit.semantics.predictors.world import load_world_predictor
    from sceneedit.semantics.probe import editor_codes, layer_strengths

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    bundle = load_bundle(args.bundle)
    generator = load_generator(args.generator, device="cpu")
    predictor = load_world_predictor(args.predictor_file)
    categories = [n for n in predictor.score_names if predictor.score_levels.get(n) == "objects"]
    reliable = reliable_scores(predictor.score_names, predictor.metrics, categories)
    scale = layer_strengths(generator.num_layers, generator.truncation_psi, generator.truncation_layers)
    reference = editor_codes(generator, list(range(10_000, 10_000 + args.reference)))
    meter = EffectMeter(
        generator,
        predictor,
        editor_codes(generator, list(range(args.seeds))),
        scale,
        categories,
        reliable=reliable,
        realism_reference=reference,
    )
    names = args.concepts or [c.name for c in bundle if c.name in predictor.score_names]
    header = " | ".join(f"{f:g}: own / flip / nn- nn+" for f in FRACTIONS)
    lines = [f"| concept | range | {header} |", "|---|---|" + "---|" * len(FRACTIONS)]
    directions_of = {}
    for name in names:
        concept = bundle[name]
        hold = [o for o in concept.extra.get("hold") or [] if o in bundle and o != name]
        directions = conditioned_directions(concept.normal, [bundle[o].normal for o in hold], generator.num_layers)
        directions_of[name] = directions
        lo, hi = concept.distance_range
        cells = []
        for fraction in FRACTIONS:
            effect = meter.measure(directions, concept.layers, lo * fraction, hi * fraction, name)
            flip = "-" if effect.flip_rate is None else f"{effect.flip_rate:.0%}"
            low, high = effect.nn_ratios or (float("nan"), float("nan"))
            cells.append(f"{effect.own:+.2f} / {flip} / {low:.2f} {high:.2f}")
        lines.append(f"| {name} | {format_distance_range((lo, hi))} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    print(
        f"\n{args.seeds} seeds, {args.reference} reference samples, {meter.images} images, "
        f"{time.perf_counter() - started:.0f} s ({args.threads} thread(s)); nn-/nn+ = nearest-neighbour ratio "
        f"at the bottom / top end\n"
    )
    print("\n".join(lines))
    if args.sheet:
        from sceneedit.generators.base import to_uint8_images
        from sceneedit.imaging import make_contact_sheet, save_png

        tiles, labels = [], []
        steps = (-1.0, -0.5, 0.0, 0.5, 0.75, 1.0)
        for name in args.sheet_concepts:
            concept = bundle[name]
            directions = directions_of.get(name)
            if directions is None:
                hold = [o for o in concept.extra.get("hold") or [] if o in bundle and o != name]
                directions = conditioned_directions(
                    concept.normal, [bundle[o].normal for o in hold], generator.num_layers
                )
            lo, hi = concept.distance_range
            for seed in range(args.sheet_seeds):
                for step in steps:
                    distance = step * (hi if step > 0 else -lo)
                    code = meter.edited(directions, concept.layers, distance, seed + 1)[seed : seed + 1]
                    with torch.no_grad():
                        image = generator.synthesize(torch.from_numpy(code))
                    tiles.append(to_uint8_images(image)[0])
                    labels.append(f"{name} {distance:+.1f}")
        save_png(make_contact_sheet(tiles, columns=len(steps), labels=labels), args.sheet)
        print(f"\ncontact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
