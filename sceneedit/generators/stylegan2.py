"""StyleGAN2 generator (config F, skip architecture), laid out like genforce/HiGAN's port.

The module tree mirrors genforce's ``StyleGAN2GeneratorNet`` (HiGAN / mganprior era
``models/stylegan2_generator_network.py``) so that its ``.pth`` state dicts load with
identical key names (``b`` = block index from 4 px, ``k`` = conv layer index)::

    mapping.dense{i}.fc.weight            [out, in]
    mapping.dense{i}.bias                 [out]
    truncation.w_avg                      [w_dim]
    synthesis.early_layer.const           [1, C4, 4, 4]
    synthesis.layer{k}.weight             [3, 3, C_in, C_out]   (TF order)
    synthesis.layer{k}.bias               [C_out]
    synthesis.layer{k}.style.fc.weight    [C_in, w_dim]
    synthesis.layer{k}.style.bias         [C_in]                (a constant +1 is added at run time)
    synthesis.layer{k}.noise_strength     []
    synthesis.layer{k}.noise              [1, 1, r, r]
    synthesis.layer{k}.filter.kernel      [1, 1, 4, 4]          (odd k: the upsampling layers)
    synthesis.output{b}.weight            [1, 1, C, 3]
    synthesis.output{b}.bias              [3]
    synthesis.output{b}.style.fc.weight   [C, w_dim]
    synthesis.output{b}.style.bias        [C]
    synthesis.upsample.kernel             [1, 1, 4, 4]

Code ``k`` of ``wp`` drives ``layer{k}``; ``output{b}`` (toRGB) reads code ``2b + 1``, which
it shares with the next block's first layer; so ``num_layers = 2*log2(res/4) + 2`` codes
(14 at 256 px). Weights are stored unscaled and multiplied at run time by ``1/sqrt(fan_in)``
(equalized learning rate), mapping weights and biases also by ``mapping_lr_mul``.

Foreign layouts (NVIDIA ``.pkl``, rosinality ``.pt``) are converted into this layout by
:mod:`.nvidia_pickle` and :mod:`.rosinality`; :func:`build_from_state` infers the
architecture from tensor shapes for all of them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import CheckpointError, ForeignFormat, Generator, GeneratorError
from .layers import INIT_RES, RESOLUTIONS_ALLOWED, MappingNetwork, channels_at, num_layers_for
from .state_dicts import find_state_dict, has_keys, load_state_dict_strict, require_key
from .style_generator import StyleGeneratorBase, check_style_config

#: The low-pass filter of every 2x upsampling (StyleGAN2's ``resample_kernel``).
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
DEMOD_EPS = 1e-8
#: genforce/HiGAN defaults: ``STYLEGAN2_TRUNCATION_PSI = 0.5`` on ``18`` layers (= all).
DEFAULT_TRUNCATION_PSI = 0.5
DEFAULT_TRUNCATION_LAYERS = 18


def num_blocks_for(resolution: int) -> int:
    """Synthesis blocks (one per resolution from 4 px): ``log2(resolution) - 1``."""
    return int(round(math.log2(resolution))) - 1


def fir_kernel(taps: tuple[float, ...] = FIR_TAPS, gain: float = 4.0) -> torch.Tensor:
    """Separable 2-D FIR kernel ``[1, 1, K, K]`` normalized to sum ``gain``.

    ``gain = 4`` keeps the mean intensity after 2x zero-insertion upsampling.
    """
    k = torch.tensor(taps, dtype=torch.float32)
    k2 = torch.outer(k, k)
    return (k2 / k2.sum() * gain).flip(0, 1).view(1, 1, len(taps), len(taps))


# ----- building blocks (names mirror genforce) -----------------------------------------------
class DenseBlock(nn.Module):
    """Equalized-lr dense layer: ``act(x @ (W / sqrt(in) * lr).T + b * lr + init_bias)``.

    Keys ``fc.weight [out, in]`` and ``bias [out]``. ``activate`` applies leaky ReLU
    times ``sqrt(2)``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        lr_mul: float = 1.0,
        init_bias: float = 0.0,
        activate: bool = True,
    ) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim, bias=False)
        nn.init.normal_(self.fc.weight, std=1.0 / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.weight_scale = 1.0 / math.sqrt(in_dim) * lr_mul
        self.lr_mul = lr_mul
        self.init_bias = init_bias
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.fc.weight * self.weight_scale, self.bias * self.lr_mul + self.init_bias)
        if self.activate:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        return x


