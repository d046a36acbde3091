#!/usr/bin/env python3
"""Probe the default generator and write the shipped boundary bundle and its report.

Runs ``sceneedit probe`` on the default generator with the world predictor, for concepts
of all four abstraction levels, then writes:

* ``boundaries/default.safetensors``  the boundary bundle (``--bundle``);
* ``docs/probe/heatmap.png``, ``docs/probe/report.md``  the probe's own report;
* ``docs/probe/summary.txt``  what the probe printed (ranking, per-level peaks);
* ``docs/probe/run.json``  the command, date, machine and stage wall times;
* ``docs/probe/README.md``  per level, the layers where Δs peaks, set against the paper's
  finding (layout early, objects middle, attributes and colour scheme late), generated
  from the bundle's numbers.

Usage (from anywhere; paths are relative to the repository root)::

    python scripts/make_default_bundle.py                      # the shipped files
    python scripts/make_default_bundle.py --generator /tmp/G.safetensors \\
        --bundle /tmp/default.safetensors --docs /tmp/probe_docs  # a trial

The defaults (N 20,000, K 2,000, K' 300, 13 concepts) take about 6-7 minutes on a shared
2-core CPU with one torch thread. The probe's codes and scores go to ``--work-dir``
(default ``cache/probe_default``, git-ignored), which is emptied first unless ``--resume``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

#: The checkout this module is part of: the tool reads and writes its resources/, boundaries/, docs/.
REPO = Path(__file__).resolve().parents[2]

#: Concepts probed, by level: the world predictor's reliably read scores (held-out R^2 >= 0.7 or
#: accuracy >= 0.9, resources/world_predictor.md). Left out, with the reason, in DROPPED.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "layout": ("camera_pitch", "room_depth", "camera_yaw", "room_height"),
    "objects": ("bedroom", "living_room", "dining_room", "kitchen"),
    "attributes": ("indoor_lighting", "natural_light", "floor_wood"),
    "color": ("wall_hue", "furniture_warmth", "floor_tone"),
}
#: Factors of the world not shipped as concepts, and why (shown in docs/probe/README.md).
DROPPED: dict[str, str] = {
    "clutter": (
        "the world predictor reads it with held-out R² 0.56 (< 0.7: the items are a few pixels wide at "
        "64 px; the first predictor read 0.03), so a boundary found through it cannot be trusted to mean "
        "'clutter'. Measured through the first predictor, its best layer range moved its own score by only "
        "+0.80 std and floor tone by 1.15 std (200 seeds)."
    ),
    "camera_x": (
        "read with R² 0.63 (< 0.7). Yaw and x *can* be told apart from pixels: the redesigned "
        "predictor's yaw output correlates 0.12 with the true x on 600 held-out renders (the first "
        "predictor's x output correlated 0.62 with the true yaw: its confusion, not the world's), but x "
        "itself is not read well enough to ship a slider named for it."
    ),
    "room_width": "read with R² 0.39 (< 0.7): at 64 px the side walls' positions confound width with camera x.",
    # issue 13: a category concept must flip >= 70% of other-category seeds at its slider's end.
    "living_room": (
        "dropped from the shipped bundle: no direction found makes the predictor call 70% of other rooms a "
        "living room. Best (the SVM normal with the floor_tone, furniture_warmth and indoor_lighting gradients "
        "projected out, layers 1-9, ±12.1): own +1.68 std, largest side effect 0.87 std (wall_hue), selectivity "
        "1.94, flips 66% of the 200 seeds 0-199 and 66% of 128 held-out seeds; longer ranges flip fewer (55% at "
        "±15, 34% at ±18); on other layer ranges (96 held-out seeds, ±10 / ±14) 2-6: 38 / 41%, 3-7: 35 / 45%, "
        "2-9: 55 / 50%, 3-9: 56 / 65%, 4-9: 58 / 70% (own 1.70 vs side 1.07 std: at the goal's edge on 96 seeds, "
        "not a margin), 0-9: 61 / 61%; the SVM normal alone flipped 53% with floor tone moving more than the category "
        "(2.43 vs 1.48 std), its own-gradient direction 50%. Restore it with --effects-only without --drop."
    ),
}
#: The shipped bundle must hold at least this many concepts per level (the world has four
#: attribute factors; clutter is not readable at 64 px, see DROPPED).
REQUIRED_PER_LEVEL = {"layout": 1, "objects": 1, "attributes": 3, "color": 2}
PAPER_ORDER = ("layout", "objects", "attributes", "color")
PAPER_WORDS = {"layout": "early", "objects": "middle", "attributes": "later", "color": "last"}


# ----- numbers from a bundle -----------------------------------------------------------------
def centroid(delta_s: list[float]) -> float:
    """Δs-weighted mean layer of one profile (NaN when the profile is all zero)."""
    values = np.clip(np.asarray(delta_s, dtype=np.float64), 0, None)
    total = values.sum()
    return float((values * np.arange(values.size)).sum() / total) if total > 0 else float("nan")


def _normalized(profile: np.ndarray) -> np.ndarray:
    values = np.clip(profile, 0, None)
    peak = values.max() if values.size else 0.0
    return values / peak if peak > 0 else values


def level_rows(bundle, exclude: int | None = None) -> list[dict]:
    """Per level (paper order): peak layer of the mean row-normalized Δs profile, the layers
    holding at least half that peak, the mean Δs-weighted layer, the paper's range scaled to
    this depth, and whether the peak falls inside it. ``exclude``: a layer left out of every
    profile (its Δs set to 0 before normalizing)."""
    from sceneedit.semantics.layers import default_layers

    rows = []
    for level in PAPER_ORDER:
        members = [c for c in bundle if c.level == level and c.delta_s is not None]
        if not members:
            continue
        num_layers = len(members[0].delta_s)
        profiles = [np.asarray(c.delta_s, dtype=np.float64) for c in members]
        if exclude is not None:
            for profile in profiles:
                profile[exclude] = 0.0
        mean = np.mean([_normalized(p) for p in profiles], axis=0)
        peak = int(np.argmax(mean))
        strong = [i for i, v in enumerate(mean) if v >= 0.5 * mean[peak]] if mean[peak] > 0 else []
        expected = default_layers(level, num_layers)
        centroids = [centroid(list(p)) for p in profiles]
        rows.append(
            {
                "level": level,
                "concepts": [c.name for c in members],
                "peak": peak,
                "strong": strong,
                "centroid": float(np.nanmean(centroids)) if not all(np.isnan(centroids)) else float("nan"),
                "expected": expected,
                "agrees": peak in expected,
                "num_layers": num_layers,
            }
        )
    return rows


def concept_rows(bundle, predictor_metrics: dict) -> list[dict]:
    """Per concept: predictor quality, SVM accuracy, Δs all, peak layer, chosen layers."""
    from sceneedit.semantics.layers import format_layer_spec

    rows = []
    for level in PAPER_ORDER:
        for c in (c for c in bundle if c.level == level):
            quality = "-"
            if c.name in (predictor_metrics.get("r2") or {}):
                quality = f"R² {predictor_metrics['r2'][c.name]:.2f}"
            elif c.name in (predictor_metrics.get("accuracy") or {}):
                quality = f"acc. {predictor_metrics['accuracy'][c.name]:.2f}"
            elif level == "objects" and "category" in (predictor_metrics.get("accuracy") or {}):
                quality = f"category acc. {predictor_metrics['accuracy']['category']:.2f}"
            profile = np.clip(np.asarray(c.delta_s or [0.0], dtype=np.float64), 0, None)
            total = profile.sum()
            rows.append(
                {
                    "name": c.name,
                    "level": level,
                    "quality": quality,
                    "accuracy": c.accuracy,
                    "delta_s_all": c.delta_s_all,
                    "peak": int(np.argmax(profile)) if total > 0 else None,
                    "peak_share": float(profile.max() / total) if total > 0 else float("nan"),
                    "centroid": centroid(c.delta_s) if c.delta_s else float("nan"),
                    "layers": format_layer_spec(c.layers),
                    "chosen_share": float(profile[c.layers].sum() / total) if total > 0 and c.delta_s else float("nan"),
                    "rule": c.extra.get("layer_rule", "-"),
                }
            )
    return rows


def layer_resolution(arch: str | None, layer: int) -> int | None:
    """Output resolution of layer ``layer`` for StyleGAN-style generators (2 layers per
    resolution from 4x4), else None."""
    if arch in ("stylegan", "stylegan2"):
        return 4 * 2 ** (layer // 2)
    return None


def _layers_text(layers: list[int], arch: str | None) -> str:
    from sceneedit.semantics.layers import format_layer_spec

    spec = format_layer_spec(layers) or "-"
    resolutions = sorted({r for layer in layers if (r := layer_resolution(arch, layer)) is not None})
    if not resolutions:
        return spec
    sizes = ", ".join(f"{r}²" for r in resolutions)
    return f"{spec} ({sizes})"


def verdict_lines(levels: list[dict], concepts: list[dict]) -> list[str]:
    """Plain statements, each derived from the numbers, comparing with the paper."""
    lines = []
    if not levels:
        return ["No concept was re-scored, so no level can be placed."]
    agreeing = [r["level"] for r in levels if r["agrees"]]
    lines.append(
        f"{len(agreeing)} of {len(levels)} levels peak inside the paper's range scaled to this depth"
        + (f" ({', '.join(agreeing)})." if agreeing else ".")
    )
    for row in levels:
        if not row["agrees"]:
            expected = row["expected"]
            where = "earlier" if row["peak"] < expected[0] else "later"
            lines.append(
                f"{row['level'].capitalize()} peaks at layer {row['peak']}, {where} than the paper places it "
                f"({PAPER_WORDS[row['level']]} layers: {expected[0]}-{expected[-1]} here)."
            )
    ordered = [r for r in levels if not np.isnan(r["centroid"])]
    centroids = ", ".join(f"{r['level']} {r['centroid']:.1f}" for r in ordered)
    monotone = all(a["centroid"] <= b["centroid"] for a, b in zip(ordered, ordered[1:], strict=False))
    lines.append(
        f"Δs-weighted mean layers in the paper's order: {centroids} — "
        + (
            "non-decreasing, as the paper's hierarchy predicts."
            if monotone
            else "not in the paper's order (layout < objects < attributes <= colour)."
        )
    )
    peaks = {r["peak"] for r in levels}
    if len(levels) > 1 and len(peaks) == 1:
        lines.append(
            f"All levels peak at the same layer ({peaks.pop()}): this generator shows no layer hierarchy by peak."
        )
    dominated = [c for c in concepts if c["peak"] is not None and c["peak_share"] >= 0.5]
    if dominated:
        by_layer: dict[int, list[str]] = {}
        for c in dominated:
            by_layer.setdefault(c["peak"], []).append(c["name"])
        for layer, names in sorted(by_layer.items()):
            lines.append(
                f"Layer {layer} alone holds at least half of the per-layer Δs of {len(names)} of "
                f"{len(concepts)} concepts ({', '.join(names)})."
            )
    return lines


def write_readme(bundle, path: Path, info: dict) -> Path:
    """Write the docs README summarizing ``bundle`` (all figures read from it); atomic."""
    from sceneedit.semantics.report import format_delta

    fp = bundle.generator_fingerprint or {}
    arch = fp.get("arch")
    levels = level_rows(bundle)
    concepts = concept_rows(bundle, info.get("predictor_metrics") or {})
    probe = (bundle.extra or {}).get("probe") or {}
    first = next(iter(bundle), None)
    rescore = (first.extra.get("rescore") if first is not None else None) or {}
    counts = (first.extra.get("sample_counts") if first is not None else None) or {}
    num_layers = fp.get("num_layers")
    lines = [
        "# Probe of the default generator",
        "",
        f"Generated by `scripts/make_default_bundle.py` on {info.get('date', '?')} from the bundle "
        f"`{info.get('bundle_name', 'boundaries/default.safetensors')}`; every figure below is read from it. "
        "Do not edit by hand: rerun the script.",
        "",
        f"- Generator: {arch} {fp.get('resolution')} px, {num_layers} layers, w_dim {fp.get('w_dim')}, "
        f"weights hash `{fp.get('weights_hash')}`.",
        f"- Predictor: {probe.get('predictor')} (`{info.get('predictor_file', '?')}`).",
        f"- Samples N = {probe.get('num')}, seed {probe.get('seed')}; per concept the top and bottom "
        f"K = {counts.get('positive')} codes, split {counts.get('train')}/{counts.get('validation')} "
        f"train/validation; truncation psi {probe.get('truncation_psi')} on the first "
        f"{probe.get('truncation_layers')} layers.",
        f"- Re-scoring: K' = {rescore.get('num_samples')} codes moved by lambda = {rescore.get('lambda')} "
        f"along each normal, one layer at a time and all layers at once.",
        (
            "- Layer rule: by what the concept does — the most selective contiguous layer range whose own effect "
            "reaches 1 std over the slider range (see *What each concept does* below); the Δs profiles below are "
            "HiGAN's re-scoring, kept to place the levels against the paper."
            if (bundle.extra or {}).get("effects", {}).get("layer_rule") in ("selectivity", "kept")
            else f"- Layer rule: {(bundle.extra or {}).get('layer_share', 0.6):.0%} share — the smallest contiguous "
            "layer range holding that share of a concept's total per-layer Δs (`sceneedit/semantics/layers.py`)."
        ),
        f"- Command: `{info.get('command', '?')}`",
    ]
    if info.get("timings"):
        t = info["timings"]
        lines.append("- Wall time: " + ", ".join(f"{k} {v}" for k, v in t.items()) + f" ({info.get('machine', '')}).")
    lines += [
        "",
        "![Δs heatmap, rows normalized](heatmap.png)",
        "",
        "The full per-layer table is in [report.md](report.md); the ranking printed by the probe is in "
        "[summary.txt](summary.txt).",
        "",
        "## Where each level peaks, against the paper",
        "",
        "The paper (Yang, Shen, Zhou, *Semantic Hierarchy Emerges in Deep Generative Representations for "
        "Scene Synthesis*, IJCV 2020) finds layout in the early layers, objects (scene category) in the "
        "middle layers, attributes in the later ones and the colour scheme in the last ones. Its ranges for "
        "a 14-layer StyleGAN (layout 0-4, objects 3-6, attributes 6-11, colour 12-13) are scaled here to "
        f"{num_layers} layers (`default_layers` in `sceneedit/semantics/layers.py`). A level's profile is the "
        "mean of its concepts' row-normalized Δs; *peak* is its largest layer.",
        "",
        "Δs measures the predictor's response, not the image content: a move that only recolours the "
        "images counts for any concept the predictor reads partly from colour. Look at edits before "
        "trusting a layer range.",
        "",
        "| level | concepts | peak layer | layers >= half the peak | Δs-weighted mean layer | paper's range here "
        "| peak in range? |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in levels:
        lines.append(
            f"| {r['level']} | {', '.join(r['concepts'])} | {_layers_text([r['peak']], arch)} | "
            f"{_layers_text(r['strong'], arch)} | {r['centroid']:.2f} | {_layers_text(r['expected'], arch)} | "
            f"{'yes' if r['agrees'] else '**no**'} |"
        )
    lines += ["", "### Verdict", ""]
    lines += [f"- {line}" for line in verdict_lines(levels, concepts)]
    last = (num_layers or 0) - 1
    if last > 0 and any(c["peak"] == last and c["peak_share"] >= 0.5 for c in concepts):
        below = level_rows(bundle, exclude=last)
        lines += [
            "",
            "### Below the last layer",
            "",
            f"Layer {last} holds most of the Δs of some concepts. The same table with layer {last} left out of "
            "every profile shows how the remaining layers order the levels (a secondary reading: the "
            "concepts' strongest handle is still the last layer).",
            "",
            f"| level | peak layer (without {last}) | layers >= half the peak | Δs-weighted mean layer "
            "| paper's range here | peak in range? |",
            "|---|---|---|---|---|---|",
        ]
        for r in below:
            lines.append(
                f"| {r['level']} | {_layers_text([r['peak']], arch)} | {_layers_text(r['strong'], arch)} | "
                f"{r['centroid']:.2f} | {_layers_text(r['expected'], arch)} | {'yes' if r['agrees'] else '**no**'} |"
            )
        lines += [""] + [f"- {line}" for line in verdict_lines(below, [])]
    lines += [
        "",
        "## Per concept",
        "",
        "Predictor quality is the world predictor's held-out figure for that factor "
        "(`resources/world_predictor.md`); a poorly read factor gives a poorly defined concept.",
        "",
        "| level | concept | predictor quality | SVM held-out acc. | Δs all layers | peak layer (share of Δs) "
        "| Δs-weighted mean layer | chosen layers (share of Δs) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in concepts:
        acc = "-" if c["accuracy"] is None else f"{c['accuracy']:.3f}"
        ds_all = "-" if c["delta_s_all"] is None else format_delta(c["delta_s_all"])
        peak = "-" if c["peak"] is None else f"{c['peak']} ({c['peak_share']:.0%})"
        chosen = f"{c['layers']}" + ("" if np.isnan(c["chosen_share"]) else f" ({c['chosen_share']:.0%})")
        lines.append(
            f"| {c['level']} | {c['name']} | {c['quality']} | {acc} | {ds_all} | {peak} | "
            f"{c['centroid']:.2f} | {chosen} |"
        )
    lines.append("")
    lines += effect_lines(bundle)
    lines += direction_lines(bundle)
    if info.get("effects"):
        e = info["effects"]
        for before in e.get("earlier") or []:
            lines.append(
                f"Earlier pass, measured {before['date']} with `{before['command']}` ({before['images']} images, "
                f"{before['wall_time']}); its figures stand for the concepts the later pass did not measure."
            )
        lines.append(
            f"Effects measured {e['date']} with `{e['command']}` ({e['images']} images, {e['wall_time']})"
            + (f"; concepts dropped: {', '.join(e['dropped'])}" if e.get("dropped") else "")
            + "."
        )
        lines.append("")
    if info.get("drop_reasons"):
        lines += ["### Factors not shipped as concepts", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in info["drop_reasons"].items()]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def check_bundle(bundle, generator) -> list[str]:
    """Raise when the bundle does not fit the generator or lacks a level; returns warnings."""
    from sceneedit.semantics.bundle import check_compatible

    warnings = check_compatible(bundle, generator)
    counts = {level: sum(1 for c in bundle if c.level == level) for level in REQUIRED_PER_LEVEL}
    short = {lvl: (n, REQUIRED_PER_LEVEL[lvl]) for lvl, n in counts.items() if n < REQUIRED_PER_LEVEL[lvl]}
    if short:
        raise SystemExit(f"bundle lacks concepts: {short} (have, need)")
    return warnings


# ----- measuring what the concepts do -----------------------------------------------------------
def effect_lines(bundle) -> list[str]:
    """README section: the concept x score matrix, per-concept figures and the goals."""
    from sceneedit.semantics.effects import MIN_OWN_EFFECT, SATURATION, effect_goals
    from sceneedit.semantics.report import effect_table, side_effect_rule

    effects = (bundle.extra or {}).get("effects")
    if not effects:
        return []
    goals = effect_goals(bundle)
    flips = goals["flip_rates"]
    lines = [
        "",
        "## What each concept does",
        "",
        f"Every concept edited over its slider range on its layers (its default hold applied), on "
        f"{effects['num_seeds']} seeds ({effects['seeds']}, the editor's codes at the default truncation), "
        "scored by the world predictor; each cell is the mean change of a score in standard deviations of "
        "that score over the unedited samples. Own effect: the concept's own score; side effect: the largest "
        "change of another factor's score (a category concept lowering the other categories is not counted); "
        f"selectivity: own / side (side effects under {effects['side_floor']} std count as {effects['side_floor']}). "
        f"Layers: the most selective contiguous range whose own effect reaches {MIN_OWN_EFFECT:g} std "
        f"({layer_rule_words(effects)}); slider ranges calibrated so the full range moves the own "
        f"score by {effects['target_effect']:g} std (category concepts: and flips "
        f"{effects['target_flip']:.0%} of other-category seeds at the top end)"
        + (
            ", then each end trimmed to the shortest of 1/4, 1/2, 3/4 or all of it that moves the own score "
            f"{SATURATION:.0%} as far from the unedited image (past that a slider only smears the picture; "
            "category top ends stay long enough to flip the target share)"
            if any("trimmed" in ((c.extra.get("effect") or {}).get("selection") or {}) for c in bundle)
            else ""
        )
        + "; the default hold is the "
        "conditional manipulation on the concept named for the largest side effect, kept when it raises the "
        "selectivity (`sceneedit/semantics/effects.py`). "
        f"{side_effect_rule(effects, 'not counted, starred in the figure')}.",
        "",
        "![concept x score matrix](effects.png)",
        "",
        effect_table(bundle),
        "### Goals",
        "",
        f"- Own effect >= 1 std and larger than every side effect: **{goals['own_ok']} of {goals['concepts']}**"
        + (f" (not met: {', '.join(goals['failing'])})." if goals["failing"] else "."),
        f"- Median selectivity: **{goals['median_selectivity']:.2f}** (goal >= 3)"
        + (
            "."
            if goals.get("median_selectivity_all_scores") is None or not effects.get("reliable_scores")
            else f"; counting side effects on every score, also those the predictor reads poorly (starred): "
            f"{goals['median_selectivity_all_scores']:.2f}."
        ),
    ]
    if flips:
        lines.append(
            "- Category concepts at the slider's top end, share of other-category seeds the predictor then "
            "calls that category (goal >= 70%): " + ", ".join(f"{k} **{v:.0%}**" for k, v in flips.items()) + "."
        )
    return lines + [""]


def measure_only(
    args, generator_path: Path, predictor_path: Path, bundle_path: Path, docs: Path, run_file: Path
) -> int:
    """``--effects-only``: measure the shipped bundle's effects and rewrite bundle and docs."""
    from sceneedit.generators import load_generator
    from sceneedit.semantics.bundle import load_bundle, save_bundle
    from sceneedit.semantics.predictors.world import load_world_predictor
    from sceneedit.semantics.probe import measure_effects, trim_ranges
    from sceneedit.semantics.report import write_report

    generator = load_generator(generator_path, device="cpu")
    predictor = load_world_predictor(predictor_path)
    bundle = load_bundle(bundle_path)
    for name in args.drop:
        bundle.concepts.pop(name, None)
    start = time.perf_counter()
    measure = trim_ranges if args.trim_ranges else measure_effects
    options = {"concepts": args.only} if args.trim_ranges else effect_options(args)
    measure(
        generator,
        predictor,
        bundle,
        args.effect_seeds,
        select_seeds=args.select_seeds,
        progress=not args.no_progress,
        **options,
    )
    seconds = time.perf_counter() - start
    save_bundle(bundle, bundle_path)
    write_report(bundle, docs)
    info = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
    info["drop_reasons"] = {
        **{name: reason for name, reason in DROPPED.items() if name not in bundle},
        **{name: DROPPED.get(name, "left out with --drop") for name in args.drop},
    }
    earlier = earlier_effect_records(info, args)
    info["effects"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python scripts/make_default_bundle.py --effects-only "
        + shlex.join(
            ["--effect-seeds", str(args.effect_seeds), "--select-seeds", str(args.select_seeds)]
            + (
                ["--trim-ranges"] + (["--only", *args.only] if args.only else [])
                if args.trim_ranges
                else effect_option_args(args)
            )
            + (["--drop", *args.drop] if args.drop else [])
        ),
        "wall_time": f"{seconds:.0f} s",
        "images": bundle.extra["effects"]["images_synthesized"],
        "dropped": list(args.drop),
        **({"earlier": earlier} if earlier else {}),
    }
    run_file.write_text(json.dumps(info, indent=2), encoding="utf-8")
    info = {**info, "predictor_metrics": predictor.metrics}
    readme = write_readme(bundle, docs / "README.md", info)
    print(f"README: {readme}; effects measured in {seconds:.0f} s")
    return 0


