"""Settings of a GAN training run, their defaults and their validation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import SettingsError
from ..scenes.factors import FACTOR_CODE_DIMS

DATA_SOURCES_ALLOWED = ("pool", "stream")

#: Settings that may change when a run is resumed (how it runs, not what it trains).
RUN_CONTROL_FIELDS = frozenset(
    {
        "iterations",
        "minutes",
        "checkpoint_minutes",
        "checkpoint_every",
        "keep_checkpoints",
        "sample_every",
        "log_every",
        "device",
        "threads",
        "data_source",
        "pool_size",
        "data_workers",
        "channels_last",
        "progress",
    }
)

#: Loss and optimiser settings that may be retuned on resume (for example a stronger R1
#: when D starts to dominate); the change is logged. Architecture settings never change.
TUNABLE_ON_RESUME = frozenset(
    {
        "g_lr",
        "d_lr",
        "r1_gamma",
        "r1_interval",
        "style_mixing_prob",
        "ema_kimg",
        "ema_rampup",
        "recon_weight",
        "recon_feature_weight",
        "recon_batch",
        "recon_warmup_kimg",
        "fade_kimg",
    }
)

#: Settings added after the first runs, with the value that reproduces those runs: a checkpoint
#: saved without them resumes as it was trained.
LEGACY_DEFAULTS = {
    "recon_weight": 0.0,
    "recon_feature_weight": 0.0,
    "recon_batch": 0,
    "recon_warmup_kimg": 0.0,
    "init_from": "",
    "fade_kimg": 0.0,
}


@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults: the 64 px default generator on a 2-core CPU."""

    # --- generator (StyleGAN v1, our generator core) ---
    resolution: int = 64
    #: 14 factor codes (paired reconstruction) + 18 free numbers; a 256-long z learned the
    #: paired rooms more slowly here (test L1 0.26 vs 0.25 after 4 minutes, and still falling
    #: faster with 32).
    z_dim: int = 32
    w_dim: int = 256
    mapping_layers: int = 8
    #: StyleGAN's 0.01 froze the mapping under the reconstruction term (G drew one mean room
    #: for every code after 3,700 iterations; 0.1 likewise); 1.0 learned the codes.
    mapping_lr_mul: float = 1.0
    #: 16 channels at 64 px, 32 at 32, 64 at 16, 128 below: 2.3x faster than 2048 on a CPU.
    g_fmaps_base: int = 1024
    g_fmaps_max: int = 128
    #: Defaults stored with the exported generator (training itself never truncates).
    truncation_psi: float = 0.7
    truncation_layers: int = 6
    name: str = "sceneedit-rooms64"
    # --- discriminator ---
    d_fmaps_base: int = 1024
    d_fmaps_max: int = 128
    mbstd_group_size: int = 4
    # --- optimisation ---
    batch_size: int = 32
    g_lr: float = 2e-3
    d_lr: float = 2e-3
    adam_beta1: float = 0.0
    adam_beta2: float = 0.99
    #: 0.1 let D run away from G in the first default run (retuned to 1.0 at iteration 2,169).
    r1_gamma: float = 1.0
    r1_interval: int = 16
    style_mixing_prob: float = 0.9
    ema_kimg: float = 10.0
    ema_rampup: float = 0.05
    seed: int = 0
    # --- paired reconstruction (a supervised term beside the adversarial one) ---
    #: Weight of the paired reconstruction loss of G: the renderer draws each training room's
    #: factors from a standard-normal code (``factors_from_code``); G, given that code as the
    #: first dimensions of z, is pulled towards the room (L1 on pixels plus L1 on the world
    #: predictor's features). It teaches G the world's structure quickly; the adversarial
    #: loss still decides the details. 0 = a plain GAN.
    recon_weight: float = 1.0
    #: Weight of the world-predictor feature term inside the reconstruction loss.
    recon_feature_weight: float = 1.0
    #: Thousands of images of reconstruction-only training before the adversarial loss (and D)
    #: start: a CPU run spends its first hour learning the rooms' structure far faster this way.
    #: Ignored when ``recon_weight`` is 0 (a plain GAN has no warm-up).
    recon_warmup_kimg: float = 200.0
    #: Rooms per iteration in the reconstruction term (0 or more than the batch: the batch size).
    recon_batch: int = 16
    # --- starting point (see growing.py) ---
    #: A generator file to start from instead of random weights (D and the optimizers start
    #: fresh); grown to ``resolution`` when its own is lower. Read only when the run starts.
    init_from: str = ""
    #: Thousands of images over which each block added by growing fades in (0 = at once).
    fade_kimg: float = 0.0
    # --- data ---
    data_source: str = "pool"
    pool_size: int = 8192
    data_workers: int = 1
    # --- run control ---
    iterations: int = 100_000
    minutes: float = 0.0  # 0 = no time limit
    checkpoint_minutes: float = 5.0
    checkpoint_every: int = 0  # iterations; 0 = by time only
    keep_checkpoints: int = 3
    sample_every: int = 200
    log_every: int = 10
    device: str = "cpu"
    threads: int = 2
    channels_last: bool = True  # 15-35 % faster on the CPU here
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**values)

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the first nonsensical setting; returns self."""

        def need(condition: bool, message: str) -> None:
            if not condition:
                raise SettingsError(message)

        res = self.resolution
        need(
            isinstance(res, int) and res >= 8 and res & (res - 1) == 0,
            f"resolution must be a power of two >= 8 (8, 16, 32, 64, 128, ...), got {res}",
        )
        need(res <= 1024, f"resolution must be <= 1024, got {res}")
        need(self.batch_size > 0, f"batch size must be > 0, got {self.batch_size}")
        for name in ("g_lr", "d_lr"):
            value = getattr(self, name)
            need(value > 0 and value < 1, f"{name.replace('_', ' ')} must be in (0, 1), got {value}")
        need(
            0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1,
            f"Adam betas must be in [0, 1), got ({self.adam_beta1}, {self.adam_beta2})",
        )
        need(self.z_dim >= 1 and self.w_dim >= 1, f"z_dim and w_dim must be >= 1, got {self.z_dim}, {self.w_dim}")
        need(self.mapping_layers >= 1, f"mapping layers must be >= 1, got {self.mapping_layers}")
        need(self.mapping_lr_mul > 0, f"mapping lr multiplier must be > 0, got {self.mapping_lr_mul}")
        for name in ("g_fmaps_base", "d_fmaps_base"):
            need(
                getattr(self, name) >= res,
                f"{name.replace('_', ' ')} must be >= the resolution ({res}) so every layer has channels, "
                f"got {getattr(self, name)}",
            )
        for name in ("g_fmaps_max", "d_fmaps_max"):
            need(getattr(self, name) >= 1, f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}")
        need(0 < self.truncation_psi <= 1, f"truncation psi must be in (0, 1], got {self.truncation_psi}")
        need(self.truncation_layers >= 0, f"truncation layers must be >= 0, got {self.truncation_layers}")
        need(self.r1_gamma >= 0, f"R1 gamma must be >= 0, got {self.r1_gamma}")
        need(self.r1_interval >= 1, f"R1 interval must be >= 1, got {self.r1_interval}")
        need(
            0 <= self.style_mixing_prob <= 1,
            f"style mixing probability must be in [0, 1], got {self.style_mixing_prob}",
        )
        need(self.ema_kimg >= 0, f"EMA half-life (kimg) must be >= 0, got {self.ema_kimg}")
        need(self.ema_rampup >= 0, f"EMA ramp-up must be >= 0, got {self.ema_rampup}")
        need(self.recon_weight >= 0, f"reconstruction weight must be >= 0 (0 = off), got {self.recon_weight}")
        need(
            self.recon_weight == 0 or self.z_dim >= FACTOR_CODE_DIMS,
            f"paired reconstruction feeds the {FACTOR_CODE_DIMS} factor codes into z: z_dim must be >= "
            f"{FACTOR_CODE_DIMS}, got {self.z_dim}",
        )
        need(
            self.recon_feature_weight >= 0,
            f"reconstruction feature weight must be >= 0, got {self.recon_feature_weight}",
        )
        need(self.recon_warmup_kimg >= 0, f"reconstruction warm-up must be >= 0 kimg, got {self.recon_warmup_kimg}")
        need(self.recon_batch >= 0, f"reconstruction batch must be >= 0 (0 = the batch size), got {self.recon_batch}")
        need(self.mbstd_group_size >= 1, f"minibatch-stddev group size must be >= 1, got {self.mbstd_group_size}")
        need(
            self.data_source in DATA_SOURCES_ALLOWED,
            f"data source must be one of {', '.join(DATA_SOURCES_ALLOWED)}, got {self.data_source!r}",
        )
        need(
            self.pool_size >= self.batch_size,
            f"pool size ({self.pool_size}) must be >= the batch size ({self.batch_size})",
        )
        need(self.data_workers >= 0, f"data workers must be >= 0, got {self.data_workers}")
        need(self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}")
        need(self.minutes >= 0, f"minutes must be >= 0 (0 = no limit), got {self.minutes}")
        need(self.checkpoint_minutes > 0, f"checkpoint interval (minutes) must be > 0, got {self.checkpoint_minutes}")
        need(self.checkpoint_every >= 0, f"checkpoint interval (iterations) must be >= 0, got {self.checkpoint_every}")
        need(
            self.keep_checkpoints >= 2,
            f"keep at least 2 checkpoints (so a corrupt newest one has a fallback), got {self.keep_checkpoints}",
        )
        need(self.sample_every >= 0, f"sample interval must be >= 0 (0 = never), got {self.sample_every}")
        need(self.log_every >= 1, f"log interval must be >= 1, got {self.log_every}")
        need(self.threads >= 1, f"threads must be >= 1, got {self.threads}")
        need(self.fade_kimg >= 0, f"fade-in must be >= 0 kimg (0 = none), got {self.fade_kimg}")
        return self

    def generator_kwargs(self) -> dict[str, Any]:
        """Constructor kwargs of the generator this run trains."""
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "mapping_layers": self.mapping_layers,
            "mapping_lr_mul": self.mapping_lr_mul,
            "fmaps_base": self.g_fmaps_base,
            "fmaps_max": self.g_fmaps_max,
            "truncation_psi": self.truncation_psi,
            "truncation_layers": self.truncation_layers,
            "name": self.name,
        }