class Truncation(nn.Module):
    """Holds ``w_avg [w_dim]``; moves the first ``layers`` codes towards it by ``psi``."""

    w_avg: torch.Tensor

    def __init__(self, w_dim: int) -> None:
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, wp: torch.Tensor, psi: float, layers: int) -> torch.Tensor:
        if psi == 1.0 or layers <= 0:
            return wp
        coefs = torch.ones(1, wp.shape[1], 1, dtype=wp.dtype, device=wp.device)
        coefs[:, :layers] = psi
        w_avg = self.w_avg.view(1, 1, -1).to(wp.dtype)
        return w_avg + (wp - w_avg) * coefs


class FIRFilter(nn.Module):
    """Depthwise 4x4 low-pass after a stride-2 transposed conv (pads 1 on every side).

    ``kernel [1, 1, 4, 4]`` is applied by correlation, as genforce does with its
    (pre-flipped) buffer.
    """

    kernel: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1))
        x = F.conv2d(x, self.kernel.to(x.dtype))
        return x.reshape(n, c, x.shape[2], x.shape[3])


class Upsample2x(nn.Module):
    """2x upsampling of the RGB skip image: zero insertion, pad (2, 1), 4x4 FIR."""

    kernel: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.reshape(n * c, 1, h, 1, w, 1)
        x = F.pad(x, (0, 1, 0, 0, 0, 1))  # a zero after every row and column
        x = x.reshape(n * c, 1, 2 * h, 2 * w)
        x = F.pad(x, (2, 1, 2, 1))
        x = F.conv2d(x, self.kernel.to(x.dtype))
        return x.reshape(n, c, 2 * h, 2 * w)


