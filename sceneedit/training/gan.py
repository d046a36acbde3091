"""GAN training of a StyleGAN-family generator on the procedural room world.

The recipe (StyleGAN2-ADA's, sized for a CPU): non-saturating logistic loss, lazy R1 on real
images every ``r1_interval`` iterations, style mixing with per-sample crossover points, an EMA
copy of G whose half-life is counted in images (with a ramp-up at the start), Adam with
betas (0, 0.99) on equalized-learning-rate networks (the mapping network's learning-rate
multiplier lives in the generator's weight scaling). Each iteration renders one batch of fakes
and uses it for both the D step (detached) and then the G step against the updated D.

Beside the adversarial loss, G gets a paired reconstruction term (``recon_weight``; 0 turns it
off): the renderer draws each room's factors from a standard-normal code, and G given that
code as the first numbers of z is pulled towards the room (see ``reconstruction_loss``). A
plain GAN needs hours on a CPU to find the rooms' structure; the paired term teaches it in
minutes, and the adversarial term keeps the samples sharp and varied. The term never says
which layer should hold which factor: the layer hierarchy is still the network's own.

A run lives in one folder::

    RUN/config.json                     settings of the run (as started)
    RUN/log.jsonl                       one JSON object per logged iteration
    RUN/samples/iter-0001200.png        8x8 grid of G_ema on fixed z (psi = 1), latest.png
    RUN/samples/reals.png               a grid of training images, for comparison
    RUN/checkpoints/ckpt-0001200.pt     resumable state (see checkpointing.py)

Command line: ``python -m sceneedit.training.gan --run-dir RUN [...]`` or ``sceneedit train``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # before torch loads (see prefer_passive_openmp)
    from sceneedit.training.gan_cli import prefer_passive_openmp

    prefer_passive_openmp()

import numpy as np
import torch
import torch.nn.functional as F

from ..device import describe_cpu, describe_device, resolve_device
from ..errors import USER_ERRORS, SettingsError, user_message
from ..files import atomic_write_json, atomic_write_text
from ..generators.base import to_uint8_images
from ..generators.checkpoints import save_generator
from ..generators.stylegan import StyleGANGenerator
from ..imaging import make_contact_sheet, save_png
from .checkpointing import (
    TrainingCheckpointError,
    list_checkpoints,
    load_latest_checkpoint,
    save_checkpoint,
)
from .data import (
    ImageStream,
    PooledStream,
    RenderedStream,
    RenderFunction,
    check_rendered,
    render_rooms,
    to_training_tensor,
)
from .discriminator import ResidualDiscriminator
from .gan_config import LEGACY_DEFAULTS, RUN_CONTROL_FIELDS, TUNABLE_ON_RESUME, TrainConfig

CHECKPOINT_FORMAT = "sceneedit-gan-training"
CHECKPOINT_VERSION = 1
DATASET_DESCRIPTION = "sceneedit procedural room world (sceneedit.scenes), endless seeded stream"
SAMPLE_GRID_SIZE = 8
_REQUIRED_KEYS = ("format", "iteration", "config", "generator_config", "G", "G_ema", "D", "g_opt", "d_opt")


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite: training diverged."""


def describe_hardware(device: torch.device) -> str:
    """e.g. 'cpu (2 threads), AMD EPYC 7B13, torch 2.13.0'."""
    return f"{describe_device(device)}, {describe_cpu()}, torch {torch.__version__}"


def image_grid(images: np.ndarray, columns: int) -> np.ndarray:
    """uint8 ``[N, H, W, 3]`` -> one ``[rows*H, columns*W, 3]`` contact sheet, tiles touching,
    black where the last row is short."""
    return make_contact_sheet(images, columns=columns, padding=0, background=0)


