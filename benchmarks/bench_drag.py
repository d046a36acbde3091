"""Point-and-drag precision, locality and speed, measured independently of the drag's tracker.

A fixed evaluation set (DragBench-style): ``--drags`` drags (default 24), drag ``i`` on seed
``i`` of the generator (default: the shipped ``resources/default_generator.safetensors``),
one handle on a textured, unambiguous spot of the scene, dragged 6-12 px in a random
direction (all drawn from ``RandomState(1000 + i)``, so the set never changes).

Where the handle's content really went is found by **normalized cross-correlation** of the
original RGB patch (``--patch`` px, default 9) in the final image, searched within 20 px of
the handle, with parabolic sub-pixel refinement. This tracker shares nothing with the drag's
own (which matches generator features); it is checked on the undragged image (distance 0).

For each setting it prints: the distance from the target to where the content ended
(mean, median, p90, max, count farther than it started), the image change outside the
locality region (pixels farther than ``--region`` px from the handle-target segment; mean
absolute change in 0-255 levels), the world predictor's score change (mean |delta| over its
17 scores, and over the 6 layout scores: camera and room shape), steps, ms per step and
s per drag. ``masked`` runs pass that region as the drag's mask (1 = may change) and render
the result as the editor does (with ``blend``, the default: the spatial feature blend of the
dragged and the original code, :mod:`sceneedit.editing.spatial_blend`).

    python benchmarks/bench_drag.py                  # default settings, no mask and masked
    python benchmarks/bench_drag.py --modes nomask --drags 8
    python benchmarks/bench_drag.py --json runs/drag.json
    python benchmarks/bench_drag.py --modes masked --strip docs/drag_strip.png   # before/after pictures

Runs on one torch thread (``--threads``); the machine's load average is printed with the
figures because wall-clock timing depends on it. The process's CPU time per step and per
drag is printed beside it: on a shared machine it is what the wall time would be on an idle
core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

LAYOUT_SCORES = ("camera_yaw", "camera_pitch", "camera_x", "room_width", "room_depth", "room_height")
SEARCH_RADIUS = 20


@dataclass(frozen=True)
class DragCase:
    seed: int
    handle: tuple[float, float]
    target: tuple[float, float]

    @property
    def length(self) -> float:
        return math.hypot(self.target[0] - self.handle[0], self.target[1] - self.handle[1])


# ----- the independent tracker -----------------------------------------------------------


def _patch(image: np.ndarray, y: int, x: int, half: int) -> np.ndarray:
    return image[y - half : y + half + 1, x - half : x + half + 1]


def ncc_map(image: np.ndarray, template: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    """Zero-mean normalized cross-correlation of ``template [k, k, 3]`` with every patch of
    ``image [H, W, 3]`` centred within ``radius`` of ``centre``; ``[2r+1, 2r+1]`` (-inf where
    the patch would leave the image)."""
    half = template.shape[0] // 2
    height, width = image.shape[:2]
    t = template.astype(np.float64)
    t = t - t.mean()
    t_norm = np.sqrt((t * t).sum()) + 1e-9
    out = np.full((2 * radius + 1, 2 * radius + 1), -np.inf)
    cy, cx = centre
    for dy in range(-radius, radius + 1):
        y = cy + dy
        if y - half < 0 or y + half >= height:
            continue
        for dx in range(-radius, radius + 1):
            x = cx + dx
            if x - half < 0 or x + half >= width:
                continue
            p = _patch(image, y, x, half).astype(np.float64)
            p = p - p.mean()
            out[dy + radius, dx + radius] = float((p * t).sum() / (np.sqrt((p * p).sum()) * t_norm + 1e-9))
    return out


def _parabola(minus: float, zero: float, plus: float) -> float:
    """Sub-pixel peak offset in [-0.5, 0.5] of three samples around a maximum."""
    if not all(map(math.isfinite, (minus, zero, plus))):
        return 0.0
    denominator = minus - 2 * zero + plus
    if denominator >= 0:
        return 0.0
    return float(np.clip(0.5 * (minus - plus) / denominator, -0.5, 0.5))


def locate(
    original: np.ndarray, final: np.ndarray, handle: tuple[float, float], half: int
) -> tuple[tuple[float, float], float]:
    """Where the ``(2 half + 1)``-px patch of ``original`` at ``handle`` lies in ``final``:
    ``((y, x) sub-pixel, peak NCC)``."""
    cy, cx = int(round(handle[0])), int(round(handle[1]))
    template = _patch(original, cy, cx, half)
    scores = ncc_map(final, template, (cy, cx), SEARCH_RADIUS)
    iy, ix = np.unravel_index(int(np.argmax(scores)), scores.shape)
    peak = float(scores[iy, ix])
    sy = _parabola(scores[iy - 1, ix], peak, scores[iy + 1, ix]) if 0 < iy < scores.shape[0] - 1 else 0.0
    sx = _parabola(scores[iy, ix - 1], peak, scores[iy, ix + 1]) if 0 < ix < scores.shape[1] - 1 else 0.0
    return (cy + iy - SEARCH_RADIUS + sy, cx + ix - SEARCH_RADIUS + sx), peak


# ----- the evaluation set ----------------------------------------------------------------


def pick_case(image: np.ndarray, seed: int, index: int, half: int) -> DragCase:
    """A handle on a textured spot whose patch is unambiguous within the search window, and a
    target 6-12 px away in a random direction (deterministic in ``index``)."""
    rng = np.random.RandomState(1000 + index)
    size = image.shape[0]
    margin = half + 13  # handle and target patches stay inside the image
    gray = image.astype(np.float64).mean(axis=2)
    candidates = []
    for _ in range(120):
        y, x = (int(v) for v in rng.randint(margin, size - margin, size=2))
        contrast = float(_patch(gray, y, x, half).std())
        candidates.append((contrast, y, x))
    candidates.sort(reverse=True)
    for _contrast, y, x in candidates[:40]:
        scores = ncc_map(image, _patch(image, y, x, half), (y, x), 6)
        scores[4:9, 4:9] = -np.inf  # the peak itself and its 2-px neighbourhood
        if float(scores.max()) < 0.8:
            break
    for _ in range(100):
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(6.0, 12.0)
        ty, tx = y + length * math.sin(angle), x + length * math.cos(angle)
        if half + 1 <= ty <= size - half - 2 and half + 1 <= tx <= size - half - 2:
            return DragCase(seed, (float(y), float(x)), (round(ty, 2), round(tx, 2)))
    raise RuntimeError(f"no target for drag {index}")


def region_mask(size: int, case: DragCase, radius: float) -> np.ndarray:
    """1 within ``radius`` px of the handle-target segment, else 0 (float32 ``[size, size]``)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    (hy, hx), (ty, tx) = case.handle, case.target
    dy, dx = ty - hy, tx - hx
    t = np.clip(((ys - hy) * dy + (xs - hx) * dx) / max(dy * dy + dx * dx, 1e-9), 0, 1)
    distance = np.hypot(ys - (hy + t * dy), xs - (hx + t * dx))
    return (distance <= radius).astype(np.float32)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q * 100))


