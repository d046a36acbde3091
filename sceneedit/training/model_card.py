"""The default generator's model card, written from its file, its evaluation and its training run.

    python -m sceneedit.training.evaluate --num 5000 --out runs/default_eval --cache-dir cache/eval
    python scripts/write_model_card.py --figures runs/default_eval --run-dir RUN_DIR \\
        --note "What the samples look like (say it after looking at docs/default_samples.png)"

Reads the generator's own metadata (architecture, iterations, images, wall time, hardware, recipe),
the evaluation's ``figures.json`` (refused unless it was measured on this very generator), and
optionally the run folder's ``log.jsonl`` (retuning events, final losses, speed:
:mod:`sceneedit.training.run_folder`). Writes ``resources/default_generator.md`` (default: next to
the generator) and copies the evaluation's 8x8 grid to ``docs/default_samples.png``. The card ends
with a machine-readable block holding the category bound that ``tests/test_default_generator.py``
checks. ``scripts/write_model_card.py`` is the command line (:func:`main`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import atomic_copy, atomic_write_text
from ..scenes import FACTOR_SPEC
from .evaluate import (
    CATEGORY_BOUND_PP,
    CHECK_COUNT,
    CHECK_PSI,
    CHECK_SEED,
    WORLD_SHARES_COUNT,
    WORLD_SHARES_SEED,
    format_quality_block,
)
from .run_folder import FINAL_WINDOW, read_run_log

#: The checkout this module is part of (the card's default sample-grid path is in its docs/).
REPO = Path(__file__).resolve().parents[2]

#: Predictor R^2 below which a factor is reported as one the figures cannot see.
WEAK_R2 = 0.3
#: A generated score mean this many rendered standard deviations off is called out.
MEAN_SHIFT_NOTABLE = 0.5
#: A generated score spread below this fraction of the rendered one is called out (lost variety).
STD_RATIO_NOTABLE = 0.6


# ----- inputs ----------------------------------------------------------------------------------
def check_figures_match(figures: dict[str, Any], generator) -> None:
    """Refuse figures measured on another generator (compares weight hashes)."""
    from sceneedit.generators.fingerprint import generator_fingerprint

    measured = figures["generator"]["fingerprint"]["weights_hash"]
    actual = generator_fingerprint(generator)["weights_hash"]
    if measured != actual:
        raise ValueError(
            f"the figures were measured on generator weights {measured}, but this generator's are {actual}; "
            "re-run python -m sceneedit.training.evaluate on this file"
        )


# ----- the card ----------------------------------------------------------------------------------
def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def _hours(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 3600:.2f} h)"


@dataclass(frozen=True)
class _Figures:
    """The parts of an evaluation's ``figures.json`` the card's sections read."""

    figures: dict[str, Any]

    @property
    def gen(self) -> dict[str, Any]:
        return self.figures["generator"]

    @property
    def desc(self) -> dict[str, Any]:
        return self.gen["describe"]

    @property
    def training(self) -> dict[str, Any]:
        return self.gen.get("training") or {}

    @property
    def recipe(self) -> dict[str, Any]:
        return self.training.get("recipe", {})

    @property
    def settings(self) -> dict[str, Any]:
        return self.figures["settings"]

    @property
    def trunc(self) -> dict[str, Any]:
        return self.settings["default_truncation"]

    @property
    def fd(self) -> dict[str, Any]:
        return self.figures["frechet_distance"]

    @property
    def truncated(self) -> bool:
        return "generated_truncated" in self.fd

    @property
    def cats(self) -> dict[str, Any]:
        return self.figures["categories"]

    @property
    def gaps(self) -> dict[str, float]:
        return self.cats["max_gap_pp_vs_world"]

    @property
    def confidence(self) -> dict[str, Any]:
        return self.cats.get("confidence", {})

    @property
    def check(self) -> dict[str, Any]:
        return self.figures["check"]

    @property
    def predictor(self) -> dict[str, Any]:
        return self.figures["predictor"]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.predictor.get("metrics") or {}


def model_card_markdown(
    figures: dict[str, Any],
    generator_name: str,
    run: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    samples_link: str = "../docs/default_samples.png",
    evaluate_command: str | None = None,
    card_command: str | None = None,
) -> str:
    """The card's Markdown text (see the module docstring)."""
    v = _Figures(figures)
    sections = [
        _intro(v, generator_name, samples_link),
        _data(v, run),
        _architecture(v),
        _training(v),
        _training_log(v, run),
        _quality_sets(v),
        _distance_table(v),
        _category_histogram(v),
        _score_table(v),
        _category_bound(v),
        _reproduce(v, evaluate_command, card_command),
        _limitations(v),
        _score_drift(v),
        [*_closing_notes(v, notes), *_quality_block(v)],
    ]
    return "\n".join(line for section in sections for line in section)


