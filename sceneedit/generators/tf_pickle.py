"""Converting NVIDIA's TensorFlow generators (PGGAN, StyleGAN, StyleGAN2) to our modules.

The network is ``Gs`` of the pickled ``(G, D, Gs)`` (see :mod:`.tf_network`); the family
comes from its ``build_func_name`` (``G_paper`` -> PGGAN, ``G_style`` -> StyleGAN,
``G_main`` + ``G_synthesis_stylegan2`` -> StyleGAN2 config E/F), the sizes from variable
names and shapes (static kwargs are consulted only for what the variables cannot tell, with
each build function's defaults where a key is absent). TF variables map onto the
genforce/HiGAN key layout of :mod:`.pggan`, :mod:`.stylegan` and :mod:`.stylegan2` the way
HiGAN's converters do (``b`` = block from 4 px, ``R`` = its resolution, ``L`` = log2 of the
final resolution minus log2(R))::

    PGGAN   4x4/Dense/weight [z, 16C]            -> layer0.conv.weight [C, z, 4, 4] (a 4x4 conv on 1x1)
            RxR/Conv0(_up), RxR/Conv1, 4x4/Conv  -> layer{2b}, layer{2b+1} (.conv.weight [O, I, k, k];
                                                    fused Conv0_up/weight [k, k, OUT, IN] -> .weight [k, k, IN, OUT])
            ToRGB_lod{L}                          -> output{b}
    StyleGAN mapping/Dense{i}                     -> mapping.dense{i} (weight transposed)
            dlatent_avg                           -> truncation.w_avg
            synthesis/noise{k}                    -> synthesis.layer{k}.epilogue.apply_noise.noise
            4x4/Const, 4x4/Conv, RxR/Conv0_up, RxR/Conv1 -> synthesis.layer{k} (+ Noise, bias, StyleMod)
              (fused Conv0_up/weight, from 128 px, stays [k, k, IN, OUT])
            ToRGB_lod{L}                          -> synthesis.output{b}
    StyleGAN2 4x4/Const/const                     -> synthesis.early_layer.const
            4x4/Conv, RxR/Conv0_up, RxR/Conv1     -> synthesis.layer{k} (weight [k, k, I, O] as is,
                                                    mod_weight/mod_bias -> style, noise_strength)
            RxR/ToRGB                             -> synthesis.output{b}

Every error names the file and the TF variable with its shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import CheckpointError, ForeignFormat, Generator, GeneratorError
from .pggan import PGGANGenerator, _infer_fmaps
from .state_dicts import load_state_dict_strict
from .stylegan import StyleGANGenerator
from .stylegan2 import StyleGAN2Generator, infer_channel_config
from .tf_network import TFNetwork, pick_generator, tf_networks

#: build_func_name of ``Gs`` -> our architecture.
FAMILIES = {"G_paper": "pggan", "G_style": "stylegan", "G_main": "stylegan2"}
STYLEGAN2_SYNTHESIS = "G_synthesis_stylegan2"

#: Build-function defaults for the static kwargs the variables cannot tell (NVIDIA's code).
STYLEGAN_DEFAULTS = dict(truncation_psi=0.7, truncation_cutoff=8, fused_scale="auto", mapping_lrmul=0.01)
STYLEGAN2_DEFAULTS = dict(truncation_psi=0.5, truncation_cutoff=None, mapping_lrmul=0.01, architecture="skip")
#: Static kwargs whose non-default values our modules cannot reproduce: (key, default).
_FIXED_KWARGS: dict[str, list[tuple[str, Any]]] = {
    "G_paper": [
        ("use_wscale", True),
        ("use_pixelnorm", True),
        ("use_leakyrelu", True),
        ("normalize_latents", True),
        ("num_channels", 3),
        ("label_size", 0),
        ("fmap_decay", 1.0),
    ],
    "G_mapping": [
        ("normalize_latents", True),
        ("mapping_nonlinearity", "lrelu"),
        ("use_wscale", True),
        ("label_size", 0),
    ],
    "G_synthesis": [
        ("use_styles", True),
        ("const_input_layer", True),
        ("use_noise", True),
        ("nonlinearity", "lrelu"),
        ("use_wscale", True),
        ("use_pixel_norm", False),
        ("use_instance_norm", True),
        ("blur_filter", [1, 2, 1]),
        ("num_channels", 3),
        ("fmap_decay", 1.0),
    ],
    "G_synthesis_stylegan2": [
        ("architecture", "skip"),
        ("nonlinearity", "lrelu"),
        ("resample_kernel", [1, 3, 3, 1]),
        ("num_channels", 3),
        ("fmap_decay", 1.0),
        ("fmap_min", 1),
    ],
}


# ----- one TF variable -> one of our tensors --------------------------------------------------
@dataclass(frozen=True)
class VarMap:
    """``ours`` <- TF variable ``theirs``, with the axes permuted by ``perm`` (None: as is).

    ``dense_to_conv`` marks PGGAN's first dense layer ``[z, 16C]``, which becomes a 4x4
    convolution ``[C, z, 4, 4]`` applied to the 1x1 latent (padding 3).
    """

    ours: str
    theirs: str
    perm: tuple[int, ...] | None = None
    dense_to_conv: bool = False

    def tf_shape(self, ours_shape: tuple[int, ...]) -> list[int]:
        """The TF shape that converts to ``ours_shape``."""
        if self.dense_to_conv:
            c, z = ours_shape[0], ours_shape[1]
            return [z, c * ours_shape[2] * ours_shape[3]]
        if self.perm is None:
            return list(ours_shape)
        shape = [0] * len(ours_shape)
        for axis, source in enumerate(self.perm):
            shape[source] = ours_shape[axis]
        return shape

    def convert(self, array: np.ndarray, ours_shape: tuple[int, ...]) -> torch.Tensor:
        tensor = torch.from_numpy(np.array(array, dtype=np.float32, copy=True))
        if self.dense_to_conv:
            c, z, k = ours_shape[0], ours_shape[1], ours_shape[2]
            # TF reshapes the dense output [N, 16C] to [N, C, 4, 4]; a conv on a 1x1 input with
            # padding 3 reads its kernel flipped.
            return tensor.reshape(z, c, k, k).permute(1, 0, 2, 3).flip(2, 3).contiguous()
        if self.perm is not None:
            tensor = tensor.permute(*self.perm)
        return tensor.reshape(ours_shape).contiguous()


_CONV = (3, 2, 0, 1)  # TF [k, k, I, O] -> torch [O, I, k, k]
_DENSE = (1, 0)  # TF [in, out] -> torch [out, in]
_SWAP_IO = (0, 1, 3, 2)  # [k, k, OUT, IN] -> [k, k, IN, OUT]


def convert_variables(
    generator: Generator, table: list[VarMap], variables: dict[str, np.ndarray], path: Path
) -> dict[str, torch.Tensor]:
    """Our state dict from ``variables`` per ``table``; fixed buffers not in the table keep
    ``generator``'s values. A missing, mis-shaped or unused variable is a :class:`CheckpointError`."""
    own = generator.state_dict()
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for entry in table:
        expected = tuple(own[entry.ours].shape)
        tf_expected = entry.tf_shape(expected)
        if entry.theirs not in variables:
            raise CheckpointError(f"{path}: missing variable {entry.theirs!r} (expected shape {tf_expected})")
        array = variables[entry.theirs]
        if list(array.shape) != tf_expected and not (array.size == 1 and math.prod(tf_expected) == 1):
            raise CheckpointError(
                f"{path}: variable {entry.theirs!r} has shape {list(array.shape)}; expected {tf_expected}"
            )
        if not np.all(np.isfinite(array)):
            raise CheckpointError(f"{path}: variable {entry.theirs!r} (shape {list(array.shape)}) holds NaN or inf")
        state[entry.ours] = entry.convert(array, expected)
        used.add(entry.theirs)
    unused = [name for name in variables if name not in used]
    if unused:
        name = unused[0]
        raise CheckpointError(
            f"{path}: unexpected variable {name!r} (shape {list(variables[name].shape)}); "
            f"{len(unused)} unexpected in all"
        )
    for key, value in own.items():
        state.setdefault(key, value)
    load_state_dict_strict(generator, state, path)
    return state