class InputBlock(nn.Module):
    """The learned constant ``const [1, C, 4, 4]``, repeated over the batch."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(1, channels, INIT_RES, INIT_RES))

    def forward(self, batch: int) -> torch.Tensor:
        return self.const.expand(batch, -1, -1, -1)


class ModulatedConvBlock(nn.Module):
    """Modulated (and demodulated) convolution.

    One sample runs as a grouped convolution of per-sample weights (genforce's and NVIDIA's
    fused path); a batch scales the activations around one shared convolution instead
    (their non-fused path; the same function, and faster for batches on a CPU).

    ``forward(x [N, C_in, r', r'], w [N, w_dim]) -> [N, C_out, r, r]``. The style
    ``s = style(w) [N, C_in]`` scales the input channels of the weight; demodulation
    divides each output channel by ``sqrt(sum(w'^2) + 1e-8)``. Upsampling layers
    (``up=True``) run a stride-2 transposed conv of the flipped weight followed by the FIR
    filter. Then noise (``noise * noise_strength``), bias, and leaky ReLU times ``sqrt(2)``
    (or nothing, for toRGB), clamped to ``+-conv_clamp`` when set.
    """

    noise: torch.Tensor

    def __init__(
        self,
        resolution: int,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 3,
        up: bool = False,
        demodulate: bool = True,
        add_noise: bool = True,
        activate: bool = True,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.res = resolution
        self.in_c = in_channels
        self.out_c = out_channels
        self.ksize = kernel_size
        self.up = up
        self.demodulate = demodulate
        self.add_noise = add_noise
        self.activate = activate
        self.conv_clamp = conv_clamp
        self.weight = nn.Parameter(torch.randn(kernel_size, kernel_size, in_channels, out_channels))
        self.weight_scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.style = DenseBlock(w_dim, in_channels, lr_mul=1.0, init_bias=1.0, activate=False)
        if up:
            self.filter = FIRFilter()
        if add_noise:
            self.register_buffer("noise", torch.randn(1, 1, resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, w: torch.Tensor, randomize_noise: bool = False) -> torch.Tensor:
        style = self.style(w)  # [N, C_in]
        weight = (self.weight * self.weight_scale).permute(3, 2, 0, 1)  # [C_out, C_in, k, k]
        if x.shape[0] == 1:
            x = self._fused_modulated_conv(x, weight, style)
        else:
            x = self._modulated_conv(x, weight, style)
        if self.add_noise:
            if randomize_noise:
                noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            else:
                noise = self.noise.to(x.dtype)
            x = x + noise * self.noise_strength
        x = x + self.bias.view(1, -1, 1, 1)
        if self.activate:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
        """Plain or upsampling convolution of ``x`` with ``weight [groups*C_out, C_in, k, k]``."""
        k = self.ksize
        if not self.up:
            return F.conv2d(x, weight, padding=k // 2, groups=groups)
        # A transposed conv wants [C_in, C_out, k, k] per group, and TF-order weights are
        # flipped spatially for it (genforce's convention).
        weight = weight.flip(2, 3).reshape(groups, self.out_c, self.in_c, k, k).transpose(1, 2)
        x = F.conv_transpose2d(x, weight.reshape(groups * self.in_c, self.out_c, k, k), stride=2, groups=groups)
        return self.filter(x)

    def _fused_modulated_conv(self, x: torch.Tensor, weight: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Per-sample modulated weights, run as one grouped convolution (fastest at batch 1)."""
        batch = x.shape[0]
        weight = weight.unsqueeze(0) * style.view(batch, 1, self.in_c, 1, 1)  # [N, C_out, C_in, k, k]
        if self.demodulate:
            norm = torch.sqrt(weight.square().sum(dim=(2, 3, 4)) + DEMOD_EPS)
            weight = weight / norm.view(batch, self.out_c, 1, 1, 1)
        x = x.reshape(1, batch * self.in_c, x.shape[2], x.shape[3])
        x = self._conv(x, weight.reshape(batch * self.out_c, self.in_c, self.ksize, self.ksize), groups=batch)
        return x.reshape(batch, self.out_c, x.shape[2], x.shape[3])

    def _modulated_conv(self, x: torch.Tensor, weight: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The same result by scaling activations before and after one shared convolution
        (one large convolution instead of N small ones: faster for batches)."""
        x = self._conv(x * style.view(-1, self.in_c, 1, 1), weight, groups=1)
        if self.demodulate:
            # sum over (i, kernel) of (W[o, i] * s[n, i])^2 = s^2 @ sum_kernel(W^2).T
            norm = torch.sqrt(style.square() @ weight.square().sum(dim=(2, 3)).t() + DEMOD_EPS)
            x = x / norm.view(-1, self.out_c, 1, 1)
        return x


class SynthesisNetwork(nn.Module):
    """``wp [N, num_layers, w_dim]`` -> (image ``[N, 3, R, R]``, per-block features)."""

    def __init__(
        self,
        resolution: int,
        w_dim: int,
        fmaps_base: int,
        fmaps_max: int,
        conv_clamp: float | None,
    ) -> None:
        super().__init__()
        self.num_blocks = num_blocks_for(resolution)
        self.num_layers = num_layers_for(resolution)
        for b in range(self.num_blocks):
            res = INIT_RES * 2**b
            channels = channels_at(res, fmaps_base, fmaps_max)
            if b == 0:
                self.early_layer = InputBlock(channels)
            else:
                previous = channels_at(res // 2, fmaps_base, fmaps_max)
                self.add_module(
                    f"layer{2 * b - 1}",
                    ModulatedConvBlock(res, previous, channels, w_dim, up=True, conv_clamp=conv_clamp),
                )
            self.add_module(f"layer{2 * b}", ModulatedConvBlock(res, channels, channels, w_dim, conv_clamp=conv_clamp))
            self.add_module(
                f"output{b}",
                ModulatedConvBlock(
                    res,
                    channels,
                    3,
                    w_dim,
                    kernel_size=1,
                    demodulate=False,
                    add_noise=False,
                    activate=False,
                    conv_clamp=conv_clamp,
                ),
            )
        self.upsample = Upsample2x()

    def forward(self, wp: torch.Tensor, randomize_noise: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.early_layer(wp.shape[0])
        image: torch.Tensor | None = None
        features: list[torch.Tensor] = []
        for b in range(self.num_blocks):
            if b > 0:
                x = getattr(self, f"layer{2 * b - 1}")(x, wp[:, 2 * b - 1], randomize_noise)
            x = getattr(self, f"layer{2 * b}")(x, wp[:, 2 * b], randomize_noise)
            features.append(x)
            rgb = getattr(self, f"output{b}")(x, wp[:, 2 * b + 1])
            image = rgb if image is None else rgb + self.upsample(image)
        assert image is not None
        return image, features


# ----- the generator -------------------------------------------------------------------------
class StyleGAN2Generator(StyleGeneratorBase):
    """StyleGAN2 generator (Karras et al. 2020, config F: skip toRGBs, no residuals).

    ``map(z)`` gives ``wp [N, num_layers, w_dim]`` (the mapping output repeated per layer,
    truncated towards ``w_avg`` on the first ``truncation_layers`` codes);
    ``synthesize(wp)`` gives ``[N, 3, R, R]`` clamped to [-1, 1] (gradients pass the clamp
    unchanged); ``synthesize_raw`` gives the reference's unclamped output. Noise is the
    fixed per-layer buffers unless ``randomize_noise`` is set to True.
    """

    synthesis: SynthesisNetwork

    arch = "stylegan2"

    def __init__(
        self,
        resolution: int = 256,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_fmaps: int | None = None,
        mapping_lr_mul: float = 0.01,
        fmaps_base: int = 32768,
        fmaps_max: int = 512,
        truncation_psi: float = DEFAULT_TRUNCATION_PSI,
        truncation_layers: int = DEFAULT_TRUNCATION_LAYERS,
        w_avg_beta: float = 0.995,
        conv_clamp: float | None = None,
        name: str = "stylegan2",
    ) -> None:
        num_layers, truncation_layers = check_style_config(
            self.arch, resolution, z_dim, w_dim, mapping_layers, fmaps_base, fmaps_max, truncation_layers
        )
        if conv_clamp is not None and conv_clamp <= 0:
            raise GeneratorError(f"stylegan2: conv_clamp must be positive or None, got {conv_clamp}")
        mapping_fmaps = int(w_dim if mapping_fmaps is None else mapping_fmaps)
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
            truncation_layers=truncation_layers,
            w_avg_beta=float(w_avg_beta),
            conv_clamp=None if conv_clamp is None else float(conv_clamp),
            name=name,
        )
        self._num_layers = num_layers
        #: Draw fresh per-sample noise instead of the fixed buffers (training, variation).
        self.randomize_noise = False
        self.mapping = MappingNetwork(z_dim, mapping_fmaps, w_dim, mapping_layers, float(mapping_lr_mul), DenseBlock)
        self.truncation = Truncation(w_dim)
        self.synthesis = SynthesisNetwork(resolution, w_dim, fmaps_base, fmaps_max, self.config["conv_clamp"])

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(channels=self.channels(), conv_clamp=self.config["conv_clamp"])
        return info


# ----- building a generator from a state dict in this layout ---------------------------------
def infer_channel_config(channels: list[int], source: list[str], path: Path) -> tuple[int, int]:
    """Find ``(fmaps_base, fmaps_max)`` with ``min(base // res, max) == channels[b]``.

    ``channels[b]`` are the feature maps of block ``b`` (resolution ``4 * 2**b``) and
    ``source[b]`` the key each was read from (named in the error).
    """
    fmaps_max = max(channels)
    resolutions = [INIT_RES * 2**b for b in range(len(channels))]
    candidates = [c * r for c, r in zip(channels, resolutions, strict=True) if c < fmaps_max]
    candidates.append(fmaps_max * resolutions[-1])
    for base in candidates:
        if all(channels_at(r, base, fmaps_max) == c for r, c in zip(resolutions, channels, strict=True)):
            return base, fmaps_max
    for b, (r, c) in enumerate(zip(resolutions, channels, strict=True)):
        if b > 0 and c > channels[b - 1]:
            raise CheckpointError(
                f"{path}: key {source[b]!r}: {c} feature maps at {r} px, more than the {channels[b - 1]} "
                f"at {r // 2} px; not a StyleGAN2 channel schedule min(base // res, max)"
            )
    raise CheckpointError(
        f"{path}: feature maps per resolution {dict(zip(resolutions, channels, strict=True))} (from {source}) "
        "do not follow StyleGAN2's schedule min(fmaps_base // res, fmaps_max)"
    )


def build_from_state(
    state: dict[str, Any],
    path: Path,
    source_keys: dict[str, str] | None = None,
    source_state: dict[str, Any] | None = None,
    **overrides: Any,
) -> StyleGAN2Generator:
    """A :class:`StyleGAN2Generator` holding ``state`` (in this module's key layout).

    Resolution, dims, mapping depth and channels are inferred from tensor shapes;
    ``overrides`` set the rest (``truncation_psi``, ``mapping_lr_mul``, ``conv_clamp``, ...).
    For converted files, ``source_keys`` maps our keys back to the file's own names and
    ``source_state`` is the file's state dict, so errors name the file's key and shape.
    Raises :class:`CheckpointError` naming the first missing, unexpected or mis-shaped key.
    """
    source_keys = source_keys or {}
    source_state = source_state or {}

    def named(key: str) -> str:
        return source_keys.get(key, key)

    def get(key: str) -> torch.Tensor:
        if key not in state:
            raise CheckpointError(f"{path}: missing key {named(key)!r}")
        return require_key(state, key, path)

    def shape_of(key: str, ndim: int) -> tuple[int, ...]:
        tensor = get(key)
        if tensor.ndim != ndim:
            raise CheckpointError(
                f"{path}: key {named(key)!r} has shape {list(tensor.shape)}; expected {ndim} dimensions"
            )
        return tuple(tensor.shape)

    mapping_layers = 0
    while f"mapping.dense{mapping_layers}.fc.weight" in state:
        mapping_layers += 1
    first = shape_of("mapping.dense0.fc.weight", 2)
    last = shape_of(f"mapping.dense{mapping_layers - 1}.fc.weight", 2)
    z_dim, w_dim = first[1], last[0]
    mapping_fmaps = first[0] if mapping_layers > 1 else w_dim

    num_blocks = 0
    while f"synthesis.output{num_blocks}.weight" in state:
        num_blocks += 1
    if num_blocks == 0:
        get("synthesis.output0.weight")
    resolution = INIT_RES * 2 ** (num_blocks - 1)
    if resolution not in RESOLUTIONS_ALLOWED:
        raise CheckpointError(
            f"{path}: {num_blocks} toRGB layers (up to key {named(f'synthesis.output{num_blocks - 1}.weight')!r}) "
            f"mean {resolution} px; allowed: {list(RESOLUTIONS_ALLOWED)}"
        )
    channels = [shape_of("synthesis.early_layer.const", 4)[1]]
    sources = [named("synthesis.early_layer.const")]
    for b in range(1, num_blocks):
        channels.append(shape_of(f"synthesis.layer{2 * b}.weight", 4)[3])
        sources.append(named(f"synthesis.layer{2 * b}.weight"))
    fmaps_base, fmaps_max = infer_channel_config(channels, sources, path)

    config: dict[str, Any] = dict(
        resolution=resolution,
        z_dim=z_dim,
        w_dim=w_dim,
        mapping_layers=mapping_layers,
        mapping_fmaps=mapping_fmaps,
        fmaps_base=fmaps_base,
        fmaps_max=fmaps_max,
    )
    config.update(overrides)
    try:
        generator = StyleGAN2Generator(**config)
    except GeneratorError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    own = generator.state_dict()
    for key, value in own.items():
        if key in state and isinstance(state[key], torch.Tensor) and tuple(state[key].shape) != tuple(value.shape):
            theirs = source_keys.get(key)
            if theirs is not None and isinstance(source_state.get(theirs), torch.Tensor):
                raise CheckpointError(
                    f"{path}: key {theirs!r} has shape {list(source_state[theirs].shape)}; as {key!r} that is "
                    f"{list(state[key].shape)}, expected {list(value.shape)}"
                )
            raise CheckpointError(
                f"{path}: key {key!r} has shape {list(state[key].shape)}, expected {list(value.shape)}"
            )
    for key in own:
        if key not in state:
            raise CheckpointError(f"{path}: missing key {named(key)!r} (expected shape {list(own[key].shape)})")
    load_state_dict_strict(generator, state, path)
    return generator


# ----- genforce / HiGAN .pth -----------------------------------------------------------------
#: genforce stores the truncation coefficients as a buffer; we derive them from the config.
GENFORCE_TRUNCATION_KEY = "truncation.truncation"


def _genforce_state(payload: Any) -> dict[str, Any] | None:
    return find_state_dict(payload, lambda state: has_keys(state, "synthesis.early_layer.const"))


def _build_genforce(payload: Any, path: Path) -> Generator:
    state = _genforce_state(payload)
    if state is None:
        raise CheckpointError(f"{path}: missing key 'synthesis.early_layer.const'")
    state = dict(state)
    state.pop(GENFORCE_TRUNCATION_KEY, None)
    # The FIR kernels are fixed constants, not learned: supply them if a file omits them.
    num_blocks = sum(1 for key in state if key.startswith("synthesis.output") and key.endswith(".style.fc.weight"))
    fixed = [f"synthesis.layer{2 * b - 1}.filter.kernel" for b in range(1, num_blocks)]
    for key in fixed + (["synthesis.upsample.kernel"] if num_blocks > 1 else []):
        state.setdefault(key, fir_kernel())
    return build_from_state(state, path, name=path.stem)


#: The checkpoint layouts this module reads (listed in ``registry``; NVIDIA's and
#: rosinality's StyleGAN2 layouts are read by ``nvidia_pickle`` and ``rosinality``).
FORMATS = (
    ForeignFormat(
        name="genforce-stylegan2",
        arch="stylegan2",
        detect=lambda payload: _genforce_state(payload) is not None,
        build=_build_genforce,
    ),
)