def _intro(v: _Figures, generator_name: str, samples_link: str) -> list[str]:
    """Title, what the generator is, the sample grid."""
    trunc, layers = v.trunc, v.desc["num_layers"]
    lines: list[str] = []
    add = lines.append
    add(f"# Default generator (`{generator_name}`)")
    add("")
    add(
        "The generator `sceneedit` opens when no other model is given: a StyleGAN trained by the project on its "
        "procedural room world (`sceneedit.scenes`), whose factors at the paper's four abstraction levels are known "
        "exactly. No pretrained scene GAN can be downloaded on the machines this project is built on, so the "
        "project trains its own."
    )
    add("")
    add(
        f"![8x8 samples, seeds 0-63, default truncation (psi {trunc['psi']} on the first {trunc['layers']} layers)]"
        f"({samples_link})"
    )
    add("")
    add(
        f"*Seeds 0-63 (`sceneedit synth --seeds 0-63`), default truncation psi {trunc['psi']} on the first "
        f"{trunc['layers']} of {layers} layers. Rendered rooms for comparison: `docs/world_samples.png`.*"
    )
    add("")

    return lines


def _data(v: _Figures, run: dict[str, Any] | None) -> list[str]:
    """Where the training images came from."""
    gen, settings, res = v.gen, v.settings, v.desc["resolution"]
    lines: list[str] = []
    add = lines.append
    add("## Data")
    add(
        f"- {gen.get('dataset') or 'sceneedit procedural room world'}; world version {settings['world_version']}, "
        f"rendered at {res}x{res} (4x supersampled, then downsampled)."
    )
    config = (run or {}).get("config", {})
    if config:
        add(
            f"- Training images came from a pool of {config.get('pool_size')} rendered rooms that "
            f"{config.get('data_workers')} worker process(es) kept refreshing "
            f"(`data_source={config.get('data_source')}`), "
            f"seed {config.get('seed')}; the evaluation streams below are disjoint from it."
        )
    add("- Every factor is sampled independently and uniformly within its range:")
    add("")
    add("| factor | level | kind | range | meaning |")
    add("|---|---|---|---|---|")
    for spec in FACTOR_SPEC:
        span = ", ".join(spec.choices) if spec.choices else f"{spec.low:g} .. {spec.high:g}"
        add(f"| {spec.name} | {spec.level} | {spec.kind} | {span} | {spec.description} |")
    add("")

    return lines