# ----- issue 13: refined directions and kept layers in --effects-only -------------------------------
def add_effect_options(parser: argparse.ArgumentParser) -> None:
    """``--gradient-seeds`` and ``--keep-layers`` (used with ``--effects-only``)."""
    parser.add_argument(
        "--gradient-seeds",
        type=int,
        default=64,
        help="codes whose mean score gradients may refine each direction (0 = the SVM normals; default 64)",
    )
    parser.add_argument(
        "--keep-layers",
        action="store_true",
        help="with --effects-only: keep the bundle's layers (chosen by an earlier measurement) instead of "
        "choosing them again (saves about 830 images per concept)",
    )
    parser.add_argument(
        "--trim-ranges",
        action="store_true",
        help="with --effects-only: keep every concept's direction, layers and hold; only trim each slider end "
        "where its effect saturates (sceneedit.semantics.effects.trim_range) and measure the final rows again",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="with --effects-only: measure only these concepts (the others keep their stored figures)",
    )


def earlier_effect_records(info: dict, args) -> list[dict]:
    """With ``--only`` or ``--trim-ranges``, the earlier passes (whose figures stand for the other
    concepts, or whose directions the trimmed concepts keep) stay recorded."""
    if not (args.only or args.trim_ranges) or not info.get("effects"):
        return []
    previous = dict(info["effects"])
    return [*previous.pop("earlier", []), previous]


