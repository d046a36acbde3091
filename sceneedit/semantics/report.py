"""The probe report: a concept x layer heatmap of Δs (PNG), a Markdown table, and a
summary of where each abstraction level peaks. Everything is read from a bundle's
re-scoring fields (``delta_s``, ``delta_s_all``, ``layers``, ``level``).

Heatmap cells are row-normalized (each concept's Δs divided by its largest layer value),
since concepts' score scales differ; the raw peak is printed at the row's end. Rows are
grouped by level in the paper's order (layout, objects, attributes, color); the chosen
manipulation layers are outlined.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..files import atomic_path, atomic_write_text
from .bundle import BundleError
from .concepts import LEVELS, BoundaryBundle, Concept, format_distance_range
from .layers import format_layer_spec

# A perceptually ordered ramp (light yellow -> green -> blue -> dark purple).
_RAMP = np.array(
    [
        [255, 255, 217],
        [199, 233, 180],
        [127, 205, 187],
        [65, 182, 196],
        [29, 145, 192],
        [34, 94, 168],
        [37, 52, 148],
        [8, 29, 88],
    ],
    dtype=np.float64,
)


def _color(value: float) -> tuple[int, int, int]:
    value = float(np.clip(value, 0.0, 1.0)) * (len(_RAMP) - 1)
    low = int(np.floor(value))
    high = min(low + 1, len(_RAMP) - 1)
    mix = _RAMP[low] * (1 - (value - low)) + _RAMP[high] * (value - low)
    red, green, blue = (int(round(c)) for c in mix)
    return red, green, blue


def format_delta(value: float) -> str:
    """Δs for tables: 4 decimals, or 2 significant digits when it is nonzero but would
    print as 0.0000 (a weak predictor's response is tiny, not absent)."""
    value = float(value)
    return f"{value:.4f}" if value == 0 or abs(value) >= 5e-5 else f"{value:.1e}"


def rescored_concepts(bundle: BoundaryBundle) -> list[Concept]:
    """Concepts with a per-layer profile, grouped by level (paper order), in bundle order."""
    ordered: list[Concept] = []
    for level in LEVELS:
        ordered += [c for c in bundle if c.level == level and c.delta_s is not None]
    return ordered


def normalized_profile(concept: Concept) -> np.ndarray:
    values = np.clip(np.asarray(concept.delta_s, dtype=np.float64), 0, None)
    peak = values.max() if values.size else 0.0
    return values / peak if peak > 0 else values


def level_summary(bundle: BoundaryBundle) -> list[str]:
    """One line per level: the layer where the level's mean normalized Δs profile peaks,
    and the layers holding at least half of that peak."""
    lines: list[str] = []
    concepts = rescored_concepts(bundle)
    for level in LEVELS:
        members = [c for c in concepts if c.level == level]
        if not members:
            continue
        mean = np.mean([normalized_profile(c) for c in members], axis=0)
        peak = int(np.argmax(mean))
        strong = [i for i, v in enumerate(mean) if v >= 0.5 * mean[peak]] if mean[peak] > 0 else []
        names = ", ".join(c.name for c in members)
        lines.append(
            f"{level:<10} peaks at layer {peak} (>= half of peak: layers {format_layer_spec(strong) or '-'}) "
            f"[{len(members)} concept{'s' if len(members) != 1 else ''}: {names}]"
        )
    return lines


def markdown_table(bundle: BoundaryBundle) -> str:
    """Concepts x layers Δs table; the chosen layers in bold."""
    concepts = rescored_concepts(bundle)
    if not concepts:
        return "_No re-scored concepts._\n"
    num_layers = len(concepts[0].delta_s or [])
    header = ["level", "concept", "SVM acc.", "Δs all", "layers"] + [f"L{i}" for i in range(num_layers)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in concepts:
        cells = [
            c.level,
            c.name,
            "-" if c.accuracy is None else f"{c.accuracy:.3f}",
            "-" if c.delta_s_all is None else format_delta(c.delta_s_all),
            format_layer_spec(c.layers),
        ]
        for layer, value in enumerate(c.delta_s or []):
            text = format_delta(value)
            cells.append(f"**{text}**" if layer in c.layers else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def draw_heatmap(bundle: BoundaryBundle, path: str | Path, cell: int = 28) -> Path:
    """Write the concept x layer heatmap PNG to ``path``."""
    from PIL import Image, ImageDraw, ImageFont

    path = Path(path)
    concepts = rescored_concepts(bundle)
    if not concepts:
        raise BundleError("the bundle has no re-scored concepts (no Δs) to draw")
    num_layers = len(concepts[0].delta_s or [])
    font = ImageFont.load_default(size=12)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_width(text: str) -> int:
        left, _, right, _ = probe.textbbox((0, 0), text, font=font)
        return int(right - left)

    label_w = max(text_width(c.name) for c in concepts) + 16
    level_w = max(text_width(level) for level in LEVELS) + 16
    value_w = text_width("max 0.0000") + 16
    top = 40
    groups: list[tuple[str, list[Concept]]] = []
    for c in concepts:
        if not groups or groups[-1][0] != c.level:
            groups.append((c.level, []))
        groups[-1][1].append(c)
    gap = 6
    height = top + len(concepts) * cell + gap * (len(groups) - 1) + 40
    title = "delta-s per layer, row-normalized (outlined: chosen layers)"
    width = max(level_w + label_w + num_layers * cell + value_w + 10, text_width(title) + 12)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    x0 = level_w + label_w
    draw.text((4, 4), title, fill="black", font=font)
    for layer in range(num_layers):
        label = str(layer)
        draw.text((x0 + layer * cell + (cell - text_width(label)) // 2, top - 16), label, fill="black", font=font)
    y = top
    for level, members in groups:
        draw.text((4, y + 4), level, fill=(90, 90, 90), font=font)
        for c in members:
            draw.text((level_w, y + cell // 2 - 6), c.name, fill="black", font=font)
            for layer, value in enumerate(normalized_profile(c)):
                box = (x0 + layer * cell, y, x0 + (layer + 1) * cell - 1, y + cell - 1)
                draw.rectangle(box, fill=_color(value))
            for layer in c.layers:
                box = (x0 + layer * cell, y, x0 + (layer + 1) * cell - 1, y + cell - 1)
                draw.rectangle(box, outline=(220, 30, 30), width=2)
            peak = max(c.delta_s) if c.delta_s else 0.0
            draw.text(
                (x0 + num_layers * cell + 8, y + cell // 2 - 6), f"max {format_delta(peak)}", fill="black", font=font
            )
            y += cell
        y += gap
    # color bar
    bar_y = y + 8
    for i in range(num_layers * cell):
        draw.line([(x0 + i, bar_y), (x0 + i, bar_y + 10)], fill=_color(i / max(1, num_layers * cell - 1)))
    draw.text((x0 - text_width("0") - 4, bar_y - 1), "0", fill="black", font=font)
    draw.text((x0 + num_layers * cell + 4, bar_y - 1), "1", fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG")
    return path


def _diverging(value: float) -> tuple[int, int, int]:
    """-1 blue, 0 white, +1 red (values clipped)."""
    value = float(np.clip(value, -1.0, 1.0))
    a = abs(value)
    far = (178, 24, 43) if value > 0 else (33, 102, 172)
    red, green, blue = (int(round(255 * (1 - a) + c * a)) for c in far)
    return red, green, blue


def draw_effect_matrix(bundle: BoundaryBundle, path: str | Path, cell: int = 34, scale: float = 3.0) -> Path:
    """Write the concept x score effect matrix (``bundle.extra['effects']``) as a PNG.

    Cell colour: the mean score change over the slider range in std units, clipped at
    ``±scale`` (red up, blue down); each cell prints its value; the own score is outlined.
    """
    from PIL import Image, ImageDraw, ImageFont

    effects = (bundle.extra or {}).get("effects")
    if not effects or not effects.get("concepts"):
        raise BundleError("the bundle has no measured effects (probe with --effect-seeds > 0)")
    path = Path(path)
    concepts, scores = list(effects["concepts"]), list(effects["scores"])
    matrix = np.asarray(effects["matrix"], dtype=np.float64)
    font = ImageFont.load_default(size=11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_width(text: str) -> int:
        left, _, right, _ = probe.textbbox((0, 0), text, font=font)
        return int(right - left)

    label_w = max(text_width(c) for c in concepts) + 12
    sel_w = text_width("sel. 99.9") + 16
    top = 30 + max(text_width(s) for s in scores) + 8
    width = label_w + len(scores) * cell + sel_w + 10
    height = top + len(concepts) * cell + 24
    title = (
        f"concept x score: mean change over the slider range, std units "
        f"({effects.get('num_seeds')} seeds {effects.get('seeds')}; outlined: own score)"
    )
    width = max(width, text_width(title) + 12)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((4, 4), title, fill="black", font=font)
    reliable = effects.get("reliable_scores")
    for j, name in enumerate(scores):  # vertical labels; scores not counted as side effects in grey, starred
        counted = reliable is None or name in reliable
        name = name if counted else f"{name} *"
        label = Image.new("RGB", (text_width(name) + 4, 14), "white")
        ImageDraw.Draw(label).text((2, 0), name, fill="black" if counted else (150, 150, 150), font=font)
        label = label.rotate(90, expand=True)
        image.paste(label, (label_w + j * cell + (cell - 14) // 2, top - 6 - label.height))
    for i, concept in enumerate(concepts):
        y = top + i * cell
        draw.text((4, y + cell // 2 - 6), concept, fill="black", font=font)
        for j, value in enumerate(matrix[i]):
            box = (label_w + j * cell, y, label_w + (j + 1) * cell - 1, y + cell - 1)
            draw.rectangle(box, fill=_diverging(value / scale))
            text = f"{value:+.1f}"
            color = "white" if abs(value) > 0.6 * scale else "black"
            draw.text((box[0] + (cell - text_width(text)) // 2, y + cell // 2 - 6), text, fill=color, font=font)
            if scores[j] == concept:
                draw.rectangle(box, outline=(0, 0, 0), width=2)
        effect = bundle[concept].extra.get("effect") if concept in bundle else None
        if isinstance(effect, dict):
            draw.text(
                (label_w + len(scores) * cell + 8, y + cell // 2 - 6),
                f"sel. {effect['selectivity']:.1f}",
                fill="black",
                font=font,
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG")
    return path


def direction_label(effect: dict) -> str:
    """``svm``, or the refinement and the scores it holds still (``svm+held (a, b)``)."""
    selection = effect.get("selection") or {}
    held = selection.get("scores_held") or []
    return selection.get("direction", "svm") + (f" ({', '.join(held)})" if held else "")


def side_effect_rule(effects: dict, unreliable_note: str) -> str:
    """'Side effects: <rule>' of a bundle's effect matrix, naming the scores it leaves out after
    ``unreliable_note`` (the predictor reads them poorly), for the reports."""
    text = f"Side effects: {effects.get('reliability_rule', 'all scores')}"
    if effects.get("reliable_scores"):
        left_out = ", ".join(n for n in effects["scores"] if n not in effects["reliable_scores"])
        text += f" ({unreliable_note}: {left_out})"
    return text


def effect_table(bundle: BoundaryBundle) -> str:
    """Per measured concept: own effect, largest side effect (and its score), selectivity,
    category flip rate, direction method, layers, slider range and default hold."""
    rows = [c for c in bundle if isinstance(c.extra.get("effect"), dict)]
    if not rows:
        return "_No measured effects._\n"
    lines = [
        "| concept | own effect (std) | largest side effect (std) | selectivity | flips category | direction "
        "(scores held) | layers | slider range | holds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in rows:
        e = c.extra["effect"]
        flip = "-" if e.get("flip_rate") is None else f"{e['flip_rate']:.0%}"
        hold = ", ".join(c.extra.get("hold") or []) or "-"
        lines.append(
            f"| {c.name} | {e['own_std']:+.2f} | {e['side_std']:.2f} ({e['side_score']}) | "
            f"{e['selectivity']:.2f} | {flip} | {direction_label(e)} | {format_layer_spec(c.layers)} | "
            f"{format_distance_range(c.distance_range)} | {hold} |"
        )
    return "\n".join(lines) + "\n"


def write_report(bundle: BoundaryBundle, out_dir: str | Path, title: str = "Probe report") -> dict[str, Path]:
    """Write ``heatmap.png``, ``effects.png`` (when measured) and ``report.md`` to ``out_dir``;
    returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    heatmap = draw_heatmap(bundle, out_dir / "heatmap.png")
    effects_png = None
    if (bundle.extra or {}).get("effects"):
        effects_png = draw_effect_matrix(bundle, out_dir / "effects.png")
    fp = bundle.generator_fingerprint or {}
    ranked = sorted((c for c in bundle if c.delta_s_all is not None), key=lambda c: -c.delta_s_all)
    lines = [
        f"# {title}",
        "",
        f"Generator: {fp.get('arch')} {fp.get('resolution')} px, {fp.get('num_layers')} layers, "
        f"w_dim {fp.get('w_dim')}, weights {fp.get('weights_hash')}.",
        "",
        "![Δs heatmap](heatmap.png)",
        "",
        "## Where each level peaks",
        "",
        *[f"- {line}" for line in level_summary(bundle)],
        "",
        "## Most relevant semantics (Δs with all layers moved)",
        "",
        *[f"{i + 1}. {c.name} ({c.level}): {format_delta(c.delta_s_all)}" for i, c in enumerate(ranked)],
        "",
        "## Per-layer Δs (chosen layers in bold)",
        "",
        markdown_table(bundle),
    ]
    if effects_png is not None:
        effects = bundle.extra["effects"]
        lines += [
            "## What each concept does (concept x score matrix)",
            "",
            f"Each concept edited over its slider range on its layers, on {effects['num_seeds']} seeds "
            f"({effects['seeds']}), scored by the predictor; the change of every score in standard "
            "deviations of that score over the unedited samples. Selectivity = own effect / largest side "
            f"effect (another factor's score; side effects under {effects['side_floor']} std count as "
            f"{effects['side_floor']}). {side_effect_rule(effects, 'starred columns are not counted')}.",
            "",
            "![concept x score matrix](effects.png)",
            "",
            effect_table(bundle),
        ]
    markdown = out_dir / "report.md"
    atomic_write_text(markdown, "\n".join(lines))
    result = {"heatmap": heatmap, "markdown": markdown}
    if effects_png is not None:
        result["effects"] = effects_png
    return result
