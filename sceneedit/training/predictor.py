"""Train the world predictor on freshly rendered rooms and evaluate it on a held-out set.

    python -m sceneedit.training.predictor --out resources/world_predictor.safetensors

Data: ``train_size`` scenes of stream ``seed`` and ``val_size`` scenes of stream ``seed + 1``
(disjoint streams), rendered once and kept in memory as uint8. Augmentation: horizontal
flips (which negate ``camera_yaw`` and ``camera_x``) and a little pixel noise, so the
predictor also tolerates generator artefacts. Metrics: accuracy per categorical / binary
factor, R^2 per continuous factor, on the held-out set.
"""

from __future__ import annotations

import argparse
import functools
import math
import operator
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sceneedit.errors import SceneeditError, SettingsError
from sceneedit.files import atomic_path, atomic_write_text
from sceneedit.scenes import FACTOR_SPEC, WORLD_VERSION, render_batch
from sceneedit.semantics.predictors.world import (
    CONTINUOUS_STD,
    WorldNet,
    WorldNetConfig,
    WorldPredictor,
    default_predictor_path,
    save_world_predictor,
)

#: Factors whose sign flips with a horizontal mirror (their ranges are symmetric about 0).
MIRRORED_FACTORS = ("camera_yaw", "camera_x")


@dataclass
class Targets:
    """Training targets: category index ``[N]``, binary ``[N, B]`` in {0, 1}, continuous ``[N, C]`` in [0, 1]."""

    category: torch.Tensor
    binary: torch.Tensor
    continuous: torch.Tensor

    def __getitem__(self, index: Any) -> Targets:
        return Targets(self.category[index], self.binary[index], self.continuous[index])