def layer_rule_words(effects: dict) -> str:
    """How the layers were chosen, for the README's effects section."""
    if effects.get("layer_rule") == "kept":
        return (
            "`--layer-rule selectivity` with the SVM normals in the previous measurement, kept in this one "
            "(`--keep-layers`)"
        )
    return f"`--layer-rule {effects['layer_rule']}`"


def direction_lines(bundle) -> list[str]:
    """README section: how each concept's direction was made (SVM normal or refined)."""
    from sceneedit.semantics.effects import (
        DIRECTION_METHODS,
        HOLD_GAIN,
        MAX_REFINE_STEPS,
        PATH_CODES,
        REFINE_BELOW,
        TARGET_FLIP,
    )

    effects = (bundle.extra or {}).get("effects") or {}
    if not effects.get("gradient_seeds"):
        return []
    methods: dict[str, list[str]] = {}
    for c in bundle:
        selection = (c.extra.get("effect") or {}).get("selection") or {}
        held = selection.get("scores_held") or []
        methods.setdefault(selection.get("direction", "svm"), []).append(
            c.name + (f" (held: {', '.join(held)})" if held else "")
        )
    lines = [
        "### How the directions were made",
        "",
        "Every boundary starts as HiGAN's: a linear SVM on the generator's own samples scored by the world "
        f"predictor (N above). A concept whose SVM normal falls short (selectivity < {REFINE_BELOW:g}, own "
        f"effect < 1 std or below a side effect, or a category flipping < {TARGET_FLIP:.0%} of other-category "
        "seeds) is "
        "refined (`sceneedit/semantics/refine.py`, `effects.refine_direction`): the mean gradient of each "
        f"leaked score with respect to each layer's code, over the editor's codes of seeds {effects['gradient_seeds']} "
        "(divided by the score's std; categories and binary factors on their log-odds), is projected out of "
        "the direction per layer, greedily, the score named for the largest side effect first, at most "
        f"{MAX_REFINE_STEPS} scores, a step kept while the measured selectivity rises by {HOLD_GAIN:g}x. Two "
        "starting points are tried, the SVM normal (`svm+held`) and the own score's mean gradient "
        "(`gradient+held`), and for a category, whose edits travel far, also the SVM normal with the gradients "
        f"taken along the edit, at both slider ends of the first {PATH_CODES} of those codes (`svm+path`); the "
        "shipped direction is the best measured one (own effect >= 1 std, then the category flip goal at a "
        "range calibrated for it, then selectivity). A refined direction ships as a per-layer normal (space `wp`); "
        "the SVM normal stays in the bundle (`extra['svm_normal']`) so that a re-measurement starts from it.",
        "",
    ]
    for method, names in methods.items():
        lines.append(f"- `{method}` ({DIRECTION_METHODS.get(method, method)}): {', '.join(names)}.")
    return lines + [""]