# ----- helpers for reading sizes --------------------------------------------------------------
_RES_PREFIX = re.compile(r"^(\d+)x(\1)/")


def _resolutions(variables: dict[str, np.ndarray], path: Path, prefix: str) -> int:
    """The final resolution: the largest ``RxR/`` scope among the variables."""
    found = sorted({int(m.group(1)) for name in variables if (m := _RES_PREFIX.match(name))})
    if not found:
        raise CheckpointError(f"{path}: missing variable '{prefix}4x4/...': no synthesis layers in the network")
    return found[-1]


def _shape(variables: dict[str, np.ndarray], name: str, ndim: int, path: Path, label: str = "") -> tuple[int, ...]:
    if name not in variables:
        raise CheckpointError(f"{path}: missing variable {label + name!r}")
    shape = tuple(variables[name].shape)
    if len(shape) != ndim:
        raise CheckpointError(f"{path}: variable {label + name!r} has shape {list(shape)}; expected {ndim} dimensions")
    return shape


def _kwarg(network: TFNetwork, key: str, defaults: dict[str, Any]) -> Any:
    return network.static_kwargs.get(key, defaults.get(key))


def _check_fixed_kwargs(network: TFNetwork, path: Path) -> None:
    for key, default in _FIXED_KWARGS.get(network.build_func_name, []):
        if key in network.static_kwargs:
            value = network.static_kwargs[key]
            if isinstance(default, list) and isinstance(value, (list, tuple)):
                value = list(value)
            if value != default:
                raise CheckpointError(
                    f"{path}: network {network.name!r} ({network.build_func_name}) was built with "
                    f"{key}={value!r}; only {key}={default!r} is supported"
                )