def _architecture(v: _Figures) -> list[str]:
    """The networks."""
    desc, cfg, trunc, recipe = v.desc, v.gen["config"], v.trunc, v.recipe
    res, layers = desc["resolution"], desc["num_layers"]
    lines: list[str] = []
    add = lines.append
    add("## Architecture")
    channels = desc.get("channels")
    add(
        f"- StyleGAN (v1) generator of sceneedit's generator core (`arch={desc['arch']}`, the class that also loads "
        f"genforce / HiGAN StyleGAN files), {res}x{res} px, **{layers} layer-wise codes** (`wp` is "
        f"`[N, {layers}, {desc['w_dim']}]`), {desc['parameters']:,} parameters (float32)."
    )
    add(
        f"- Mapping: z ({desc['z_dim']}) -> pixel norm -> {cfg.get('mapping_layers')} dense layers "
        f"({cfg.get('mapping_fmaps')} wide, learning-rate multiplier {cfg.get('mapping_lr_mul')}) "
        f"-> w ({desc['w_dim']})."
    )
    if channels:
        sizes = [4 * 2**i for i in range(len(channels))]
        add(
            "- Synthesis: learned 4x4 constant, two convolutions per resolution with AdaIN style modulation and "
            "per-pixel noise; channels "
            + ", ".join(f"{c} at {s} px" for c, s in zip(channels, sizes, strict=True))
            + f" (fmaps_base {cfg.get('fmaps_base')}, fmaps_max {cfg.get('fmaps_max')})."
        )
    add(f"- Default truncation: psi {trunc['psi']} towards the average w on the first {trunc['layers']} layers.")
    if recipe:
        add(
            f"- Discriminator (training only, not shipped): residual, fmaps_base {recipe.get('d_fmaps_base')}, "
            f"fmaps_max {recipe.get('d_fmaps_max')}, minibatch standard deviation."
        )
    add("")

    return lines


def _training(v: _Figures) -> list[str]:
    """How long and with which recipe the weights were trained."""
    training, recipe = v.training, v.recipe
    lines: list[str] = []
    add = lines.append
    add("## Training")
    if training:
        add(
            f"- {training.get('iterations', '?'):,} iterations, {training.get('images_seen', '?'):,} images seen "
            f"(batch {recipe.get('batch_size')}); exported from `{training.get('checkpoint')}` (the EMA copy of G)."
        )
        if "wall_time_s" in training:
            add(
                f"- Wall time: {_hours(float(training['wall_time_s']))} of training steps (checkpoint writes and "
                "the initial data pool are not counted)."
            )
        hardware = training.get("hardware") or []
        if hardware:
            add("- Hardware: " + "; ".join(f"`{h}`" for h in hardware) + ".")
        if recipe:
            add(
                f"- Recipe: non-saturating logistic loss, lazy R1 (gamma {recipe.get('r1_gamma')} every "
                f"{recipe.get('r1_interval')} iterations), style mixing with probability "
                f"{recipe.get('style_mixing_prob')}, equalized learning rate, Adam lr {recipe.get('g_lr')} (G) / "
                f"{recipe.get('d_lr')} (D), betas ({recipe.get('adam_beta1')}, {recipe.get('adam_beta2')}), "
                f"G EMA half-life {recipe.get('ema_kimg')} kimg (ramp-up {recipe.get('ema_rampup')}), seed "
                f"{recipe.get('seed')}. The recipe shown is the one stored in the exported checkpoint."
            )
            if recipe.get("recon_weight"):
                add(
                    f"- Paired reconstruction beside the adversarial loss (weight {recipe.get('recon_weight')}): the "
                    f"renderer draws each training room's factors from a standard-normal code (the normal CDF of each "
                    f"number mapped onto the factor's range, `sceneedit.scenes.factors_from_code`, which leaves the "
                    f"world's distribution unchanged), and G, given that code as the first numbers of its z, is "
                    f"pulled towards the room: L1 on pixels plus {recipe.get('recon_feature_weight')} x L1 on the "
                    f"world predictor's feature maps, {recipe.get('recon_batch') or recipe.get('batch_size')} rooms "
                    f"per iteration. The first {recipe.get('recon_warmup_kimg', 0):g} kimg trained G on this term "
                    f"alone (D waited). It teaches the rooms' structure in minutes where the plain GAN took hours; "
                    f"it never names layers, so the layer hierarchy the probe finds is still the network's own."
                )
    else:
        add("- The generator file carries no training metadata.")
    return lines


