"""The one interface every generator architecture implements.

Latent spaces are named as in genforce / stylegan3:

* ``z``  -- the input noise, ``[N, z_dim]``.
* ``wp`` -- the layer-wise codes ("W+"), ``[N, num_layers, w_dim]``. For StyleGAN
  these are the per-layer style vectors; for PGGAN the single code (``num_layers == 1``);
  for BigGAN the per-block conditioning vectors.

Images are float tensors ``[N, 3, H, W]`` in ``[-1, 1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..errors import SceneeditError


class GeneratorError(SceneeditError, ValueError):
    """A generator was given input it cannot use (wrong shape, dtype, option)."""


class CheckpointError(SceneeditError, ValueError):
    """A checkpoint could not be read or does not match an architecture."""


@dataclass(frozen=True)
class SynthesisResult:
    """Output of ``synthesize(wp, return_features=True)``.

    ``image``: ``[N, 3, H, W]`` in [-1, 1]. ``features``: one feature map per
    synthesis block, ``[N, C_b, H_b, W_b]``, in block order.
    """

    image: torch.Tensor
    features: list[torch.Tensor]


class Generator(nn.Module):
    """Base class of all architectures.

    Subclasses set ``arch`` and implement ``_map`` and ``_synthesize``; they must call
    ``super().__init__(**config)`` with the constructor kwargs, which are what our
    checkpoint format persists (so the class can be rebuilt from metadata alone).
    """

    arch: ClassVar[str] = ""
    #: Constructor keyword arguments; persisted in our checkpoint metadata.
    config: dict[str, Any]
    #: Set by the loaders: our file's JSON config, or the foreign format's name and source.
    checkpoint_metadata: dict[str, Any]
    #: Cached by :func:`.fingerprint.generator_fingerprint` (the weights never change in place).
    _sceneedit_fingerprint: dict[str, Any]

    def __init__(self, **config: Any) -> None:
        super().__init__()
        self.config = dict(config)
        self.name: str = str(config.get("name", self.arch))

    # ----- properties every architecture provides -------------------------------------
    @property
    def resolution(self) -> int:
        raise NotImplementedError

    @property
    def z_dim(self) -> int:
        raise NotImplementedError

    @property
    def w_dim(self) -> int:
        raise NotImplementedError

    @property
    def num_layers(self) -> int:
        """Number of layer-wise codes (the L of ``wp``)."""
        raise NotImplementedError

    @property
    def truncation_psi(self) -> float:
        """Default truncation strength (1.0 = none)."""
        return float(self.config.get("truncation_psi", 1.0))

    @property
    def truncation_layers(self) -> int:
        """Default number of leading layers truncated (0 = none)."""
        return int(self.config.get("truncation_layers", 0))

    @property
    def w_avg(self) -> torch.Tensor | None:
        """Average W code ``[w_dim]`` where the architecture tracks one, else None."""
        return None

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for buffer in self.buffers():
            return buffer.device
        return torch.device("cpu")

    # ----- sampling and mapping --------------------------------------------------------
    def sample_z(self, n: int, seed: int | None = 0) -> torch.Tensor:
        """Deterministic ``[n, z_dim]`` standard-normal codes for ``seed`` (on this device).

        The same seed gives the same codes on every device (drawn on the CPU).
        """
        if n < 0:
            raise GeneratorError(f"sample_z: n must be >= 0, got {n}")
        rng = np.random.RandomState(seed if seed is not None else np.random.randint(2**31))
        z = rng.standard_normal((n, self.z_dim)).astype(np.float32)
        return torch.from_numpy(z).to(self.device)

    def sample_z_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """``[len(seeds), z_dim]``: row i is ``sample_z(1, seeds[i])``."""
        if not seeds:
            return torch.zeros(0, self.z_dim, device=self.device)
        return torch.cat([self.sample_z(1, int(s)) for s in seeds], dim=0)

    def map(
        self,
        z: torch.Tensor,
        truncation_psi: float | None = None,
        truncation_layers: int | None = None,
        **conditioning: Any,
    ) -> torch.Tensor:
        """Map ``z [N, z_dim]`` to layer-wise codes ``wp [N, num_layers, w_dim]``.

        ``truncation_psi`` / ``truncation_layers`` default to the generator's defaults;
        ``psi=1`` or ``layers=0`` disables truncation. Extra ``conditioning`` (for example
        ``class_index`` for BigGAN) is passed to the architecture.
        """
        z = self._check_z(z)
        psi = self.truncation_psi if truncation_psi is None else float(truncation_psi)
        layers = self.truncation_layers if truncation_layers is None else int(truncation_layers)
        if not 0 <= layers <= self.num_layers:
            raise GeneratorError(f"truncation_layers must be in [0, {self.num_layers}], got {layers}")
        wp = self._map(z, psi, layers, **conditioning)
        assert wp.shape[1:] == (self.num_layers, self.w_dim), wp.shape
        return wp

    def synthesize(self, wp: torch.Tensor, return_features: bool = False, truncation_psi: float | None = None):
        """Render ``wp [N, num_layers, w_dim]`` to images ``[N, 3, H, W]`` in [-1, 1].

        With ``return_features=True`` returns a :class:`SynthesisResult` holding the image
        and each block's output feature map. Deterministic: noise buffers are fixed.
        ``truncation_psi``: the psi ``wp`` was mapped with (None: the generator's default).
        It travels with the code to the architectures whose synthesis depends on it (BigGAN
        picks its batch-norm statistics by psi); the others ignore it.
        """
        wp = self._check_wp(wp)
        image, features = self._synthesize(wp)
        if return_features:
            return SynthesisResult(image=image, features=features)
        return image

    def forward(self, z: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.synthesize(self.map(z, **kwargs))

    # ----- subclass hooks --------------------------------------------------------------
    def _map(self, z: torch.Tensor, psi: float, layers: int, **conditioning: Any) -> torch.Tensor:
        raise NotImplementedError

    def _synthesize(self, wp: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    # ----- checks ----------------------------------------------------------------------
    def _check_z(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            z = torch.as_tensor(np.asarray(z))
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise GeneratorError(f"{self.arch}: expected z of shape [N, {self.z_dim}], got {list(z.shape)}")
        if not z.is_floating_point():
            raise GeneratorError(f"{self.arch}: z must be a float tensor, got {z.dtype}")
        return z.to(device=self.device, dtype=torch.float32)

    def _check_wp(self, wp: torch.Tensor) -> torch.Tensor:
        if not isinstance(wp, torch.Tensor):
            wp = torch.as_tensor(np.asarray(wp))
        expected = (self.num_layers, self.w_dim)
        if wp.ndim != 3 or tuple(wp.shape[1:]) != expected:
            raise GeneratorError(
                f"{self.arch}: expected wp of shape [N, {expected[0]}, {expected[1]}], got {list(wp.shape)}"
            )
        if not wp.is_floating_point():
            raise GeneratorError(f"{self.arch}: wp must be a float tensor, got {wp.dtype}")
        return wp.to(device=self.device, dtype=torch.float32)

    # ----- description -----------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Summary for ``sceneedit info`` and model cards."""
        return {
            "name": self.name,
            "arch": self.arch,
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "num_layers": self.num_layers,
            "truncation_psi": self.truncation_psi,
            "truncation_layers": self.truncation_layers,
            "has_w_avg": self.w_avg is not None,
            "parameters": sum(p.numel() for p in self.parameters()),
        }


@dataclass(frozen=True)
class ForeignFormat:
    """A foreign checkpoint layout we can read (the reader interface; see ``registry``).

    ``detect(payload)`` says whether the loaded payload (a dict, usually a state dict or a
    wrapper of one) is in this layout; ``build(payload, path)`` returns a ready
    :class:`Generator` or raises :class:`CheckpointError` naming the offending key.
    """

    name: str
    arch: str
    detect: Callable[[Any], bool]
    build: Callable[[Any, Path], Generator]


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """``[N, 3, H, W]`` float in [-1, 1] -> ``[N, H, W, 3]`` uint8 RGB (numpy).

    A non-finite pixel is an error (it would silently become black): the generator's weights
    or the code overflowed.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise GeneratorError(f"expected images of shape [N, 3, H, W], got {list(images.shape)}")
    images = images.detach().float()
    finite = torch.isfinite(images).flatten(1).all(dim=1)
    if not bool(finite.all()):
        bad = [int(i) for i in torch.nonzero(~finite).flatten()[:5]]
        raise GeneratorError(
            f"the generator produced NaN or infinite pixels (image {', '.join(map(str, bad))} of {len(images)}): "
            "the code's values are too large for it, or its weights are broken"
        )
    x = (images.clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
