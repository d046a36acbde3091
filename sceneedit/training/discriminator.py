"""A lean residual discriminator with equalized learning rate and minibatch stddev.

The layout follows the StyleGAN2 "resnet" discriminator (a 1x1 from-RGB layer, one residual
block per resolution halving the image down to 4x4, then a minibatch-stddev epilogue), slimmed
for CPU training: each block runs its second convolution *after* 2x average pooling, so only the
first convolution of a block works at the block's full resolution.

Equalized learning rate: every weight is stored as N(0, 1) and scaled at run time by
``1 / sqrt(fan_in)``, so Adam's per-parameter step sizes are the same for every layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Gain after leaky ReLU, keeping unit activation variance (StyleGAN's ``def_gain``).
LRELU_GAIN = math.sqrt(2.0)
LRELU_SLOPE = 0.2


class EqualConv2d(nn.Module):
    """3x3 / 1x1 convolution with runtime He scaling; optional leaky ReLU (times sqrt 2)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, activate: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        if self.activate:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x


class EqualLinear(nn.Module):
    """Fully connected layer with runtime He scaling; optional leaky ReLU (times sqrt 2)."""

    def __init__(self, in_features: int, out_features: int, activate: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = 1.0 / math.sqrt(in_features)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.scale, self.bias)
        if self.activate:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x


class ResidualBlock(nn.Module):
    """``[N, C_in, H, W] -> [N, C_out, H/2, W/2]``: conv, pool, conv, plus a pooled 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        x = self.conv1(F.avg_pool2d(self.conv0(x), 2))
        return (x + skip) * (1.0 / math.sqrt(2.0))


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the mean feature stddev within groups of the batch.

    ``[N, C, H, W] -> [N, C + 1, H, W]``. The group is the largest divisor of N that is
    at most ``group_size``, so any batch size works.
    """
    n, c, h, w = x.shape
    group = max(g for g in range(1, min(group_size, n) + 1) if n % g == 0)
    y = x.reshape(group, n // group, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # [N/G, C, H, W]
    y = y.mean(dim=(1, 2, 3))  # [N/G]
    y = y.reshape(1, n // group, 1, 1, 1).expand(group, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


def channels_for(resolution: int, fmaps_base: int, fmaps_max: int) -> int:
    """Feature maps at a resolution, as in StyleGAN: ``min(fmaps_base // res, fmaps_max)``."""
    return max(1, min(fmaps_base // resolution, fmaps_max))


class ResidualDiscriminator(nn.Module):
    """Images ``[N, 3, R, R]`` in [-1, 1] -> realness logits ``[N]``.

    ``resolution`` must be a power of two >= 8. Channels per resolution follow
    :func:`channels_for`.
    """

    def __init__(
        self, resolution: int, fmaps_base: int = 2048, fmaps_max: int = 128, mbstd_group_size: int = 4
    ) -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"discriminator resolution must be a power of two >= 8, got {resolution}")
        self.config = {
            "resolution": resolution,
            "fmaps_base": fmaps_base,
            "fmaps_max": fmaps_max,
            "mbstd_group_size": mbstd_group_size,
        }
        self.resolution = resolution
        self.mbstd_group_size = mbstd_group_size

        def nf(res: int) -> int:
            return channels_for(res, fmaps_base, fmaps_max)

        self.from_rgb = EqualConv2d(3, nf(resolution), 1)
        blocks = []
        res = resolution
        while res > 4:
            blocks.append(ResidualBlock(nf(res), nf(res // 2)))
            res //= 2
        self.blocks = nn.ModuleList(blocks)
        c4 = nf(4)
        self.epilogue_conv = EqualConv2d(c4 + 1, c4, 3)
        self.epilogue_fc = EqualLinear(c4 * 16, c4)
        self.out = EqualLinear(c4, 1, activate=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1:] != (3, self.resolution, self.resolution):
            raise ValueError(
                f"discriminator expects images [N, 3, {self.resolution}, {self.resolution}], got {list(images.shape)}"
            )
        x = self.from_rgb(images)
        for block in self.blocks:
            x = block(x)
        x = minibatch_stddev(x, self.mbstd_group_size)
        x = self.epilogue_conv(x)
        x = self.epilogue_fc(x.flatten(1))
        return self.out(x).squeeze(1)
