"""Reading genforce / HiGAN StyleGAN ``.pth`` files.

Two key layouts are recognised:

* **HiGAN** (genforce's first PyTorch port, also InterFaceGAN-era idinvert/mganprior):
  ``mapping.dense0.fc.weight``, ``synthesis.layer0.const``,
  ``synthesis.layer{k}.epilogue.style_mod.dense.fc.weight`` ... — identical to
  :class:`~sceneedit.generators.stylegan.StyleGANGenerator`'s own state dict.
* **genforce v2** (genforce/genforce, SeFa): ``mapping.dense0.weight``,
  ``synthesis.layer{k}.style.weight``, ``synthesis.output{b}.weight`` ... — renamed to the
  HiGAN layout (and fused-scale kernels transposed to TF order) before loading.

The payload may be a bare state dict or a training checkpoint wrapping one under
``generator_smooth`` (preferred, the EMA weights) or ``generator``, as genforce's loaders
do. Architecture hyper-parameters are inferred from tensor shapes; every key is then
checked strictly (missing / unexpected / mis-shaped -> :class:`CheckpointError`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from .base import CheckpointError, ForeignFormat
from .layers import INIT_RES, RESOLUTIONS_ALLOWED, channels_at
from .state_dicts import find_state_dict, has_keys, load_state_dict_strict, require_key
from .stylegan import StyleGANGenerator, genforce_default_truncation, uses_fused_scale

#: genforce's (and HiGAN's) default truncation when a file does not record one.
DEFAULT_TRUNCATION = (0.7, 8)
#: Buffers that are constants of the architecture; filled in when a file omits them.
_OPTIONAL_SUFFIXES = ("truncation.truncation", "synthesis.lod", ".blur.kernel")


# ----- detection -------------------------------------------------------------------------------
def _is_higan_layout(state: Any) -> bool:
    return has_keys(
        state,
        "synthesis.layer0.const",
        "mapping.dense0.fc.weight",
        "synthesis.layer0.epilogue.style_mod.dense.fc.weight",
    )


def _is_genforce_v2_layout(state: Any) -> bool:
    return has_keys(state, "synthesis.layer0.const", "mapping.dense0.weight", "synthesis.layer0.style.weight")


def _strip_module_prefix(state: dict) -> dict:
    """Drop a DataParallel ``module.`` prefix when every key has it."""
    if state and all(isinstance(k, str) and k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return state


def unwrap_state(payload: Any) -> dict | None:
    """The StyleGAN state dict inside ``payload`` (either layout), or None."""
    return find_state_dict(
        payload, lambda state: _is_higan_layout(state) or _is_genforce_v2_layout(state), prepare=_strip_module_prefix
    )


def detect(payload: Any) -> bool:
    return unwrap_state(payload) is not None


# ----- genforce v2 -> HiGAN key renaming -------------------------------------------------------
_V2_RENAMES = [
    (re.compile(r"^mapping\.dense(\d+)\.weight$"), r"mapping.dense\1.fc.weight"),
    (re.compile(r"^mapping\.dense(\d+)\.bias$"), r"mapping.dense\1.wscale.bias"),
    (re.compile(r"^synthesis\.layer(\d+)\.bias$"), r"synthesis.layer\1.epilogue.bias"),
    (re.compile(r"^synthesis\.layer(\d+)\.style\.weight$"), r"synthesis.layer\1.epilogue.style_mod.dense.fc.weight"),
    (re.compile(r"^synthesis\.layer(\d+)\.style\.bias$"), r"synthesis.layer\1.epilogue.style_mod.dense.wscale.bias"),
    (re.compile(r"^synthesis\.layer(\d+)\.apply_noise\.(weight|noise)$"), r"synthesis.layer\1.epilogue.apply_noise.\2"),
    (re.compile(r"^synthesis\.output(\d+)\.weight$"), r"synthesis.output\1.conv.weight"),
]
_V2_CONV_WEIGHT = re.compile(r"^synthesis\.layer(\d+)\.weight$")


def _rename_genforce_v2(state: dict, fused_layers: set[int]) -> dict:
    """Map genforce-v2 keys onto the HiGAN layout; ``fused_layers`` get TF-order kernels."""
    renamed: dict[str, Any] = {}
    for key, value in state.items():
        new_key = key
        conv = _V2_CONV_WEIGHT.match(key)
        if conv:
            layer = int(conv.group(1))
            if layer in fused_layers and isinstance(value, torch.Tensor) and value.ndim == 4:
                new_key, value = key, value.permute(2, 3, 1, 0)  # [out,in,k,k] -> [k,k,in,out]
            else:
                new_key = f"synthesis.layer{layer}.conv.weight"
        else:
            for pattern, replacement in _V2_RENAMES:
                if pattern.match(key):
                    new_key = pattern.sub(replacement, key)
                    break
        renamed[new_key] = value
    return renamed


# ----- shape inference -------------------------------------------------------------------------
def _count(state: dict, template: str) -> int:
    n = 0
    while template.format(n) in state:
        n += 1
    return n


def _shape(state: dict, key: str, path: Path, ndim: int) -> tuple[int, ...]:
    tensor = require_key(state, key, path)
    if tensor.ndim != ndim:
        raise CheckpointError(f"{path}: key {key!r} has shape {list(tensor.shape)}, expected {ndim} dimensions")
    return tuple(tensor.shape)


def _infer_fmaps(channels: list[int], path: Path) -> tuple[int, int]:
    """``(fmaps_base, fmaps_max)`` with ``min(base // res, max) == channels[block]``."""
    fmaps_max = max(channels)
    resolutions = [INIT_RES * 2**b for b in range(len(channels))]
    below = [(c, r) for c, r in zip(channels, resolutions, strict=True) if c < fmaps_max]
    if below:
        candidates = [below[0][0] * below[0][1]]
    else:
        top = resolutions[-1]
        candidates = [16384] if 16384 // top >= fmaps_max else []
        candidates.append(fmaps_max * top)
    for base in candidates:
        if [channels_at(r, base, fmaps_max) for r in resolutions] == channels:
            return base, fmaps_max
    raise CheckpointError(
        f"{path}: feature-map counts per resolution {dict(zip(resolutions, channels, strict=True))} do not follow "
        "StyleGAN's min(fmaps_base // res, fmaps_max) rule"
    )


def infer_config(state: dict, path: Path, layout: str) -> dict[str, Any]:
    """Constructor kwargs of :class:`StyleGANGenerator` from the shapes in ``state``."""
    fc = "weight" if layout == "v2" else "fc.weight"
    style = "style.weight" if layout == "v2" else "epilogue.style_mod.dense.fc.weight"
    output = "weight" if layout == "v2" else "conv.weight"
    if any(isinstance(k, str) and k.startswith("mapping.label_weight") for k in state):
        raise CheckpointError(f"{path}: a class-conditional StyleGAN (key 'mapping.label_weight'); not supported")

    mapping_layers = _count(state, "mapping.dense{}." + fc)
    first = _shape(state, f"mapping.dense0.{fc}", path, 2)
    z_dim = first[1]
    w_dim = _shape(state, f"synthesis.layer0.{style}", path, 2)[1]
    mapping_fmaps = first[0] if mapping_layers > 1 else w_dim

    num_blocks = _count(state, "synthesis.output{}." + output)
    if num_blocks == 0:
        raise CheckpointError(f"{path}: missing key 'synthesis.output0.{output}'")
    resolution = INIT_RES * 2 ** (num_blocks - 1)
    if resolution not in RESOLUTIONS_ALLOWED:
        raise CheckpointError(
            f"{path}: {num_blocks} output blocks give resolution {resolution}; allowed: {list(RESOLUTIONS_ALLOWED)}"
        )
    channels = [_shape(state, "synthesis.layer0.const", path, 4)[1]]
    for block in range(1, num_blocks):
        conv = "weight" if layout == "v2" else "conv.weight"
        channels.append(_shape(state, f"synthesis.layer{2 * block + 1}.{conv}", path, 4)[0])
    fmaps_base, fmaps_max = _infer_fmaps(channels, path)

    fused = []
    for block in range(1, num_blocks):
        if layout == "v2":
            # genforce v2 stores fused and plain kernels under one name; its blur/upsample
            # modules carry no keys, so fall back to the default rule.
            fused.append(uses_fused_scale("auto", INIT_RES * 2**block))
        else:
            fused.append(f"synthesis.layer{2 * block}.weight" in state)
    fused_scale = _infer_fused_scale(fused, path)

    psi, layers = DEFAULT_TRUNCATION
    coefs = state.get("truncation.truncation")
    if isinstance(coefs, torch.Tensor):
        recorded = genforce_default_truncation(coefs)
        if recorded is not None and recorded != (1.0, 0):
            psi, layers = recorded
    return dict(
        resolution=resolution,
        z_dim=z_dim,
        w_dim=w_dim,
        mapping_layers=mapping_layers,
        mapping_fmaps=mapping_fmaps,
        fmaps_base=fmaps_base,
        fmaps_max=fmaps_max,
        truncation_psi=round(float(psi), 6),
        truncation_layers=int(layers),
        fused_scale=fused_scale,
        name=path.stem,
    )


def _infer_fused_scale(fused: list[bool], path: Path) -> bool | str:
    resolutions = [INIT_RES * 2 ** (b + 1) for b in range(len(fused))]
    for option in ("auto", True, False):
        if fused == [uses_fused_scale(option, r) for r in resolutions]:
            return option
    raise CheckpointError(
        f"{path}: upsampling layers use fused scale at {[r for r, f in zip(resolutions, fused, strict=True) if f]} px, "
        "which matches none of fused_scale=True/False/'auto'"
    )


# ----- building --------------------------------------------------------------------------------
def build(payload: Any, path: Path) -> StyleGANGenerator:
    """A :class:`StyleGANGenerator` holding the weights of a genforce / HiGAN file."""
    state = unwrap_state(payload)
    if state is None:
        raise CheckpointError(f"{path}: not a genforce/HiGAN StyleGAN state dict")
    layout = "higan" if _is_higan_layout(state) else "v2"
    config = infer_config(state, path, layout)
    if layout == "v2":
        num_blocks = (config["resolution"] // INIT_RES).bit_length()
        fused_layers = {
            2 * block for block in range(1, num_blocks) if uses_fused_scale(config["fused_scale"], INIT_RES * 2**block)
        }
        state = _rename_genforce_v2(state, fused_layers)
    try:
        generator = StyleGANGenerator(**config)
    except ValueError as exc:
        raise CheckpointError(f"{path}: inferred StyleGAN settings are invalid ({exc})") from exc
    own = generator.state_dict()
    state = dict(state)
    for key, value in own.items():
        if key not in state and key.endswith(_OPTIONAL_SUFFIXES):
            state[key] = value
    # Like genforce's loader (``model_specific_vars``), keep our own truncation
    # coefficients: the file's are only a record of its converter's settings.
    recorded = state.get("truncation.truncation")
    if isinstance(recorded, torch.Tensor) and recorded.shape == own["truncation.truncation"].shape:
        state["truncation.truncation"] = own["truncation.truncation"]
    load_state_dict_strict(generator, state, path)
    return generator


#: The checkpoint layouts this module reads (listed in ``registry``).
FORMATS = (ForeignFormat(name="genforce-stylegan", arch="stylegan", detect=detect, build=build),)
