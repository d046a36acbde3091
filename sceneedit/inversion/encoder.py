"""The inversion encoder: an image -> the layer-wise code ``wp [L, D]`` of one generator.

Two kinds, both read out in units of the mapped codes' spread, ``wp = w_mean + out * w_std``
(per dimension, from codes the generator's mapping produced), and both trained on the
generator's own samples (``sceneedit train-encoder``):

* ``linear`` (the default and the shipped one): the picture average-pooled to ``thumb`` x
  ``thumb`` px, then one linear map to every layer's code, fitted in closed form (ridge
  regression over sampled codes and their images; minutes on a CPU);
* ``cnn``: a small convolutional network (stride-2 stages down to 4 px, then a dense head),
  trained by gradient steps (needs far more compute to beat the linear one).

It gives the starting point of the optimization in :mod:`sceneedit.inversion.optimize`.

Stored as safetensors: the weights (float16 on disk, float32 in memory) plus JSON metadata
holding the constructor config and the fingerprint of the generator it was trained for.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SceneeditError
from ..files import atomic_path
from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from ..resources import resource_path

ENCODER_FORMAT = "sceneedit-encoder"
ENCODER_VERSION = 1
METADATA_KEY = "sceneedit_encoder"
DEFAULT_ENCODER_NAME = "default_encoder.safetensors"


class EncoderError(SceneeditError, ValueError):
    """An encoder file is missing, malformed, or made for another generator."""


@dataclass(frozen=True)
class EncoderConfig:
    """Constructor arguments of :class:`Encoder` (persisted in the file)."""

    resolution: int = 64
    #: ``"linear"`` (pooled pixels -> codes) or ``"cnn"``.
    kind: str = "linear"
    #: Side of the pooled picture the linear kind reads.
    thumb: int = 16
    num_layers: int = 10
    w_dim: int = 256
    #: Channels after the stem, doubled per stage up to ``max_channels``.
    base_channels: int = 16
    max_channels: int = 128
    #: Channels the 4x4 map is squeezed to before the dense head (keeps "where").
    squeeze: int = 32
    hidden: int = 256

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise EncoderError(f"encoder resolution must be a power of two >= 8, got {self.resolution}")
        if self.kind not in ("linear", "cnn"):
            raise EncoderError(f"encoder kind must be 'linear' or 'cnn', got {self.kind!r}")
        if self.thumb < 1 or self.resolution % self.thumb:
            raise EncoderError(f"thumb must divide the resolution {self.resolution}, got {self.thumb}")
        if min(self.num_layers, self.w_dim, self.base_channels, self.max_channels, self.squeeze, self.hidden) < 1:
            raise EncoderError(f"encoder sizes must be positive: {self}")

    @property
    def stages(self) -> int:
        """Stride-2 stages from ``resolution`` down to 4 px."""
        return int(math.log2(self.resolution // 4))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 4, 2, 1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1),
        nn.LeakyReLU(0.2, inplace=True),
    )


class Encoder(nn.Module):
    """``[N, 3, R, R]`` in [-1, 1] -> ``wp [N, L, D]``.

    ``w_mean`` / ``w_std`` (buffers ``[D]``) are the mean and per-dimension spread of the
    generator's mapped codes; the network predicts ``(wp - w_mean) / w_std``.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("w_mean", torch.zeros(config.w_dim))
        self.register_buffer("w_std", torch.ones(config.w_dim))
        if config.kind == "linear":
            self.linear = nn.Linear(3 * config.thumb * config.thumb, config.num_layers * config.w_dim)
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
            return
        channels = [min(config.base_channels * 2**i, config.max_channels) for i in range(config.stages + 1)]
        self.stem = nn.Sequential(nn.Conv2d(3, channels[0], 3, 1, 1), nn.LeakyReLU(0.2, inplace=True))
        self.stages = nn.Sequential(*[_block(channels[i], channels[i + 1]) for i in range(config.stages)])
        last = channels[-1]
        self.squeeze = nn.Sequential(nn.Conv2d(last, config.squeeze, 1), nn.LeakyReLU(0.2, inplace=True))
        self.head = nn.Sequential(
            nn.Linear(config.squeeze * 16 + last, config.hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(config.hidden, config.num_layers * config.w_dim),
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def linear_features(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 3, R, R]`` -> the linear kind's input ``[N, 3 * thumb * thumb]`` (average pooling)."""
        return F.adaptive_avg_pool2d(images, self.config.thumb).flatten(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config.resolution
        if images.ndim != 4 or images.shape[1] != 3:
            raise EncoderError(f"encoder expects images [N, 3, H, W], got {list(images.shape)}")
        if images.shape[2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        if self.config.kind == "linear":
            out = self.linear(self.linear_features(images))
        else:
            x = self.stages(self.stem(images))
            flat = torch.cat([self.squeeze(x).flatten(1), x.mean(dim=(2, 3))], dim=1)
            out = self.head(flat)
        out = out.view(-1, self.config.num_layers, self.config.w_dim)
        return self.w_mean + out * self.w_std

    @torch.no_grad()
    def set_code_statistics(self, w: torch.Tensor) -> None:
        """Set ``w_mean`` / ``w_std`` from mapped codes ``w [N, D]``."""
        self.w_mean.copy_(w.mean(dim=0))
        self.w_std.copy_(w.std(dim=0).clamp(min=1e-4))


def encoder_for(generator: Generator, **overrides: Any) -> Encoder:
    """A fresh (untrained) encoder sized for ``generator``."""
    config = EncoderConfig(
        resolution=min(int(generator.resolution), 256),
        num_layers=int(generator.num_layers),
        w_dim=int(generator.w_dim),
        **overrides,
    )
    return Encoder(config)


# ----- files -----------------------------------------------------------------------------------
def default_encoder_path() -> Path:
    """The shipped encoder of the default generator (it may be absent)."""
    return resource_path(DEFAULT_ENCODER_NAME)


def save_encoder(
    encoder: Encoder, path: str | os.PathLike, generator_fp: dict[str, Any], info: dict[str, Any] | None = None
) -> Path:
    """Write weights (float16) + config + the generator's fingerprint, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().cpu().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
        for k, v in encoder.state_dict().items()
    }
    # The code statistics stay exact (they set the output scale).
    for key in ("w_mean", "w_std"):
        state[key] = encoder.state_dict()[key].detach().cpu().float().contiguous()
    document = {
        "format": ENCODER_FORMAT,
        "version": ENCODER_VERSION,
        "config": asdict(encoder.config),
        "generator": generator_fp,
        "info": info or {},
    }
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={METADATA_KEY: json.dumps(document, sort_keys=True)})
    return path


def read_encoder_metadata(path: str | os.PathLike) -> dict[str, Any]:
    from ..safetensors_metadata import read_json_metadata

    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"encoder file not found: {path} (train one with: sceneedit train-encoder)")
    document = read_json_metadata(path, METADATA_KEY, EncoderError, "a sceneedit encoder")
    if not isinstance(document, dict) or document.get("format") != ENCODER_FORMAT:
        raise EncoderError(f"{path}: not a sceneedit encoder")
    if int(document.get("version", 0)) > ENCODER_VERSION:
        raise EncoderError(f"{path}: encoder format version {document.get('version')} is newer than this sceneedit")
    return document


def load_encoder(path: str | os.PathLike, generator: Generator | None = None) -> Encoder:
    """Load an encoder; with ``generator``, refuse one trained for another generator."""
    from safetensors.torch import load_file

    path = Path(path)
    document = read_encoder_metadata(path)
    try:
        config = EncoderConfig(**document["config"])
    except (KeyError, TypeError) as exc:
        raise EncoderError(f"{path}: bad encoder config ({exc})") from exc
    if generator is not None:
        have = generator_fingerprint(generator)
        want = document.get("generator", {})
        if want.get("weights_hash") != have["weights_hash"]:
            raise EncoderError(
                f"{path}: encoder was trained for another generator (weights hash {want.get('weights_hash')}, "
                f"loaded {have['weights_hash']}); train one with: sceneedit train-encoder"
            )
    encoder = Encoder(config)
    try:
        state = load_file(str(path))
        encoder.load_state_dict({k: v.float() for k, v in state.items()})
    except Exception as exc:  # safetensors / load_state_dict raise several types
        raise EncoderError(f"{path}: weights do not fit the encoder config ({exc})") from exc
    encoder.eval()
    if generator is not None:
        encoder.to(generator.device)
    return encoder


def find_encoder(generator: Generator) -> Encoder | None:
    """The shipped encoder when it was trained for ``generator``, else None."""
    path = default_encoder_path()
    if not path.is_file():
        return None
    try:
        document = read_encoder_metadata(path)
    except EncoderError:
        return None
    if document.get("generator", {}).get("weights_hash") != generator_fingerprint(generator)["weights_hash"]:
        return None
    return load_encoder(path, generator)
