"""The default predictor: a small CNN that reads every factor of the procedural room world.

One convolutional trunk (stride-2 stem, four stages of two 3x3 convs with batch norm) and
one head producing, per image:

* ``category``: softmax over :data:`~sceneedit.scenes.CATEGORIES` -> one probability score
  per category (level ``objects``);
* binary factors (``natural_light``, ``floor_wood``): a probability each;
* continuous factors (layout, lighting, clutter, colours): regressed, normalised to [0, 1]
  over the factor's range in :data:`~sceneedit.scenes.FACTOR_SPEC`.

Stored as safetensors with a JSON config (and held-out metrics) in the metadata, so the
network is rebuilt from the file alone: ``load_world_predictor(path=None)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sceneedit.files import atomic_path
from sceneedit.resources import resource_path
from sceneedit.scenes.factors import CATEGORIES, FACTOR_SPEC, factor_spec

from ...errors import MissingFileError, SceneeditError, SettingsError

PREDICTOR_FORMAT = "sceneedit-world-predictor"
FORMAT_VERSION = 1
DEFAULT_FILE = "world_predictor.safetensors"

#: Factor names per head kind, in FACTOR_SPEC order.
BINARY_FACTORS = tuple(s.name for s in FACTOR_SPEC if s.kind == "binary")
CONTINUOUS_FACTORS = tuple(s.name for s in FACTOR_SPEC if s.kind == "continuous")


#: Standard deviation of a uniform [0, 1] variable: the continuous head's target scale.
CONTINUOUS_STD = 1.0 / np.sqrt(12.0)


class PredictorLoadError(SceneeditError, ValueError):
    """A predictor file is missing, malformed, or does not fit the architecture."""


@dataclass(frozen=True)
class WorldNetConfig:
    """Constructor arguments of :class:`WorldNet` (persisted as JSON in the file's metadata)."""

    input_size: int = 64
    #: Patchify stem: a ``stem_stride`` x ``stem_stride`` conv with that stride (cheap on a CPU).
    stem_stride: int = 4
    #: Stem channels, then the channels of the four stages.
    channels: tuple[int, ...] = (32, 40, 64, 96, 96)
    #: Stride of the first conv of each stage.
    stage_strides: tuple[int, ...] = (1, 2, 2, 1)
    #: Channels the last map is squeezed to before it is flattened (keeps "where").
    squeeze: int = 16
    hidden: int = 160
    categories: tuple[str, ...] = CATEGORIES
    binary: tuple[str, ...] = BINARY_FACTORS
    continuous: tuple[str, ...] = CONTINUOUS_FACTORS
    #: ``[low, high]`` of each continuous factor, to turn normalised outputs back into units.
    ranges: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {n: (factor_spec(n).low, factor_spec(n).high) for n in CONTINUOUS_FACTORS}
    )

    def __post_init__(self) -> None:
        if self.input_size % self.total_stride or self.input_size < self.total_stride:
            raise SettingsError(f"input_size must be a positive multiple of {self.total_stride}, got {self.input_size}")
        if len(self.channels) != 5 or min(self.channels) < 1:
            raise SettingsError(f"channels must be 5 positive integers (stem + 4 stages), got {self.channels}")
        if len(self.stage_strides) != 4 or any(s not in (1, 2) for s in self.stage_strides):
            raise SettingsError(f"stage_strides must be 4 values in (1, 2), got {self.stage_strides}")
        missing = [n for n in self.continuous if n not in self.ranges]
        if missing:
            raise SettingsError(f"ranges lacks continuous factor(s) {missing}")

    @property
    def total_stride(self) -> int:
        return self.stem_stride * int(np.prod(self.stage_strides))

    @property
    def num_outputs(self) -> int:
        return len(self.categories) + len(self.binary) + len(self.continuous)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorldNetConfig:
        raw = json.loads(text)
        for key in ("channels", "stage_strides", "categories", "binary", "continuous"):
            if key in raw:
                raw[key] = tuple(raw[key])
        if "ranges" in raw:
            raw["ranges"] = {k: tuple(v) for k, v in raw["ranges"].items()}
        return cls(**raw)


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class WorldNet(nn.Module):
    """``[N, 3, S, S]`` in [-1, 1] -> raw outputs ``[N, num_outputs]``.

    Output order: category logits, binary logits, continuous values standardised as
    ``(unit - 0.5) / CONTINUOUS_STD`` where ``unit`` is the factor normalised to [0, 1] (a
    linear head on standardised targets learns much faster than a sigmoid one).
    ``features``: the map after each of the four stages (S/4, S/8, S/16, S/16 with the defaults).
    """

    def __init__(self, config: WorldNetConfig) -> None:
        super().__init__()
        self.config = config
        c, k = config.channels, config.stem_stride
        self.stem = nn.Sequential(nn.Conv2d(3, c[0], k, k, 0, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))
        self.stages = nn.ModuleList(
            [
                nn.Sequential(_conv(c[i], c[i + 1], config.stage_strides[i]), _conv(c[i + 1], c[i + 1], 1))
                for i in range(4)
            ]
        )
        grid = config.input_size // config.total_stride
        self.squeeze = nn.Sequential(nn.Conv2d(c[4], config.squeeze, 1), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(config.squeeze * grid * grid + c[4], config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, config.num_outputs),
        )

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.features(x)[-1]
        # Global pooling sees "what"; the squeezed grid keeps "where" (layout, lamp positions).
        flat = torch.cat([self.squeeze(last).flatten(1), last.mean(dim=(2, 3))], dim=1)
        return self.head(flat)


