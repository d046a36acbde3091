"""Pivotal tuning (Roich et al. 2021): fine-tune the generator around one inverted code.

With the code ``wp`` fixed (the pivot), the synthesis network's weights are tuned (Adam on
the pixel MSE alone; PTI adds LPIPS, which needs downloaded weights) so ``G(wp)`` matches the
picture almost exactly. The change is kept apart from the
generator as a :class:`GeneratorDelta` (tuned minus original, per synthesis weight): the
loaded generator is never modified, :func:`apply_delta` returns a tuned copy, and dropping the
delta undoes the tuning. Deltas are stored as safetensors beside the code, with the
fingerprint of the generator they apply to.

A delta may also hold fitted noise maps (:mod:`~sceneedit.inversion.noise`: fitted minus
original per noise buffer ``[1, 1, r, r]``), with or without tuned weights; such a file is
format version 2 (version 1, weights only, is what earlier sceneedit reads).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import SceneeditError
from ..files import atomic_path
from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from .noise import is_noise_name, noise_buffers, set_noise

if TYPE_CHECKING:
    from .optimize import Inverter, Progress

DELTA_FORMAT = "sceneedit-generator-delta"
#: 1: synthesis weights only; 2: may hold noise buffers too (written only when it does).
DELTA_VERSION = 2
METADATA_KEY = "sceneedit_delta"
#: Only the synthesis network is tuned (the mapping, hence every other code, stays as it was).
TUNED_PREFIX = "synthesis."


class DeltaError(SceneeditError, ValueError):
    """A delta file is malformed or made for another generator."""


@dataclass
class GeneratorDelta:
    """``tensors``: parameter or noise-buffer name -> (tuned or fitted - original), float32;
    ``generator``: the fingerprint of the generator it applies to."""

    tensors: dict[str, torch.Tensor]
    generator: dict[str, Any]
    #: The file it was read from (named in errors), None when made in memory.
    path: Path | None = field(default=None, compare=False)

    @property
    def has_noise(self) -> bool:
        """Whether it holds fitted noise maps."""
        return any(is_noise_name(name) for name in self.tensors)

    @property
    def has_weights(self) -> bool:
        """Whether it holds tuned weights (pivotal tuning)."""
        return any(not is_noise_name(name) for name in self.tensors)

    def describe(self) -> str:
        """What it does, for users: 'fine-tuned', 'noise maps fitted' or both."""
        parts = (["fine-tuned"] if self.has_weights else []) + (["noise maps fitted"] if self.has_noise else [])
        return ", ".join(parts) or "no change"

    def merged(self, other: GeneratorDelta) -> GeneratorDelta:
        """One delta doing both (``other``'s tensors win on a shared name); same generator."""
        return GeneratorDelta(tensors={**self.tensors, **other.tensors}, generator=dict(self.generator))

    def save(self, path: str | os.PathLike) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        version = 2 if self.has_noise else 1  # a weights-only delta stays readable by earlier sceneedit
        document = {"format": DELTA_FORMAT, "version": version, "generator": self.generator}
        state = {k: v.detach().cpu().float().contiguous() for k, v in self.tensors.items()}
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata={METADATA_KEY: json.dumps(document, sort_keys=True)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> GeneratorDelta:
        from safetensors.torch import load_file

        from ..safetensors_metadata import read_json_metadata

        path = Path(path)
        if not path.is_file():
            raise DeltaError(f"generator delta (fine-tune / fitted noise) not found: {path}")
        document = read_json_metadata(path, METADATA_KEY, DeltaError, "a sceneedit generator delta")
        if not isinstance(document, dict) or document.get("format") != DELTA_FORMAT:
            raise DeltaError(f"{path}: not a sceneedit generator delta (fine-tune / fitted noise)")
        version, fingerprint = document.get("version", 0), document.get("generator", {})
        if not isinstance(version, int) or isinstance(version, bool) or not isinstance(fingerprint, dict):
            raise DeltaError(
                f"{path}: delta metadata is malformed (version {version!r}, generator {fingerprint!r})"[:300]
            )
        if version > DELTA_VERSION:
            raise DeltaError(f"{path}: delta format version {version} is newer than this sceneedit")
        try:
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises several types for corrupt files
            raise DeltaError(f"{path}: cannot read tensors ({exc})") from exc
        for name, tensor in tensors.items():
            if not tensor.is_floating_point():
                raise DeltaError(f"{path}: tensor {name!r} has dtype {tensor.dtype}, not floating point")
            if not torch.isfinite(tensor).all():
                raise DeltaError(f"{path}: tensor {name!r} holds NaN or infinite values")
        return cls(tensors=tensors, generator=dict(fingerprint), path=path)

    def check(self, generator: Generator, source: str | None = None) -> None:
        """Raise :class:`DeltaError` unless the delta fits ``generator``'s weights, noise
        buffers and shapes (``source`` names it in the message; default: its file)."""
        source = source or (f"generator delta {self.path}" if self.path is not None else "generator delta")
        have = generator_fingerprint(generator)
        if self.generator.get("weights_hash") != have["weights_hash"]:
            raise DeltaError(
                f"{source} was made for another generator (weights hash "
                f"{self.generator.get('weights_hash')}, loaded {have['weights_hash']})"
            )
        targets = _delta_targets(generator)
        for name, tensor in self.tensors.items():
            if name not in targets:
                raise DeltaError(f"{source}: tensor {name!r} is neither a weight nor a noise map of the generator")
            if tuple(targets[name].shape) != tuple(tensor.shape):
                raise DeltaError(
                    f"{source}: tensor {name!r} has shape {list(tensor.shape)}, "
                    f"the generator's is {list(targets[name].shape)}"
                )


def _delta_targets(generator: Generator) -> dict[str, torch.Tensor]:
    """What a delta may change: the synthesis weights and the noise buffers, by name."""
    targets: dict[str, torch.Tensor] = {n: p for n, p in generator.named_parameters() if n.startswith(TUNED_PREFIX)}
    targets.update(noise_buffers(generator))
    return targets


def apply_delta(generator: Generator, delta: GeneratorDelta | None) -> Generator:
    """A tuned copy of ``generator`` (``generator`` itself is unchanged); ``delta`` None returns it."""
    if delta is None:
        return generator
    generator = base_generator_of(generator)  # never stack a delta on a tuned copy
    delta.check(generator)
    base = generator_fingerprint(generator)
    tuned = copy.deepcopy(generator)
    targets = _delta_targets(tuned)
    with torch.no_grad():
        for name, tensor in delta.tensors.items():
            targets[name].add_(tensor.to(targets[name].device, targets[name].dtype))
    # The tuned copy answers to the base generator's fingerprint, so the base's bundles and
    # recipes apply to it; ``delta`` says what was added (recipes store it beside themselves).
    tuned._sceneedit_fingerprint = base
    # torch's stubs type Module.__setattr__'s value as Tensor | Module; any value is fine at run time.
    tuned._sceneedit_delta = delta  # type: ignore[assignment]
    tuned._sceneedit_base_generator = generator
    return tuned


def delta_of(generator: Generator) -> GeneratorDelta | None:
    """The delta (fine-tune and/or fitted noise) ``generator`` was made with by :func:`apply_delta`, else None."""
    return getattr(generator, "_sceneedit_delta", None)


def base_generator_of(generator: Generator) -> Generator:
    """The untuned generator a tuned copy came from (``generator`` itself when not tuned)."""
    return getattr(generator, "_sceneedit_base_generator", None) or generator


def pivotal_tuning(
    inverter: Inverter,
    wp: torch.Tensor,
    target: torch.Tensor,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    every: int = 5,
    noise: Mapping[str, torch.Tensor] | None = None,
) -> tuple[GeneratorDelta, torch.Tensor]:
    """Tune a copy of the synthesis weights around ``wp [1, L, D]``; return ``(delta, image)``.
    ``noise``: fitted noise maps ``[1, 1, r, r]`` the copy draws with (they are not tuned and
    not in the returned delta, which holds the weights only)."""
    from .optimize import run_steps

    settings = inverter.settings
    original = inverter.generator
    tuned = copy.deepcopy(original)
    tuned.eval()
    if noise:
        set_noise(tuned, {name: value.detach().clone() for name, value in noise.items()})
    names = [n for n, _ in tuned.named_parameters() if n.startswith(TUNED_PREFIX)]
    params = dict(tuned.named_parameters())
    for name, p in params.items():
        p.requires_grad_(name in names)
    optimizer = torch.optim.Adam([params[n] for n in names], lr=settings.finetune_lr)

    def tuning_step(_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return inverter.loss(wp, target, generator=tuned, pixels_only=True)

    run_steps("finetune", settings.finetune_steps, optimizer, tuning_step, target, progress, cancel, every)
    originals = dict(original.named_parameters())
    with torch.no_grad():
        tensors = {n: (params[n] - originals[n]).detach().cpu().float() for n in names}
        final = tuned.synthesize(wp)
    return GeneratorDelta(tensors=tensors, generator=generator_fingerprint(original)), final