class GANTrainer:
    """Owns G, G_ema, D, their optimizers, the data stream and the run folder."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike,
        render: RenderFunction = render_rooms,
        log: Callable[[str], None] | None = None,
        start_from_file: bool = True,
    ) -> None:
        self.config = config.validate()
        self.run_dir = Path(run_dir)
        self.render = render
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        torch.set_num_threads(config.threads)
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.np_rng = np.random.default_rng(config.seed)

        self.G = StyleGANGenerator(**config.generator_kwargs()).to(self.device)
        #: ``lod`` the fade-in starts from (0: nothing fades in; 1 after growing one doubling).
        self.fade_start_lod = 0.0
        if config.init_from and start_from_file:
            self._start_from_file(config.init_from)
        self.G.randomize_noise = True
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_ema.randomize_noise = False
        self.D = ResidualDiscriminator(
            config.resolution, config.d_fmaps_base, config.d_fmaps_max, config.mbstd_group_size
        ).to(self.device)
        if config.channels_last:
            for net in (self.G, self.G_ema, self.D):
                net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs omit it
        #: Frozen world predictor whose features the reconstruction loss compares (or None).
        self.feature_net = None
        if config.recon_weight > 0 and config.recon_feature_weight > 0:
            from ..semantics.predictors.world import load_world_predictor

            self.feature_net = load_world_predictor(device=self.device).requires_grad_(False)
        betas = (config.adam_beta1, config.adam_beta2)
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=config.g_lr, betas=betas, eps=1e-8)
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=config.d_lr, betas=betas, eps=1e-8)

        self.iteration = 0
        self.images_seen = 0
        self.train_seconds = 0.0
        self.hardware: list[str] = []
        #: Settings retuned on resume: ``[{"iteration": i, "changes": {name: [old, new]}}]``.
        self.retunes: list[dict[str, Any]] = []
        self.stream: ImageStream | None = None
        self._stream_state: dict[str, Any] = {}
        self._stop_requested = False
        # Fixed codes for the sample grids: the same on every run and device.
        rng = np.random.RandomState(config.seed + 7919)
        self.sample_z = torch.from_numpy(
            rng.standard_normal((SAMPLE_GRID_SIZE**2, config.z_dim)).astype(np.float32)
        ).to(self.device)

    def _start_from_file(self, path: str) -> None:
        """Take G's weights from the generator in ``path``, grown to this run's resolution."""
        from .growing import check_fits, grow_generator, load_start_generator

        start = load_start_generator(path)
        wanted = self.config.generator_kwargs()
        check_fits(start, wanted, path)
        grown = grow_generator(
            start,
            self.config.resolution,
            name=wanted["name"],
            truncation_psi=wanted["truncation_psi"],
            truncation_layers=wanted["truncation_layers"],
        )
        self.G.load_state_dict(grown.state_dict())
        self.fade_start_lod = float(grown.synthesis.lod)
        self.log(
            f"started from {path} ({start.config['resolution']} px"
            + (
                f", grown to {self.config.resolution} px, lod {self.fade_start_lod:g} fading over "
                f"{self.config.fade_kimg:g} kimg)"
                if self.fade_start_lod
                else ")"
            )
        )

    def _apply_fade(self) -> None:
        """Set G's and G_ema's ``lod`` for the images seen so far (see growing.fade_lod)."""
        if not self.fade_start_lod:
            return
        from .growing import fade_lod

        lod = fade_lod(self.fade_start_lod, self.images_seen, self.config.fade_kimg)
        for net in (self.G, getattr(self, "G_ema", None)):
            if net is not None:
                net.synthesis.lod.fill_(lod)

    # ----- construction from a run folder ---------------------------------------------------
    @classmethod
    def resume(
        cls,
        run_dir: str | os.PathLike,
        overrides: dict[str, Any] | None = None,
        render: RenderFunction = render_rooms,
        log: Callable[[str], None] | None = None,
    ) -> GANTrainer:
        """Rebuild a trainer from the newest good checkpoint in ``run_dir``.

        ``overrides`` may change run-control settings (iterations, intervals, device, ...);
        a different architecture or optimisation setting is refused.
        """
        say = log or (lambda message: print(message, file=sys.stderr, flush=True))
        loaded = load_latest_checkpoint(run_dir, validate=_validate_payload)
        for reason in loaded.skipped:
            say(f"warning: skipping unusable checkpoint: {reason}")
        config = merge_resume_config(loaded.payload["config"], overrides or {})
        trainer = cls(config, run_dir, render=render, log=log, start_from_file=False)
        trainer.load_state_dict(loaded.payload)
        changed = {
            k: (loaded.payload["config"][k], getattr(config, k))
            for k in sorted(TUNABLE_ON_RESUME)
            if loaded.payload["config"][k] != getattr(config, k)
        }
        if changed:
            say("retuned on resume: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()))
            trainer.run_dir.mkdir(parents=True, exist_ok=True)
            event = {"iteration": trainer.iteration, "changes": {k: [a, b] for k, (a, b) in changed.items()}}
            trainer.retunes.append(event)
            trainer._log_line({**event, "event": "retuned"})
        say(f"resumed {loaded.path} at iteration {trainer.iteration} ({trainer.images_seen} images)")
        return trainer

    @classmethod
    def from_portable(
        cls,
        path: str | os.PathLike,
        run_dir: str | os.PathLike,
        overrides: dict[str, Any] | None = None,
        render: RenderFunction = render_rooms,
        log: Callable[[str], None] | None = None,
    ) -> GANTrainer:
        """Continue the run saved in a portable checkpoint (``portable.py``) in a new ``run_dir``.

        ``overrides`` may change the same settings as :meth:`resume`. Adam's second moments are
        restored when the file has them; data and RNG streams start afresh.
        """
        from .portable import read_portable_checkpoint

        say = log or (lambda message: print(message, file=sys.stderr, flush=True))
        payload = read_portable_checkpoint(path)
        info = payload["info"]
        config = merge_resume_config(info["config"], overrides or {})
        trainer = cls(config, run_dir, render=render, log=log, start_from_file=False)
        try:
            trainer.load_portable(payload)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise TrainingCheckpointError(f"{path}: does not fit the run's networks ({exc})") from exc
        say(
            f"continuing {path} at iteration {trainer.iteration} ({trainer.images_seen} images; "
            f"optimizer: {info['optimizer']})"
        )
        return trainer

    def load_portable(self, payload: dict[str, Any]) -> None:
        """Load a :func:`~sceneedit.training.portable.read_portable_checkpoint` payload."""
        info = payload["info"]
        self.G.load_state_dict(payload["G"])
        self.G_ema.load_state_dict(payload["G_ema"])
        self.D.load_state_dict(payload["D"])
        for optimizer, name in ((self.g_opt, "g_opt"), (self.d_opt, "d_opt")):
            moments, steps = payload[name], info["adam_steps"].get(name, {})
            params = [p for group in optimizer.param_groups for p in group["params"]]
            for index, moment in moments.items():
                param = params[int(index)]
                if moment.shape != param.shape:
                    raise ValueError(
                        f"{name} moment {index} has shape {list(moment.shape)}, parameter {list(param.shape)}"
                    )
                optimizer.state[param] = {
                    "step": torch.tensor(float(steps.get(index, 0))),
                    "exp_avg": torch.zeros_like(param),
                    "exp_avg_sq": moment.to(param.device).clone(),
                }
        self.iteration = int(info["iteration"])
        self.images_seen = int(info["images_seen"])
        self.train_seconds = float(info["train_seconds"])
        self.hardware = list(info.get("hardware", []))
        self.retunes = list(info.get("retunes", []))
        self.fade_start_lod = float(info.get("fade_start_lod", 0.0))
        torch.manual_seed(self.config.seed + self.iteration)
        self.np_rng = np.random.default_rng(self.config.seed + self.iteration)

    # ----- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        rng: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": self.np_rng.bit_generator.state,
        }
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        stream_state = self.stream.state_dict() if self.stream is not None else self._stream_state
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "iteration": self.iteration,
            "images_seen": self.images_seen,
            "train_seconds": self.train_seconds,
            "hardware": list(self.hardware),
            "retunes": list(self.retunes),
            "fade_start_lod": self.fade_start_lod,
            "config": self.config.to_dict(),
            "generator_config": dict(self.G.config),
            "G": _cpu_state(self.G.state_dict()),
            "G_ema": _cpu_state(self.G_ema.state_dict()),
            "D": _cpu_state(self.D.state_dict()),
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "rng": rng,
            "data": stream_state,
        }

    def load_state_dict(self, payload: dict[str, Any]) -> None:
        self.G.load_state_dict(payload["G"])
        self.G_ema.load_state_dict(payload["G_ema"])
        self.D.load_state_dict(payload["D"])
        self.g_opt.load_state_dict(payload["g_opt"])
        self.d_opt.load_state_dict(payload["d_opt"])
        # The optimizer states carry their old learning rates; this run's settings win.
        for optimizer, lr in ((self.g_opt, self.config.g_lr), (self.d_opt, self.config.d_lr)):
            for group in optimizer.param_groups:
                group["lr"] = lr
        self.iteration = int(payload["iteration"])
        self.images_seen = int(payload["images_seen"])
        self.train_seconds = float(payload["train_seconds"])
        self.hardware = list(payload.get("hardware", []))
        self.fade_start_lod = float(payload.get("fade_start_lod", 0.0))
        self.retunes = list(payload["retunes"]) if "retunes" in payload else retunes_from_log(self.run_dir)
        torch.set_rng_state(payload["rng"]["torch"])
        self.np_rng.bit_generator.state = payload["rng"]["numpy"]
        if self.device.type == "cuda" and "cuda" in payload["rng"]:
            torch.cuda.set_rng_state(payload["rng"]["cuda"], self.device)
        self._stream_state = dict(payload.get("data", {}))
        if self.stream is not None:
            self.stream.load_state_dict(self._stream_state)

    def save_checkpoint(self) -> Path:
        hardware = describe_hardware(self.device)
        if hardware not in self.hardware:
            self.hardware.append(hardware)
        return save_checkpoint(self.run_dir, self.iteration, self.state_dict(), keep=self.config.keep_checkpoints)

    # ----- data -----------------------------------------------------------------------------
    def open_data(self) -> ImageStream:
        """The image stream, started on first use (renders the initial pool for ``data_source='pool'``)."""
        if self.stream is not None:
            return self.stream
        cfg = self.config
        stream: ImageStream
        if cfg.data_source == "stream":
            stream = RenderedStream(self.render, cfg.resolution, seed=cfg.seed)
        else:
            started = time.perf_counter()
            # A resumed pool gets fresh images: its seed moves with the iteration.
            seed = cfg.seed + 7 * self.iteration
            stream = PooledStream(self.render, cfg.resolution, cfg.pool_size, seed=seed, workers=cfg.data_workers)
            elapsed = time.perf_counter() - started
            self.log(
                f"rendered a pool of {cfg.pool_size} images in {elapsed:.1f} s "
                f"({cfg.pool_size / max(elapsed, 1e-9):.0f} images/s); "
                f"{cfg.data_workers} worker(s) refresh it"
            )
        stream.load_state_dict(self._stream_state)
        self.stream = stream
        return stream

    def close(self) -> None:
        if self.stream is not None:
            self._stream_state = self.stream.state_dict()
            self.stream.close()
            self.stream = None

    # ----- one iteration --------------------------------------------------------------------
    def _sample_wp(self, n: int) -> torch.Tensor:
        """``[n, L, w_dim]`` training codes with style mixing; updates ``w_avg``."""
        G, cfg = self.G, self.config
        z = torch.randn(n, G.z_dim).to(self.device)
        w = G.map_w(z)
        G.update_w_avg(w.detach())
        wp = w.unsqueeze(1).expand(-1, G.num_layers, -1)
        if cfg.style_mixing_prob > 0 and G.num_layers > 1:
            w_mix = G.map_w(torch.randn(n, G.z_dim).to(self.device))
            cutoff = torch.randint(1, G.num_layers, (n,))
            mixing = torch.rand(n) < cfg.style_mixing_prob
            cutoff = torch.where(mixing, cutoff, torch.full_like(cutoff, G.num_layers)).to(self.device)
            layer = torch.arange(G.num_layers, device=self.device)
            use_mix = (layer.unsqueeze(0) >= cutoff.unsqueeze(1)).unsqueeze(2)  # [n, L, 1]
            wp = torch.where(use_mix, w_mix.unsqueeze(1), wp)
        return wp

    def train_step(self) -> dict[str, float]:
        """One D step and one G step on one batch; returns the losses.

        During the reconstruction warm-up only G trains, on the reconstruction loss alone.
        """
        stream = self.open_data()
        self._apply_fade()
        cfg, n = self.config, self.config.batch_size
        codes = None
        if cfg.recon_weight > 0:
            images, codes = stream.next_pairs(n, self.np_rng)
        else:
            images = stream.next_batch(n, self.np_rng)
        real = to_training_tensor(images, self.device, cfg.channels_last)
        if codes is not None and self.images_seen < cfg.recon_warmup_kimg * 1000:
            return self._warmup_step(codes, real)
        fake = self.G.synthesize_raw(self._sample_wp(n))
        if cfg.channels_last:
            fake = fake.contiguous(memory_format=torch.channels_last)

        # Discriminator: logistic loss, plus lazy R1 on the reals every r1_interval steps.
        self.D.requires_grad_(True)
        do_r1 = cfg.r1_gamma > 0 and self.iteration % cfg.r1_interval == 0
        if do_r1:
            real.requires_grad_(True)
        real_logits = self.D(real)
        fake_logits = self.D(fake.detach())
        loss_d = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        stats = {
            "loss_d": loss_d.item(),
            "real_score": real_logits.detach().mean().item(),
            "fake_score": fake_logits.detach().mean().item(),
        }
        if do_r1:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = grad.square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + r1 * (cfg.r1_gamma / 2 * cfg.r1_interval)
            stats["r1"] = r1.item()
        self._check_finite(stats)  # before any step: a diverged loss never reaches the weights
        self.d_opt.zero_grad(set_to_none=True)
        loss_d.backward()
        self.d_opt.step()

        # Generator: non-saturating loss against the updated D.
        self.D.requires_grad_(False)
        loss_g = F.softplus(-self.D(fake)).mean()
        stats["loss_g"] = loss_g.item()
        if codes is not None:
            k = min(cfg.recon_batch, n) if cfg.recon_batch else n
            recon = self.reconstruction_loss(torch.from_numpy(codes[:k]).to(self.device), real[:k].detach())
            stats["recon"] = recon.item()
            loss_g = loss_g + cfg.recon_weight * recon
        self._check_finite(stats)
        self.g_opt.zero_grad(set_to_none=True)
        loss_g.backward()
        self.g_opt.step()

        self._update_ema(n)
        self.iteration += 1
        self.images_seen += n
        return stats

    def _warmup_step(self, codes: np.ndarray, real: torch.Tensor) -> dict[str, float]:
        cfg, n = self.config, self.config.batch_size
        recon = self.reconstruction_loss(torch.from_numpy(codes).to(self.device), real)
        # The adversarial entries read 0 while D waits (the log keeps its columns).
        stats = {"loss_d": 0.0, "loss_g": 0.0, "recon": recon.item()}
        self._check_finite(stats)
        self.g_opt.zero_grad(set_to_none=True)
        (cfg.recon_weight * recon).backward()
        self.g_opt.step()
        self._update_ema(n)
        self.iteration += 1
        self.images_seen += n
        return stats

    def reconstruction_loss(self, codes: torch.Tensor, rooms: torch.Tensor) -> torch.Tensor:
        """How far G, given each room's factor code ``[k, K]`` as the first ``K`` numbers of z
        (the rest fresh noise), lands from that room ``[k, 3, R, R]`` in [-1, 1].

        L1 on pixels plus ``recon_feature_weight`` x L1 on the world predictor's feature maps.
        """
        G, cfg = self.G, self.config
        if codes.shape[1] > G.z_dim:
            raise ValueError(f"factor codes have {codes.shape[1]} numbers but z has only {G.z_dim}")
        rest = torch.randn(codes.shape[0], G.z_dim - codes.shape[1], device=self.device)
        w = G.map_w(torch.cat([codes, rest], dim=1))
        G.update_w_avg(w.detach())  # the codes are N(0, 1) draws too
        made = G.synthesize_raw(w.unsqueeze(1).expand(-1, G.num_layers, -1))
        loss = (made - rooms).abs().mean()
        if self.feature_net is not None:
            ours, theirs = self.feature_net.features(made), self.feature_net.features(rooms)
            loss = loss + cfg.recon_feature_weight * sum(
                (a - b).abs().mean() for a, b in zip(ours, theirs, strict=True)
            )
        return loss

    def _check_finite(self, stats: dict[str, float]) -> None:
        if not all(math.isfinite(v) for v in stats.values()):
            raise NonFiniteLossError(
                f"non-finite loss at iteration {self.iteration}: {stats}; the checkpoints in "
                f"{self.run_dir} hold the last good state (try a lower learning rate or a higher R1 gamma)"
            )

    @torch.no_grad()
    def _update_ema(self, batch: int) -> None:
        cfg = self.config
        ema_nimg = cfg.ema_kimg * 1000.0
        if cfg.ema_rampup > 0:
            ema_nimg = min(ema_nimg, self.images_seen * cfg.ema_rampup)
        beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    # ----- outputs --------------------------------------------------------------------------
    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        """G_ema on the fixed codes (no truncation) as one uint8 grid image."""
        images = []
        for z in self.sample_z.split(16):
            wp = self.G_ema.map(z, truncation_psi=1.0)
            images.append(to_uint8_images(self.G_ema.synthesize(wp)))
        return image_grid(np.concatenate(images), SAMPLE_GRID_SIZE)

    def save_samples(self) -> Path:
        grid = self.sample_grid()
        path = self.run_dir / "samples" / f"iter-{self.iteration:07d}.png"
        save_png(grid, path)
        save_png(grid, self.run_dir / "samples" / "latest.png")
        return path

    def save_reals(self) -> Path:
        # Rendered from their own seed, so the training stream is not advanced.
        images, _codes = check_rendered(
            self.render(self.config.seed + 424_242, SAMPLE_GRID_SIZE**2, self.config.resolution),
            SAMPLE_GRID_SIZE**2,
            self.config.resolution,
        )
        path = self.run_dir / "samples" / "reals.png"
        save_png(image_grid(images, SAMPLE_GRID_SIZE), path)
        return path

    def _log_line(self, record: dict[str, Any]) -> None:
        with (self.run_dir / "log.jsonl").open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    # ----- the loop -------------------------------------------------------------------------
    def run(self) -> Path | None:
        """Train until ``iterations`` (or ``minutes``, or SIGTERM); returns the last checkpoint.

        Checkpoints every ``checkpoint_minutes`` (and every ``checkpoint_every`` iterations),
        and once more on the way out, also after Ctrl-C or SIGTERM.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock_run_dir(self.run_dir)
        try:
            return self._run_locked()
        finally:
            lock.close()

    def _run_locked(self) -> Path | None:
        cfg = self.config
        if not (self.run_dir / "config.json").exists():
            atomic_write_json(self.run_dir / "config.json", cfg.to_dict(), indent=1, sort_keys=True)
        self.open_data()
        if not (self.run_dir / "samples" / "reals.png").exists():
            self.save_reals()
        if cfg.sample_every and self.iteration == 0:
            self.save_samples()
        self.log(
            f"training {self.G.describe()['parameters']:,} G + "
            f"{sum(p.numel() for p in self.D.parameters()):,} D parameters on "
            f"{describe_hardware(self.device)}; run folder {self.run_dir}"
        )

        previous_handler = None
        try:
            previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread
            pass
        from tqdm import tqdm

        interactive = sys.stderr.isatty()
        bar = tqdm(
            total=cfg.iterations,
            initial=self.iteration,
            unit="it",
            dynamic_ncols=True,
            disable=not cfg.progress,
            mininterval=1.0 if interactive else 60.0,
            file=sys.stderr,
        )
        session_start = last_checkpoint = window_start = time.monotonic()
        loop_clock = time.monotonic()
        window_iterations = 0
        last_saved_iteration = self.iteration
        checkpoint: Path | None = None
        diverged = False
        last_r1: float | None = None  # R1 runs every r1_interval steps; log its latest value
        try:
            while self.iteration < cfg.iterations and not self._stop_requested:
                stats = self.train_step()
                now = time.monotonic()
                self.train_seconds += now - loop_clock
                loop_clock = now
                window_iterations += 1
                bar.update(1)
                if "r1" in stats:
                    last_r1 = stats["r1"]
                if self.iteration % cfg.log_every == 0:
                    elapsed = max(now - window_start, 1e-9)
                    speed = window_iterations / elapsed
                    record = {
                        "iteration": self.iteration,
                        "images": self.images_seen,
                        "train_seconds": round(self.train_seconds, 1),
                        "it_per_s": round(speed, 4),
                        "images_per_s": round(speed * cfg.batch_size, 2),
                        **{k: round(v, 5) for k, v in stats.items() if k != "r1"},
                        "r1_last": None if last_r1 is None else round(last_r1, 5),
                        **{f"data_{k}": round(v, 2) for k, v in self.open_data().stats().items()},
                    }
                    self._log_line(record)
                    bar.set_postfix(
                        G=f"{stats['loss_g']:.3f}",
                        D=f"{stats['loss_d']:.3f}",
                        img_s=f"{speed * cfg.batch_size:.1f}",
                        refresh=False,
                    )
                    window_start, window_iterations = now, 0
                if cfg.sample_every and self.iteration % cfg.sample_every == 0:
                    self.save_samples()
                due_by_count = cfg.checkpoint_every and self.iteration % cfg.checkpoint_every == 0
                due_by_time = now - last_checkpoint >= cfg.checkpoint_minutes * 60
                if due_by_count or due_by_time:
                    checkpoint = self.save_checkpoint()
                    last_saved_iteration = self.iteration
                    last_checkpoint = time.monotonic()
                    loop_clock = last_checkpoint  # checkpoint I/O is not training time
                if cfg.minutes and now - session_start >= cfg.minutes * 60:
                    self.log(f"time limit of {cfg.minutes} minutes reached")
                    break
        except KeyboardInterrupt:
            self.log("interrupted: saving a checkpoint")
            self._stop_requested = True
        except NonFiniteLossError:
            diverged = True
            raise
        finally:
            bar.close()
            if previous_handler is not None:
                signal.signal(signal.SIGTERM, previous_handler)
            try:
                if self.iteration != last_saved_iteration and not diverged:
                    checkpoint = self.save_checkpoint()
                    if cfg.sample_every:
                        self.save_samples()
            finally:
                self.close()
        if checkpoint is not None:
            self.log(f"checkpoint {checkpoint} (iteration {self.iteration})")
        return checkpoint

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.log("SIGTERM: finishing this iteration and saving a checkpoint")
        self._stop_requested = True