def _check_hint(network: TFNetwork, key: str, inferred: int, evidence: str, path: Path) -> None:
    """Static kwargs are only hints; one that contradicts the variables is an error."""
    hinted = network.static_kwargs.get(key)
    if isinstance(hinted, (int, np.integer)) and not isinstance(hinted, bool) and int(hinted) != inferred:
        raise CheckpointError(
            f"{path}: network {network.name!r} was built with {key}={int(hinted)}, but its variables "
            f"({evidence}) give {inferred}"
        )


def _channel_config(channels: list[int], path: Path, names: list[str]) -> tuple[int, int]:
    """``(fmaps_base, fmaps_max)`` with ``min(base // res, max) == channels[b]`` (res = 4 * 2**b)."""
    return infer_channel_config(channels, names, path)


def _mapping_table(variables: dict[str, np.ndarray], path: Path, bias_key: str) -> tuple[list[VarMap], dict[str, int]]:
    count = 0
    while f"Dense{count}/weight" in variables:
        count += 1
    first = _shape(variables, "Dense0/weight", 2, path, "mapping/")
    last = _shape(variables, f"Dense{count - 1}/weight", 2, path, "mapping/")
    table = []
    for i in range(count):
        table.append(VarMap(f"mapping.dense{i}.fc.weight", f"mapping/Dense{i}/weight", _DENSE))
        table.append(VarMap(f"mapping.dense{i}.{bias_key}", f"mapping/Dense{i}/bias"))
    sizes = dict(z_dim=first[0], w_dim=last[1], mapping_layers=count, mapping_fmaps=first[1] if count > 1 else last[1])
    return table, sizes


def _prefixed(network: TFNetwork, prefix: str) -> dict[str, np.ndarray]:
    return {prefix + name: value for name, value in network.variables.items()}


def _truncation(psi: Any, cutoff: Any, num_layers: int) -> dict[str, Any]:
    psi = 1.0 if psi is None else float(psi)
    layers = num_layers if cutoff is None else min(int(cutoff), num_layers)
    return dict(truncation_psi=psi, truncation_layers=layers)


def _component(network: TFNetwork, name: str, path: Path) -> TFNetwork:
    component = network.components.get(name)
    if component is None:
        raise CheckpointError(
            f"{path}: network {network.name!r} ({network.build_func_name}) has no {name!r} component "
            f"(components: {sorted(network.components) or 'none'})"
        )
    _check_fixed_kwargs(component, path)
    return component


