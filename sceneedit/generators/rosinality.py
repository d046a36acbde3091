"""rosinality/stylegan2-pytorch checkpoints (``.pt`` with ``g_ema``), converted to our layout.

rosinality's ``Generator`` (``model.py``) names::

    style.{j}.weight / .bias  (j = 1..n_mlp; style.0 is the pixel norm)  -> mapping.dense{j-1}
    input.input [1, C, 4, 4]                                             -> synthesis.early_layer.const
    conv1 (4 px), convs.{2i} (upsampling), convs.{2i+1}                   -> layer0, layer{2i+1}, layer{2i+2}
      .conv.weight [1, O, I, k, k]          -> .weight [k, k, I, O]  (upsampling ones flipped)
      .conv.modulation.weight / .bias       -> .style.fc.weight / .style.bias (minus 1)
      .conv.blur.kernel [4, 4]              -> .filter.kernel [1, 1, 4, 4]
      .noise.weight [1]                     -> .noise_strength []
      .activate.bias [O]                    -> .bias
    noises.noise_{k} [1, 1, r, r]                                          -> layer{k}.noise
    to_rgb1, to_rgbs.{i}                                                   -> output0, output{i+1}
      .conv.weight [1, 3, C, 1, 1]; .bias [1, 3, 1, 1]; .upsample.kernel   -> upsample.kernel

Gains agree with genforce (``1/sqrt(fan_in)`` on conv weights, ``lr_mul/sqrt(in)`` on the
mapping), except that rosinality's modulation bias starts at 1 where genforce adds a
constant 1, and its upsampling conv is a true convolution where genforce's weight is flipped.

A training checkpoint holds ``g``, ``d``, ``g_ema``, optimizer states and ``args`` (an
``argparse.Namespace``, let through torch's weights-only reader as inert data);
``convert_weight.py`` output holds ``g_ema`` and ``latent_avg``. Without ``latent_avg``,
``w_avg`` is estimated as rosinality's ``mean_latent(4096)`` does, from a fixed seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from .base import CheckpointError, ForeignFormat
from .nvidia_pickle import _Converter
from .safe_unpickle import allow_torch_global
from .state_dicts import has_keys
from .stylegan2 import build_from_state

allow_torch_global(argparse.Namespace)

#: Samples rosinality's ``generate.py`` averages for ``mean_latent`` (its ``--truncation_mean``).
MEAN_LATENT_SAMPLES = 4096
MEAN_LATENT_SEED = 0


def _rosinality_state(payload: Any) -> dict[str, Any] | None:
    if not isinstance(payload, dict):
        return None
    for candidate in (payload.get("g_ema"), payload):
        if has_keys(candidate, "input.input", "to_rgb1.conv.weight"):
            return candidate
    return None


def _rosinality_fir(conv: _Converter, key: str) -> torch.Tensor:
    """rosinality's kernel (gain 4 folded in, applied flipped) as our correlation kernel."""
    kernel = conv.take(key, ndim=2)
    if kernel.shape != (4, 4):
        raise CheckpointError(f"{conv.path}: key {key!r} has shape {list(kernel.shape)}; expected [4, 4]")
    return kernel.flip(0, 1).reshape(1, 1, 4, 4)


def _convert_styled_conv(conv: _Converter, theirs: str, ours: str, noise_key: str, up: bool) -> None:
    weight = conv.take(f"{theirs}.conv.weight", ndim=5)  # [1, O, I, k, k]
    weight = weight[0].permute(2, 3, 1, 0)
    conv.put(f"{ours}.weight", f"{theirs}.conv.weight", weight.flip(0, 1) if up else weight)
    conv.put_style(ours, f"{theirs}.conv.modulation.weight", f"{theirs}.conv.modulation.bias")
    strength = conv.take(f"{theirs}.noise.weight")
    if strength.numel() != 1:
        raise CheckpointError(
            f"{conv.path}: key {theirs + '.noise.weight'!r} has shape {list(strength.shape)}; expected [1]"
        )
    conv.put(f"{ours}.noise_strength", f"{theirs}.noise.weight", strength.reshape(()))
    conv.put(f"{ours}.bias", f"{theirs}.activate.bias", conv.take(f"{theirs}.activate.bias").reshape(-1))
    conv.put(f"{ours}.noise", noise_key, conv.take(noise_key, ndim=4))
    if up:
        conv.put(
            f"{ours}.filter.kernel", f"{theirs}.conv.blur.kernel", _rosinality_fir(conv, f"{theirs}.conv.blur.kernel")
        )


