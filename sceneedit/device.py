"""Device selection: CUDA if available, else MPS, else CPU; overridable."""

from __future__ import annotations

import os

import torch

from .errors import SettingsError

DEVICE_ENV_VAR = "SCENEEDIT_DEVICE"


def resolve_device(requested: str | torch.device | None = None) -> torch.device:
    """Return the torch device to use.

    Order: the explicit argument, then the ``SCENEEDIT_DEVICE`` environment
    variable, then CUDA, MPS, CPU. An unavailable explicit device is an error.
    """
    choice = requested if requested is not None else os.environ.get(DEVICE_ENV_VAR) or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError) as exc:
        raise SettingsError(f"unknown device {choice!r}: expected 'cpu', 'cuda', 'cuda:N' or 'mps'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"device {choice!r} requested but CUDA is not available on this machine")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise SettingsError(f"device {choice!r} requested but MPS is not available on this machine")
    return device


def describe_device(device: torch.device) -> str:
    """Human-readable device name, e.g. 'cuda:0 (NVIDIA H100)' or 'cpu (2 threads)'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def describe_cpu() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what :mod:`platform` knows."""
    import platform
    from pathlib import Path

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu
