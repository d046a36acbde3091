"""Where a generator's layer-wise codes live: per-layer mean and principal axes of mapped codes.

The in-domain regularizer of the inversion keeps each layer's code inside the shell where
the mapping network puts its codes. For layer ``l``, whiten the code with the principal axes
of ``N`` mapped codes (``u = U_l^T (wp_l - mean_l) / sqrt(lambda_l)``); a mapped code has
``mean(u^2) ~= 1``. The penalty is ``relu(mean(u^2) - 1)``, averaged over the layers, plus
the spread of the layers around their own mean (mapped codes repeat one ``w`` on every layer,
so that spread is 0 for them; an inversion that lets layers drift apart leaves the domain
the boundaries were fitted in).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..generators.base import Generator

#: Mapped codes the statistics are computed from, and their seed.
PRIOR_SAMPLES = 8192
PRIOR_SEED = 90_210
_EPS = 1e-5


@dataclass
class CodePrior:
    """``mean [L, D]``, ``axes [L, D, D]`` (columns: principal directions), ``scale [L, D]``
    (the square roots of the variances along them)."""

    mean: torch.Tensor
    axes: torch.Tensor
    scale: torch.Tensor

    @classmethod
    @torch.no_grad()
    def from_generator(cls, generator: Generator, count: int = PRIOR_SAMPLES, seed: int = PRIOR_SEED) -> CodePrior:
        """Statistics of ``generator.map(sample_z(count, seed), truncation_psi=1)``."""
        chunks = []
        for start in range(0, count, 1024):
            z = generator.sample_z(min(1024, count - start), seed + start)
            chunks.append(generator.map(z, truncation_psi=1.0).float())
        codes = torch.cat(chunks)  # [N, L, D]
        mean = codes.mean(dim=0)
        centered = (codes - mean).permute(1, 0, 2)  # [L, N, D]
        cov = centered.transpose(1, 2) @ centered / max(1, codes.shape[0] - 1)
        cov = cov.double() + _EPS * torch.eye(cov.shape[-1], dtype=torch.float64)
        values, vectors = torch.linalg.eigh(cov)
        return cls(mean=mean, axes=vectors.float(), scale=values.clamp(min=_EPS).sqrt().float())

    def to(self, device: torch.device | str) -> CodePrior:
        return CodePrior(self.mean.to(device), self.axes.to(device), self.scale.to(device))

    def soft_scale(self, floor_fraction: float) -> torch.Tensor:
        """``[L, D]`` axis scales with variances floored at ``floor_fraction`` x their mean: the
        optimizer's coordinates, so it moves fast along the mapped codes' principal axes and
        slowly (never zero) across them."""
        variance = self.scale.square()
        floor = variance.mean(dim=1, keepdim=True) * float(floor_fraction)
        return torch.maximum(variance, floor).sqrt()

    def to_coordinates(self, wp: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``wp [N, L, D]`` -> coordinates ``u`` along the principal axes, in units of ``scale [L, D]``."""
        return torch.einsum("nld,lde->nle", wp - self.mean, self.axes) / scale

    def from_coordinates(self, u: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_coordinates`: ``u [N, L, D]`` -> ``wp [N, L, D]``."""
        return self.mean + torch.einsum("nle,lde->nld", u * scale, self.axes)

    def whiten(self, wp: torch.Tensor) -> torch.Tensor:
        """``wp [N, L, D]`` -> whitened coordinates ``[N, L, D]`` (unit variance for mapped codes)."""
        centered = wp - self.mean
        return torch.einsum("nld,lde->nle", centered, self.axes) / self.scale

    def penalty_parts(self, wp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(outside, spread)``, each ``[N]``: how far the layers' codes lie beyond the mapped
        codes' shell (0 inside it), and the whitened spread of the layers around their own mean
        (0 when every layer holds the same code, as a mapped code does)."""
        whitened = self.whiten(wp)
        radius = whitened.square().mean(dim=2)  # [N, L], ~1 for mapped codes
        outside = torch.relu(radius - 1.0).mean(dim=1)
        spread = (whitened - whitened.mean(dim=1, keepdim=True)).square().mean(dim=(1, 2))
        return outside, spread

    def penalty(self, wp: torch.Tensor) -> torch.Tensor:
        """The in-domain penalty per code ``[N]`` (0 for a typical mapped code): outside + spread."""
        outside, spread = self.penalty_parts(wp)
        return outside + spread

    def radius(self, wp: torch.Tensor) -> torch.Tensor:
        """Mean squared whitened coordinate per layer ``[N, L]`` (about 1 in the domain)."""
        return self.whiten(wp).square().mean(dim=2)


def prior_for(generator: Generator) -> CodePrior:
    """The :class:`CodePrior` of ``generator`` (computed once, kept on the instance)."""
    prior = getattr(generator, "_sceneedit_code_prior", None)
    if prior is None or prior.mean.device != generator.device:
        prior = CodePrior.from_generator(generator)
        generator._sceneedit_code_prior = prior
    return prior