def _training_log(v: _Figures, run: dict[str, Any] | None) -> list[str]:
    """Retuning events and the run's final losses."""
    training = v.training
    lines: list[str] = []
    add = lines.append
    exported_at = training.get("iterations")
    retunes = training.get("retunes")
    if retunes is None:  # files exported before the trainer stored them: take the run's log
        retunes = [e for e in (run or {}).get("events", []) if e.get("event") == "retuned"]
    for event in retunes:
        if exported_at is not None and int(event.get("iteration", 0)) >= int(exported_at):
            continue  # logged on a resume at (or after) the exported checkpoint: not in these weights
        changes = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in event.get("changes", {}).items())
        add(f"- Retuned at iteration {int(event['iteration']):,} (on resume): {changes}.")
    final = (run or {}).get("final") or {}
    if final.get("loss_d") is not None:
        add(
            f"- Last {FINAL_WINDOW} log records (iterations {run['final_from']:,}-{run['final_to']:,}): "
            f"D loss {final['loss_d']:.3f}, G loss {final['loss_g']:.3f}, D(real) {final['real_score']:+.2f}, "
            f"D(fake) {final['fake_score']:+.2f}"
            + (f", reconstruction {final['recon']:.3f}" if final.get("recon") is not None else "")
            + f", {final['images_per_s']:.1f} images/s."
        )
    add("")

    return lines


def _quality_sets(v: _Figures) -> list[str]:
    """What FD-world is and which sets it compares."""
    predictor, settings = v.predictor, v.settings
    lines: list[str] = []
    add = lines.append
    add("## Quality")
    add("")
    add(
        "**No Inception weights exist offline, so there is no FID.** The Fréchet distance below (FD-world) is "
        "computed in the feature space of the world predictor (`resources/world_predictor.safetensors`, file hash "
        f"`{predictor.get('file_sha256_16')}`): {predictor['features']} ({predictor['feature_dim']} dimensions). "
        "It is comparable only with FD-world figures from the same predictor file, never with published FIDs."
    )
    add("")
    n = settings["num"]
    add(
        f"Sets: {n:,} generated images (`sample_z({n}, {settings['generated_z_seed']})`, fixed noise) against "
        f"{n:,} rendered rooms (world stream {settings['rendered_stream']}); the floor is a second rendered set "
        f"(stream {settings['reference_stream']}) against the first."
    )
    add("")
    return lines


def _distance_table(v: _Figures) -> list[str]:
    """FD-world, category gaps and confidence per set."""
    fd, gaps, trunc, truncated = v.fd, v.gaps, v.trunc, v.truncated
    lines: list[str] = []
    add = lines.append
    confidence = v.confidence

    def sure(name: str) -> str:
        c = confidence.get(name)
        return f"{c['mean_top_probability']:.3f} / {_pct(c['share_top_above_0.9'])}" if c else "-"

    add(
        "| set | FD-world vs rendered | largest category gap vs the world "
        "| category confidence: mean top probability / share above 0.9 |"
    )
    add("|---|---|---|---|")
    add(
        f"| generated, psi 1.0 (no truncation) | {fd['generated']:.3f} | {gaps['generated']:.1f} pp "
        f"| {sure('generated')} |"
    )
    if truncated:
        add(
            f"| generated, default truncation (psi {trunc['psi']}, {trunc['layers']} layers) | "
            f"{fd['generated_truncated']:.3f} | {gaps['generated_truncated']:.1f} pp | {sure('generated_truncated')} |"
        )
    add(
        f"| rendered (floor: a second rendered set vs the first) | {fd['rendered_reference']:.3f} | "
        f"{gaps['rendered_predicted']:.1f} pp (predicted vs true labels) | {sure('rendered')} |"
    )
    add("")
    return lines