# ----- running ---------------------------------------------------------------------------


def default_settings(generator, mask=None, **overrides):
    """The settings the editor uses for this generator (with ``mask``)."""
    from dataclasses import replace

    from sceneedit.editing import drag

    if hasattr(drag, "default_settings"):
        settings = drag.default_settings(generator)
    else:  # the editor's settings before issue 14 (app/drag_tool.py)
        resolution = int(generator.resolution)
        settings = drag.DragSettings(
            steps=200, lr=2e-3, motion_radius=max(2.0, resolution / 32), track_radius=max(3.0, resolution / 16)
        )
    return replace(settings, mask=mask, **overrides)


def run_mode(generator, predictor, cases, codes, originals, args, masked: bool, overrides: dict) -> dict:
    from sceneedit.editing.drag import run_drag
    from sceneedit.editing.spatial_blend import synthesize_masked
    from sceneedit.generators.base import to_uint8_images

    size = int(generator.resolution)
    names = list(predictor.score_names)
    layout = [names.index(n) for n in LAYOUT_SCORES if n in names]
    rows = []
    for case, wp, original in zip(cases, codes, originals, strict=True):
        region = region_mask(size, case, args.region)
        settings = default_settings(generator, region if masked else None, **overrides)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = run_drag(generator, wp, [case.handle], [case.target], settings)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        with torch.no_grad():
            if masked and settings.blend:  # rendered as the editor renders a masked drag
                final_t = synthesize_masked(generator, result.wp, wp, region)
            else:
                final_t = generator.synthesize(torch.from_numpy(result.wp)[None])
            final = to_uint8_images(final_t)[0]
            original_t = torch.from_numpy(original).permute(2, 0, 1)[None].float() / 127.5 - 1
            scores = predictor.score(torch.cat([original_t, final_t.clamp(-1, 1)])).numpy()
        found, peak = locate(original, final, case.handle, args.patch // 2)
        distance = math.hypot(found[0] - case.target[0], found[1] - case.target[1])
        outside = region < 0.5
        change = np.abs(final.astype(np.float64) - original.astype(np.float64)).mean(axis=2)
        delta = np.abs(scores[1] - scores[0])
        if len(STRIP) < args.strip_count and args.strip and mode_name(masked) == args.modes[0]:
            STRIP.append((case, original, final, found))
        tracked = result.handles_final[0]
        rows.append(
            {
                "seed": case.seed,
                "handle": case.handle,
                "target": case.target,
                "start": case.length,
                "found": found,
                "ncc": peak,
                "distance": distance,
                "tracker_distance": math.hypot(tracked[0] - case.target[0], tracked[1] - case.target[1]),
                "outside_change": float(change[outside].mean()),
                "inside_change": float(change[~outside].mean()),
                "pred_all": float(delta.mean()),
                "pred_layout": float(delta[layout].mean()),
                "steps": int(result.steps_run),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "ms_per_step": 1000 * seconds / max(result.steps_run, 1),
            }
        )
        if args.verbose:
            r = rows[-1]
            print(
                f"  seed {case.seed:2d} start {r['start']:5.2f} -> {r['distance']:5.2f} px (ncc {peak:.2f}, "
                f"tracker {r['tracker_distance']:.2f}) outside {r['outside_change']:.2f} steps {r['steps']} "
                f"{seconds:.2f} s",
                flush=True,
            )
    return summarize(rows)


STRIP: list = []


def mode_name(masked: bool) -> str:
    return "masked" if masked else "nomask"


def write_strip(path: str, scale: int = 4) -> None:
    """Before/after pairs: the handle (red), the target (blue ring) and, after, where the
    independent tracker found the handle's content (red)."""
    from PIL import Image, ImageDraw

    tiles = []
    for case, original, final, found in STRIP:
        pair = []
        for image, point in ((original, case.handle), (final, found)):
            tile = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
            draw = ImageDraw.Draw(tile)

            def ring(p, color, r, width, draw=draw):
                cy, cx = (p[0] + 0.5) * scale, (p[1] + 0.5) * scale
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=color, width=width)

            ring(case.target, (40, 110, 255), 7, 2)
            ring(point, (255, 40, 40), 3, 3)
            if image is original:
                draw.line(
                    [
                        ((case.handle[1] + 0.5) * scale, (case.handle[0] + 0.5) * scale),
                        ((case.target[1] + 0.5) * scale, (case.target[0] + 0.5) * scale),
                    ],
                    fill=(255, 255, 255),
                )
            pair.append(tile)
        tiles.append(pair)
    width, height = tiles[0][0].size
    gap = 6
    strip = Image.new("RGB", (len(tiles) * (2 * width + gap) - gap + gap * 2, height + 2 * gap), (255, 255, 255))
    for i, (before, after) in enumerate(tiles):
        x = gap + i * (2 * width + gap)
        strip.paste(before, (x, gap))
        strip.paste(after, (x + width, gap))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    strip.save(path)


