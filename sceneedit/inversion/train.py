"""Training the inversion encoder on a generator's own samples (resumable).

The linear kind (:func:`fit_linear_encoder`) is a ridge regression from pooled pixels to the
codes, in units of the codes' spread: chunks of sampled codes are rendered and their sufficient
statistics (``X^T X``, ``X^T Y``, sums, count) accumulated in ``RUN/linear-stats.pt`` after
every chunk, so an interrupted fit resumes; the solve at the end takes a second.

The CNN kind (:func:`train_encoder`): each step draws codes from the generator (mapped ``z``
at psi 1, half of them style-mixed at a random layer, a third pulled toward the mean code by a
random psi in [0.5, 1]), renders them, and trains the encoder to read the codes back:
``code_weight * |(E(x) - wp) / w_std|^2`` plus, every ``image_every`` steps on half the batch,
through the frozen generator, ``pixel_weight * MSE(G(E(x)), x) + perceptual_weight * P(G(E(x)), x)``
(IDInvert trains its encoder with the image-space terms; the code term makes the short CPU runs
converge).

Run folder: ``RUN/encoder-ckpt.pt`` (written atomically every ``checkpoint_every`` steps and
at the end: weights, optimizer, step, RNG state), ``RUN/log.txt`` (one line per ``log_every``
steps), ``RUN/encoder.safetensors`` (the exported encoder).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import SettingsError
from ..files import atomic_path
from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from .encoder import Encoder, EncoderConfig, save_encoder
from .losses import make_perceptual_loss, pixel_loss, psnr
from .prior import prior_for

CHECKPOINT_NAME = "encoder-ckpt.pt"
EXPORT_NAME = "encoder.safetensors"


@dataclass(frozen=True)
class EncoderTrainingConfig:
    steps: int = 6000
    batch_size: int = 16
    lr: float = 1e-3
    code_weight: float = 1.0
    pixel_weight: float = 10.0
    perceptual_weight: float = 0.5
    perceptual: str = "auto"
    mix_probability: float = 0.5
    truncate_probability: float = 0.3
    seed: int = 0
    #: The image-space terms (through the generator, the costly part) every this many steps.
    image_every: int = 4
    checkpoint_every: int = 100
    log_every: int = 20

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise SettingsError(f"steps and batch size must be >= 1, got {self.steps}, {self.batch_size}")
        if not 0 < self.lr < 1:
            raise SettingsError(f"lr must be in (0, 1), got {self.lr}")


def sample_training_codes(
    generator: Generator, count: int, rng: np.random.Generator, config: EncoderTrainingConfig, mean_code: torch.Tensor
) -> torch.Tensor:
    """``[count, L, D]`` codes: mapped at psi 1, some style-mixed, some truncated."""
    seeds = rng.integers(0, 2**31 - 1, size=2)
    wp = generator.map(generator.sample_z(count, int(seeds[0])), truncation_psi=1.0)
    layers = wp.shape[1]
    if layers > 1 and config.mix_probability > 0:
        other = generator.map(generator.sample_z(count, int(seeds[1])), truncation_psi=1.0)
        mixed = torch.from_numpy(rng.random(count) < config.mix_probability).to(wp.device)
        cut = torch.from_numpy(rng.integers(1, layers, size=count)).to(wp.device)
        later = torch.arange(layers, device=wp.device)[None, :] >= cut[:, None]
        take = (mixed[:, None] & later)[:, :, None]
        wp = torch.where(take, other, wp)
    truncate = rng.random(count) < config.truncate_probability
    psi = np.where(truncate, rng.uniform(0.5, 1.0, size=count), 1.0).astype(np.float32)
    psi_t = torch.from_numpy(psi).to(wp.device)[:, None, None]
    return mean_code + psi_t * (wp - mean_code)


def train_encoder(
    generator: Generator,
    run_dir: str | os.PathLike,
    config: EncoderTrainingConfig | None = None,
    encoder_config: EncoderConfig | None = None,
    resume: bool = True,
    time_limit_s: float | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train (or resume) an encoder for ``generator`` in ``run_dir``; export it; return the export path."""
    config = config or EncoderTrainingConfig()
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    generator.eval()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    device = generator.device
    checkpoint = run / CHECKPOINT_NAME
    state = None
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state.get("generator_hash") != generator_fingerprint(generator)["weights_hash"]:
            raise SettingsError(f"{checkpoint}: this run trains an encoder for another generator")
        encoder_config = EncoderConfig(**json.loads(state["encoder_config"]))
    if encoder_config is None:
        encoder_config = EncoderConfig(
            resolution=min(int(generator.resolution), 256),
            kind="cnn",
            num_layers=int(generator.num_layers),
            w_dim=int(generator.w_dim),
        )
    encoder = Encoder(encoder_config).to(device)
    prior = prior_for(generator)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.lr, betas=(0.9, 0.99))
    step = 0
    rng = np.random.default_rng(config.seed)
    if state is not None:
        encoder.load_state_dict(state["encoder"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        rng.bit_generator.state = json.loads(state["rng"])
        log(f"resumed at step {step} from {checkpoint}")
    else:
        with torch.no_grad():
            codes = generator.map(generator.sample_z(4096, config.seed + 7), truncation_psi=1.0)
        encoder.set_code_statistics(codes.reshape(-1, codes.shape[-1]))
    perceptual_name, perceptual = make_perceptual_loss(config.perceptual, generator)
    mean_code = prior.mean[None]
    log(
        f"encoder training: {sum(p.numel() for p in encoder.parameters()):,} parameters, "
        f"perceptual={perceptual_name}, {asdict(config)}"
    )

    def save_checkpoint() -> None:
        payload = {
            "encoder": encoder.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "rng": json.dumps(rng.bit_generator.state),
            "encoder_config": encoder_config.to_json(),
            "generator_hash": generator_fingerprint(generator)["weights_hash"],
        }
        with atomic_path(checkpoint) as tmp:
            torch.save(payload, tmp)

    started = time.perf_counter()
    window: list[tuple[float, float, float, float]] = []
    encoder.train()
    while step < config.steps:
        if time_limit_s is not None and time.perf_counter() - started > time_limit_s:
            log(f"time limit reached at step {step}")
            break
        lr = float(config.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / config.steps))))
        for group in optimizer.param_groups:
            group["lr"] = lr
        with torch.no_grad():
            wp = sample_training_codes(generator, config.batch_size, rng, config, mean_code)
            images = generator.synthesize(wp)
        predicted = encoder(images)
        code_loss = ((predicted - wp) / encoder.w_std).square().mean()
        loss = config.code_weight * code_loss
        pix = perc = image_psnr = torch.full((), float("nan"))
        if config.image_every > 0 and step % config.image_every == 0:
            half = max(1, config.batch_size // 2)
            reconstruction = generator.synthesize(predicted[:half])
            pix = pixel_loss(reconstruction, images[:half]).mean()
            loss = loss + config.pixel_weight * pix
            image_psnr = psnr(reconstruction, images[:half]).mean()
            if perceptual is not None and config.perceptual_weight > 0:
                perc = perceptual(reconstruction, images[:half]).mean()
                loss = loss + config.perceptual_weight * perc
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        window.append((float(code_loss.detach()), float(pix.detach()), float(perc.detach()), float(image_psnr)))
        if step % config.log_every == 0 or step == config.steps:
            mean = np.nanmean(window, axis=0)
            elapsed = time.perf_counter() - started
            log(
                f"step {step}/{config.steps} code {mean[0]:.4f} pixel {mean[1]:.5f} perceptual {mean[2]:.4f} "
                f"psnr {mean[3]:.2f} dB lr {lr:.2e} {elapsed:.0f} s"
            )
            window.clear()
        if step % config.checkpoint_every == 0:
            save_checkpoint()
    save_checkpoint()
    encoder.eval()
    info = {"steps": step, "batch_size": config.batch_size, "perceptual": perceptual_name, "training": asdict(config)}
    out = save_encoder(encoder, run / EXPORT_NAME, generator_fingerprint(generator), info)
    log(f"exported {out}")
    return out


LINEAR_STATS_NAME = "linear-stats.pt"


def fit_linear_encoder(
    generator: Generator,
    run_dir: str | os.PathLike,
    samples: int = 8192,
    chunk: int = 256,
    ridge: float = 100.0,
    thumb: int = 16,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Path:
    """Fit the linear encoder of ``generator`` on ``samples`` sampled codes; export it; return the path."""
    config = EncoderTrainingConfig(seed=seed)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    generator.eval()
    encoder_config = EncoderConfig(
        resolution=min(int(generator.resolution), 256),
        kind="linear",
        thumb=thumb,
        num_layers=int(generator.num_layers),
        w_dim=int(generator.w_dim),
    )
    encoder = Encoder(encoder_config).to(generator.device)
    prior = prior_for(generator)
    with torch.no_grad():
        codes = generator.map(generator.sample_z(4096, seed + 7), truncation_psi=1.0)
    encoder.set_code_statistics(codes.reshape(-1, codes.shape[-1]))
    stats_path = run / LINEAR_STATS_NAME
    fingerprint = generator_fingerprint(generator)["weights_hash"]
    stats = None
    if stats_path.is_file():
        stats = torch.load(stats_path, map_location="cpu", weights_only=True)
        if stats.get("generator_hash") != fingerprint or int(stats.get("thumb", -1)) != thumb:
            raise SettingsError(f"{stats_path}: this run fits an encoder for another generator or thumb size")
        log(f"resumed at {int(stats['count'])} samples from {stats_path}")
    features = 3 * thumb * thumb
    outputs = encoder_config.num_layers * encoder_config.w_dim
    if stats is None:
        stats = {
            "xtx": torch.zeros(features, features, dtype=torch.float64),
            "xty": torch.zeros(features, outputs, dtype=torch.float64),
            "sx": torch.zeros(features, dtype=torch.float64),
            "sy": torch.zeros(outputs, dtype=torch.float64),
            "count": torch.zeros((), dtype=torch.int64),
            "generator_hash": fingerprint,
            "thumb": thumb,
            "rng": json.dumps(np.random.default_rng(seed).bit_generator.state),
        }
    rng = np.random.default_rng(seed)
    rng.bit_generator.state = json.loads(stats["rng"])
    started = time.perf_counter()
    mean_code = prior.mean[None]
    while int(stats["count"]) < samples:
        size = min(chunk, samples - int(stats["count"]))
        with torch.no_grad():
            wp = sample_training_codes(generator, size, rng, config, mean_code)
            x = encoder.linear_features(generator.synthesize(wp)).double().cpu()
            y = ((wp - encoder.w_mean) / encoder.w_std).flatten(1).double().cpu()
        stats["xtx"] += x.T @ x
        stats["xty"] += x.T @ y
        stats["sx"] += x.sum(0)
        stats["sy"] += y.sum(0)
        stats["count"] += size
        stats["rng"] = json.dumps(rng.bit_generator.state)
        with atomic_path(stats_path) as tmp:
            torch.save(stats, tmp)
        log(f"{int(stats['count'])}/{samples} samples, {time.perf_counter() - started:.0f} s")
    n = float(stats["count"])
    mean_x, mean_y = stats["sx"] / n, stats["sy"] / n
    cov = stats["xtx"] / n - torch.outer(mean_x, mean_x)
    cross = stats["xty"] / n - torch.outer(mean_x, mean_y)
    weight = torch.linalg.solve(cov + (ridge / n) * torch.eye(features, dtype=torch.float64), cross)
    with torch.no_grad():
        encoder.linear.weight.copy_(weight.T.float())
        encoder.linear.bias.copy_((mean_y - mean_x @ weight).float())
    encoder.eval()
    info = {
        "kind": "linear",
        "samples": int(n),
        "ridge": ridge,
        "thumb": thumb,
        "seed": seed,
        "codes": "mapped at psi 1, half style-mixed at a random layer, 30 % truncated with psi in [0.5, 1]",
    }
    out = save_encoder(encoder, run / EXPORT_NAME, generator_fingerprint(generator), info)
    log(f"exported {out}")
    return out
