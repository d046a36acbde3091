"""BigGAN-deep, as distributed by huggingface ``pytorch-pretrained-BigGAN``.

The module tree mirrors that package's ``BigGAN`` so its ``pytorch_model.bin`` state dict
loads with identical key names: ``embeddings.weight`` (class embedding, a bias-free
linear map of the class vector), ``generator.gen_z``, ``generator.layers.{i}`` (GenBlocks
with ``bn_0..bn_3`` / ``conv_0..conv_3``, and one ``SelfAttn`` at
``attention_layer_position``), ``generator.bn``, ``generator.conv_to_rgb``.

Spectral norm is stored as torch's ``spectral_norm`` stores it: ``weight_orig``,
``weight_u``, ``weight_v``. The weight used is ``weight_orig / sigma`` with
``sigma = u . (W v)`` (``W`` = ``weight_orig`` flattened to ``[out, -1]``), i.e. torch's
spectral norm in eval mode, computed in ``forward`` (no power iteration, so the output is
deterministic; gradients flow into ``weight_orig``).

Layer-wise codes: the conditioning vector ``cat(z, embed(class))`` is shared by
``gen_z`` and every GenBlock in the reference. Here it is repeated once per consumer,
``wp [N, num_layers, z_dim + embed_dim]`` with ``num_layers = 1 + number of GenBlocks``:
row 0 feeds ``gen_z`` (the 4x4 layout), row ``1 + j`` feeds GenBlock ``j``'s four
conditional batch norms. Editing one row changes only that consumer. The class is part
of the code (the embedding half of each row).

Truncation is BigGAN's truncation trick: ``sample_z`` draws a standard normal truncated
to ``[-2, 2]`` (by resampling out-of-range values; deterministic per seed), ``map``
multiplies ``z`` by ``psi`` (in rows ``[0, truncation_layers)``, all rows by default), and
the batch norms use the pre-computed statistics for ``psi`` -- so ``synthesize`` takes
``truncation_psi`` too (default: the generator's ``truncation_psi``). Pass the same value
to both to reproduce the reference ``model(psi * z, class_vector, psi)``.

Only BigGAN-deep is implemented (the only variant ``pytorch-pretrained-biggan`` ships).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import CheckpointError, ForeignFormat, Generator, GeneratorError, SynthesisResult
from .config_bounds import check_config
from .state_dicts import load_state_dict_strict

#: The reference's default configuration (BigGAN-deep 128).
DEFAULT_LAYERS = (
    (False, 16, 16),
    (True, 16, 16),
    (False, 16, 16),
    (True, 16, 8),
    (False, 8, 8),
    (True, 8, 4),
    (False, 4, 4),
    (True, 4, 2),
    (False, 2, 2),
    (True, 2, 1),
)
#: Half-width of the truncated normal ``sample_z`` draws from (the reference's truncnorm(-2, 2)).
TRUNCATION_THRESHOLD = 2.0
CONFIG_FILE = "config.json"


# ----- spectral norm -------------------------------------------------------------------------
def spectral_normalized(weight_orig: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``weight_orig / (u . (W v))`` where ``W = weight_orig.reshape(out, -1)``.

    ``u``: ``[out]``, ``v``: ``[in * k * k]`` -- torch's stored power-iteration vectors.
    """
    sigma = torch.dot(u, torch.mv(weight_orig.reshape(weight_orig.shape[0], -1), v))
    return weight_orig / sigma