class WorldPredictor(nn.Module):
    """The :class:`~sceneedit.semantics.predictors.base.Predictor` for the room world.

    ``score(images)``: ``[N, 3, H, W]`` in [-1, 1], any H, W -> ``[N, len(score_names)]``:
    category probabilities, binary probabilities, continuous factors normalised to [0, 1]
    over their range (regressed, unclamped: values slightly outside [0, 1] can occur).
    Differentiable when the images require grad; otherwise runs without autograd.
    """

    def __init__(self, net: WorldNet, name: str = "world", metrics: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.net = net.eval()
        self.name = name
        self.metrics = dict(metrics or {})
        cfg = net.config
        self.score_names: list[str] = list(cfg.categories) + list(cfg.binary) + list(cfg.continuous)
        levels = {n: factor_spec(n).level for n in (*cfg.binary, *cfg.continuous)}
        levels.update({n: factor_spec("category").level for n in cfg.categories})
        self.score_levels: dict[str, str] = levels

    @property
    def config(self) -> WorldNetConfig:
        return self.net.config

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def train(self, mode: bool = True) -> WorldPredictor:
        # The predictor is a frozen scorer; training goes through ``self.net`` directly.
        super().train(False)
        return self

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Check ``[N, 3, H, W]`` and resize to the network's input size (antialiased)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"world predictor expects images [N, 3, H, W] in [-1, 1], got {list(images.shape)}")
        size = self.config.input_size
        images = images.to(device=self.device, dtype=torch.float32)
        if images.shape[2:] != (size, size):
            shrinking = images.shape[2] > size or images.shape[3] > size
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
        return images

    def _outputs_to_scores(self, raw: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        k, b = len(cfg.categories), len(cfg.binary)
        return torch.cat(
            [raw[:, :k].softmax(dim=1), raw[:, k : k + b].sigmoid(), 0.5 + CONTINUOUS_STD * raw[:, k + b :]], dim=1
        )

    def score(self, images: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(images.requires_grad):
            scores = self._outputs_to_scores(self.net(self.preprocess(images)))
        return scores.to(images.device)

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Multi-scale feature maps, one per stage: ``[N, C_i, H_i, W_i]`` (see :class:`WorldNet`).

        Differentiable with respect to ``images`` (for a projected discriminator); freezing the
        weights (``requires_grad_(False)``) is up to the caller.
        """
        return self.net.features(self.preprocess(images))

    def pooled_features_and_scores(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images [N, 3, H, W]`` in [-1, 1] -> ``(features [N, F], scores [N, S])`` in one pass,
        without autograd: ``features`` are the spatial means of every stage's output, concatenated
        (FD-world's and the realism meter's feature space)."""
        pooled: list[torch.Tensor] = []
        hooks = [
            stage.register_forward_hook(lambda _m, _i, out: pooled.append(out.mean(dim=(2, 3))))
            for stage in self.net.stages
        ]
        try:
            with torch.no_grad():
                scores = self.score(images.detach())
        finally:
            for hook in hooks:
                hook.remove()
        if len(pooled) != len(self.net.stages):
            raise RuntimeError(f"expected {len(self.net.stages)} stage outputs, got {len(pooled)}")
        return torch.cat(pooled, dim=1).float(), scores.float()

    @property
    def feature_channels(self) -> list[int]:
        return list(self.config.channels[1:])

    def predict(self, images: torch.Tensor, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Factors in their own units: ``category`` (index), binary (0/1), continuous (denormalised)."""
        cfg = self.config
        chunks = [
            self.score(images[i : i + batch_size].detach()).cpu().numpy() for i in range(0, len(images), batch_size)
        ]
        scores = np.concatenate(chunks) if chunks else np.zeros((0, len(self.score_names)), np.float32)
        k, b = len(cfg.categories), len(cfg.binary)
        out: dict[str, np.ndarray] = {"category": scores[:, :k].argmax(axis=1)}
        for j, name in enumerate(cfg.binary):
            out[name] = (scores[:, k + j] > 0.5).astype(np.int64)
        for j, name in enumerate(cfg.continuous):
            low, high = cfg.ranges[name]
            out[name] = low + scores[:, k + b + j] * (high - low)
        return out


# ----- files ---------------------------------------------------------------------------------------


def default_predictor_path() -> Path:
    return resource_path(DEFAULT_FILE)


def save_world_predictor(
    predictor: WorldPredictor, path: str | os.PathLike, metrics: dict[str, Any] | None = None, **extra: str
) -> Path:
    """Write weights + config (+ metrics) as safetensors; a temp file is renamed into place."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in predictor.net.state_dict().items()}
    metadata = {
        "format": PREDICTOR_FORMAT,
        "version": str(FORMAT_VERSION),
        "name": predictor.name,
        "config": predictor.config.to_json(),
        "metrics": json.dumps(metrics if metrics is not None else predictor.metrics, sort_keys=True),
        **{k: str(v) for k, v in extra.items()},
    }
    with atomic_path(path) as temp:
        save_file(state, str(temp), metadata=metadata)
    os.chmod(path, 0o644)  # a shipped resource, readable by everyone like the rest of the repo
    return path


def read_predictor_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a predictor file (clear errors for missing / non-safetensors files)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"world predictor file not found: {path} (train one with: python -m sceneedit.training.predictor)"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # safetensors raises several types for a corrupt header
        raise PredictorLoadError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != PREDICTOR_FORMAT:
        raise PredictorLoadError(
            f"{path}: not a sceneedit world predictor (metadata format={metadata.get('format')!r})"
        )
    return metadata


def load_world_predictor(
    path: str | os.PathLike | None = None, device: str | torch.device | None = None, name: str | None = None
) -> WorldPredictor:
    """Load a world predictor (default: ``resources/world_predictor.safetensors``) onto ``device``."""
    from safetensors.torch import load_file

    path = Path(path) if path is not None else default_predictor_path()
    metadata = read_predictor_metadata(path)
    if int(metadata.get("version", "0")) > FORMAT_VERSION:
        raise PredictorLoadError(f"{path}: format version {metadata.get('version')} is newer than this sceneedit")
    try:
        config = WorldNetConfig.from_json(metadata["config"])
        metrics = json.loads(metadata.get("metrics", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise PredictorLoadError(f"{path}: bad predictor config in metadata ({exc})") from exc
    unknown = [n for n in (*config.binary, *config.continuous) if n not in {s.name for s in FACTOR_SPEC}]
    if unknown:
        raise PredictorLoadError(f"{path}: predicts factor(s) {unknown} this version of the world does not have")
    net = WorldNet(config)
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise PredictorLoadError(f"{path}: cannot read tensors ({exc})") from exc
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise PredictorLoadError(
            f"{path}: weights do not fit the config (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise PredictorLoadError(
                f"{path}: tensor {key!r} has shape {list(tensor.shape)}, expected {list(expected[key].shape)}"
            )
    net.load_state_dict(state)
    predictor = WorldPredictor(net, name=name or str(metadata.get("name", "world")), metrics=metrics)
    if device is not None:
        from sceneedit.device import resolve_device

        predictor = predictor.to(resolve_device(device))
    return predictor


def category_histogram(predictor: WorldPredictor, images: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    """Fraction of ``images`` ([N, 3, H, W] in [-1, 1]) predicted as each category."""
    categories = predictor.predict(images, batch_size)["category"]
    counts = np.bincount(categories, minlength=len(predictor.config.categories))
    total = max(1, len(categories))
    return {name: float(counts[i]) / total for i, name in enumerate(predictor.config.categories)}