def _lock_run_dir(run_dir: Path):
    """Hold an exclusive lock on ``RUN/.lock`` (released when the returned file is closed).

    Refuses a second training process on the same run folder, which would interleave
    checkpoints. The lock is a POSIX record lock (``fcntl.lockf``): it belongs to this
    process alone, is not inherited by forked render workers, and the kernel drops it the
    moment the trainer dies (even by SIGKILL), so a dead trainer's lock never blocks a
    ``--resume``. Where ``fcntl`` is unavailable the lock is advisory only (not taken).
    """
    handle = (run_dir / ".lock").open("a+")
    try:
        import fcntl
    except ImportError:
        return handle
    try:
        fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SettingsError(f"{run_dir} is in use by another training process ({holder}); stop it first") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def retunes_from_log(run_dir: Path) -> list[dict[str, Any]]:
    """The "retuned" events of ``RUN/log.jsonl`` (for checkpoints written before they were stored)."""
    events: list[dict[str, Any]] = []
    try:
        lines = (Path(run_dir) / "log.jsonl").read_text().splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a killed run
        if record.get("event") == "retuned":
            events.append({"iteration": record["iteration"], "changes": record["changes"]})
    return events


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def _validate_payload(payload: dict[str, Any], path: Path) -> None:
    missing = [k for k in _REQUIRED_KEYS if k not in payload]
    if missing:
        raise TrainingCheckpointError(f"{path}: missing {', '.join(missing)}; not a complete training checkpoint")
    if payload["format"] != CHECKPOINT_FORMAT:
        raise TrainingCheckpointError(f"{path}: format {payload['format']!r}, expected {CHECKPOINT_FORMAT!r}")
    if int(payload.get("version", 0)) > CHECKPOINT_VERSION:
        raise TrainingCheckpointError(f"{path}: checkpoint version {payload['version']} is newer than this sceneedit")