def effect_options(args) -> dict:
    """Keyword arguments of ``measure_effects`` from the options above."""
    return {
        "gradient_seeds": args.gradient_seeds,
        "rule": "kept" if args.keep_layers else "selectivity",
        "concepts": args.only,
    }


def effect_option_args(args) -> list[str]:
    """The options above as command-line words (for the recorded command)."""
    return (
        ["--gradient-seeds", str(args.gradient_seeds)]
        + (["--keep-layers"] if args.keep_layers else [])
        + (["--only", *args.only] if args.only else [])
    )


# ----- running the probe ---------------------------------------------------------------------
def _stage_timings(work: Path, total: float) -> dict[str, str]:
    """Stage wall times from the run folder's file times (each stage writes its file last)."""
    try:
        start = (work / "probe.json").stat().st_mtime
        sampled = max(p.stat().st_mtime for p in (work / "chunks").glob("*.scores.npy"))
        fitted = (work / "fits.json").stat().st_mtime
        rescored = (work / "rescore.json").stat().st_mtime
    except (OSError, ValueError):
        return {"total": f"{total:.0f} s"}
    return {
        "sampling+scoring": f"{sampled - start:.0f} s",
        "boundary fits": f"{fitted - sampled:.0f} s",
        "re-scoring": f"{rescored - fitted:.0f} s",
        "total": f"{total:.0f} s",
    }


