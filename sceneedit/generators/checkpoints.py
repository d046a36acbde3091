"""Reading and writing generator checkpoints.

Our own format: one ``.safetensors`` file whose metadata key ``sceneedit`` holds a JSON
config (format version, arch, constructor kwargs, name, dataset, provenance). No pickle.

Foreign formats (genforce/HiGAN ``.pth``, NVIDIA ``.pkl``, rosinality ``.pt``,
pytorch-pretrained-biggan ``pytorch_model.bin``) are handled by :class:`ForeignFormat`
entries that architecture modules register with :func:`register_format`. Files are read
with ``torch.load(weights_only=True)`` or a restricted unpickler; nothing in a file is
ever executed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import SceneeditError
from ..files import atomic_path
from ..safetensors_metadata import read_json_metadata
from .base import Generator
from .config_bounds import check_config, check_size
from .tensor_checks import check_finite, describe_tensor_problem

FORMAT_VERSION = 1
METADATA_KEY = "sceneedit"


class CheckpointError(SceneeditError, ValueError):
    """A checkpoint could not be read or does not match an architecture."""


# ----- architecture registry -------------------------------------------------------------
ARCHITECTURES: dict[str, type[Generator]] = {}


def register_architecture(cls: type[Generator]) -> type[Generator]:
    """Class decorator: make ``cls`` loadable by its ``arch`` name."""
    ARCHITECTURES[cls.arch] = cls
    return cls


def architecture_class(arch: str) -> type[Generator]:
    _ensure_architectures_imported()
    if not isinstance(arch, str):
        raise CheckpointError(f"architecture must be a name, got a {type(arch).__name__}")
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise CheckpointError(f"unknown architecture {arch!r}; allowed: {', '.join(sorted(ARCHITECTURES))}") from None


def _ensure_architectures_imported() -> None:
    # Importing the package registers every architecture and foreign format.
    import sceneedit.generators  # noqa: F401


# ----- foreign formats -------------------------------------------------------------------
@dataclass(frozen=True)
class ForeignFormat:
    """A checkpoint layout we can read.

    ``detect(payload)`` says whether the loaded payload (a dict, usually a state dict or a
    wrapper of one) is in this layout; ``build(payload, path)`` returns a ready
    :class:`Generator` or raises :class:`CheckpointError` naming the offending key.
    """

    name: str
    arch: str
    detect: Callable[[Any], bool]
    build: Callable[[Any, Path], Generator]


FOREIGN_FORMATS: list[ForeignFormat] = []


def register_format(fmt: ForeignFormat) -> None:
    FOREIGN_FORMATS.append(fmt)


# ----- helpers for format builders -------------------------------------------------------
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


# ----- our own format --------------------------------------------------------------------
def save_generator(generator: Generator, path: str | os.PathLike, **extra_metadata: Any) -> Path:
    """Write ``generator`` as one safetensors file (atomically: temp file, then rename).

    ``extra_metadata`` (dataset, provenance, ...) is stored in the JSON config.
    """
    from safetensors.torch import save_file

    path = Path(path)
    config = {
        "format_version": FORMAT_VERSION,
        "arch": generator.arch,
        "kwargs": generator.config,
        "name": generator.name,
        **extra_metadata,
    }
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(state, tmp, metadata={METADATA_KEY: json.dumps(config, sort_keys=True)})
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON config of one of our safetensors checkpoints."""
    path = Path(path)
    config = read_json_metadata(path, METADATA_KEY, CheckpointError, "a sceneedit generator")
    if not isinstance(config, dict) or "arch" not in config or "kwargs" not in config:
        raise CheckpointError(f"{path}: metadata lacks 'arch' or 'kwargs'")
    if not isinstance(config["arch"], str) or len(config["arch"]) > 64:
        raise CheckpointError(f"{path}: metadata 'arch' must be an architecture name, got {str(config['arch'])[:40]!r}")
    version = config.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path}: metadata 'format_version' must be a whole number, got {str(version)[:40]!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format version {config['format_version']} is newer than this sceneedit "
            f"supports ({FORMAT_VERSION}); upgrade sceneedit"
        )
    return config


def _load_own(path: Path, arch: str | None) -> Generator:
    from safetensors.torch import load_file

    config = read_metadata(path)
    if arch is not None and arch != config["arch"]:
        raise CheckpointError(f"{path}: file holds arch {config['arch']!r}, but {arch!r} was requested")
    try:
        cls = architecture_class(config["arch"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    check_config(config["kwargs"], path, CheckpointError)
    check_size(cls, config["kwargs"], _stored_elements(path), path, CheckpointError)
    try:
        generator = cls(**config["kwargs"])
    except (TypeError, ValueError, OverflowError) as exc:
        raise CheckpointError(
            f"{path}: config does not fit {cls.__name__} ({' '.join(str(exc).split())[:300]})"
        ) from exc
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path}: could not read tensors ({exc})") from exc
    load_state_dict_strict(generator, state, path)
    generator.checkpoint_metadata = config
    return generator


def _stored_elements(path: Path) -> int:
    """Total elements of the tensors in a safetensors file (read from its header only)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return sum(math.prod(handle.get_slice(k).get_shape()) for k in handle.keys())
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise CheckpointError(f"{path}: could not read tensors ({exc})") from exc


# ----- entry points ----------------------------------------------------------------------
def read_payload(path: Path) -> Any:
    """Load a foreign checkpoint's payload safely (no code execution)."""
    from .safe_unpickle import load_untrusted

    return load_untrusted(path)


def load_generator(
    path: str | os.PathLike,
    arch: str | None = None,
    device: str | torch.device | None = None,
) -> Generator:
    """Load any supported checkpoint as a :class:`Generator` in eval mode on ``device``.

    ``arch`` forces an architecture when a foreign file's keys are ambiguous. Errors are
    :class:`CheckpointError` naming the file and the first offending key.
    """
    from ..device import resolve_device

    _ensure_architectures_imported()
    path = Path(path)
    if path.is_dir():
        candidates = [path / "pytorch_model.bin"]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise CheckpointError(f"{path}: a folder, and it holds no known checkpoint file")
        path = found[0]
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: file is empty")
    if arch is not None and arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture {arch!r}; allowed: {', '.join(sorted(ARCHITECTURES))}")
    target = resolve_device(device)

    with path.open("rb") as handle:
        head = handle.read(16)
    is_safetensors = path.suffix == ".safetensors" or (len(head) >= 9 and head[8:9] == b"{")
    if is_safetensors:
        generator = _load_own(path, arch)
    else:
        payload = read_payload(path)
        formats = [f for f in FOREIGN_FORMATS if arch is None or f.arch == arch]
        matches = []
        for fmt in formats:
            try:
                if fmt.detect(payload):
                    matches.append(fmt)
            except Exception:  # a detector must never crash loading
                continue
        if not matches:
            keys = _describe_keys(payload)
            raise CheckpointError(
                f"{path}: not a recognized checkpoint layout"
                + (f" for arch {arch!r}" if arch else "")
                + f"; known layouts: {', '.join(f.name for f in formats) or 'none'}; file keys: {keys}"
            )
        generator = matches[0].build(payload, path)
        generator.checkpoint_metadata = {"format": matches[0].name, "source": str(path)}
    return generator.to(target).eval().requires_grad_(False)


def _describe_keys(payload: Any, limit: int = 5) -> str:
    if isinstance(payload, dict):
        keys = list(payload.keys())
        shown = ", ".join(repr(k) for k in keys[:limit])
        return f"[{shown}{', ...' if len(keys) > limit else ''}]"
    return type(payload).__name__