# ----- PGGAN ------------------------------------------------------------------------------------
def convert_pggan(network: TFNetwork, path: Path) -> Generator:
    _check_fixed_kwargs(network, path)
    variables = network.variables
    resolution = _resolutions(variables, path, "")
    num_blocks = int(math.log2(resolution)) - 1
    z_dim = _shape(variables, "4x4/Dense/weight", 2, path)[0]
    _check_hint(network, "resolution", resolution, f"up to '{resolution}x{resolution}/...'", path)
    _check_hint(network, "latent_size", z_dim, f"'4x4/Dense/weight' {list(variables['4x4/Dense/weight'].shape)}", path)
    channels = [_shape(variables, "4x4/Conv/weight", 4, path)[3]]
    fused = num_blocks > 1 and "8x8/Conv0_up/weight" in variables
    for b in range(1, num_blocks):
        res = 4 * 2**b
        channels.append(_shape(variables, f"{res}x{res}/Conv1/weight", 4, path)[3])
    fmaps_base, fmaps_max = _infer_fmaps(channels, resolution)
    generator = _construct(
        PGGANGenerator,
        dict(
            resolution=resolution,
            z_dim=z_dim,
            fmaps_base=fmaps_base,
            fmaps_max=fmaps_max,
            fused_scale=fused,
            name=path.stem,
        ),
        path,
    )
    table = [
        VarMap("lod", "lod"),
        VarMap("layer0.conv.weight", "4x4/Dense/weight", dense_to_conv=True),
        VarMap("layer0.wscale.bias", "4x4/Dense/bias"),
        VarMap("layer1.conv.weight", "4x4/Conv/weight", _CONV),
        VarMap("layer1.wscale.bias", "4x4/Conv/bias"),
    ]
    for b in range(num_blocks):
        res = 4 * 2**b
        scope = f"{res}x{res}"
        if b > 0:
            if fused:  # PGGAN keeps the transposed conv's weight as [k, k, OUT, IN]
                table.append(VarMap(f"layer{2 * b}.weight", f"{scope}/Conv0_up/weight", _SWAP_IO))
                table.append(VarMap(f"layer{2 * b}.wscale.bias", f"{scope}/Conv0_up/bias"))
            else:
                table.append(VarMap(f"layer{2 * b}.conv.weight", f"{scope}/Conv0/weight", _CONV))
                table.append(VarMap(f"layer{2 * b}.wscale.bias", f"{scope}/Conv0/bias"))
            table.append(VarMap(f"layer{2 * b + 1}.conv.weight", f"{scope}/Conv1/weight", _CONV))
            table.append(VarMap(f"layer{2 * b + 1}.wscale.bias", f"{scope}/Conv1/bias"))
        lod = num_blocks - 1 - b
        table.append(VarMap(f"output{b}.conv.weight", f"ToRGB_lod{lod}/weight", _CONV))
        table.append(VarMap(f"output{b}.wscale.bias", f"ToRGB_lod{lod}/bias"))
    convert_variables(generator, table, variables, path)
    return generator


# ----- StyleGAN ---------------------------------------------------------------------------------
def _construct(cls: type[Generator], config: dict[str, Any], path: Path) -> Generator:
    """``cls(**config)``, its configuration errors naming the pickle."""
    try:
        return cls(**config)
    except GeneratorError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc


def _style_synthesis_layout(
    mapping: TFNetwork, synthesis: TFNetwork, sizes: dict[str, int], path: Path
) -> tuple[int, int, int, int]:
    """``(resolution, num_blocks, fmaps_base, fmaps_max)`` of a StyleGAN / StyleGAN2 synthesis
    network, read from its variables' names and shapes (static kwargs only checked as hints)."""
    resolution = _resolutions(synthesis.variables, path, "synthesis/")
    num_blocks = int(math.log2(resolution)) - 1
    _check_hint(synthesis, "resolution", resolution, f"up to 'synthesis/{resolution}x{resolution}/...'", path)
    _check_hint(mapping, "latent_size", sizes["z_dim"], "'mapping/Dense0/weight'", path)
    _check_hint(mapping, "dlatent_size", sizes["w_dim"], "the last 'mapping/Dense*/weight'", path)
    channels, names = [], []
    for b in range(num_blocks):
        res = 4 * 2**b
        name = "4x4/Conv/weight" if b == 0 else f"{res}x{res}/Conv1/weight"
        channels.append(_shape(synthesis.variables, name, 4, path, "synthesis/")[3])
        names.append("synthesis/" + name)
    fmaps_base, fmaps_max = _channel_config(channels, path, names)
    return resolution, num_blocks, fmaps_base, fmaps_max


