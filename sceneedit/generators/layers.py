"""Pieces shared by the StyleGAN-family generators (PGGAN, StyleGAN, StyleGAN2).

Only code whose arithmetic is identical across the architectures lives here; the
equalized-lr layers themselves stay in each architecture's module because their state-dict
key names differ (``wscale.bias`` in StyleGAN v1, ``bias`` in StyleGAN2) and are load-bearing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

#: Output resolutions the architectures support (genforce's ``_RESOLUTIONS_ALLOWED``).
RESOLUTIONS_ALLOWED = (8, 16, 32, 64, 128, 256, 512, 1024)
#: Resolution of the first synthesis block (the learned 4x4 constant).
INIT_RES = 4
PIXEL_NORM_EPS = 1e-8


def num_layers_for(resolution: int) -> int:
    """Number of layer-wise codes: two per resolution from 4 px, ``2*log2(res/4) + 2`` (14 at 256 px)."""
    return 2 * int(round(math.log2(resolution // INIT_RES))) + 2


def channels_at(resolution: int, fmaps_base: int, fmaps_max: int) -> int:
    """Feature maps at ``resolution``: ``min(fmaps_base // resolution, fmaps_max)``."""
    return min(fmaps_base // resolution, fmaps_max)


def clamp_straight_through(image: torch.Tensor) -> torch.Tensor:
    """Clamp to [-1, 1] in the forward pass; pass gradients through unchanged.

    Keeps ``synthesize``'s output in range (the interface's promise) without zeroing the
    gradient of out-of-range pixels for optimisation through it.
    """
    return image + (image.clamp(-1.0, 1.0) - image).detach()


def pixel_norm(x: torch.Tensor, eps: float = PIXEL_NORM_EPS) -> torch.Tensor:
    """``x / sqrt(mean(x^2 over dim 1) + eps)``: unit mean square per sample (or pixel)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """``z [N, z_dim]`` -> pixel norm -> ``num_layers`` dense layers -> ``w [N, w_dim]``.

    The layers are submodules ``dense{i}``; ``dense_block(in_dim, out_dim, lr_mul=lr_mul)`` builds
    each one (the architecture's own equalized-lr dense layer, which fixes the key names).
    """

    def __init__(
        self,
        z_dim: int,
        hidden_dim: int,
        w_dim: int,
        num_layers: int,
        lr_mul: float,
        dense_block: Callable[..., nn.Module],
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        for i in range(num_layers):
            in_dim = z_dim if i == 0 else hidden_dim
            out_dim = w_dim if i == num_layers - 1 else hidden_dim
            self.add_module(f"dense{i}", dense_block(in_dim, out_dim, lr_mul=lr_mul))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = pixel_norm(z)
        for i in range(self.num_layers):
            w = getattr(self, f"dense{i}")(w)
        return w


def blend_lod(to_rgb: Callable[[int], torch.Tensor], top: int, fraction: float) -> torch.Tensor:
    """The image of block ``top`` (``to_rgb(top)``), blended towards the 2x-upsampled image of
    block ``top - 1`` by ``fraction`` of a level of detail, as NVIDIA's growing networks do
    (``lerp(rgb_top, upscale(rgb_below), lod - floor(lod))``)."""
    image = to_rgb(top)
    if fraction > 0.0 and top > 0:
        below = F.interpolate(to_rgb(top - 1), scale_factor=2, mode="nearest")
        image = image + (below - image) * fraction
    return image
