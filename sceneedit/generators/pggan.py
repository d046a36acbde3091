"""PGGAN: the progressive growing GAN generator (Karras et al., ICLR 2018).

The module tree mirrors genforce/HiGAN's ``PGGANGeneratorNet`` so that a HiGAN model-zoo
``.pth`` state dict loads with identical key names:

* ``lod`` -- the level-of-detail scalar (0 for released models: full resolution);
* ``layer{2b}`` / ``layer{2b+1}`` -- the two convolutions of block ``b`` (resolution
  ``4 * 2**b``), each ``conv.weight`` (or ``weight`` for a fused-scale transposed
  convolution) plus ``wscale.bias``;
* ``output{b}`` -- block ``b``'s toRGB 1x1 convolution (``conv.weight``, ``wscale.bias``).

Every convolution is preceded by pixel normalization and uses equalized learning rate
(the weight is scaled by ``gain / sqrt(fan_in)`` at run time); hidden layers use leaky
ReLU (slope 0.2), toRGB is linear.

PGGAN has one code: ``num_layers == 1`` and ``w_dim == z_dim``. ``map(z)`` returns
``z`` rescaled to norm ``sqrt(z_dim)`` (genforce's PGGAN preprocessing; the network's
first pixel norm makes the image independent of the norm), shape ``[N, 1, z_dim]``.
Truncation does not apply to PGGAN; ``truncation_psi`` is accepted and ignored.

The reference output is linear (no tanh); ``final_tanh=True`` adds one, for models
trained that way. ``fused_scale`` (upsample + conv as one transposed conv) is detected
from a file's keys; the released PGGAN models do not use it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import CheckpointError, ForeignFormat, Generator, GeneratorError, SynthesisResult
from .layers import RESOLUTIONS_ALLOWED, blend_lod, clamp_straight_through
from .state_dicts import GENFORCE_WRAPPER_KEYS, find_state_dict, has_keys, load_state_dict_strict, require_key

INIT_RESOLUTION = 4
LEAKY_SLOPE = 0.2
PIXEL_NORM_EPS = 1e-8


def pixel_norm(x: torch.Tensor, eps: float = PIXEL_NORM_EPS) -> torch.Tensor:
    """Normalize each pixel's feature vector to unit mean square: ``x [N, C, H, W]``."""
    return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + eps)


