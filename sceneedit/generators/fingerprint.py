"""A generator's fingerprint: what a bundle or recipe must match to apply to it."""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from .base import Generator


def weights_hash(generator: Generator) -> str:
    """SHA-256 (first 16 hex digits) over the state dict's names, shapes and bytes."""
    digest = hashlib.sha256()
    for key, tensor in sorted(generator.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:16]


def generator_fingerprint(generator: Generator) -> dict[str, Any]:
    """``{arch, resolution, num_layers, w_dim, weights_hash}`` of ``generator``.

    The hash is cached on the instance (computing it reads every weight).
    """
    cached = getattr(generator, "_sceneedit_fingerprint", None)
    if cached is None:
        cached = {
            "arch": generator.arch,
            "resolution": int(generator.resolution),
            "num_layers": int(generator.num_layers),
            "w_dim": int(generator.w_dim),
            "weights_hash": weights_hash(generator),
        }
        generator._sceneedit_fingerprint = cached
    return dict(cached)