def targets_from_labels(labels: dict[str, Any], config: WorldNetConfig) -> Targets:
    specs = {s.name: s for s in FACTOR_SPEC}
    category = torch.as_tensor(np.asarray(labels["category"]), dtype=torch.long)
    binary = torch.as_tensor(np.stack([labels[n] for n in config.binary], 1), dtype=torch.float32)
    continuous = torch.as_tensor(
        np.stack([specs[n].normalize(labels[n]) for n in config.continuous], 1), dtype=torch.float32
    )
    return Targets(category, binary, continuous)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def render_dataset(
    count: int, seed: int, resolution: int, workers: int, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """``count`` scenes of stream ``seed``; with ``cache_dir``, reuse / store them as ``.npz`` (numeric labels only)."""
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"rooms_v{WORLD_VERSION}_seed{seed}_n{count}_r{resolution}.npz"
        if cache.is_file():
            with np.load(cache) as data:
                return data["images"], {k[6:]: data[k] for k in data.files if k.startswith("label_")}
    images, labels = render_batch(count, seed=seed, resolution=resolution, workers=workers)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        numeric = {f"label_{k}": v for k, v in labels.items() if isinstance(v, np.ndarray)}
        with atomic_path(cache) as temp:
            arrays: dict[str, Any] = {"images": images, **numeric}
        np.savez(temp, **arrays)
    return images, labels


def losses(raw: torch.Tensor, targets: Targets, config: WorldNetConfig) -> dict[str, torch.Tensor]:
    k, b = len(config.categories), len(config.binary)
    return {
        "category": F.cross_entropy(raw[:, :k], targets.category),
        "binary": F.binary_cross_entropy_with_logits(raw[:, k : k + b], targets.binary),
        "continuous": F.mse_loss(raw[:, k + b :], (targets.continuous - 0.5) / CONTINUOUS_STD),
    }


def evaluate(
    predictor: WorldPredictor, images: np.ndarray, labels: dict[str, Any], batch_size: int = 256
) -> dict[str, dict[str, float]]:
    """Held-out figures: ``{"accuracy": {factor: acc}, "r2": {factor: R^2}}`` (R^2 in the factor's units)."""
    chunks = [
        predictor.predict(images_to_tensor(images[i : i + batch_size]), batch_size)
        for i in range(0, len(images), batch_size)
    ]
    predicted = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    config = predictor.config
    accuracy = {"category": float((predicted["category"] == np.asarray(labels["category"])).mean())}
    for name in config.binary:
        accuracy[name] = float((predicted[name] == np.asarray(labels[name])).mean())
    r2 = {}
    for name in config.continuous:
        truth = np.asarray(labels[name], dtype=np.float64)
        residual = ((predicted[name] - truth) ** 2).sum()
        total = ((truth - truth.mean()) ** 2).sum()
        r2[name] = float(1.0 - residual / total) if total > 0 else float("nan")
    return {"accuracy": accuracy, "r2": r2}


@dataclass
class TrainResult:
    predictor: WorldPredictor
    metrics: dict[str, Any]
    seconds: float
    log: list[str] = field(default_factory=list)


def _augment(
    x: torch.Tensor, targets: Targets, config: WorldNetConfig, generator: torch.Generator
) -> tuple[torch.Tensor, Targets]:
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    continuous = targets.continuous.clone()
    for name in MIRRORED_FACTORS:
        j = config.continuous.index(name)
        continuous[flip, j] = 1.0 - continuous[flip, j]
    noise = torch.rand(n, 1, 1, 1, generator=generator) * 0.05
    x = x + noise * torch.randn(x.shape, generator=generator)
    return x, Targets(targets.category, targets.binary, continuous)


def train_world_predictor(
    out: str | Path | None = None,
    *,
    train_size: int = 16000,
    val_size: int = 1500,
    steps: int = 3000,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    workers: int = 2,
    threads: int | None = None,
    time_limit_s: float | None = None,
    config: WorldNetConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = print,
) -> TrainResult:
    """Render data, train the CNN, evaluate on the held-out set, and save it to ``out`` (if given).

    ``steps``: optimiser steps (one cosine learning-rate cycle). ``time_limit_s``: stop early
    when the training loop has run this long (the schedule is stretched to fit: progress is
    the larger of step and time fraction). ``cache_dir``: keep the rendered sets there as
    ``.npz`` and reuse them next time. Returns the predictor (with ``metrics``).
    """
    for name, value in (
        ("train_size", train_size),
        ("val_size", val_size),
        ("steps", steps),
        ("batch_size", batch_size),
    ):
        if value < 1:
            raise SettingsError(f"{name} must be >= 1, got {value}")
    if lr <= 0:
        raise SettingsError(f"lr must be > 0, got {lr}")
    if threads is not None:
        torch.set_num_threads(threads)
    config = config or WorldNetConfig()
    log: list[str] = []

    def say(message: str) -> None:
        log.append(message)
        if progress is not None:
            progress(message)

    started = time.perf_counter()
    images, labels = render_dataset(train_size, seed, config.input_size, workers, cache_dir)
    val_images, val_labels = render_dataset(val_size, seed + 1, config.input_size, workers, cache_dir)
    render_seconds = time.perf_counter() - started
    say(f"rendered {train_size} + {val_size} scenes in {render_seconds:.0f}s")

    targets = targets_from_labels(labels, config)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = WorldNet(config).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs omit it
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    loop_started = time.perf_counter()
    step = 0
    running: dict[str, float] = {}
    net.train()
    while step < steps:
        elapsed = time.perf_counter() - loop_started
        progress_fraction = step / steps
        if time_limit_s is not None:
            if elapsed >= time_limit_s:
                say(f"time limit reached at step {step}")
                break
            progress_fraction = max(progress_fraction, elapsed / time_limit_s)
        warmup = min(1.0, (step + 1) / 100)
        for group in optimizer.param_groups:
            group["lr"] = lr * warmup * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_fraction)))
        index = torch.as_tensor(rng.integers(0, train_size, batch_size))
        x = images_to_tensor(images[index.numpy()])
        x, batch_targets = _augment(x, targets[index], config, generator)
        raw = net(x.contiguous(memory_format=torch.channels_last))
        parts = losses(raw, batch_targets, config)
        loss = functools.reduce(operator.add, parts.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for key, part in parts.items():
            current = float(part.detach().item())
            running[key] = 0.98 * running.get(key, current) + 0.02 * current
        step += 1
        if step % 100 == 0 or step == steps:
            rate = step * batch_size / max(time.perf_counter() - loop_started, 1e-9)
            say(f"step {step}/{steps} " + " ".join(f"{k}={v:.4f}" for k, v in running.items()) + f" ({rate:.0f} img/s)")
    train_seconds = time.perf_counter() - loop_started

    net = net.to(memory_format=torch.contiguous_format).eval()
    predictor = WorldPredictor(net)
    metrics: dict[str, dict[str, Any]] = dict(evaluate(predictor, val_images, val_labels))
    metrics["training"] = {
        "world_version": WORLD_VERSION,
        "train_size": train_size,
        "val_size": val_size,
        "steps_run": step,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "render_seconds": round(render_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    predictor.metrics = metrics
    seconds = time.perf_counter() - started
    say("held-out accuracy: " + ", ".join(f"{k}={v:.3f}" for k, v in metrics["accuracy"].items()))
    say("held-out R^2: " + ", ".join(f"{k}={v:.3f}" for k, v in metrics["r2"].items()))
    if out is not None:
        save_world_predictor(predictor, out, metrics)
        say(f"saved {out}")
    return TrainResult(predictor, metrics, seconds, log)


def write_model_card(path: str | Path, result: TrainResult, command: str, notes: list[str] | None = None) -> Path:
    """A Markdown model card next to the weights: data, architecture, figures, how to reproduce.

    ``notes``: extra bullet lines for the training section (e.g. how long uncached rendering takes).
    """
    predictor, metrics = result.predictor, result.metrics
    cfg, training = predictor.config, metrics["training"]
    params = sum(p.numel() for p in predictor.net.parameters())
    specs = {s.name: s for s in FACTOR_SPEC}
    lines = [
        "# World predictor (`world_predictor.safetensors`)",
        "",
        "The default predictor of sceneedit: a small CNN that reads every factor of the procedural",
        "room world (`sceneedit.scenes`). It plays the part of the paper's off-the-shelf scene",
        "classifiers when probing a generator trained on that world.",
        "",
        "## Data",
        f"- Training: {training['train_size']} scenes of stream `seed={training['seed']}` rendered at "
        f"{cfg.input_size}x{cfg.input_size} "
        "(every factor sampled independently and uniformly; see `FACTOR_SPEC`).",
        f"- Held-out: {training['val_size']} scenes of stream `seed={training['seed'] + 1}` (disjoint).",
        "- Augmentation: horizontal flips (negating `camera_yaw` and `camera_x`), "
        "Gaussian pixel noise (sigma <= 0.05).",
        "",
        "## Architecture",
        f"- Input: `[N, 3, {cfg.input_size}, {cfg.input_size}]` in [-1, 1]; "
        "other sizes are resized (bilinear, antialiased).",
        f"- Trunk: {cfg.stem_stride}x{cfg.stem_stride} stride-{cfg.stem_stride} patchify stem "
        f"({cfg.channels[0]} ch), then four stages "
        f"of two 3x3 conv + batch norm + ReLU with channels {list(cfg.channels[1:])} "
        f"and strides {list(cfg.stage_strides)}.",
        f"- Head: last map squeezed to {cfg.squeeze} ch and flattened (keeps where things are) + global average pool, "
        f"MLP ({cfg.hidden} hidden) -> {cfg.num_outputs} outputs.",
        f"- Scores (`score_names`): softmax over {list(cfg.categories)}; sigmoid probabilities for {list(cfg.binary)}; "
        "continuous factors regressed (linear head, MSE on standardised targets) and reported normalised to "
        "[0, 1] over their range.",
        f"- Parameters: {params:,} (float32). `features(images)` returns the four stage maps.",
        "",
        "## Training",
        f"- AdamW, lr {training['lr']} (100-step warm-up, cosine), weight decay {training['weight_decay']}, "
        f"batch {training['batch_size']}, {training['steps_run']} of {training['steps']} steps.",
        f"- Wall time: rendering {training['render_seconds']} s, training {training['train_seconds']} s, on a shared "
        f"2-core CPU ({training['machine']}, {training['torch_threads']} torch threads), no GPU.",
        *[f"- {note}" for note in notes or []],
        "",
        "## Held-out figures",
        "",
        "| factor | level | kind | metric | value |",
        "|---|---|---|---|---|",
    ]
    for name, value in metrics["accuracy"].items():
        spec = specs[name]
        lines.append(f"| {name} | {spec.level} | {spec.kind} | accuracy | {value:.3f} |")
    for name, value in metrics["r2"].items():
        spec = specs[name]
        lines.append(f"| {name} | {spec.level} | {spec.kind} | R^2 | {value:.3f} |")
    lines += [
        "",
        "Chance accuracy is 0.25 for the category and 0.5 for the binary factors. R^2 is computed in",
        "the factor's own units over the held-out set.",
        "",
        "## Reproduce",
        "",
        "```",
        command,
        "```",
        "",
        "Results vary slightly with the machine's speed only when `--time-limit` stops training early.",
        "",
    ]
    path = Path(path)
    atomic_write_text(path, "\n".join(lines))
    return path


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sceneedit.training.predictor", description="Train the world predictor on rendered rooms."
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output .safetensors (default: resources/world_predictor.safetensors)"
    )
    parser.add_argument("--card", type=Path, default=None, help="model card .md (default: next to --out)")
    parser.add_argument("--train-size", type=int, default=16000)
    parser.add_argument("--val-size", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="render worker processes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="keep rendered data sets here (.npz) and reuse them (e.g. cache/)"
    )
    parser.add_argument("--time-limit", type=float, default=None, help="stop the training loop after this many seconds")
    defaults = WorldNetConfig()
    parser.add_argument("--input-size", type=int, default=defaults.input_size, help="network input size in px")
    parser.add_argument(
        "--stem-stride",
        type=int,
        default=defaults.stem_stride,
        help="patchify stem size and stride (smaller sees smaller things; more compute)",
    )
    parser.add_argument(
        "--channels", type=_int_list, default=defaults.channels, help="stem + four stage channels, comma-separated"
    )
    parser.add_argument(
        "--stage-strides",
        type=_int_list,
        default=defaults.stage_strides,
        help="stride (1 or 2) of each of the four stages, comma-separated",
    )
    parser.add_argument("--hidden", type=int, default=defaults.hidden, help="head MLP width")
    args = parser.parse_args(argv)
    out = args.out or default_predictor_path()
    command = "python -m sceneedit.training.predictor " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        result = train_world_predictor(
            out,
            train_size=args.train_size,
            val_size=args.val_size,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            workers=args.workers,
            threads=args.threads,
            time_limit_s=args.time_limit,
            cache_dir=args.cache_dir,
            config=WorldNetConfig(
                input_size=args.input_size,
                stem_stride=args.stem_stride,
                channels=tuple(args.channels),
                stage_strides=tuple(args.stage_strides),
                hidden=args.hidden,
            ),
        )
    except SceneeditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    card = args.card or Path(out).with_suffix(".md")
    write_model_card(card, result, command.strip())
    print(f"model card: {card}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