class _SpectralNormed(nn.Module):
    """Holds ``weight_orig`` (parameter), ``weight_u`` / ``weight_v`` (buffers), optional bias."""

    weight_u: torch.Tensor
    weight_v: torch.Tensor

    def _init_spectral(self, weight_shape: tuple[int, ...], bias: bool) -> None:
        out_features = weight_shape[0]
        in_features = int(np.prod(weight_shape[1:]))
        self.weight_orig = nn.Parameter(torch.randn(weight_shape) * 0.02)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("weight_u", F.normalize(torch.randn(out_features), dim=0))
        self.register_buffer("weight_v", F.normalize(torch.randn(in_features), dim=0))
        self.power_iterate(10)

    @torch.no_grad()
    def power_iterate(self, steps: int = 1) -> None:
        """Refine ``weight_u`` / ``weight_v`` towards the top singular vectors (init only)."""
        matrix = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        u, v = self.weight_u, self.weight_v
        for _ in range(steps):
            v = F.normalize(torch.mv(matrix.t(), u), dim=0, eps=1e-12)
            u = F.normalize(torch.mv(matrix, v), dim=0, eps=1e-12)
        self.weight_u.copy_(u)
        self.weight_v.copy_(v)

    def weight(self) -> torch.Tensor:
        return spectral_normalized(self.weight_orig, self.weight_u, self.weight_v)