def _convert_to_rgb(conv: _Converter, theirs: str, ours: str) -> None:
    weight = conv.take(f"{theirs}.conv.weight", ndim=5)  # [1, 3, C, 1, 1]
    conv.put(f"{ours}.weight", f"{theirs}.conv.weight", weight[0].permute(2, 3, 1, 0))
    conv.put_style(ours, f"{theirs}.conv.modulation.weight", f"{theirs}.conv.modulation.bias")
    conv.put(f"{ours}.bias", f"{theirs}.bias", conv.take(f"{theirs}.bias").reshape(-1))


def convert_rosinality_state(source: dict[str, Any], path: Path, latent_avg: Any = None, **overrides: Any):
    """Our :class:`~.stylegan2.StyleGAN2Generator` from a rosinality ``g_ema`` state dict."""

    conv = _Converter(source, path)
    mapping_layers = conv.put_mapping(lambda i: f"style.{i + 1}")  # style.0 is the pixel norm
    conv.put("synthesis.early_layer.const", "input.input", conv.take("input.input", ndim=4))
    _convert_styled_conv(conv, "conv1", "synthesis.layer0", "noises.noise_0", up=False)
    _convert_to_rgb(conv, "to_rgb1", "synthesis.output0")
    i = 0
    while f"to_rgbs.{i}.conv.weight" in source:
        _convert_styled_conv(
            conv, f"convs.{2 * i}", f"synthesis.layer{2 * i + 1}", f"noises.noise_{2 * i + 1}", up=True
        )
        _convert_styled_conv(
            conv, f"convs.{2 * i + 1}", f"synthesis.layer{2 * i + 2}", f"noises.noise_{2 * i + 2}", up=False
        )
        _convert_to_rgb(conv, f"to_rgbs.{i}", f"synthesis.output{i + 1}")
        kernel = _rosinality_fir(conv, f"to_rgbs.{i}.upsample.kernel")
        if i == 0:
            conv.put("synthesis.upsample.kernel", "to_rgbs.0.upsample.kernel", kernel)
        elif not torch.equal(kernel, conv.state["synthesis.upsample.kernel"]):
            raise CheckpointError(
                f"{path}: key 'to_rgbs.{i}.upsample.kernel' differs from 'to_rgbs.0.upsample.kernel'; "
                "one shared upsampling filter is supported"
            )
        i += 1
    leftovers = conv.leftovers()
    if leftovers:
        raise CheckpointError(f"{path}: unexpected key {leftovers[0]!r}; {len(leftovers)} unexpected in all")

    w_dim = conv.state[f"mapping.dense{mapping_layers - 1}.fc.weight"].shape[0]
    estimate_w_avg = latent_avg is None
    if estimate_w_avg:
        conv.state["truncation.w_avg"] = torch.zeros(w_dim)
    else:
        if not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != w_dim:
            shape = list(latent_avg.shape) if isinstance(latent_avg, torch.Tensor) else type(latent_avg).__name__
            raise CheckpointError(f"{path}: key 'latent_avg' has shape {shape}; expected [{w_dim}]")
        conv.put("truncation.w_avg", "latent_avg", latent_avg.detach().float().reshape(w_dim))
    # rosinality's generate.py default: no truncation unless asked (--truncation 1).
    settings: dict[str, Any] = dict(truncation_psi=1.0, name=path.stem)
    settings.update(overrides)
    generator = build_from_state(conv.state, path, source_keys=conv.names, source_state=conv.source, **settings)
    if estimate_w_avg:
        with torch.no_grad():
            rng = torch.Generator().manual_seed(MEAN_LATENT_SEED)
            z = torch.randn(MEAN_LATENT_SAMPLES, generator.z_dim, generator=rng)
            generator.truncation.w_avg.copy_(generator.mapping(z).mean(dim=0))
    return generator


def _build(payload: Any, path: Path):
    state = _rosinality_state(payload)
    if state is None:
        raise CheckpointError(f"{path}: missing key 'g_ema'")
    overrides: dict[str, Any] = {}
    args = payload.get("args") if isinstance(payload, dict) else None
    lr_mlp = getattr(args, "lr_mlp", None)
    if isinstance(lr_mlp, (int, float)) and not isinstance(lr_mlp, bool) and lr_mlp > 0:
        overrides["mapping_lr_mul"] = float(lr_mlp)
    # convert_weight.py keeps latent_avg beside g_ema; accept it inside a bare dict too.
    latent_avg = payload.get("latent_avg")
    source = {k: v for k, v in state.items() if k != "latent_avg"}
    return convert_rosinality_state(source, path, latent_avg=latent_avg, **overrides)


#: The checkpoint layouts this module reads (listed in ``registry``).
FORMATS = (ForeignFormat("rosinality-stylegan2", "stylegan2", lambda p: _rosinality_state(p) is not None, _build),)
