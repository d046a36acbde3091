"""Finding a generator's state dict inside a loaded checkpoint payload, and loading it strictly.

Trainers save the generator's weights either bare or wrapped in a dict (genforce:
``generator_smooth`` = the EMA weights, else ``generator``; NVIDIA: ``G_ema``). Each format
reader says which wrapper keys it accepts and how to recognise its own key layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .base import CheckpointError, Generator
from .tensor_checks import check_finite, describe_tensor_problem

#: Wrappers genforce-style trainers put around the generator's state dict, EMA first.
GENFORCE_WRAPPER_KEYS = ("generator_smooth", "generator", "state_dict", "model")


def has_keys(state: Any, *keys: str) -> bool:
    """Whether ``state`` is a dict holding every one of ``keys``."""
    return isinstance(state, dict) and all(key in state for key in keys)


def find_state_dict(
    payload: Any,
    is_state: Callable[[dict], bool],
    wrapper_keys: tuple[str, ...] = GENFORCE_WRAPPER_KEYS,
    prepare: Callable[[dict], dict] | None = None,
) -> dict | None:
    """The first of ``payload`` itself, then ``payload[k]`` for ``k`` in ``wrapper_keys``
    (in that order), that ``is_state`` accepts; None when none is (or ``payload`` is no dict).

    ``prepare`` (e.g. stripping a DataParallel prefix) is applied to each candidate before
    the test, and the prepared dict is returned.
    """
    if not isinstance(payload, dict):
        return None
    candidates = [payload] + [payload[k] for k in wrapper_keys if isinstance(payload.get(k), dict)]
    for candidate in candidates:
        if prepare is not None:
            candidate = prepare(candidate)
        if is_state(candidate):
            return candidate
    return None


# ----- loading a found state dict into a generator ------------------------------------------
def load_state_dict_strict(generator: Generator, state: dict[str, torch.Tensor], path: Path) -> None:
    """Copy ``state`` into ``generator``; any missing, unexpected or mis-shaped key is an
    error naming the file, the first such key and its shape. Nothing is loaded on error."""
    own = generator.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing:
        k = missing[0]
        raise CheckpointError(
            f"{path}: missing key {k!r} (expected shape {list(own[k].shape)}); {len(missing)} missing in all"
        )
    if unexpected:
        k = unexpected[0]
        shape = list(state[k].shape) if hasattr(state[k], "shape") else type(state[k]).__name__
        raise CheckpointError(f"{path}: unexpected key {k!r} (shape {shape}); {len(unexpected)} unexpected in all")
    for k, v in own.items():
        if not isinstance(state[k], torch.Tensor):
            raise CheckpointError(f"{path}: key {k!r} is not a tensor ({type(state[k]).__name__})")
        problem = describe_tensor_problem(state[k])
        if problem is not None:
            raise CheckpointError(f"{path}: tensor {k!r} {problem}")
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{path}: key {k!r} has shape {list(state[k].shape)}, expected {list(v.shape)}")
    check_finite({k: state[k] for k in own}, path, CheckpointError)
    generator.load_state_dict({k: state[k].to(v.dtype) for k, v in own.items()}, strict=True)
    check_loaded = getattr(generator, "check_loaded", None)  # buffers an architecture must vet
    if callable(check_loaded):
        try:
            check_loaded()
        except ValueError as exc:
            raise CheckpointError(f"{path}: {exc}") from None


def require_key(state: dict[str, Any], key: str, path: Path) -> torch.Tensor:
    """``state[key]`` as a tensor, or a :class:`CheckpointError` naming the file and key."""
    if key not in state:
        raise CheckpointError(f"{path}: missing key {key!r}")
    value = state[key]
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(f"{path}: key {key!r} is not a tensor ({type(value).__name__})")
    return value