def main(argv: list[str] | None = None, *, sceneedit_main: Callable[[list[str]], int]) -> int:
    """``scripts/make_default_bundle.py``; ``sceneedit_main`` runs a ``sceneedit`` command line
    (``sceneedit.cli.main``: this module sits below the command line, which hands it over)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default="resources/default_generator.safetensors")
    parser.add_argument("--predictor-file", default="resources/world_predictor.safetensors")
    parser.add_argument("--bundle", default="boundaries/default.safetensors")
    parser.add_argument("--docs", default="docs/probe", help="report folder")
    parser.add_argument("--work-dir", default="cache/probe_default", help="probe run folder (codes, scores)")
    parser.add_argument("--num", type=int, default=20000, help="N (default 20000)")
    parser.add_argument("--k", type=int, default=2000, help="top/bottom K per concept (default 2000)")
    parser.add_argument("--rescore-samples", type=int, default=300, help="K' (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a loaded 2-core machine 2 threads ran 2-5x slower)",
    )
    parser.add_argument("--resume", action="store_true", help="keep the work folder's finished chunks")
    parser.add_argument(
        "--readme-only", action="store_true", help="only rewrite README.md from the existing bundle and DOCS/run.json"
    )
    parser.add_argument(
        "--effects-only",
        action="store_true",
        help="keep the existing bundle's boundaries; only measure the concept x score matrix and "
        "choose layers, holds and slider ranges by it (sceneedit.semantics.effects)",
    )
    parser.add_argument("--effect-seeds", type=int, default=200, help="seeds of the effect matrix (default 200)")
    parser.add_argument(
        "--select-seeds", type=int, default=32, help="seeds used while choosing layers, holds and ranges (default 32)"
    )
    parser.add_argument(
        "--concepts", nargs="+", default=None, help="concepts to probe (default: CONCEPTS in this script)"
    )
    parser.add_argument(
        "--drop",
        nargs="*",
        default=[],
        help="concepts left out of the shipped bundle (state the reason in docs/probe/README.md)",
    )
    parser.add_argument("--no-progress", action="store_true")
    add_effect_options(parser)
    args = parser.parse_args(argv)

    os.chdir(REPO)
    import torch

    torch.set_num_threads(args.threads)
    from sceneedit.generators import load_generator
    from sceneedit.semantics.bundle import load_bundle
    from sceneedit.semantics.predictors.world import load_world_predictor

    generator_path, predictor_path = Path(args.generator), Path(args.predictor_file)
    for path, what in ((generator_path, "generator"), (predictor_path, "predictor")):
        if not path.is_file():
            raise SystemExit(f"{what} file not found: {path}")
    work, docs, bundle_path = Path(args.work_dir), Path(args.docs), Path(args.bundle)
    if work.exists() and not (args.resume or args.readme_only):
        shutil.rmtree(work)
    concepts = args.concepts or [name for names in CONCEPTS.values() for name in names]
    command = [
        "probe",
        "--generator",
        str(generator_path),
        "--predictor",
        "world",
        "--predictor-option",
        f"path={predictor_path}",
        "--num",
        str(args.num),
        "--seed",
        str(args.seed),
        "--k",
        str(args.k),
        "--rescore-samples",
        str(args.rescore_samples),
        "--device",
        "cpu",
        "--concepts",
        *concepts,
        "--out",
        str(work),
        "--bundle",
        str(bundle_path),
        "--report",
        str(docs),
    ] + (["--no-progress"] if args.no_progress else [])
    run_file = docs / "run.json"
    if args.effects_only:
        return measure_only(args, generator_path, predictor_path, bundle_path, docs, run_file)
    command += ["--effect-seeds", str(args.effect_seeds), "--select-seeds", str(args.select_seeds)]
    command += ["--gradient-seeds", str(args.gradient_seeds)]
    if args.drop:
        command[command.index("--concepts") + 1 : command.index("--out")] = [c for c in concepts if c not in args.drop]
    if args.readme_only:
        if not run_file.is_file():
            raise SystemExit(f"--readme-only needs {run_file} from an earlier run")
        info = json.loads(run_file.read_text(encoding="utf-8"))
    else:
        printed = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(printed):
            code = sceneedit_main(command)
        total = time.perf_counter() - start
        sys.stdout.write(printed.getvalue())
        if code != 0:
            print(f"sceneedit probe failed (exit code {code})", file=sys.stderr)
            return code
        (docs / "summary.txt").write_text(printed.getvalue(), encoding="utf-8")
        info = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "bundle_name": str(bundle_path),
            "predictor_file": str(predictor_path),
            "command": "sceneedit " + shlex.join(a for a in command if a != "--no-progress"),
            "timings": _stage_timings(work, total) if not args.resume else {"total": f"{total:.0f} s (resumed)"},
            "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores, {args.threads} torch thread(s)",
            "drop_reasons": {name: reason for name, reason in DROPPED.items() if name not in concepts},
        }
        run_file.write_text(json.dumps(info, indent=2), encoding="utf-8")

    bundle = load_bundle(bundle_path)
    generator = load_generator(generator_path, device="cpu")
    for warning in check_bundle(bundle, generator):
        print(f"warning: {warning}", file=sys.stderr)
    info = {**info, "predictor_metrics": load_world_predictor(predictor_path).metrics}
    readme = write_readme(bundle, docs / "README.md", info)
    print(f"README: {readme}\ntimings: {info['timings']}")
    return 0
