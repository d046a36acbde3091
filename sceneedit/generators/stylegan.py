"""StyleGAN (v1) generator, laid out like genforce/HiGAN's PyTorch port.

The module tree mirrors genforce's ``StyleGANGeneratorNet`` (the HiGAN / idinvert era
``models/stylegan_generator_network.py``) so that its ``.pth`` state dicts load with
identical key names::

    mapping.dense{i}.fc.weight                         [out, in]
    mapping.dense{i}.wscale.bias                       [out]
    truncation.w_avg                                   [w_dim]
    truncation.truncation                              [1, num_layers, 1]
    synthesis.lod                                      []
    synthesis.layer0.const                             [1, C4, 4, 4]
    synthesis.layer{k}.conv.weight                     [C_out, C_in, 3, 3]  (not fused)
    synthesis.layer{k}.weight                          [3, 3, C_in, C_out]  (fused-scale, TF order)
    synthesis.layer{k}.blur.kernel                     [C, 1, 3, 3]         (upsampling layers)
    synthesis.layer{k}.epilogue.apply_noise.noise      [1, 1, r, r]
    synthesis.layer{k}.epilogue.apply_noise.weight     [C]
    synthesis.layer{k}.epilogue.bias                   [C]
    synthesis.layer{k}.epilogue.style_mod.dense.fc.weight    [2C, w_dim]
    synthesis.layer{k}.epilogue.style_mod.dense.wscale.bias  [2C]
    synthesis.output{b}.conv.weight                    [3, C, 1, 1]
    synthesis.output{b}.bias                           [3]

Weights are stored unscaled and multiplied at run time by ``gain / sqrt(fan_in) * lr_mul``
(equalized learning rate); biases of the mapping network by ``lr_mul``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import GeneratorError
from .layers import INIT_RES, MappingNetwork, blend_lod, channels_at
from .style_generator import StyleGeneratorBase, check_style_config

FUSED_SCALE_ALLOWED = (True, False, "auto")
#: With ``fused_scale='auto'``, upsampling layers at this resolution and above use a
#: transposed convolution (genforce's and NVIDIA's rule).
AUTO_FUSED_SCALE_MIN_RES = 128
LRELU_SLOPE = 0.2
HE_GAIN = math.sqrt(2.0)


def uses_fused_scale(fused_scale: bool | str, resolution: int) -> bool:
    """Whether the upsampling layer producing ``resolution`` px is a transposed conv."""
    if fused_scale == "auto":
        return resolution >= AUTO_FUSED_SCALE_MIN_RES
    return bool(fused_scale)


# ----- building blocks (names mirror genforce) ----------------------------------------------
class _Weight(nn.Module):
    """Holds one unscaled weight tensor as ``weight`` (gives keys like ``fc.weight``)."""

    def __init__(self, shape: tuple[int, ...], init_std: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(shape) * init_std)


class WScale(nn.Module):
    """The equalized-lr bias of a dense layer: ``bias`` is multiplied by ``lr_mul``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))


