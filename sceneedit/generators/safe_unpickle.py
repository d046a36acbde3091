"""Load untrusted checkpoint files without executing code from them.

Zip-format torch files go through ``torch.load(weights_only=True)``. Legacy pickles
(NVIDIA's ``.pkl``) go through :class:`RestrictedUnpickler`, which resolves only an
allow-list of globals; every other global is refused with :class:`UnsafePickleError`.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list (it may try to run code)."""


# NOTE: architecture helpers extend this via ``allow_global`` for placeholder classes.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
}


def allow_global(module: str, name: str, obj: Any) -> None:
    """Let the restricted unpickler resolve ``module.name`` to ``obj`` (a safe stand-in)."""
    _ALLOWED[(module, name)] = obj


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only allow-listed globals."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused global {module}.{name}: the file asks to import code that is not on "
                "sceneedit's allow-list (it may try to execute code)"
            ) from None


def load_untrusted(path: Path) -> Any:
    """Read ``path`` safely. Raises ``CheckpointError`` (from checkpoints) on any failure."""
    from .checkpoints import CheckpointError

    path = Path(path)
    if zipfile.is_zipfile(path):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise CheckpointError(
                f"{path}: refused to load: the file contains objects beyond plain tensors "
                f"and containers ({str(exc).splitlines()[0] if str(exc) else exc})"
            ) from exc
        except Exception as exc:
            raise CheckpointError(f"{path}: corrupt or truncated torch file ({exc})") from exc
    data = path.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: corrupt, truncated or unknown file format ({exc})") from exc
