"""Finding a generator's state dict inside a loaded checkpoint payload.

Trainers save the generator's weights either bare or wrapped in a dict (genforce:
``generator_smooth`` = the EMA weights, else ``generator``; NVIDIA: ``G_ema``). Each format
reader says which wrapper keys it accepts and how to recognise its own key layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