def _category_histogram(v: _Figures) -> list[str]:
    """Category shares per set."""
    cats, trunc, truncated = v.cats, v.trunc, v.truncated
    hist = cats["histograms"]
    lines: list[str] = []
    add = lines.append
    add(
        "Category histogram (argmax of the predictor's four category scores; "
        '"world" is the rendered set\'s true labels):'
    )
    add("")
    columns = ["world", "rendered_predicted", "generated"] + (["generated_truncated"] if truncated else [])
    titles = {
        "world": "world (true)",
        "rendered_predicted": "rendered (predicted)",
        "generated": "generated psi 1.0",
        "generated_truncated": f"generated psi {trunc['psi']}",
    }
    add("| category | " + " | ".join(titles[c] for c in columns) + " |")
    add("|---|" + "---|" * len(columns))
    for name in cats["names"]:
        add(f"| {name} | " + " | ".join(_pct(hist[c][name]) for c in columns) + " |")
    add("")
    return lines


def _score_table(v: _Figures) -> list[str]:
    """Predicted factor scores per set, with how far the predictor can be trusted."""
    cats, trunc, truncated, figures = v.cats, v.trunc, v.truncated, v.figures
    accuracy, r2 = v.metrics.get("accuracy", {}), v.metrics.get("r2", {})
    lines: list[str] = []
    add = lines.append
    add(
        "Predicted factor scores, mean (std) over each set. Categories and binary factors are probabilities; "
        "continuous factors are normalised to [0, 1] over their range. The predictor's held-out accuracy / R^2 "
        "says how far each score can be trusted."
    )
    add("")
    extra = " | generated psi {}".format(trunc["psi"]) if truncated else ""
    add("| score | level | predictor held-out | rendered | generated psi 1.0" + extra + " |")
    add("|---|---|---|---|---|" + ("---|" if truncated else ""))
    category_accuracy = accuracy.get("category")
    for name, entry in figures["factors"].items():
        if name in cats["names"]:
            trust = f"acc {category_accuracy:.3f}" if category_accuracy is not None else "-"
        elif name in accuracy:
            trust = f"acc {accuracy[name]:.3f}"
        elif name in r2:
            trust = f"R^2 {r2[name]:.3f}"
        else:
            trust = "-"
        row = [entry["rendered"], entry["generated"]] + ([entry["generated_truncated"]] if truncated else [])
        add(
            f"| {name} | {entry['level']} | {trust} | "
            + " | ".join(f"{c['mean']:.3f} ({c['std']:.3f})" for c in row)
            + " |"
        )
    add("")
    return lines


def _category_bound(v: _Figures) -> list[str]:
    """The category check the tests repeat."""
    check, gaps, n = v.check, v.gaps, v.settings["num"]
    lines: list[str] = []
    add = lines.append
    verdict = "passes" if check["passed"] else "**fails**"
    add(
        f"**Category bound**: on the {check['count']} samples `sample_z({check['count']}, {check['z_seed']})` at psi "
        f"{check['truncation_psi']}, every category's predicted share must lie within {check['bound_pp']:g} "
        f"percentage points of the world's (its sampling shares, from {WORLD_SHARES_COUNT:,} sampled scenes). "
        f"Measured: largest gap {check['max_gap_pp']:.1f} pp, so the generator {verdict} the bound. "
        "`tests/test_default_generator.py` repeats "
        f"this check on the shipped file. On the full {n:,}-image set the largest gap is {gaps['generated']:.1f} pp "
        f"({'within' if gaps['generated'] <= check['bound_pp'] else '**outside**'} the same bound)."
    )
    add("")
    return lines


def _reproduce(v: _Figures, evaluate_command: str | None, card_command: str | None) -> list[str]:
    """The commands behind the card."""
    figures = v.figures
    lines: list[str] = []
    add = lines.append
    timing = figures.get("timing_s", {})
    add(f"Reproduce (the evaluation took {timing.get('total', float('nan')):.0f} s on `{figures.get('hardware')}`):")
    add("")
    add("```")
    add(
        evaluate_command
        or figures.get("command")
        or "python -m sceneedit.training.evaluate --num 5000 --out eval/default"
    )
    if card_command:
        add(card_command)
    add("```")
    add("")

    return lines