def summarize(rows: list[dict]) -> dict:
    distances = [r["distance"] for r in rows]
    return {
        "rows": rows,
        "n": len(rows),
        "mean": statistics.fmean(distances),
        "median": statistics.median(distances),
        "p90": percentile(distances, 0.9),
        "max": max(distances),
        "farther": sum(r["distance"] > r["start"] for r in rows),
        "start_mean": statistics.fmean(r["start"] for r in rows),
        "tracker_mean": statistics.fmean(r["tracker_distance"] for r in rows),
        "low_ncc": sum(r["ncc"] < 0.5 for r in rows),
        "outside": statistics.fmean(r["outside_change"] for r in rows),
        "outside_max": max(r["outside_change"] for r in rows),
        "pred_all": statistics.fmean(r["pred_all"] for r in rows),
        "pred_layout": statistics.fmean(r["pred_layout"] for r in rows),
        "steps": statistics.fmean(r["steps"] for r in rows),
        "ms_per_step": sum(r["seconds"] for r in rows) * 1000 / max(sum(r["steps"] for r in rows), 1),
        "s_per_drag": statistics.fmean(r["seconds"] for r in rows),
        "s_max": max(r["seconds"] for r in rows),
        # CPU time of this process: what the wall time would be on an idle core (one thread).
        "cpu_ms_per_step": sum(r["cpu_seconds"] for r in rows) * 1000 / max(sum(r["steps"] for r in rows), 1),
        "cpu_s_per_drag": statistics.fmean(r["cpu_seconds"] for r in rows),
        "cpu_s_max": max(r["cpu_seconds"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", help="generator file (default: the shipped default generator)")
    parser.add_argument("--drags", type=int, default=24, help="size of the evaluation set (drag i on seed i)")
    parser.add_argument("--patch", type=int, default=9, help="side of the matched patch, px (odd)")
    parser.add_argument(
        "--region",
        type=float,
        default=10.0,
        help="locality region: px around the handle-target segment (the mask of masked runs)",
    )
    parser.add_argument("--modes", nargs="+", default=["nomask", "masked"], choices=["nomask", "masked"])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a DragSettings field (JSON value), e.g. --set lr=0.004",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write every drag's figures here")
    parser.add_argument("--strip", help="write a before/after PNG of the first drags of the first mode here")
    parser.add_argument("--strip-count", type=int, default=4)
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from sceneedit.editing.codes import code_for_seed
    from sceneedit.generators import load_generator
    from sceneedit.generators.base import to_uint8_images
    from sceneedit.resources import default_generator_path
    from sceneedit.semantics.predictors.world import load_world_predictor

    path = Path(args.generator) if args.generator else default_generator_path()
    generator = load_generator(path).eval().requires_grad_(False)
    predictor = load_world_predictor()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)

    cases, codes, originals, bias = [], [], [], []
    for index in range(args.drags):
        wp = code_for_seed(generator, index)
        with torch.no_grad():
            image = to_uint8_images(generator.synthesize(torch.from_numpy(wp)[None]))[0]
        cases.append(pick_case(image, index, index, args.patch // 2))
        codes.append(wp)
        originals.append(image)
        (y, x), _ = locate(image, image, cases[-1].handle, args.patch // 2)
        bias.append(math.hypot(y - cases[-1].handle[0], x - cases[-1].handle[1]))

    load = os.getloadavg()[0]
    if max(bias) > 0.3:
        raise SystemExit(f"the independent tracker misplaces an unmoved patch by {max(bias):.2f} px")
    print(
        f"# {path.name}: {generator.resolution} px, {args.drags} drags of "
        f"{min(c.length for c in cases):.1f}-{max(c.length for c in cases):.1f} px "
        f"(mean {statistics.fmean(c.length for c in cases):.2f}); independent tracker: NCC of the "
        f"{args.patch}x{args.patch} RGB patch (error on unmoved images: max {max(bias):.2f} px); "
        f"region {args.region:g} px; torch threads {args.threads}; load average {load:.2f} on {os.cpu_count()} CPUs; "
        f"settings {default_settings(generator, None, **overrides)!r}",
        flush=True,
    )
    results = {}
    for mode in args.modes:
        results[mode] = run_mode(generator, predictor, cases, codes, originals, args, mode == "masked", overrides)
    load_after = os.getloadavg()[0]

    print()
    print(
        "| mode | mean px | median | p90 | max | farther than start | drag's own tracker mean | "
        "outside-region change (0-255) mean / max | predictor Δ all / layout | steps | ms/step wall (CPU) | "
        "s/drag wall mean / max | s/drag CPU mean / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, s in results.items():
        print(
            f"| {mode} | {s['mean']:.2f} | {s['median']:.2f} | {s['p90']:.2f} | {s['max']:.2f} | "
            f"{s['farther']} / {s['n']} | {s['tracker_mean']:.2f} | {s['outside']:.2f} / {s['outside_max']:.2f} | "
            f"{s['pred_all']:.4f} / {s['pred_layout']:.4f} | {s['steps']:.1f} | {s['ms_per_step']:.1f} "
            f"({s['cpu_ms_per_step']:.1f}) | {s['s_per_drag']:.2f} / {s['s_max']:.2f} | "
            f"{s['cpu_s_per_drag']:.2f} / {s['cpu_s_max']:.2f} |"
        )
    print(
        f"\nstart distance mean {results[args.modes[0]]['start_mean']:.2f} px; "
        f"load average {load:.2f} -> {load_after:.2f}"
    )
    if args.strip and STRIP:
        write_strip(args.strip)
        print(f"before/after strip: {args.strip}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
