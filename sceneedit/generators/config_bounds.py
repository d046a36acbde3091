"""Bounds on the constructor settings stored in a generator file, checked before building.

A config is data from a file: ``mapping_layers: 1048576`` would build a million modules,
``z_dim: 10**12`` would ask for terabytes, ``truncation_psi: 1e308`` overflows every code.
:func:`check_config` refuses values of the wrong type or outside generous bounds (every
released model fits well inside them), naming the file and the field; :func:`check_size`
then builds the network on the ``meta`` device (no memory) and refuses a config whose
weights would not fit the tensors the file actually holds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

#: field -> (lowest, highest) for whole-number settings of any architecture.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "resolution": (4, 4096),
    "output_dim": (4, 4096),
    "z_dim": (1, 8192),
    "w_dim": (1, 8192),
    "mapping_fmaps": (1, 8192),
    "class_embed_dim": (1, 8192),
    "mapping_layers": (1, 32),
    "fmaps_base": (1, 1 << 24),
    "fmaps_max": (1, 8192),
    "channel_width": (1, 4096),
    "num_classes": (1, 100_000),
    "n_stats": (1, 4096),
    "attention_layer_position": (-1, 256),
    "default_class": (0, 100_000),
    "truncation_layers": (0, 256),
}
#: field -> (lowest, highest), finite, for real-valued settings (None allowed where listed).
FLOAT_BOUNDS: dict[str, tuple[float, float]] = {
    "truncation_psi": (-16.0, 16.0),
    "mapping_lr_mul": (1e-6, 1e3),
    "w_avg_beta": (0.0, 1.0),
    "eps": (1e-12, 1.0),
    "conv_clamp": (1e-6, 1e9),
}
NULLABLE = {"mapping_fmaps", "conv_clamp"}
MAX_NAME = 256
MAX_LIST = 256


def _fail(error: type[Exception], path: Path, field: str, value: Any, why: str) -> Exception:
    text = repr(value)
    text = text if len(text) <= 60 else text[:60] + "..."
    return error(f"{path}: config field {field!r} = {text} {why}")


def check_config(kwargs: Any, path: Path, error: type[Exception]) -> None:
    """Raise ``error`` naming ``path`` and the field for a value of the wrong type or range."""
    if not isinstance(kwargs, dict):
        raise error(f"{path}: config 'kwargs' is a {type(kwargs).__name__}, expected an object")
    for field, value in kwargs.items():
        if not isinstance(field, str):
            raise error(f"{path}: config field names must be strings")
        if value is None and field in NULLABLE:
            continue
        if field in INT_BOUNDS:
            lo, hi = INT_BOUNDS[field]
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail(error, path, field, value, "is not a whole number")
            if not lo <= value <= hi:
                raise _fail(error, path, field, value, f"is outside [{lo}, {hi}]")
        elif field in FLOAT_BOUNDS:
            low, high = FLOAT_BOUNDS[field]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _fail(error, path, field, value, "is not a number")
            if not (math.isfinite(value) and low <= value <= high):
                raise _fail(error, path, field, value, f"is outside [{low:g}, {high:g}]")
        elif field == "name":
            if not isinstance(value, str) or len(value) > MAX_NAME:
                raise _fail(error, path, field, value, f"is not a string of at most {MAX_NAME} characters")
        elif isinstance(value, (list, tuple)):
            if len(value) > MAX_LIST or any(isinstance(item, (list, tuple)) and len(item) > MAX_LIST for item in value):
                raise _fail(error, path, field, value, f"holds more than {MAX_LIST} items")
            for item in value:
                for leaf in item if isinstance(item, (list, tuple)) else [item]:
                    if (
                        not isinstance(leaf, (bool, int, float, str))
                        or (isinstance(leaf, str) and len(leaf) > 64)
                        or (
                            isinstance(leaf, (int, float))
                            and not isinstance(leaf, bool)
                            and not (math.isfinite(leaf) and abs(leaf) <= 1 << 20)
                        )
                    ):
                        raise _fail(error, path, field, value, "holds a value that is not a small number or string")
        elif isinstance(value, float) and not math.isfinite(value):
            raise _fail(error, path, field, value, "is not finite")
        elif isinstance(value, (dict, list)):
            raise _fail(error, path, field, value, "is not a plain value")


def check_size(cls: type, kwargs: dict[str, Any], file_elements: int, path: Path, error: type[Exception]) -> None:
    """Refuse a config whose weights hold more elements than the file's tensors (built on
    the ``meta`` device: nothing is allocated)."""
    import torch

    try:
        with torch.device("meta"):
            skeleton = cls(**kwargs)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise error(f"{path}: config does not fit {cls.__name__} ({' '.join(str(exc).split())[:300]})") from None
    wanted = sum(t.numel() for t in skeleton.state_dict().values())
    if wanted > file_elements:
        raise error(
            f"{path}: config asks for {wanted:,} weights, but the file holds only {file_elements:,}; "
            "config and tensors do not match"
        )
