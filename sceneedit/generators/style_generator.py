"""The mapping / truncation / synthesis plumbing StyleGAN and StyleGAN2 share.

Subclasses build ``self.mapping`` (``z -> w``), ``self.truncation`` (holds ``w_avg``; called
as ``truncation(wp, psi, layers)``) and ``self.synthesis`` (called as
``synthesis(wp, randomize_noise) -> (image, features)``), set ``self._num_layers`` and
``self.randomize_noise``, and store ``resolution``, ``z_dim``, ``w_dim``, ``fmaps_base``,
``fmaps_max`` and ``w_avg_beta`` in their config.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from .base import Generator, GeneratorError, SynthesisResult
from .layers import INIT_RES, RESOLUTIONS_ALLOWED, channels_at, clamp_straight_through, num_layers_for


def check_style_config(
    arch: str,
    resolution: int,
    z_dim: int,
    w_dim: int,
    mapping_layers: int,
    fmaps_base: int,
    fmaps_max: int,
    truncation_layers: int,
) -> tuple[int, int]:
    """Validate the settings StyleGAN and StyleGAN2 share (errors name ``arch``).

    Returns ``(num_layers, truncation_layers)``, the latter capped at ``num_layers``: as in
    genforce, a count beyond the network's codes truncates every code.
    """
    if resolution not in RESOLUTIONS_ALLOWED:
        raise GeneratorError(f"{arch}: resolution {resolution} not allowed; allowed: {list(RESOLUTIONS_ALLOWED)}")
    if mapping_layers < 1 or z_dim < 1 or w_dim < 1:
        raise GeneratorError(f"{arch}: mapping_layers, z_dim and w_dim must be >= 1")
    if channels_at(resolution, fmaps_base, fmaps_max) < 1:
        raise GeneratorError(
            f"{arch}: fmaps_base {fmaps_base} gives no feature maps at {resolution} px (need fmaps_base >= resolution)"
        )
    if truncation_layers < 0:
        raise GeneratorError(f"{arch}: truncation_layers must be >= 0, got {truncation_layers}")
    num_layers = num_layers_for(resolution)
    return num_layers, min(int(truncation_layers), num_layers)


class StyleTruncation(Protocol):
    """What ``self.truncation`` provides: the ``w_avg [w_dim]`` buffer, and
    ``truncation(wp, psi, layers) -> wp`` moving the first ``layers`` codes towards it."""

    w_avg: torch.Tensor

    def __call__(self, wp: torch.Tensor, psi: float, layers: int) -> torch.Tensor: ...


class StyleSynthesis(Protocol):
    """What ``self.synthesis`` provides: ``num_blocks`` blocks from 4 px, and
    ``synthesis(wp, randomize_noise) -> (image [N, 3, R, R], features per block)``."""

    num_blocks: int

    def __call__(self, wp: torch.Tensor, randomize_noise: bool) -> tuple[torch.Tensor, list[torch.Tensor]]: ...


class StyleGeneratorBase(Generator):
    """Layer-wise codes ``wp [N, num_layers, w_dim]``: the mapping output repeated per layer."""

    mapping: nn.Module
    truncation: StyleTruncation
    synthesis: StyleSynthesis
    randomize_noise: bool
    _num_layers: int

    # ----- properties ----------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        return self.config["resolution"]

    @property
    def z_dim(self) -> int:
        return self.config["z_dim"]

    @property
    def w_dim(self) -> int:
        return self.config["w_dim"]

    @property
    def num_layers(self) -> int:
        return self._num_layers

    @property
    def w_avg(self) -> torch.Tensor:
        return self.truncation.w_avg

    def channels(self) -> list[int]:
        """Feature maps per synthesis block, from 4 px up."""
        base, top = self.config["fmaps_base"], self.config["fmaps_max"]
        return [channels_at(INIT_RES * 2**b, base, top) for b in range(self.synthesis.num_blocks)]

    # ----- mapping -------------------------------------------------------------------------
    def map_w(self, z: torch.Tensor) -> torch.Tensor:
        """Mapping network only: ``z [N, z_dim]`` -> ``w [N, w_dim]`` (no truncation)."""
        return self.mapping(self._check_z(z))

    def w_to_wp(
        self, w: torch.Tensor, truncation_psi: float | None = None, truncation_layers: int | None = None
    ) -> torch.Tensor:
        """Broadcast ``w [N, w_dim]`` to ``wp [N, L, w_dim]`` and truncate towards ``w_avg``."""
        psi = self.truncation_psi if truncation_psi is None else float(truncation_psi)
        layers = self.truncation_layers if truncation_layers is None else int(truncation_layers)
        wp = w.unsqueeze(1).repeat(1, self.num_layers, 1)
        return self.truncation(wp, psi, layers)

    def _map(self, z: torch.Tensor, psi: float, layers: int, **conditioning: Any) -> torch.Tensor:
        if conditioning:
            raise GeneratorError(f"{self.arch} is unconditional; unexpected {sorted(conditioning)}")
        return self.w_to_wp(self.mapping(z), psi, layers)

    @torch.no_grad()
    def update_w_avg(self, w: torch.Tensor) -> None:
        """Moving average for training: ``w_avg <- lerp(mean(w), w_avg, w_avg_beta)``; ``w [N, w_dim]``."""
        if w.ndim != 2 or w.shape[1] != self.w_dim:
            raise GeneratorError(f"{self.arch}: expected w of shape [N, {self.w_dim}], got {list(w.shape)}")
        beta = self.config["w_avg_beta"]
        batch_mean = w.detach().float().mean(dim=0).to(self.truncation.w_avg)
        self.truncation.w_avg.copy_(self.truncation.w_avg * beta + batch_mean * (1.0 - beta))

    # ----- synthesis -----------------------------------------------------------------------
    def _synthesize(self, wp: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        image, features = self.synthesis(wp, self.randomize_noise)
        return clamp_straight_through(image), features

    def synthesize_raw(self, wp: torch.Tensor, return_features: bool = False):
        """Like :meth:`synthesize` but without the final clamp to [-1, 1].

        The reference network's output is unbounded (images are clipped only when
        converted to pixels); GAN training feeds this raw output to the discriminator.
        """
        wp = self._check_wp(wp)
        image, features = self.synthesis(wp, self.randomize_noise)
        return SynthesisResult(image=image, features=features) if return_features else image