class WScale(nn.Module):
    """Equalized learning rate: multiply by ``gain / sqrt(fan_in)``, then add the bias.

    Only the bias is a parameter (key ``bias``); the scale is a constant.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float) -> None:
        super().__init__()
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.bias.view(1, -1, 1, 1)


class PGGANConvBlock(nn.Module):
    """Pixel norm -> (upsample) -> conv -> wscale -> activation.

    With ``upsample`` and ``fused_scale`` the upsample and conv are one stride-2
    transposed convolution whose weight is stored as ``weight [k, k, in, out]``
    (TensorFlow layout, as genforce keeps it); otherwise ``conv.weight [out, in, k, k]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        upsample: bool = False,
        fused_scale: bool = False,
        gain: float = math.sqrt(2.0),
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.fused = upsample and fused_scale
        self.linear = linear
        if self.fused:
            self.weight = nn.Parameter(torch.randn(kernel_size, kernel_size, in_channels, out_channels))
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False)
            nn.init.normal_(self.conv.weight)  # equalized lr: N(0, 1) weights, scaled at run time
        self.wscale = WScale(in_channels, out_channels, kernel_size, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        if self.fused:
            # Transposed conv with the 3x3 kernel blurred to 4x4 (sum of its four shifts).
            kernel = self.weight * self.wscale.scale
            kernel = F.pad(kernel, (0, 0, 0, 0, 1, 1, 1, 1))
            kernel = kernel[1:, 1:] + kernel[:-1, 1:] + kernel[1:, :-1] + kernel[:-1, :-1]
            x = F.conv_transpose2d(x, kernel.permute(2, 3, 0, 1), stride=2, padding=1)
            # Undo the scale so wscale can apply it again: the reference's exact arithmetic.
            x = self.wscale(x / self.wscale.scale)
        else:
            if self.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = self.wscale(self.conv(x))
        return x if self.linear else F.leaky_relu(x, LEAKY_SLOPE)


class PGGANGenerator(Generator):
    """Progressive GAN generator with one code (``wp [N, 1, z_dim]``).

    ``synthesize`` returns ``[N, 3, resolution, resolution]`` clamped to [-1, 1] (gradients
    pass the clamp unchanged); ``synthesize_raw`` the reference's unclamped output;
    features are each resolution block's output ``[N, C_b, 4*2**b, 4*2**b]``.
    """

    arch = "pggan"

    def __init__(
        self,
        resolution: int,
        z_dim: int = 512,
        fmaps_base: int = 16384,
        fmaps_max: int = 512,
        fused_scale: bool = False,
        final_tanh: bool = False,
        name: str = "pggan",
    ) -> None:
        resolution = int(resolution)
        if resolution not in RESOLUTIONS_ALLOWED:
            raise GeneratorError(
                f"pggan: resolution {resolution} not supported; allowed: {', '.join(map(str, RESOLUTIONS_ALLOWED))}"
            )
        if int(z_dim) <= 0 or int(fmaps_base) <= 0 or int(fmaps_max) <= 0:
            raise GeneratorError("pggan: z_dim, fmaps_base and fmaps_max must be positive")
        super().__init__(
            resolution=resolution,
            z_dim=int(z_dim),
            fmaps_base=int(fmaps_base),
            fmaps_max=int(fmaps_max),
            fused_scale=bool(fused_scale),
            final_tanh=bool(final_tanh),
            name=name,
        )
        self._resolution = resolution
        self._z_dim = int(z_dim)
        self.fmaps_base = int(fmaps_base)
        self.fmaps_max = int(fmaps_max)
        self.final_tanh = bool(final_tanh)
        self.num_blocks = int(math.log2(resolution)) - int(math.log2(INIT_RESOLUTION)) + 1

        # A parameter (not a buffer) in genforce; kept so the key ``lod`` matches.
        self.lod = nn.Parameter(torch.zeros(()))
        for block in range(self.num_blocks):
            res = INIT_RESOLUTION * 2**block
            channels = self.channels_at(res)
            if block == 0:
                # The dense layer from z, written as a 4x4 conv on a 1x1 input (padding 3).
                first = PGGANConvBlock(self._z_dim, channels, kernel_size=INIT_RESOLUTION, padding=3)
            else:
                first = PGGANConvBlock(
                    self.channels_at(res // 2), channels, upsample=True, fused_scale=bool(fused_scale)
                )
            self.add_module(f"layer{2 * block}", first)
            self.add_module(f"layer{2 * block + 1}", PGGANConvBlock(channels, channels))
            self.add_module(
                f"output{block}",
                PGGANConvBlock(channels, 3, kernel_size=1, padding=0, gain=1.0, linear=True),
            )

    def channels_at(self, res: int) -> int:
        """Feature maps at resolution ``res``: ``min(fmaps_base // res, fmaps_max)``."""
        return min(self.fmaps_base // res, self.fmaps_max)

    # ----- interface properties -------------------------------------------------------
    @property
    def resolution(self) -> int:
        return self._resolution

    @property
    def z_dim(self) -> int:
        return self._z_dim

    @property
    def w_dim(self) -> int:
        return self._z_dim

    @property
    def num_layers(self) -> int:
        return 1

    @property
    def truncation_psi(self) -> float:
        return 1.0

    @property
    def truncation_layers(self) -> int:
        return 0

    # ----- mapping and synthesis ------------------------------------------------------
    def _map(self, z: torch.Tensor, psi: float, layers: int, **conditioning: Any) -> torch.Tensor:
        if conditioning:
            raise GeneratorError(f"pggan: unconditional; unexpected arguments {sorted(conditioning)}")
        norm = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (z / norm * math.sqrt(self._z_dim)).unsqueeze(1)

    def _synthesize(self, wp: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        image, features = self._run(wp)
        return clamp_straight_through(image), features

    def synthesize_raw(self, wp: torch.Tensor, return_features: bool = False):
        """Like :meth:`synthesize` but without the final clamp: the reference's output,
        which is unbounded (images are clipped only when converted to pixels)."""
        wp = self._check_wp(wp)
        image, features = self._run(wp)
        return SynthesisResult(image=image, features=features) if return_features else image

    def _run(self, wp: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = wp[:, 0].reshape(wp.shape[0], self._z_dim, 1, 1)
        lod = float(self.lod.detach().cpu())
        if not 0.0 <= lod <= self.num_blocks - 1:
            raise GeneratorError(f"pggan: lod {lod} outside [0, {self.num_blocks - 1}]")
        # Blocks above the level of detail are skipped; a fractional lod blends the top two
        # blocks' images (NVIDIA's growing schedule), then the image is upsampled to full size.
        active = self.num_blocks - int(math.floor(lod))
        features: list[torch.Tensor] = []
        for block in range(active):
            x = getattr(self, f"layer{2 * block}")(x)
            x = getattr(self, f"layer{2 * block + 1}")(x)
            features.append(x)
        image = blend_lod(lambda b: getattr(self, f"output{b}")(features[b]), active - 1, lod - math.floor(lod))
        if active < self.num_blocks:
            image = F.interpolate(image, scale_factor=2 ** (self.num_blocks - active), mode="nearest")
        assert image is not None
        if self.final_tanh:
            image = torch.tanh(image)
        return image, features

    def check_loaded(self) -> None:
        """Raise :class:`GeneratorError` if loaded weights leave nothing to render."""
        lod = float(self.lod.detach().cpu())
        if not 0.0 <= lod <= self.num_blocks - 1:
            raise GeneratorError(f"pggan: lod {lod:g} outside [0, {self.num_blocks - 1}]")

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            fused_scale=self.config["fused_scale"],
            channels=[self.channels_at(INIT_RESOLUTION * 2**b) for b in range(self.num_blocks)],
            lod=float(self.lod.detach().cpu()),
        )
        return info


# ----- genforce / HiGAN ``.pth`` ----------------------------------------------------------
_WRAPPER_KEYS = GENFORCE_WRAPPER_KEYS + ("net",)
_MARKER_KEYS = ("layer0.conv.weight", "output0.conv.weight")


def _unwrap_state_dict(payload: Any) -> dict[str, Any] | None:
    """The PGGAN state dict inside ``payload`` (bare, or under a wrapper key), or None."""
    return find_state_dict(payload, lambda state: has_keys(state, *_MARKER_KEYS), _WRAPPER_KEYS)


def _detect_genforce_pggan(payload: Any) -> bool:
    state = _unwrap_state_dict(payload)
    return state is not None and not any(str(k).startswith(("mapping.", "synthesis.")) for k in state)


def _infer_fmaps(channels: list[int], resolution: int) -> tuple[int, int]:
    """``(fmaps_base, fmaps_max)`` reproducing ``channels`` (one per resolution 4, 8, ...)."""
    fmaps_max = max(channels)
    candidates = [16384]
    for block, c in enumerate(channels):
        if c < fmaps_max:
            candidates.append(c * INIT_RESOLUTION * 2**block)
            break
    candidates.append(fmaps_max * resolution)
    for base in candidates:
        if all(min(base // (INIT_RESOLUTION * 2**b), fmaps_max) == c for b, c in enumerate(channels)):
            return base, fmaps_max
    return candidates[-1], fmaps_max  # the strict loader will name the mismatching key


def _build_genforce_pggan(payload: Any, path: Path) -> PGGANGenerator:
    state = _unwrap_state_dict(payload)
    if state is None:
        raise CheckpointError(f"{path}: no PGGAN state dict found")
    first = require_key(state, "layer0.conv.weight", path)
    if first.ndim != 4 or tuple(first.shape[2:]) != (INIT_RESOLUTION, INIT_RESOLUTION):
        raise CheckpointError(
            f"{path}: key 'layer0.conv.weight' has shape {list(first.shape)}, expected [C, z_dim, 4, 4]"
        )
    z_dim = int(first.shape[1])
    num_blocks = 0
    while f"output{num_blocks}.conv.weight" in state:
        num_blocks += 1
    resolution = INIT_RESOLUTION * 2 ** (num_blocks - 1)
    if resolution not in RESOLUTIONS_ALLOWED:
        raise CheckpointError(
            f"{path}: {num_blocks} toRGB layers (output0..output{num_blocks - 1}) imply "
            f"resolution {resolution}; allowed: {', '.join(map(str, RESOLUTIONS_ALLOWED))}"
        )
    fused_scale = "layer2.weight" in state
    channels = []
    for block in range(num_blocks):
        if block > 0 and fused_scale:
            key = f"layer{2 * block}.weight"
            weight = require_key(state, key, path)
            out_axis = 3
        else:
            key = f"layer{2 * block}.conv.weight"
            weight = require_key(state, key, path)
            out_axis = 0
        if weight.ndim != 4:
            raise CheckpointError(f"{path}: key {key!r} has shape {list(weight.shape)}, expected 4 dims")
        channels.append(int(weight.shape[out_axis]))
    fmaps_base, fmaps_max = _infer_fmaps(channels, resolution)
    generator = PGGANGenerator(
        resolution=resolution,
        z_dim=z_dim,
        fmaps_base=fmaps_base,
        fmaps_max=fmaps_max,
        fused_scale=fused_scale,
        name=path.stem,
    )
    load_state_dict_strict(generator, state, path)
    return generator


#: The checkpoint layouts this module reads (listed in ``registry``).
FORMATS = (
    ForeignFormat(
        name="genforce-pggan-pth",
        arch=PGGANGenerator.arch,
        detect=_detect_genforce_pggan,
        build=_build_genforce_pggan,
    ),
)
