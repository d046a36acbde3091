"""The goals table of issue 13 for a boundary bundle: does every concept do what its name says?

Per concept: own effect (std), largest side effect (std, on the scores the predictor reads
reliably), selectivity, category flip rate at the slider's top end, direction method, layers,
range and hold. Then the goals: own >= 1 std and above every side effect, median selectivity
>= 3, every category flip >= 70%.

By default the figures stored in the bundle (measured by ``sceneedit probe`` or
``scripts/make_default_bundle.py --effects-only``) are printed. ``--measure`` measures the bundle
again exactly as it ships (its layers, slider range, default hold and direction; nothing is
chosen) on ``--seeds`` seeds with the world predictor, and prints the same table from those
figures: the independent check of the stored ones.

    python benchmarks/bench_concepts.py                                   # stored figures
    python benchmarks/bench_concepts.py --measure --seeds 200             # re-measured (~6k images)
    python benchmarks/bench_concepts.py --measure --seeds 16 --concepts kitchen bedroom

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def stored_rows(bundle) -> dict[str, dict]:
    """Per concept, the effect stored in the bundle (``extra['effect']``)."""
    return {c.name: c.extra["effect"] for c in bundle if isinstance(c.extra.get("effect"), dict)}


def measured_rows(bundle, generator, predictor, seeds: list[int], names: list[str]) -> dict[str, dict]:
    """Per concept, its effect measured as it ships on ``seeds`` (editor codes)."""
    from sceneedit.semantics.effects import EffectMeter, conditioned_directions, reliable_scores
    from sceneedit.semantics.probe import editor_codes, layer_strengths

    categories = [n for n in predictor.score_names if predictor.score_levels.get(n) == "objects"]
    reliable = reliable_scores(predictor.score_names, predictor.metrics, categories)
    scale = layer_strengths(generator.num_layers, generator.truncation_psi, generator.truncation_layers)
    meter = EffectMeter(generator, predictor, editor_codes(generator, seeds), scale, categories, reliable=reliable)
    rows = {}
    for name in names:
        concept = bundle[name]
        hold = [o for o in concept.extra.get("hold") or [] if o in bundle and o != name]
        directions = conditioned_directions(concept.normal, [bundle[o].normal for o in hold], generator.num_layers)
        lo, hi = concept.distance_range
        effect = meter.measure(directions, concept.layers, lo, hi, name)
        rows[name] = effect.to_json(meter.score_names)
    return rows


def goals_table(bundle, rows: dict[str, dict]) -> str:
    """Markdown: one line per concept, then the goals."""
    from sceneedit.semantics.concepts import format_distance_range
    from sceneedit.semantics.effects import MIN_OWN_EFFECT
    from sceneedit.semantics.layers import format_layer_spec

    lines = [
        "| concept | level | own (std) | largest other (std) | selectivity | category flip | direction "
        "| layers | range | hold | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    failing = []
    for name, r in rows.items():
        c = bundle[name]
        ok = r["own_std"] >= MIN_OWN_EFFECT and r["own_std"] > r["side_std"]
        if r.get("flip_rate") is not None:
            ok = ok and r["flip_rate"] >= 0.7
        if not ok:
            failing.append(name)
        flip = "-" if r.get("flip_rate") is None else f"{r['flip_rate']:.0%}"
        method = ((c.extra.get("effect") or {}).get("selection") or {}).get("direction", "svm")
        lines.append(
            f"| {name} | {c.level} | {r['own_std']:+.2f} | {r['side_std']:.2f} ({r['side_score']}) | "
            f"{r['selectivity']:.2f} | {flip} | {method} | {format_layer_spec(c.layers)} | "
            f"{format_distance_range(c.distance_range)} | {', '.join(c.extra.get('hold') or []) or '-'} | "
            f"{'yes' if ok else '**no**'} |"
        )
    selectivity = [r["selectivity"] for r in rows.values()]
    flips = {n: r["flip_rate"] for n, r in rows.items() if r.get("flip_rate") is not None}
    own_ok = sum(1 for r in rows.values() if r["own_std"] >= MIN_OWN_EFFECT and r["own_std"] > r["side_std"])
    lines += [
        "",
        f"- own effect >= {MIN_OWN_EFFECT:g} std and above every side effect: {own_ok} of {len(rows)}",
        f"- median selectivity: {np.median(selectivity):.2f} (goal >= 3)" if selectivity else "- no concepts",
        "- category flips (goal >= 70%): " + (", ".join(f"{n} {v:.0%}" for n, v in flips.items()) or "none"),
        f"- concepts meeting every goal that applies to them: {len(rows) - len(failing)} of {len(rows)}"
        + (f" (not: {', '.join(failing)})" if failing else ""),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", default=str(REPO / "boundaries/default.safetensors"))
    parser.add_argument("--generator", default=str(REPO / "resources/default_generator.safetensors"))
    parser.add_argument("--predictor-file", default=str(REPO / "resources/world_predictor.safetensors"))
    parser.add_argument("--measure", action="store_true", help="measure again instead of reading the bundle")
    parser.add_argument("--seeds", type=int, default=200, help="with --measure: seeds 0..N-1 (default 200)")
    parser.add_argument("--concepts", nargs="+", default=None, help="with --measure: only these concepts")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from sceneedit.semantics.bundle import load_bundle

    torch.set_num_threads(args.threads)
    bundle = load_bundle(args.bundle)
    if not args.measure:
        rows = stored_rows(bundle)
        effects = bundle.extra.get("effects") or {}
        print(
            f"Stored figures of {args.bundle}: {effects.get('num_seeds')} seeds ({effects.get('seeds')}), "
            f"gradient seeds {effects.get('gradient_seeds', '-')}, layer rule {effects.get('layer_rule')}\n"
        )
    else:
        from sceneedit.generators import load_generator
        from sceneedit.semantics.predictors.world import load_world_predictor

        generator = load_generator(args.generator, device="cpu")
        predictor = load_world_predictor(args.predictor_file)
        names = args.concepts or [c.name for c in bundle if c.name in predictor.score_names]
        start = time.perf_counter()
        rows = measured_rows(bundle, generator, predictor, list(range(args.seeds)), names)
        print(
            f"Measured {args.bundle} as it ships on seeds 0-{args.seeds - 1} in {time.perf_counter() - start:.0f} s "
            f"({args.threads} torch thread(s))\n"
        )
    print(goals_table(bundle, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