class SNLinear(_SpectralNormed):
    """Spectrally normalized linear layer: ``[N, in] -> [N, out]``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self._init_spectral((out_features, in_features), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight(), self.bias)


class SNConv2d(_SpectralNormed):
    """Spectrally normalized 2-D convolution (stride 1)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, bias: bool = True
    ) -> None:
        super().__init__()
        self.padding = padding
        self._init_spectral((out_channels, in_channels, kernel_size, kernel_size), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


# ----- batch norm with pre-computed statistics --------------------------------------------
def statistics_at(
    running_means: torch.Tensor, running_vars: torch.Tensor, truncation: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's choice of pre-computed BN statistics for ``truncation`` in (0, 1].

    ``running_*``: ``[n_stats, C]`` for truncations ``0, 1/(n_stats-1), ..., 1``. Between
    two grid points the reference blends them with the fractional part weighting the
    *lower* point; reproduced as is.
    """
    step = 1.0 / (running_means.shape[0] - 1)
    coef, start = math.modf(truncation / step)
    start = int(start)
    if coef != 0.0:
        mean = running_means[start] * coef + running_means[start + 1] * (1 - coef)
        var = running_vars[start] * coef + running_vars[start + 1] * (1 - coef)
        return mean, var
    return running_means[start], running_vars[start]


class ConditionalBatchNorm(nn.Module):
    """``(x - mean) / sqrt(var + eps) * (1 + scale(c)) + offset(c)``; c: ``[N, cond_dim]``."""

    running_means: torch.Tensor
    running_vars: torch.Tensor

    def __init__(self, num_features: int, cond_dim: int, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.scale = SNLinear(cond_dim, num_features, bias=False)
        self.offset = SNLinear(cond_dim, num_features, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        mean, var = statistics_at(self.running_means, self.running_vars, truncation)
        gain = 1 + self.scale(cond)[:, :, None, None]
        bias = self.offset(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * gain + bias


class BatchNorm(nn.Module):
    """Unconditional batch norm with pre-computed statistics (``weight``, ``bias``)."""

    running_means: torch.Tensor
    running_vars: torch.Tensor

    def __init__(self, num_features: int, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor, truncation: float) -> torch.Tensor:
        mean, var = statistics_at(self.running_means, self.running_vars, truncation)
        return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, eps=self.eps)


# ----- blocks ----------------------------------------------------------------------------------
class SelfAttention(nn.Module):
    """SAGAN non-local block: ``x + gamma * o(softmax(theta^T phi) g)``; phi, g max-pooled 2x."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.snconv1x1_theta = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = SNConv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = SNConv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, ch, h, w = x.shape
        theta = self.snconv1x1_theta(x).reshape(n, ch // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).reshape(n, ch // 8, h * w // 4)
        attention = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
        g = F.max_pool2d(self.snconv1x1_g(x), 2).reshape(n, ch // 2, h * w // 4)
        attended = torch.bmm(g, attention.permute(0, 2, 1)).reshape(n, ch // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(attended)


class GenBlock(nn.Module):
    """BigGAN-deep residual block: 4 x (cond. BN, ReLU, conv) with a 1/4-width bottleneck.

    The skip path drops the second half of the channels when the width halves and is
    upsampled (nearest) with the main path.
    """

    def __init__(
        self, in_channels: int, out_channels: int, cond_dim: int, upsample: bool, n_stats: int, eps: float
    ) -> None:
        super().__init__()
        middle = in_channels // 4
        self.upsample = upsample
        self.drop_channels = in_channels != out_channels
        self.bn_0 = ConditionalBatchNorm(in_channels, cond_dim, n_stats, eps)
        self.conv_0 = SNConv2d(in_channels, middle, 1)
        self.bn_1 = ConditionalBatchNorm(middle, cond_dim, n_stats, eps)
        self.conv_1 = SNConv2d(middle, middle, 3, padding=1)
        self.bn_2 = ConditionalBatchNorm(middle, cond_dim, n_stats, eps)
        self.conv_2 = SNConv2d(middle, middle, 3, padding=1)
        self.bn_3 = ConditionalBatchNorm(middle, cond_dim, n_stats, eps)
        self.conv_3 = SNConv2d(middle, out_channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        skip = x
        x = self.conv_0(F.relu(self.bn_0(x, cond, truncation)))
        x = F.relu(self.bn_1(x, cond, truncation))
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv_1(x)
        x = self.conv_2(F.relu(self.bn_2(x, cond, truncation)))
        x = self.conv_3(F.relu(self.bn_3(x, cond, truncation)))
        if self.drop_channels:
            skip = skip[:, : skip.shape[1] // 2]
        if self.upsample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return x + skip


class BigGANDeepSynthesis(nn.Module):
    """The reference's ``generator`` submodule: codes ``[N, L, cond_dim]`` -> image."""

    def __init__(
        self,
        channel_width: int,
        layers: Sequence[tuple[bool, int, int]],
        cond_dim: int,
        attention_layer_position: int,
        n_stats: int,
        eps: float,
    ) -> None:
        super().__init__()
        self.initial_channels = channel_width * layers[0][1]
        self.gen_z = SNLinear(cond_dim, 4 * 4 * self.initial_channels)
        modules: list[nn.Module] = []
        for index, (upsample, in_mult, out_mult) in enumerate(layers):
            if index == attention_layer_position:
                modules.append(SelfAttention(channel_width * in_mult))
            modules.append(
                GenBlock(channel_width * in_mult, channel_width * out_mult, cond_dim, bool(upsample), n_stats, eps)
            )
        self.layers = nn.ModuleList(modules)
        final_channels = channel_width * layers[-1][2]
        self.bn = BatchNorm(final_channels, n_stats, eps)
        self.conv_to_rgb = SNConv2d(final_channels, final_channels, 3, padding=1)

    def forward(self, wp: torch.Tensor, truncation: float) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.gen_z(wp[:, 0])
        # Stored in TensorFlow's [N, H, W, C] order.
        x = x.reshape(-1, 4, 4, self.initial_channels).permute(0, 3, 1, 2).contiguous()
        features = [x]
        row = 1
        for layer in self.layers:
            if isinstance(layer, GenBlock):
                x = layer(x, wp[:, row], truncation)
                features.append(x)
                row += 1
            else:
                x = layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, truncation)))
        return torch.tanh(x[:, :3]), features


# ----- the generator ---------------------------------------------------------------------------
ClassSpec = int | Sequence[int] | np.ndarray | torch.Tensor


class BigGANGenerator(Generator):
    """Class-conditional BigGAN-deep with one code row per conditioning consumer.

    ``wp [N, 1 + num_blocks, z_dim + embed_dim]``; images ``[N, 3, output_dim, output_dim]``
    in [-1, 1] (tanh). ``map(z, class_index=...)`` takes an int, a list of ints (one per
    sample, or one for all) or a ``[N, num_classes]`` (possibly soft) class vector; with no
    class given it uses ``default_class``.
    """

    arch = "biggan"

    def __init__(
        self,
        output_dim: int = 128,
        z_dim: int = 128,
        class_embed_dim: int = 128,
        channel_width: int = 128,
        num_classes: int = 1000,
        layers: Sequence[Sequence[Any]] = DEFAULT_LAYERS,
        attention_layer_position: int = 8,
        eps: float = 1e-4,
        n_stats: int = 51,
        truncation_psi: float = 1.0,
        default_class: int = 0,
        name: str = "biggan",
    ) -> None:
        layer_spec = _check_layers(layers)
        ups = sum(1 for up, _, _ in layer_spec if up)
        if 4 * 2**ups != int(output_dim):
            raise GeneratorError(
                f"biggan: layers upsample {ups} times (4 -> {4 * 2**ups} px) but output_dim is {output_dim}"
            )
        if not 0 <= int(attention_layer_position) <= len(layer_spec):
            raise GeneratorError(
                f"biggan: attention_layer_position {attention_layer_position} outside [0, {len(layer_spec)}]"
            )
        if int(channel_width) * layer_spec[-1][2] < 3:
            raise GeneratorError(
                f"biggan: the last block has {int(channel_width) * layer_spec[-1][2]} channels; "
                "the RGB output needs at least 3"
            )
        if int(n_stats) < 2:
            raise GeneratorError(f"biggan: n_stats must be >= 2, got {n_stats}")
        if not 0 <= int(default_class) < int(num_classes):
            raise GeneratorError(f"biggan: default_class {default_class} outside [0, {num_classes})")
        _check_psi(truncation_psi)
        super().__init__(
            output_dim=int(output_dim),
            z_dim=int(z_dim),
            class_embed_dim=int(class_embed_dim),
            channel_width=int(channel_width),
            num_classes=int(num_classes),
            layers=[list(spec) for spec in layer_spec],
            attention_layer_position=int(attention_layer_position),
            eps=float(eps),
            n_stats=int(n_stats),
            truncation_psi=float(truncation_psi),
            default_class=int(default_class),
            name=name,
        )
        self._z_dim = int(z_dim)
        self.embed_dim = int(class_embed_dim)
        self.num_classes = int(num_classes)
        self.num_blocks = len(layer_spec)
        self.embeddings = nn.Linear(self.num_classes, self.embed_dim, bias=False)
        self.generator = BigGANDeepSynthesis(
            int(channel_width),
            layer_spec,
            self.w_dim,
            int(attention_layer_position),
            int(n_stats),
            float(eps),
        )

    # ----- interface properties -------------------------------------------------------
    @property
    def resolution(self) -> int:
        return int(self.config["output_dim"])

    @property
    def z_dim(self) -> int:
        return self._z_dim

    @property
    def w_dim(self) -> int:
        return self._z_dim + self.embed_dim

    @property
    def num_layers(self) -> int:
        return 1 + self.num_blocks

    @property
    def truncation_layers(self) -> int:
        return int(self.config.get("truncation_layers", self.num_layers))

    # ----- sampling, classes, mapping ---------------------------------------------------
    def sample_z(self, n: int, seed: int | None = 0) -> torch.Tensor:
        """``[n, z_dim]`` standard normal truncated to [-2, 2], deterministic per seed.

        Out-of-range values are redrawn until none remain (same distribution as the
        reference's ``truncnorm(-2, 2)``, not the same numbers). ``map`` scales by psi.
        """
        if n < 0:
            raise GeneratorError(f"sample_z: n must be >= 0, got {n}")
        rng = np.random.RandomState(seed if seed is not None else np.random.randint(2**31))
        z = rng.standard_normal((n, self.z_dim))
        outside = np.abs(z) > TRUNCATION_THRESHOLD
        while outside.any():
            z[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(z) > TRUNCATION_THRESHOLD
        return torch.from_numpy(z.astype(np.float32)).to(self.device)

    def class_vector(self, class_index: ClassSpec | None, n: int) -> torch.Tensor:
        """``[n, num_classes]`` float class vector from an int, ints, or a (soft) vector."""
        if class_index is None:
            class_index = int(self.config["default_class"])
        if isinstance(class_index, (np.ndarray, torch.Tensor)) and np.ndim(class_index) == 2:
            vector = torch.as_tensor(np.asarray(class_index) if isinstance(class_index, np.ndarray) else class_index)
            if tuple(vector.shape) != (n, self.num_classes) or not vector.is_floating_point():
                raise GeneratorError(
                    f"biggan: class vector must be a float array of shape [{n}, {self.num_classes}], "
                    f"got {vector.dtype} {list(vector.shape)}"
                )
            return vector.to(device=self.device, dtype=torch.float32)
        if isinstance(class_index, (int, np.integer)):
            indices = [int(class_index)] * n
        else:
            indices = [int(i) for i in np.asarray(class_index).reshape(-1)]
            if len(indices) == 1:
                indices = indices * n
            if len(indices) != n:
                raise GeneratorError(f"biggan: {len(indices)} class indices given for {n} samples")
        bad = [i for i in indices if not 0 <= i < self.num_classes]
        if bad:
            raise GeneratorError(f"biggan: class index {bad[0]} outside [0, {self.num_classes})")
        vector = torch.zeros(n, self.num_classes, device=self.device)
        vector[torch.arange(n), torch.tensor(indices, dtype=torch.long)] = 1.0
        return vector

    def class_embedding(self, class_index: ClassSpec | None, n: int) -> torch.Tensor:
        """``[n, embed_dim]``: the class half of every code row."""
        return self.embeddings(self.class_vector(class_index, n))

    def with_class(self, wp: torch.Tensor, class_index: ClassSpec, rows: Sequence[int] | None = None) -> torch.Tensor:
        """A copy of ``wp`` whose class half is replaced in ``rows`` (default: all rows)."""
        wp = self._check_wp(wp).clone()
        rows = list(range(self.num_layers)) if rows is None else list(rows)
        embed = self.class_embedding(class_index, wp.shape[0])
        for row in rows:
            if not 0 <= row < self.num_layers:
                raise GeneratorError(f"biggan: row {row} outside [0, {self.num_layers})")
            wp[:, row, self._z_dim :] = embed
        return wp

    def _map(
        self, z: torch.Tensor, psi: float, layers: int, class_index: ClassSpec | None = None, **conditioning: Any
    ) -> torch.Tensor:
        if conditioning:
            raise GeneratorError(f"biggan: unexpected arguments {sorted(conditioning)}; use class_index=...")
        _check_psi(psi)
        embed = self.class_embedding(class_index, z.shape[0])
        truncated = torch.cat([z * psi, embed], dim=1)
        plain = torch.cat([z, embed], dim=1)
        rows = [truncated if row < layers else plain for row in range(self.num_layers)]
        return torch.stack(rows, dim=1)

    # ----- synthesis ------------------------------------------------------------------
    def synthesize(self, wp: torch.Tensor, return_features: bool = False, truncation_psi: float | None = None):
        """Render ``wp [N, num_layers, w_dim]`` to ``[N, 3, H, W]`` in [-1, 1].

        ``truncation_psi`` (default: the generator's) picks the batch-norm statistics; use
        the psi the codes were mapped with.
        """
        psi = self.truncation_psi if truncation_psi is None else float(truncation_psi)
        _check_psi(psi)
        wp = self._check_wp(wp)
        image, features = self.generator(wp, psi)
        if return_features:
            return SynthesisResult(image=image, features=features)
        return image

    def _synthesize(self, wp: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.generator(wp, self.truncation_psi)

    def forward(self, z: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        psi = kwargs.get("truncation_psi")
        return self.synthesize(self.map(z, **kwargs), truncation_psi=psi)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            num_classes=self.num_classes,
            class_embed_dim=self.embed_dim,
            default_class=int(self.config["default_class"]),
            code_rows="row 0: gen_z; row 1+j: GenBlock j",
        )
        return info


def _check_psi(psi: float) -> None:
    if not 0.0 < float(psi) <= 1.0:
        raise GeneratorError(f"biggan: truncation_psi must be in (0, 1], got {psi}")


def _check_layers(layers: Sequence[Sequence[Any]]) -> list[tuple[bool, int, int]]:
    """Validate ``[(upsample, in_mult, out_mult), ...]`` as the reference requires."""
    spec: list[tuple[bool, int, int]] = []
    try:
        for entry in layers:
            up, in_mult, out_mult = entry
            spec.append((bool(up), int(in_mult), int(out_mult)))
    except (TypeError, ValueError):
        raise GeneratorError(
            f"biggan: layers must be a list of [upsample, in_mult, out_mult], got {layers!r}"
        ) from None
    if not spec:
        raise GeneratorError("biggan: layers is empty")
    for index, (_, in_mult, out_mult) in enumerate(spec):
        if out_mult not in (in_mult, in_mult // 2) or out_mult <= 0:
            raise GeneratorError(
                f"biggan: layer {index} goes {in_mult} -> {out_mult} channel multiples; "
                "a GenBlock keeps or halves its width"
            )
        if index > 0 and in_mult != spec[index - 1][2]:
            raise GeneratorError(f"biggan: layer {index} input {in_mult} != previous output {spec[index - 1][2]}")
    return spec


# ----- pytorch-pretrained-biggan ``pytorch_model.bin`` + ``config.json`` --------------------
_CONFIG_KEYS = (
    "output_dim",
    "z_dim",
    "class_embed_dim",
    "channel_width",
    "num_classes",
    "layers",
    "attention_layer_position",
    "eps",
    "n_stats",
)
_REFERENCE_DEFAULTS: dict[str, Any] = {
    "output_dim": 128,
    "z_dim": 128,
    "class_embed_dim": 128,
    "channel_width": 128,
    "num_classes": 1000,
    "layers": [list(spec) for spec in DEFAULT_LAYERS],
    "attention_layer_position": 8,
    "eps": 1e-4,
    "n_stats": 51,
}


def _detect_pretrained_biggan(payload: Any) -> bool:
    return isinstance(payload, dict) and "embeddings.weight" in payload and ("generator.gen_z.weight_orig" in payload)


def read_biggan_config(path: Path) -> dict[str, Any]:
    """The constructor kwargs from the ``config.json`` beside checkpoint ``path``.

    Missing entries take the reference's defaults (as its ``BigGANConfig.from_dict`` does).
    """
    config_path = path.parent / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(
            f"{path}: no {CONFIG_FILE} beside it; a pytorch-pretrained-biggan checkpoint needs its "
            f"{CONFIG_FILE} (output_dim, layers, ...) in the same folder"
        )
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, UTF-8 or a 4300-digit number
        raise CheckpointError(f"{config_path}: not a readable JSON file ({str(exc)[:200]})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{config_path}: expected a JSON object, got {type(raw).__name__}")
    kwargs = {key: raw.get(key, _REFERENCE_DEFAULTS[key]) for key in _CONFIG_KEYS}
    # The reference sizes the class embedding by z_dim and ignores class_embed_dim.
    kwargs["class_embed_dim"] = kwargs["z_dim"]

    check_config(kwargs, config_path, CheckpointError)
    return kwargs


def _build_pretrained_biggan(payload: Any, path: Path) -> BigGANGenerator:
    kwargs = read_biggan_config(path)
    name = path.parent.name or "biggan"
    try:
        generator = BigGANGenerator(**kwargs, name=name)
    except (GeneratorError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.parent / CONFIG_FILE}: {exc}") from exc
    load_state_dict_strict(generator, payload, path)
    return generator


#: The checkpoint layouts this module reads (listed in ``registry``).
FORMATS = (
    ForeignFormat(
        name="pytorch-pretrained-biggan",
        arch=BigGANGenerator.arch,
        detect=_detect_pretrained_biggan,
        build=_build_pretrained_biggan,
    ),
)