def merge_resume_config(saved: dict[str, Any], explicit: dict[str, Any]) -> TrainConfig:
    """The saved config with ``explicit`` run-control and tunable settings applied.

    Any other setting (the architecture, the seed, Adam betas, ...) must agree with the saved one.
    """
    merged = {**LEGACY_DEFAULTS, **saved}
    allowed = RUN_CONTROL_FIELDS | TUNABLE_ON_RESUME
    for key, value in explicit.items():
        if key not in merged:
            raise SettingsError(f"unknown training setting {key!r}")
        if key in allowed:
            merged[key] = value
        elif value != merged[key]:
            raise SettingsError(
                f"--{key.replace('_', '-')} {value} differs from the run's saved {merged[key]}; "
                f"a resumed run keeps its architecture (only {', '.join(sorted(allowed))} may change)"
            )
    return TrainConfig.from_dict(merged).validate()


# ----- export ---------------------------------------------------------------------------------
def export_generator(
    run_dir: str | os.PathLike, out_path: str | os.PathLike, log: Callable[[str], None] | None = None
) -> Path:
    """Write the newest good checkpoint's G_ema in our safetensors format; returns the path."""
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    loaded = load_latest_checkpoint(run_dir, validate=_validate_payload)
    for reason in loaded.skipped:
        say(f"warning: skipping unusable checkpoint: {reason}")
    payload = loaded.payload
    generator = StyleGANGenerator(**payload["generator_config"])
    generator.load_state_dict(payload["G_ema"])
    generator.randomize_noise = False
    generator.eval()
    config = {**LEGACY_DEFAULTS, **payload["config"]}
    training = {
        "iterations": int(payload["iteration"]),
        "images_seen": int(payload["images_seen"]),
        "wall_time_s": round(float(payload["train_seconds"]), 1),
        "hardware": list(payload.get("hardware", [])),
        "retunes": list(payload["retunes"]) if "retunes" in payload else retunes_from_log(Path(run_dir)),
        "checkpoint": loaded.path.name,
        "recipe": {
            k: config[k]
            for k in (
                "batch_size",
                "g_lr",
                "d_lr",
                "adam_beta1",
                "adam_beta2",
                "r1_gamma",
                "r1_interval",
                "style_mixing_prob",
                "ema_kimg",
                "ema_rampup",
                "d_fmaps_base",
                "d_fmaps_max",
                "seed",
                "recon_weight",
                "recon_feature_weight",
                "recon_batch",
                "recon_warmup_kimg",
            )
        },
    }
    path = save_generator(generator, out_path, dataset=DATASET_DESCRIPTION, training=training)
    say(f"exported G_ema of {loaded.path} (iteration {payload['iteration']}) to {path}")
    return path