def _limitations(v: _Figures) -> list[str]:
    """What the figures cannot say (size, distance floor, weak predictor reads)."""
    training, desc, fd, confidence = v.training, v.desc, v.fd, v.confidence
    res = desc["resolution"]
    lines: list[str] = []
    add = lines.append
    add("## Limitations")
    iterations = training.get("iterations")
    images = training.get("images_seen")
    if iterations is not None:
        add(
            f"- Small and short: {res} px, {desc['parameters'] / 1e6:.1f} M parameters, {iterations:,} iterations "
            f"({images / 1e6:.2f} M images) — StyleGAN results in the literature use tens of millions of images."
        )
    ratio = fd["generated"] / max(fd["rendered_reference"], 1e-9)
    add(
        f"- FD-world of the generated set is {ratio:.1f}x the rendered-vs-rendered floor ({fd['generated']:.2f} vs "
        f"{fd['rendered_reference']:.2f}): the generated distribution is measurably different from the world's."
    )
    weak = _weak_factors(v)
    if weak:
        add(
            f"- The predictor barely reads {', '.join(weak)} (held-out R^2 < {WEAK_R2}); FD-world and the score table "
            "say little about how well the generator reproduces those factors."
        )
    add(
        "- Figures are the predictor's view: it was trained on rendered rooms only, so it may score an imperfect "
        "generated image confidently (a category argmax is always some category). Look at the samples."
    )
    if "generated" in confidence and "rendered" in confidence:
        g, r = (confidence[n]["share_top_above_0.9"] for n in ("generated", "rendered"))
        if g < r - 0.1:
            add(
                f"- The predictor is confident (top probability > 0.9) of the category of only {_pct(g)} of the "
                f"generated images against {_pct(r)} of rendered rooms: many samples are not clearly any room type, "
                "so a matching category histogram says less than it seems."
            )
    return lines


def _score_drift(v: _Figures) -> list[str]:
    """Factors whose generated scores moved or narrowed, and the truncation trade."""
    figures, fd, trunc, gaps, truncated = v.figures, v.fd, v.trunc, v.gaps, v.truncated
    weak = _weak_factors(v)
    lines: list[str] = []
    add = lines.append
    shifted, narrow = [], []
    for name, entry in figures["factors"].items():
        if name in weak:
            continue  # already called out: the predictor cannot read it
        if entry.get("generated_mean_shift_in_rendered_std", 0) > MEAN_SHIFT_NOTABLE:
            shifted.append(f"{name} ({entry['generated_mean_shift_in_rendered_std']:.2f} std)")
        spread = entry["rendered"]["std"]
        if spread > 1e-6 and entry["generated"]["std"] / spread < STD_RATIO_NOTABLE:
            narrow.append(f"{name} ({entry['generated']['std'] / spread:.2f}x)")
    if shifted:
        add(
            f"- Generated score means more than {MEAN_SHIFT_NOTABLE} rendered std off the world's: "
            f"{', '.join(shifted)}."
        )
    if narrow:
        add(f"- Generated score spread below {STD_RATIO_NOTABLE}x the world's (less variety): {', '.join(narrow)}.")
    if truncated:
        delta = fd["generated_truncated"] - fd["generated"]
        add(
            f"- The default truncation (psi {trunc['psi']}) trades variety for typicality: FD-world "
            f"{'+' if delta >= 0 else ''}{delta:.2f}, largest category gap {gaps['generated_truncated']:.1f} pp "
            f"(vs {gaps['generated']:.1f} pp untruncated)."
        )
    return lines


def _closing_notes(v: _Figures, notes: list[str] | None) -> list[str]:
    """The sample-size caveat and the caller's notes."""
    n = v.settings["num"]
    lines: list[str] = []
    add = lines.append
    add(f"- FD-world with {n:,} samples per set carries a bias that grows as N shrinks; compare figures at the same N.")
    for note in notes or []:
        add(f"- {note}")
    add("")
    return lines


