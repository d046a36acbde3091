"""Reconstruction losses for inversion: pixels, and a perceptual term that needs no download.

* ``world``: the world predictor's four multi-scale feature maps (the default generator's
  room world; ``resources/world_predictor.safetensors``), mean squared difference per map.
* ``ssim``: 1 - multi-scale SSIM (Wang et al. 2003; 11-tap gaussian window, sigma 1.5, as many
  scales as the image allows up to 3), computed here in torch: any generator, no weights.
* ``none``: pixels only.

Images are ``[N, 3, H, W]`` in [-1, 1]; every loss returns a ``[N]`` tensor (one value per image).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..generators.base import Generator

PERCEPTUAL_CHOICES = ("auto", "world", "ssim", "none")

PerceptualLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def pixel_loss(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image ``[N]`` (images in [-1, 1])."""
    return (image - target).square().flatten(1).mean(dim=1)


def psnr(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image ``[N]``, peak-to-peak 2 (images in [-1, 1], i.e. 255 in 8 bits)."""
    mse = (image.detach().float() - target.detach().float()).square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(4.0 / mse.clamp(min=1e-12))


class WorldFeatureLoss:
    """Sum over the world predictor's stage maps of the mean squared difference ``[N]``."""

    name = "world"

    def __init__(self, predictor) -> None:
        self.predictor = predictor
        for parameter in predictor.parameters():
            parameter.requires_grad_(False)
        # The target's features are computed once per target tensor (held, so never confused
        # with a later tensor at the same address).
        self._cached_target: tuple[torch.Tensor, list[torch.Tensor]] | None = None

    def target_features(self, target: torch.Tensor) -> list[torch.Tensor]:
        if self._cached_target is None or self._cached_target[0] is not target:
            with torch.no_grad():
                self._cached_target = (target, [f.detach() for f in self.predictor.features(target)])
        return self._cached_target[1]

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ours = self.predictor.features(image)
        theirs = self.target_features(target)
        return sum((a - b).square().flatten(1).mean(dim=1) for a, b in zip(ours, theirs, strict=True))  # type: ignore[return-value]


def _gaussian_window(size: int = 11, sigma: float = 1.5, device=None) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma * sigma))
    return g / g.sum()


def _ssim_parts(a: torch.Tensor, b: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and contrast-structure term ``[N]`` for images in [0, 1]."""
    c1, c2 = 0.01**2, 0.03**2
    channels = a.shape[1]
    size = min(window.numel(), a.shape[2], a.shape[3])
    w = window if size == window.numel() else _gaussian_window(size, 1.5, a.device)
    kx = w.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    ky = w.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx, groups=channels), ky, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a.square()
    var_b = blur(b * b) - mu_b.square()
    cov = blur(a * b) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a.square() + mu_b.square() + c1)
    return (luminance * cs).flatten(1).mean(dim=1), cs.flatten(1).mean(dim=1)


class MultiScaleSSIMLoss:
    """``1 - MS-SSIM`` per image ``[N]``: the contrast-structure term at the finer scales and the
    full SSIM at the coarsest (each scale halved by 2x2 average pooling), combined as an
    equally weighted geometric mean."""

    name = "ssim"

    def __init__(self, scales: int = 3) -> None:
        self.scales = scales
        self.window = _gaussian_window()

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        a, b = (image + 1) / 2, (target + 1) / 2
        window = self.window.to(a.device)
        scales = max(1, min(self.scales, int(torch.log2(torch.tensor(min(a.shape[2:]) / 8.0)).item()) + 1))
        values = []
        for scale in range(scales):
            ssim, cs = _ssim_parts(a, b, window)
            values.append((ssim if scale == scales - 1 else cs).clamp(min=1e-4))
            if scale < scales - 1:
                a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        combined = torch.stack(values, dim=1).log().mean(dim=1).exp()
        return 1.0 - combined


def is_world_generator(generator: Generator) -> bool:
    """Whether ``generator`` draws the room world the world predictor reads: the default
    generator and those ``sceneedit train`` makes are named ``sceneedit-rooms...``."""
    return str(generator.name).startswith("sceneedit-rooms")


def make_perceptual_loss(choice: str, generator: Generator) -> tuple[str, PerceptualLoss | None]:
    """``(name, loss)`` for ``choice`` in :data:`PERCEPTUAL_CHOICES`; ``auto`` picks ``world``
    for room-world generators and ``ssim`` otherwise. ``loss`` is None for ``none``."""
    if choice not in PERCEPTUAL_CHOICES:
        raise ValueError(f"unknown perceptual loss {choice!r}; allowed: {', '.join(PERCEPTUAL_CHOICES)}")
    if choice == "auto":
        choice = "world" if is_world_generator(generator) else "ssim"
    if choice == "none":
        return "none", None
    if choice == "ssim":
        return "ssim", MultiScaleSSIMLoss()
    from ..semantics.predictors.world import load_world_predictor

    predictor = load_world_predictor(device=generator.device)
    return "world", WorldFeatureLoss(predictor)