def export_portable_checkpoint(
    run_dir: str | os.PathLike, out_path: str | os.PathLike, log: Callable[[str], None] | None = None
) -> Path:
    """Write the newest good checkpoint of ``run_dir`` as a small portable file (portable.py),
    with a Markdown note beside it (same name, ``.md``) saying how to continue."""
    from .portable import portable_card, write_portable_checkpoint

    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    loaded = load_latest_checkpoint(run_dir, validate=_validate_payload)
    for reason in loaded.skipped:
        say(f"warning: skipping unusable checkpoint: {reason}")
    path, info = write_portable_checkpoint(loaded.payload, out_path, source=loaded.path.name)
    atomic_write_text(path.with_suffix(".md"), portable_card(path, info))
    say(
        f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB; iteration {info['iteration']}, "
        f"optimizer: {info['optimizer']}); continue with: sceneedit train --run-dir NEW_RUN --resume-from {path}"
    )
    return path


# ----- command line -------------------------------------------------------------------------
def run_from_args(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise SettingsError(f"--run-dir {run_dir} is a file, not a folder")
    from .gan_cli import explicit_settings

    settings = explicit_settings(args)
    export_checkpoint = getattr(args, "export_checkpoint", None)
    resume_from = getattr(args, "resume_from", None)
    for flag, value in (("--export", args.export), ("--export-checkpoint", export_checkpoint)):
        if value is not None and (settings or args.resume or resume_from):
            raise SettingsError(f"{flag} only exports; give it with --run-dir alone")
    if args.export is not None:
        export_generator(run_dir, args.export)
        return 0
    if export_checkpoint is not None:
        export_portable_checkpoint(run_dir, export_checkpoint)
        return 0
    if resume_from is not None:
        if args.resume:
            raise SettingsError("--resume continues a run folder, --resume-from a portable file: give one")
        if list_checkpoints(run_dir):
            raise SettingsError(
                f"{run_dir} already holds checkpoints; continue it with --resume "
                f"(--resume-from starts a new run folder from {resume_from})"
            )
        trainer = GANTrainer.from_portable(resume_from, run_dir, settings)
    elif args.resume:
        trainer = GANTrainer.resume(run_dir, settings)
    else:
        if list_checkpoints(run_dir):
            raise SettingsError(
                f"{run_dir} already holds checkpoints; pass --resume to continue it or choose a new --run-dir"
            )
        if settings.get("init_from"):
            from .growing import architecture_settings

            settings = {**architecture_settings(settings["init_from"]), **settings}
        trainer = GANTrainer(TrainConfig.from_dict(settings).validate(), run_dir)
    trainer.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    from .gan_cli import build_parser

    args = build_parser().parse_args(argv)
    try:
        return run_from_args(args)
    except USER_ERRORS as exc:
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
