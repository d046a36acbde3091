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
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from ..errors import SceneeditError
from .base import CheckpointError
from .tensor_checks import check_payload_tensors


class UnsafePickleError(SceneeditError, pickle.UnpicklingError):
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


#: Legacy (non-zip) torch files start with a protocol-2 pickle of this magic number.
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_TORCH_HEADER = b"\x80\x02\x8a\x0a" + _LEGACY_TORCH_MAGIC.to_bytes(10, "little")


def allow_global(module: str, name: str, obj: Any) -> None:
    """Let the restricted unpickler resolve ``module.name`` to ``obj`` (a safe stand-in)."""
    _ALLOWED[(module, name)] = obj


#: Extra classes torch's weights-only reader may build (plain attribute holders only).
_TORCH_SAFE_GLOBALS: list[Any] = []


def allow_torch_global(obj: Any) -> None:
    """Let ``torch.load(weights_only=True)`` of zip / legacy torch files build ``obj``.

    Only for inert data classes (e.g. ``argparse.Namespace`` in rosinality's training
    checkpoints); torch rebuilds them from plain attributes, running none of the file's code.
    """
    if obj not in _TORCH_SAFE_GLOBALS:
        _TORCH_SAFE_GLOBALS.append(obj)


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
    """Read ``path`` safely. Raises :class:`CheckpointError` on any failure."""
    payload = _load_untrusted(Path(path))
    check_payload_tensors(payload, Path(path), CheckpointError)
    return payload


def _load_untrusted(path: Path) -> Any:
    if zipfile.is_zipfile(path):
        return _torch_load_weights_only(path)
    data = path.read_bytes()
    if data.startswith(_LEGACY_TORCH_HEADER):
        # torch.save(..., _use_new_zipfile_serialization=False) (torch < 1.6 files): a
        # sequence of pickles; torch's weights-only reader handles it safely.
        return _torch_load_weights_only(path)
    if data.startswith(b"PK\x03\x04"):
        # A zip header without a readable central directory: a torch file cut short.
        raise CheckpointError(f"{path}: truncated or corrupt torch file (incomplete zip archive)")
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafePickleError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise CheckpointError(f"{path}: corrupt, truncated or unknown file format ({reason})") from exc


def _torch_load_weights_only(path: Path) -> Any:
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    extra = safe_globals(list(_TORCH_SAFE_GLOBALS)) if safe_globals and _TORCH_SAFE_GLOBALS else nullcontext()
    try:
        with extra:
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file contains objects beyond plain tensors "
            f"and containers ({_weights_only_reason(exc)})"
        ) from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: corrupt or truncated torch file ({exc})") from exc


def _weights_only_reason(exc: BaseException) -> str:
    """The informative line of torch's weights-only refusal (it names the global)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or "Unsupported" in line:
            return line
    return lines[0] if lines else type(exc).__name__
