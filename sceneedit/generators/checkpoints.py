"""Reading and writing generator checkpoints.

Our own format: one ``.safetensors`` file whose metadata key ``sceneedit`` holds a JSON
config (format version, arch, constructor kwargs, name, dataset, provenance). No pickle.

Foreign formats (genforce/HiGAN ``.pth``, NVIDIA ``.pkl``, rosinality ``.pt``,
pytorch-pretrained-biggan ``pytorch_model.bin``) are handled by the :class:`ForeignFormat`
readers that :mod:`.registry` lists, in detection order. Files are read
with ``torch.load(weights_only=True)`` or a restricted unpickler; nothing in a file is
ever executed.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_path
from ..safetensors_metadata import read_json_metadata
from .base import CheckpointError, ForeignFormat, Generator
from .config_bounds import check_config, check_size
from .registry import ARCHITECTURES, FOREIGN_FORMATS
from .safe_unpickle import load_untrusted
from .state_dicts import load_state_dict_strict, require_key

# Re-exported for callers that import them from here.
__all__ = [
    "ARCHITECTURES",
    "FOREIGN_FORMATS",
    "CheckpointError",
    "ForeignFormat",
    "architecture_class",
    "load_generator",
    "load_state_dict_strict",
    "read_metadata",
    "read_payload",
    "require_key",
    "save_generator",
]

FORMAT_VERSION = 1
METADATA_KEY = "sceneedit"


def architecture_class(arch: str) -> type[Generator]:
    """The generator class registered under ``arch`` (see :mod:`.registry`)."""
    if not isinstance(arch, str):
        raise CheckpointError(f"architecture must be a name, got a {type(arch).__name__}")
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise CheckpointError(f"unknown architecture {arch!r}; allowed: {', '.join(sorted(ARCHITECTURES))}") from None


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