def convert_stylegan(network: TFNetwork, path: Path) -> Generator:
    mapping = _component(network, "mapping", path)
    synthesis = _component(network, "synthesis", path)
    variables = {**_prefixed(mapping, "mapping/"), **_prefixed(synthesis, "synthesis/")}
    own_vars = {k: v for k, v in network.variables.items() if k != "lod"}  # Gs's lod feeds nothing
    variables.update(own_vars)
    table, sizes = _mapping_table(_prefixed(mapping, ""), path, "wscale.bias")
    resolution, num_blocks, fmaps_base, fmaps_max = _style_synthesis_layout(mapping, synthesis, sizes, path)
    num_layers = 2 * num_blocks
    fused_scale = _kwarg(synthesis, "fused_scale", STYLEGAN_DEFAULTS)
    config = dict(
        resolution=resolution,
        **sizes,
        fmaps_base=fmaps_base,
        fmaps_max=fmaps_max,
        mapping_lr_mul=float(_kwarg(mapping, "mapping_lrmul", STYLEGAN_DEFAULTS)),
        fused_scale=fused_scale,
        name=path.stem,
        **_truncation(
            _kwarg(network, "truncation_psi", STYLEGAN_DEFAULTS),
            _kwarg(network, "truncation_cutoff", STYLEGAN_DEFAULTS),
            num_layers,
        ),
    )
    generator = _construct(StyleGANGenerator, config, path)
    table.append(VarMap("truncation.w_avg", "dlatent_avg"))
    table.append(VarMap("synthesis.lod", "synthesis/lod"))
    for k in range(num_layers):
        table.append(VarMap(f"synthesis.layer{k}.epilogue.apply_noise.noise", f"synthesis/noise{k}"))
    for b in range(num_blocks):
        res = 4 * 2**b
        scope = f"synthesis/{res}x{res}"
        layers = (
            [(f"{scope}/Const", 2 * b), (f"{scope}/Conv", 2 * b + 1)]
            if b == 0
            else [(f"{scope}/Conv0_up", 2 * b), (f"{scope}/Conv1", 2 * b + 1)]
        )
        for theirs, k in layers:
            ours = f"synthesis.layer{k}"
            if theirs.endswith("/Const"):
                table.append(VarMap(f"{ours}.const", f"{theirs}/const"))
            elif getattr(getattr(generator.synthesis, f"layer{k}"), "fused", False):
                table.append(VarMap(f"{ours}.weight", f"{theirs}/weight"))  # [k, k, IN, OUT] as stored
            else:
                table.append(VarMap(f"{ours}.conv.weight", f"{theirs}/weight", _CONV))
            table += [
                VarMap(f"{ours}.epilogue.apply_noise.weight", f"{theirs}/Noise/weight"),
                VarMap(f"{ours}.epilogue.bias", f"{theirs}/bias"),
                VarMap(f"{ours}.epilogue.style_mod.dense.fc.weight", f"{theirs}/StyleMod/weight", _DENSE),
                VarMap(f"{ours}.epilogue.style_mod.dense.wscale.bias", f"{theirs}/StyleMod/bias"),
            ]
        lod = num_blocks - 1 - b
        table.append(VarMap(f"synthesis.output{b}.conv.weight", f"synthesis/ToRGB_lod{lod}/weight", _CONV))
        table.append(VarMap(f"synthesis.output{b}.bias", f"synthesis/ToRGB_lod{lod}/bias"))
    convert_variables(generator, table, variables, path)
    return generator


# ----- StyleGAN2 --------------------------------------------------------------------------------
def convert_stylegan2(network: TFNetwork, path: Path) -> Generator:
    mapping = _component(network, "mapping", path)
    synthesis = _component(network, "synthesis", path)
    if synthesis.build_func_name != STYLEGAN2_SYNTHESIS:
        raise CheckpointError(
            f"{path}: G_main with synthesis network {synthesis.build_func_name!r}; only "
            f"{STYLEGAN2_SYNTHESIS!r} (StyleGAN2 configs E and F) is supported"
        )
    variables = {**_prefixed(mapping, "mapping/"), **_prefixed(synthesis, "synthesis/")}
    variables.update({k: v for k, v in network.variables.items() if k != "lod"})
    table, sizes = _mapping_table(_prefixed(mapping, ""), path, "bias")
    resolution, num_blocks, fmaps_base, fmaps_max = _style_synthesis_layout(mapping, synthesis, sizes, path)
    num_layers = 2 * num_blocks
    config = dict(
        resolution=resolution,
        **sizes,
        fmaps_base=fmaps_base,
        fmaps_max=fmaps_max,
        mapping_lr_mul=float(_kwarg(mapping, "mapping_lrmul", STYLEGAN2_DEFAULTS)),
        name=path.stem,
        **_truncation(
            _kwarg(network, "truncation_psi", STYLEGAN2_DEFAULTS),
            _kwarg(network, "truncation_cutoff", STYLEGAN2_DEFAULTS),
            num_layers,
        ),
    )
    generator = _construct(StyleGAN2Generator, config, path)
    table.append(VarMap("truncation.w_avg", "dlatent_avg"))
    table.append(VarMap("synthesis.early_layer.const", "synthesis/4x4/Const/const"))
    for b in range(num_blocks):
        res = 4 * 2**b
        scope = f"synthesis/{res}x{res}"
        layers = [(f"{scope}/Conv", 0)] if b == 0 else [(f"{scope}/Conv0_up", 2 * b - 1), (f"{scope}/Conv1", 2 * b)]
        for theirs, k in layers:
            ours = f"synthesis.layer{k}"
            table += [
                VarMap(f"{ours}.weight", f"{theirs}/weight"),
                VarMap(f"{ours}.style.fc.weight", f"{theirs}/mod_weight", _DENSE),
                VarMap(f"{ours}.style.bias", f"{theirs}/mod_bias"),
                VarMap(f"{ours}.noise_strength", f"{theirs}/noise_strength"),
                VarMap(f"{ours}.bias", f"{theirs}/bias"),
                VarMap(f"{ours}.noise", f"synthesis/noise{k}"),
            ]
        ours = f"synthesis.output{b}"
        table += [
            VarMap(f"{ours}.weight", f"{scope}/ToRGB/weight"),
            VarMap(f"{ours}.style.fc.weight", f"{scope}/ToRGB/mod_weight", _DENSE),
            VarMap(f"{ours}.style.bias", f"{scope}/ToRGB/mod_bias"),
            VarMap(f"{ours}.bias", f"{scope}/ToRGB/bias"),
        ]
    convert_variables(generator, table, variables, path)
    return generator


CONVERTERS: dict[str, Callable[[TFNetwork, Path], Generator]] = {
    "pggan": convert_pggan,
    "stylegan": convert_stylegan,
    "stylegan2": convert_stylegan2,
}


def tf_generator(payload: Any, path: Path) -> tuple[TFNetwork, str]:
    """``(Gs, arch)`` of a TF pickle payload, or a :class:`CheckpointError` saying why not."""
    networks = tf_networks(payload)
    if networks is None:
        raise CheckpointError(f"{path}: not a TensorFlow network pickle")
    network = pick_generator(networks, path)
    if network.is_discriminator():
        raise CheckpointError(
            f"{path}: network {network.name!r} is a discriminator ({network.build_func_name}); "
            "a generator (Gs) is needed"
        )
    arch = FAMILIES.get(network.build_func_name)
    if arch is None:
        raise CheckpointError(
            f"{path}: network {network.name!r} was built by {network.build_func_name!r}, which sceneedit "
            f"does not know; known: {', '.join(f'{k} ({v})' for k, v in FAMILIES.items())}"
        )
    return network, arch


def _detector(arch: str) -> Callable[[Any], bool]:
    def detect(payload: Any) -> bool:
        networks = tf_networks(payload)
        if networks is None:
            return False
        try:
            return tf_generator(payload, Path("?"))[1] == arch
        except CheckpointError:
            return arch == "pggan"  # one format reports why the file is unusable

    return detect


def _builder(arch: str) -> Callable[[Any, Path], Generator]:
    def build(payload: Any, path: Path) -> Generator:
        network, found = tf_generator(payload, path)
        return CONVERTERS[found](network, path)

    return build


#: The checkpoint layouts this module reads (listed in ``registry``), one per architecture.
FORMATS = tuple(ForeignFormat(f"nvidia-tf-{arch}-pkl", arch, _detector(arch), _builder(arch)) for arch in CONVERTERS)