def _quality_block(v: _Figures) -> list[str]:
    """The machine-readable block the tests read."""
    gen, check, predictor = v.gen, v.check, v.predictor
    lines: list[str] = []
    add = lines.append
    block = {
        "weights_hash": gen["fingerprint"]["weights_hash"],
        "predictor_sha256_16": predictor.get("file_sha256_16"),
        "category_bound_pp": float(check["bound_pp"]),
        "check_count": int(check["count"]),
        "check_seed": int(check["z_seed"]),
        "check_psi": float(check["truncation_psi"]),
        "check_max_gap_pp": float(check["max_gap_pp"]),
        "world_shares_count": WORLD_SHARES_COUNT,
        "world_shares_seed": WORLD_SHARES_SEED,
    }
    if (check["count"], check["z_seed"], check["truncation_psi"], check["bound_pp"]) != (
        CHECK_COUNT,
        CHECK_SEED,
        CHECK_PSI,
        CATEGORY_BOUND_PP,
    ):
        print("warning: the figures' category check differs from this sceneedit's defaults", file=sys.stderr)
    add(format_quality_block(block))
    add("")
    return lines


def _weak_factors(v: _Figures) -> list[str]:
    """Factors the predictor barely reads (held-out R^2 below :data:`WEAK_R2`)."""
    return [name for name, value in v.metrics.get("r2", {}).items() if value < WEAK_R2]


def write_model_card(
    figures_path: Path,
    generator_path: Path,
    out: Path,
    samples_out: Path | None,
    run_dir: Path | None = None,
    notes: list[str] | None = None,
    card_command: str | None = None,
) -> Path:
    """Check that the figures belong to the generator, then write the card and copy the grid."""
    from sceneedit.generators.checkpoints import load_generator
    from sceneedit.training.evaluate import read_figures

    figures_file = figures_path / "figures.json" if figures_path.is_dir() else figures_path
    figures = read_figures(figures_file)
    generator = load_generator(generator_path, device="cpu")
    check_figures_match(figures, generator)
    run = None
    if run_dir is not None:
        iterations = (figures["generator"].get("training") or {}).get("iterations")
        run = read_run_log(run_dir, int(iterations) if iterations is not None else 10**12)
    samples_link = "samples.png"
    if samples_out is not None:
        grid = figures_file.parent / "samples.png"
        if not grid.is_file():
            raise FileNotFoundError(f"{grid}: the evaluation's sample grid is missing")
        samples_out.parent.mkdir(parents=True, exist_ok=True)
        atomic_copy(grid, samples_out)
        samples_link = os.path.relpath(samples_out.resolve(), out.resolve().parent)
    text = model_card_markdown(
        figures, generator_path.name, run, notes, samples_link=samples_link, card_command=card_command
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--figures",
        type=Path,
        required=True,
        help="the evaluation's folder or its figures.json (python -m sceneedit.training.evaluate)",
    )
    parser.add_argument(
        "--generator",
        type=Path,
        default=None,
        help="generator file (default: resources/default_generator.safetensors, or under "
        "$SCENEEDIT_RESOURCES when set)",
    )
    parser.add_argument("--run-dir", type=Path, default=None, help="training run folder (log.jsonl, config.json)")
    parser.add_argument("--out", type=Path, default=None, help="model card (default: the generator's path with .md)")
    parser.add_argument(
        "--samples-out",
        type=Path,
        default=REPO / "docs" / "default_samples.png",
        help="where to copy the 8x8 grid (default docs/default_samples.png)",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="an extra limitation line (e.g. what the samples look like); repeatable",
    )
    args = parser.parse_args(argv)
    if args.generator is None:
        from sceneedit.resources import resource_path

        args.generator = resource_path("default_generator.safetensors")
    out = args.out or args.generator.with_suffix(".md")
    argv_text = shlex.join(argv if argv is not None else sys.argv[1:])
    try:
        path = write_model_card(
            args.figures,
            args.generator,
            out,
            args.samples_out,
            args.run_dir,
            args.note,
            card_command=f"python scripts/write_model_card.py {argv_text}".strip(),
        )
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: {exc!r}" if isinstance(exc, KeyError) else f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}" + (f" and {args.samples_out}" if args.samples_out else ""))
    return 0