class DenseBlock(nn.Module):
    """Fully connected layer with equalized lr: ``act(x @ (W*scale).T + b*lr_mul)``.

    ``scale = gain / sqrt(in_dim) * lr_mul``; the stored weight is initialised with
    std ``1 / lr_mul`` so the effective initial weights have std ``gain / sqrt(in_dim)``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        gain: float = HE_GAIN,
        lr_mul: float = 1.0,
        activate: bool = True,
    ) -> None:
        super().__init__()
        self.fc = _Weight((out_dim, in_dim), init_std=1.0 / lr_mul)
        self.wscale = WScale(out_dim)
        self.scale = gain / math.sqrt(in_dim) * lr_mul
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.fc.weight * self.scale, self.wscale.bias * self.lr_mul)
        return F.leaky_relu(x, LRELU_SLOPE) if self.activate else x


class Truncation(nn.Module):
    """Holds ``w_avg`` and genforce's stored default truncation coefficients.

    ``truncation`` ``[1, L, 1]`` is kept for key compatibility with genforce files
    (which store the coefficients used when they were converted); the generator applies
    truncation from its own (or the caller's) ``psi`` / ``layers``.
    """

    w_avg: torch.Tensor
    truncation: torch.Tensor

    def __init__(self, w_dim: int, num_layers: int, psi: float, layers: int) -> None:
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("truncation", truncation_coefficients(num_layers, psi, layers))

    def forward(self, wp: torch.Tensor, psi: float, layers: int) -> torch.Tensor:
        if psi == 1.0 or layers == 0:
            return wp
        # w_avg + (wp - w_avg) * coefs, leaving the untruncated layers bit-identical.
        w_avg = self.w_avg.view(1, 1, -1)
        head = w_avg + (wp[:, :layers] - w_avg) * psi
        return torch.cat([head, wp[:, layers:]], dim=1)


def truncation_coefficients(num_layers: int, psi: float, layers: int) -> torch.Tensor:
    """``[1, num_layers, 1]``: ``psi`` on the first ``layers`` layers, 1 elsewhere."""
    coefs = torch.ones(1, num_layers, 1)
    coefs[:, :layers] = psi
    return coefs


class NoiseApplying(nn.Module):
    """Adds per-pixel noise scaled per channel: ``x + noise * weight``.

    ``noise`` ``[1, 1, r, r]`` is a fixed buffer (deterministic synthesis); with
    ``randomize=True`` fresh noise is drawn per sample.
    """

    noise: torch.Tensor

    def __init__(self, resolution: int, channels: int) -> None:
        super().__init__()
        self.register_buffer("noise", torch.randn(1, 1, resolution, resolution))
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, randomize: bool) -> torch.Tensor:
        return x + self.scaled_noise(x, randomize)

    def scaled_noise(self, x: torch.Tensor, randomize: bool) -> torch.Tensor:
        """``noise * weight``: ``[1, C, r, r]`` (fixed) or ``[N, C, r, r]`` (random)."""
        if randomize:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise
        return noise * self.weight.view(1, -1, 1, 1)


class StyleModulation(nn.Module):
    """AdaIN's affine part: ``x * (scale + 1) + shift`` with ``[scale, shift] = A(w)``."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.channels = channels
        self.dense = DenseBlock(w_dim, channels * 2, gain=1.0, lr_mul=1.0, activate=False)

    def scale_shift(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scale + 1, shift)``, each ``[N, C, 1, 1]``, from ``w [N, w_dim]``."""
        style = self.dense(w).view(-1, 2, self.channels, 1, 1)
        return style[:, 0] + 1, style[:, 1]

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale_shift(w)
        return x * scale + shift


class Epilogue(nn.Module):
    """noise -> bias -> leaky ReLU -> instance norm -> style modulation."""

    def __init__(self, resolution: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.apply_noise = NoiseApplying(resolution, channels)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.style_mod = StyleModulation(channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, randomize_noise: bool) -> torch.Tensor:
        # Same maths as genforce's noise -> bias -> lrelu -> instance norm -> style mod,
        # with fewer passes over the feature map (it dominates the cost at high resolution):
        # noise and bias are one add; normalization and modulation are one affine map.
        shift = self.apply_noise.scaled_noise(x, randomize_noise) + self.bias.view(1, -1, 1, 1)
        x = F.leaky_relu(x + shift, LRELU_SLOPE, inplace=True)
        x = x - x.mean(dim=(2, 3), keepdim=True)
        scale, shift = self.style_mod.scale_shift(w)
        scale = scale * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + 1e-8)
        return x * scale + shift


class Blur(nn.Module):
    """Depthwise 3x3 binomial blur ``[1, 2, 1] x [1, 2, 1] / 16``; ``kernel`` ``[C, 1, 3, 3]``."""

    kernel: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        k1 = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(k1, k1)
        kernel = kernel / kernel.sum()
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), padding=1, groups=x.shape[1])


class FirstConvBlock(nn.Module):
    """The learned constant ``[1, C, 4, 4]`` (initialised to ones) and its epilogue."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.ones(1, channels, INIT_RES, INIT_RES))
        self.epilogue = Epilogue(INIT_RES, channels, w_dim)

    def forward(self, w: torch.Tensor, randomize_noise: bool) -> torch.Tensor:
        x = self.const.expand(w.shape[0], -1, -1, -1)
        return self.epilogue(x, w, randomize_noise)


class UpConvBlock(nn.Module):
    """2x upsampling 3x3 conv, blur, epilogue.

    Fused scale: one transposed conv with the 3x3 kernel padded and box-summed to 4x4
    (stored as ``weight`` ``[3, 3, C_in, C_out]``, TF order). Otherwise nearest 2x
    upsampling then ``conv.weight`` ``[C_out, C_in, 3, 3]``.
    """

    def __init__(self, resolution: int, in_channels: int, out_channels: int, w_dim: int, fused: bool) -> None:
        super().__init__()
        self.fused = fused
        if fused:
            self.weight = nn.Parameter(torch.randn(3, 3, in_channels, out_channels))
        else:
            self.conv = _Weight((out_channels, in_channels, 3, 3))
        self.scale = HE_GAIN / math.sqrt(in_channels * 9)
        self.blur = Blur(out_channels)
        self.epilogue = Epilogue(resolution, out_channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, randomize_noise: bool) -> torch.Tensor:
        if self.fused:
            kernel = F.pad(self.weight * self.scale, (0, 0, 0, 0, 1, 1, 1, 1))
            kernel = kernel[1:, 1:] + kernel[:-1, 1:] + kernel[1:, :-1] + kernel[:-1, :-1]
            x = F.conv_transpose2d(x, kernel.permute(2, 3, 0, 1), stride=2, padding=1)
        else:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = F.conv2d(x, self.conv.weight * self.scale, padding=1)
        x = self.blur(x)
        return self.epilogue(x, w, randomize_noise)


class ConvBlock(nn.Module):
    """3x3 conv (same resolution) and epilogue."""

    def __init__(self, resolution: int, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = _Weight((out_channels, in_channels, 3, 3))
        self.scale = HE_GAIN / math.sqrt(in_channels * 9)
        self.epilogue = Epilogue(resolution, out_channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor, randomize_noise: bool) -> torch.Tensor:
        x = F.conv2d(x, self.conv.weight * self.scale, padding=1)
        return self.epilogue(x, w, randomize_noise)


class ToRGB(nn.Module):
    """1x1 conv to RGB with gain 1 (scale ``1/sqrt(C)``) plus bias."""

    def __init__(self, in_channels: int, out_channels: int = 3) -> None:
        super().__init__()
        self.conv = _Weight((out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1.0 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.conv.weight * self.scale, self.bias)


class SynthesisNetwork(nn.Module):
    """``wp [N, L, w_dim]`` -> image ``[N, 3, R, R]`` plus each block's feature map.

    ``lod`` (level of detail, a buffer; 0 = full resolution) is honoured as genforce does:
    blocks with ``log2(res) + floor(lod) > log2(R)`` are skipped and the last toRGB output is
    upsampled (nearest) to ``R``; a fractional ``lod`` blends the newest block's RGB with the
    previous one's (the fade-in of progressive growing, see :meth:`fade_alpha`).
    """

    layer0: FirstConvBlock

    lod: torch.Tensor

    def __init__(self, resolution: int, w_dim: int, fmaps_base: int, fmaps_max: int, fused_scale: bool | str) -> None:
        super().__init__()
        self.resolution = resolution
        self.num_blocks = int(round(math.log2(resolution // INIT_RES))) + 1
        self.register_buffer("lod", torch.zeros(()))
        for block in range(self.num_blocks):
            res = INIT_RES * 2**block
            channels = channels_at(res, fmaps_base, fmaps_max)
            first: nn.Module
            if block == 0:
                first = FirstConvBlock(channels, w_dim)
            else:
                previous = channels_at(res // 2, fmaps_base, fmaps_max)
                first = UpConvBlock(res, previous, channels, w_dim, uses_fused_scale(fused_scale, res))
            self.add_module(f"layer{2 * block}", first)
            self.add_module(f"layer{2 * block + 1}", ConvBlock(res, channels, channels, w_dim))
            self.add_module(f"output{block}", ToRGB(channels))

    def active_blocks(self) -> int:
        """Blocks computed at the current ``lod`` (all of them at ``lod == 0``; a fractional
        lod also runs the block it blends in)."""
        return self.num_blocks - int(math.floor(float(self.lod)))

    def forward(self, wp: torch.Tensor, randomize_noise: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        lod = float(self.lod)
        if not 0.0 <= lod <= self.num_blocks - 1:
            raise GeneratorError(f"stylegan: lod {lod} outside [0, {self.num_blocks - 1}]")
        features: list[torch.Tensor] = []
        active = self.active_blocks()
        x = None
        for block in range(active):
            if block == 0:
                x = self.layer0(wp[:, 0], randomize_noise)
            else:
                x = getattr(self, f"layer{2 * block}")(x, wp[:, 2 * block], randomize_noise)
            x = getattr(self, f"layer{2 * block + 1}")(x, wp[:, 2 * block + 1], randomize_noise)
            features.append(x)
        image = blend_lod(lambda b: getattr(self, f"output{b}")(features[b]), active - 1, lod - math.floor(lod))
        if active < self.num_blocks:
            image = F.interpolate(image, scale_factor=2 ** (self.num_blocks - active), mode="nearest")
        return image, features


# ----- the generator ---------------------------------------------------------------------------
class StyleGANGenerator(StyleGeneratorBase):
    """StyleGAN v1 generator (Karras et al. 2019) with layer-wise codes ``wp``.

    ``map(z)`` gives ``wp [N, num_layers, w_dim]`` (the mapping output repeated per layer,
    truncated towards ``w_avg`` on the first ``truncation_layers`` layers);
    ``synthesize(wp)`` gives ``[N, 3, R, R]`` clamped to [-1, 1] (gradients pass the clamp
    unchanged); ``synthesize_raw`` gives the reference's unclamped output. Noise is fixed
    unless ``randomize_noise`` is set to True.
    """

    synthesis: SynthesisNetwork

    arch = "stylegan"

    def __init__(
        self,
        resolution: int = 256,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_fmaps: int | None = None,
        mapping_lr_mul: float = 0.01,
        fmaps_base: int = 16384,
        fmaps_max: int = 512,
        truncation_psi: float = 0.7,
        truncation_layers: int = 8,
        w_avg_beta: float = 0.995,
        fused_scale: bool | str = "auto",
        name: str = "stylegan",
    ) -> None:
        num_layers, truncation_layers = check_style_config(
            self.arch, resolution, z_dim, w_dim, mapping_layers, fmaps_base, fmaps_max, truncation_layers
        )
        if fused_scale not in FUSED_SCALE_ALLOWED:
            raise GeneratorError(
                f"stylegan: fused_scale {fused_scale!r} not allowed; allowed: {list(FUSED_SCALE_ALLOWED)}"
            )
        mapping_fmaps = w_dim if mapping_fmaps is None else int(mapping_fmaps)
        super().__init__(
            resolution=int(resolution),
            z_dim=int(z_dim),
            w_dim=int(w_dim),
            mapping_layers=int(mapping_layers),
            mapping_fmaps=mapping_fmaps,
            mapping_lr_mul=float(mapping_lr_mul),
            fmaps_base=int(fmaps_base),
            fmaps_max=int(fmaps_max),
            truncation_psi=float(truncation_psi),
            truncation_layers=int(truncation_layers),
            w_avg_beta=float(w_avg_beta),
            fused_scale=fused_scale,
            name=name,
        )
        self._num_layers = num_layers
        #: Draw fresh per-sample noise instead of the fixed buffers (training, variation).
        self.randomize_noise = False
        self.mapping = MappingNetwork(z_dim, mapping_fmaps, w_dim, mapping_layers, mapping_lr_mul, DenseBlock)
        self.truncation = Truncation(w_dim, num_layers, float(truncation_psi), int(truncation_layers))
        self.synthesis = SynthesisNetwork(resolution, w_dim, fmaps_base, fmaps_max, fused_scale)

    def check_loaded(self) -> None:
        """Raise :class:`GeneratorError` if loaded weights leave nothing to render."""
        lod = float(self.synthesis.lod)
        if not 0.0 <= lod <= self.synthesis.num_blocks - 1:
            raise GeneratorError(f"stylegan: lod {lod:g} outside [0, {self.synthesis.num_blocks - 1}]")

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            fused_scale=self.config["fused_scale"],
            channels=self.channels(),
            lod=float(self.synthesis.lod),
        )
        return info


def genforce_default_truncation(coefs: torch.Tensor) -> tuple[float, int] | None:
    """Read (psi, layers) back from genforce's stored ``truncation.truncation`` ``[1, L, 1]``.

    Returns None when the coefficients are not of the form ``psi`` on a prefix, 1 after.
    """
    values = coefs.detach().float().flatten().cpu().numpy()
    if values.size == 0:
        return None
    below = np.flatnonzero(~np.isclose(values, 1.0))
    if below.size == 0:
        return 1.0, 0
    layers = int(below[-1]) + 1
    psi = float(values[0])
    if not np.allclose(values[:layers], psi) or not np.allclose(values[layers:], 1.0):
        return None
    return psi, layers
