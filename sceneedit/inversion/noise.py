"""Per-image noise maps: the generator's fixed per-layer noise fitted to one picture.

StyleGAN-family generators add a fixed noise map ``[1, 1, r, r]`` per layer (a buffer, not a
weight: StyleGAN v1 ``synthesis.layer{k}.epilogue.apply_noise.noise``, StyleGAN2
``synthesis.layer{k}.noise``; the genforce, rosinality and NVIDIA files load into these). As
StyleGAN2's projector does, the noise of the finest layers can be optimized per image after the
code: the fine detail the code cannot draw goes into the maps. Regularized so the maps stay
noise (mean square near 1, StyleGAN2's penalty on their autocorrelation at every scale) rather
than becoming a picture painted in noise. PGGAN and BigGAN have no such buffers: nothing to fit.

The fitted maps travel as a :class:`~sceneedit.inversion.finetune.GeneratorDelta` (fitted minus
original per buffer), like pivotal tuning's weight delta.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..generators.base import Generator

if TYPE_CHECKING:
    from .finetune import GeneratorDelta

#: Noise buffers live in the synthesis network under this leaf name.
NOISE_LEAF = "noise"
SYNTHESIS_PREFIX = "synthesis."


def noise_buffers(generator: Generator) -> dict[str, torch.Tensor]:
    """Every fixed noise map of ``generator``'s synthesis: name -> buffer ``[1, 1, r, r]``
    (empty for generators without per-layer noise)."""
    found = {}
    for name, buffer in generator.named_buffers():
        if not name.startswith(SYNTHESIS_PREFIX) or name.rsplit(".", 1)[-1] != NOISE_LEAF:
            continue
        if buffer.ndim == 4 and tuple(buffer.shape[:2]) == (1, 1) and buffer.shape[2] == buffer.shape[3]:
            found[name] = buffer
    return found


def is_noise_name(name: str) -> bool:
    """Whether a delta tensor's name is a noise map's (weights never end in ``.noise``)."""
    return name.startswith(SYNTHESIS_PREFIX) and name.rsplit(".", 1)[-1] == NOISE_LEAF


def noise_strength(params: Mapping[str, torch.Tensor], name: str) -> torch.Tensor | None:
    """The weight in ``params`` (a generator's named parameters) that scales noise map ``name``
    (StyleGAN v1 ``...apply_noise.weight [C]``, StyleGAN2 ``...noise_strength []``), None if none."""
    stem = name.rpartition(".")[0]
    for candidate in (f"{stem}.weight", f"{stem}.noise_strength"):
        if candidate in params:
            return params[candidate]
    return None


def fitted_noise_names(generator: Generator, levels: int) -> list[str]:
    """The noise maps of the ``levels`` finest resolutions (e.g. 32 and 64 px of a 64 px
    generator for 2) whose layers use them (a noise strength not all zero: an untrained
    StyleGAN starts at zero); empty when ``levels`` is 0 or the generator has none."""
    buffers = {}
    params = dict(generator.named_parameters())
    for name, buffer in noise_buffers(generator).items():
        strength = noise_strength(params, name)
        if strength is None or bool((strength != 0).any()):
            buffers[name] = buffer
    resolutions = sorted({int(b.shape[-1]) for b in buffers.values()})
    chosen = set(resolutions[-levels:]) if levels > 0 else set()
    return [name for name, b in buffers.items() if int(b.shape[-1]) in chosen]


def _owner(module: torch.nn.Module, name: str) -> tuple[torch.nn.Module, str]:
    path, _, leaf = name.rpartition(".")
    return module.get_submodule(path), leaf


def set_noise(generator: Generator, maps: Mapping[str, torch.Tensor]) -> None:
    """Replace noise buffers in place: ``maps`` name -> ``[1, 1, r, r]`` (one map for every
    image) or ``[N, 1, r, r]`` (one per image of an N-batch)."""
    for name, value in maps.items():
        owner, leaf = _owner(generator, name)
        owner._buffers[leaf] = value


@contextmanager
def noise_override(generator: Generator, maps: Mapping[str, torch.Tensor]) -> Iterator[Generator]:
    """Within the block, ``generator`` draws with ``maps`` (see :func:`set_noise`); afterwards
    its own buffers are back. Not thread-safe: use it on a private copy (:func:`noise_twin`)."""
    originals = {name: _owner(generator, name)[0]._buffers[_owner(generator, name)[1]] for name in maps}
    set_noise(generator, maps)
    try:
        yield generator
    finally:
        set_noise(generator, {k: v for k, v in originals.items() if v is not None})


def noise_twin(generator: Generator) -> Generator:
    """A copy of ``generator`` that shares its parameters (no weight copy) but owns its buffers,
    so its noise can be replaced while other threads draw with the original."""
    memo: dict[int, object] = {id(p): p for p in generator.parameters()}
    return copy.deepcopy(generator, memo=memo)


def noise_penalty(maps: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Per image ``[N]``: over the maps ``[N, 1, r, r]``, ``(mean square - 1)^2`` plus
    StyleGAN2's autocorrelation penalty (squared mean product with the map shifted by one
    pixel, along x and y, at every scale down to 8 px). 0 for white noise of unit variance
    (in expectation); large for smooth or flat maps."""
    total: torch.Tensor | None = None
    for noise in maps.values():
        term = (noise.square().mean(dim=(1, 2, 3)) - 1.0).square()
        level = noise
        while True:
            term = term + (level * torch.roll(level, 1, dims=3)).mean(dim=(1, 2, 3)).square()
            term = term + (level * torch.roll(level, 1, dims=2)).mean(dim=(1, 2, 3)).square()
            if level.shape[-1] <= 8:
                break
            level = F.avg_pool2d(level, 2) * 2.0  # x2 keeps white noise at unit variance
        total = term if total is None else total + term
    assert total is not None, "no maps"
    return total


def batch_noise(generator: Generator, deltas: Sequence[GeneratorDelta | None]) -> dict[str, torch.Tensor]:
    """Per-image noise maps ``[N, 1, r, r]`` of every noise buffer a delta of ``deltas`` changes
    (original + delta, the arithmetic of ``apply_delta``; an image without one keeps the
    original map), to draw N inverted codes in one batch with :func:`noise_override`.
    Only the noise part of each delta is used."""
    own = noise_buffers(generator)
    names = sorted({n for d in deltas if d is not None for n in d.tensors if is_noise_name(n)})
    maps = {}
    for name in names:
        rows = []
        for delta in deltas:
            tensor = None if delta is None else delta.tensors.get(name)
            base = own[name].detach().clone()
            rows.append(base if tensor is None else base.add_(tensor.to(base.device, base.dtype)))
        maps[name] = torch.cat(rows)
    return maps
