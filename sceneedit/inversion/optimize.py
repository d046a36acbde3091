"""In-domain inversion: encoder start, then an optimization of the layer-wise code.

``invert(generator, image)``: the encoder (trained on the generator's own samples) gives
``wp0``; Adam then minimises, per image,

    pixel_weight * MSE(G(wp), x) + perceptual_weight * P(G(wp), x)
        + r(t) * (prior_weight * outside(wp) + spread_weight * spread(wp)
                  + encoder_weight * |(wp - E(G(wp))) / w_std|^2)

where ``P`` is the perceptual loss (:mod:`~sceneedit.inversion.losses`), the prior's two parts
keep every layer's code where the mapping puts codes and the layers close to one code
(:mod:`~sceneedit.inversion.prior`) and the last term is IDInvert's domain regularizer (the
code must be what the encoder reads back from its own image). Adam's learning rate is constant
over the first half and follows a cosine to 0 over the second; the regularizers' factor
``r(t)`` follows the same curve from 1 down to ``regularizer_final`` (default 0): the first
half settles the code inside the domain, the second refines the fit with ever smaller steps
(on 8 held-out rooms: +0.3 dB, no concept's editability lost; docs/benchmarks.md).

Then, for generators with per-layer noise (StyleGAN v1/v2), the noise phase: ``noise_steps``
Adam steps on per-image copies of the finest ``noise_levels`` resolutions' noise maps (and, at a
small learning rate, the code) against the pixel MSE plus ``noise_weight`` x a penalty that keeps
the maps noise (:mod:`~sceneedit.inversion.noise`); the fitted maps become the result's
:class:`~sceneedit.inversion.finetune.GeneratorDelta`. Optional pivotal tuning
(:mod:`~sceneedit.inversion.finetune`) follows, drawing with the fitted maps; its weights join
the same delta.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch

from ..errors import SettingsError
from ..generators.base import Generator, to_uint8_images
from ..generators.fingerprint import generator_fingerprint
from .encoder import Encoder, find_encoder
from .finetune import GeneratorDelta, apply_delta
from .losses import make_perceptual_loss, pixel_loss, psnr
from .noise import fitted_noise_names, noise_buffers, noise_override, noise_penalty, noise_twin, set_noise
from .prior import prior_for

#: Below this PSNR (dB) after optimization the image is called out of the generator's domain.
OUT_OF_DOMAIN_PSNR_DB = 22.0


def cosine_second_half(step: int, steps: int) -> float:
    """The schedule's factor in [0, 1] at ``step`` of ``steps``: 1 over the first half, then a
    cosine down toward 0 at the end."""
    fraction = step / max(1, steps)
    return 1.0 if fraction < 0.5 else float(0.5 * (1 + np.cos(np.pi * (fraction - 0.5) * 2)))


class InversionCancelled(Exception):
    """The caller's ``cancel()`` returned True; nothing was changed."""


@dataclass(frozen=True)
class InversionSettings:
    """How an image is inverted. ``steps``: optimization steps of the code (0 = encoder only).
    ``noise_steps``: steps of the noise phase (0 = off; a generator without noise maps to fit
    spends them on the code instead, when ``steps`` > 0). ``finetune_steps``: pivotal-tuning
    steps of the generator (0 = off, the default)."""

    steps: int = 100
    lr: float = 0.1
    perceptual: str = "auto"
    pixel_weight: float = 1.0
    perceptual_weight: float = 0.05
    prior_weight: float = 0.002
    #: Weight of the prior's layer-spread part (see CodePrior.penalty_parts); None: prior_weight.
    spread_weight: float | None = None
    #: The regularizers' weight at the last step, as a fraction of their weight at the first:
    #: they follow the learning rate's cosine over the second half down to this (1 = constant,
    #: the earlier default; 0: the second half fits the picture, in ever smaller steps).
    regularizer_final: float = 0.0
    encoder_weight: float = 0.0
    #: Optimize coordinates along the mapped codes' principal axes (variances floored at
    #: this fraction of their mean; see CodePrior.soft_scale), 0 = optimize wp directly.
    whiten_floor: float = 0.0
    use_encoder: bool = True
    #: Noise phase: Adam steps on per-image noise maps after the code's steps (0 = off).
    noise_steps: int = 100
    #: The noise maps of this many finest resolutions are fitted (2: 32 and 64 px of a 64 px generator).
    noise_levels: int = 2
    #: Adam learning rates of the noise maps and of the code in the noise phase (cosine over its second half).
    noise_lr: float = 0.05
    noise_code_lr: float = 0.01
    #: Weight of the penalty keeping the maps noise (mean square near 1, no autocorrelation).
    noise_weight: float = 0.01
    finetune_steps: int = 0
    #: Pivotal tuning fits pixels only (MSE), with Adam at this learning rate.
    finetune_lr: float = 5e-3
    out_of_domain_psnr_db: float = OUT_OF_DOMAIN_PSNR_DB
    #: Frames reported to ``progress`` (about this many over the whole run).
    preview_frames: int = 20

    def __post_init__(self) -> None:
        for name in ("steps", "noise_steps", "noise_levels", "finetune_steps", "preview_frames"):
            if int(getattr(self, name)) < 0:
                raise SettingsError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in (
            "lr",
            "noise_lr",
            "noise_code_lr",
            "noise_weight",
            "finetune_lr",
            "pixel_weight",
            "perceptual_weight",
            "prior_weight",
            "spread_weight",
            "encoder_weight",
            "regularizer_final",
        ):
            if getattr(self, name) is None:
                continue
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise SettingsError(f"{name} must be a finite number >= 0, got {value}")


@dataclass(frozen=True)
class InversionProgress:
    """One live frame: ``phase`` ('encoder', 'code', 'noise', 'finetune'), ``step`` of ``total``,
    the current reconstruction uint8 ``[H, W, 3]`` and its PSNR in dB."""

    phase: str
    step: int
    total: int
    image: np.ndarray
    psnr_db: float


@dataclass
class InversionResult:
    """``wp``: float32 ``[L, D]``; ``reconstruction`` / ``target``: uint8 ``[H, W, 3]``;
    ``psnr_db`` of the final reconstruction (with the fitted noise maps and the fine-tuned
    weights when used: what replaying the code on ``apply_delta(generator, delta)`` draws),
    ``code_psnr_db`` of the code alone on the untouched generator; ``delta``: the fitted noise
    maps and/or fine-tuned weights (None when neither ran)."""

    wp: np.ndarray
    reconstruction: np.ndarray
    target: np.ndarray
    psnr_db: float
    code_psnr_db: float
    seconds: float
    perceptual: str
    encoder_used: bool
    steps: int
    delta: Any = None
    warning: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def out_of_domain(self) -> bool:
        return self.warning is not None


Progress = Callable[[InversionProgress], None]


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 ``[H, W, 3]`` -> float ``[1, 3, H, W]`` in [-1, 1]."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected a uint8 image [H, W, 3], got {array.dtype} {list(array.shape)}")
    return torch.from_numpy(np.ascontiguousarray(array)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def run_steps(
    phase: str,
    steps: int,
    optimizer: torch.optim.Optimizer,
    step_loss: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    target: torch.Tensor,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    every: int,
) -> None:
    """``steps`` optimizer steps of one phase (``"code"``, ``"noise"``, ``"finetune"``).

    ``step_loss(step)`` sets the step's learning rates and returns ``(loss [N], images [N, 3, R, R])``;
    image 0 goes to ``progress`` every ``every`` steps, with its PSNR against ``target[:1]``.
    Raises :class:`InversionCancelled` as soon as ``cancel()`` returns True."""
    for step in range(steps):
        if cancel is not None and cancel():
            raise InversionCancelled()
        loss, images = step_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        if progress is not None and (step + 1) % every == 0:
            first = images[:1].detach()
            progress(
                InversionProgress(phase, step + 1, steps, to_uint8_images(first)[0], float(psnr(first, target[:1])[0]))
            )


class Inverter:
    """Inverts images into one generator's codes (holds the encoder, prior and losses)."""

    def __init__(
        self,
        generator: Generator,
        settings: InversionSettings | None = None,
        encoder: Encoder | Literal["auto"] | None = "auto",
    ) -> None:
        self.generator = generator
        self.settings = settings or InversionSettings()
        if isinstance(encoder, str):
            if encoder != "auto":
                raise ValueError(f"encoder must be an Encoder, None or 'auto', got {encoder!r}")
            encoder = find_encoder(generator)
        self.encoder: Encoder | None = encoder
        if self.encoder is not None:
            self.encoder.to(generator.device).eval()
            for parameter in self.encoder.parameters():
                parameter.requires_grad_(False)
        self.perceptual_name, self.perceptual = make_perceptual_loss(self.settings.perceptual, generator)
        self.prior = prior_for(generator)

    @property
    def resolution(self) -> int:
        return int(self.generator.resolution)

    @property
    def noise_names(self) -> list[str]:
        """The noise maps the noise phase fits (empty when it is off or the generator has none)."""
        return fitted_noise_names(self.generator, self.settings.noise_levels) if self.settings.noise_steps > 0 else []

    @property
    def code_steps(self) -> int:
        """The code's optimization steps: ``steps``, plus ``noise_steps`` when there are no noise
        maps to fit (the same budget goes to the code; 0 stays 0: encoder only)."""
        s = self.settings
        return s.steps if self.noise_names or s.steps == 0 else s.steps + s.noise_steps

    def start_code(self, target: torch.Tensor) -> torch.Tensor:
        """The optimization's start ``[N, L, D]``: the encoder's reading, else the mean code."""
        if self.encoder is not None and self.settings.use_encoder:
            with torch.no_grad():
                return self.encoder(target).float()
        return self.prior.mean.expand(target.shape[0], -1, -1).clone()

    def loss(
        self,
        wp: torch.Tensor,
        target: torch.Tensor,
        generator: Generator | None = None,
        with_regularizers: bool = True,
        pixels_only: bool = False,
        regularizer_scale: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(total loss [N], image [N, 3, H, W])`` of codes ``wp`` against ``target``;
        ``regularizer_scale`` multiplies the prior and encoder terms (the schedule's factor)."""
        s = self.settings
        image = (generator or self.generator).synthesize(wp)
        total = s.pixel_weight * pixel_loss(image, target)
        if pixels_only:
            return total, image
        if self.perceptual is not None and s.perceptual_weight > 0:
            total = total + s.perceptual_weight * self.perceptual(image, target)
        spread_weight = s.prior_weight if s.spread_weight is None else s.spread_weight
        if with_regularizers and (s.prior_weight > 0 or spread_weight > 0):
            outside, spread = self.prior.penalty_parts(wp)
            total = total + regularizer_scale * (s.prior_weight * outside + spread_weight * spread)
        if with_regularizers and s.encoder_weight > 0 and self.encoder is not None:
            readback = self.encoder(image)
            total = total + regularizer_scale * s.encoder_weight * ((wp - readback) / self.encoder.w_std).square().mean(
                dim=(1, 2)
            )
        return total, image

    def invert(
        self, image: np.ndarray, progress: Progress | None = None, cancel: Callable[[], bool] | None = None
    ) -> InversionResult:
        """Invert one uint8 ``[R, R, 3]`` image (R = the generator's resolution)."""
        return self.invert_batch([image], progress=progress, cancel=cancel)[0]

    def invert_batch(
        self, images: Sequence[np.ndarray], progress: Progress | None = None, cancel: Callable[[], bool] | None = None
    ) -> list[InversionResult]:
        """Invert several uint8 ``[R, R, 3]`` images at once (one optimization over a batch:
        each code gets gradients from its own image only, so the results equal one-by-one
        runs, but a forward pass serves them all). ``seconds`` of each result is its share of
        the batch's code and noise optimization plus its own fine-tuning. ``progress`` shows image 0."""
        images = [np.asarray(image) for image in images]
        for image in images:
            if image.shape[:2] != (self.resolution, self.resolution):
                raise ValueError(
                    f"image is {image.shape[1]}x{image.shape[0]}, the generator draws "
                    f"{self.resolution}x{self.resolution} (load it with load_image_for_inversion)"
                )
        if not images:
            return []
        s = self.settings
        started = time.perf_counter()
        generator = self.generator
        parameters = list(generator.parameters())
        was_training = generator.training
        flags = [p.requires_grad for p in parameters]
        generator.eval()
        count = len(images)
        try:
            for p in parameters:
                p.requires_grad_(False)
            target = torch.cat([image_to_tensor(image, generator.device) for image in images])
            wp = self.start_code(target)
            noise_names = self.noise_names
            noise_steps = s.noise_steps if noise_names else 0
            code_steps = self.code_steps
            every = max(1, (code_steps + noise_steps + s.finetune_steps) // max(1, s.preview_frames))
            if progress is not None:
                with torch.no_grad():
                    first = generator.synthesize(wp[:1])
                progress(
                    InversionProgress(
                        "encoder", 0, code_steps, to_uint8_images(first)[0], float(psnr(first, target[:1])[0])
                    )
                )
            if s.whiten_floor > 0:
                axis_scale = self.prior.soft_scale(s.whiten_floor)
                u = self.prior.to_coordinates(wp, axis_scale).detach().requires_grad_(True)
                variable = u

                def code() -> torch.Tensor:
                    return self.prior.from_coordinates(u, axis_scale)
            else:
                variable = wp.detach().requires_grad_(True)

                def code() -> torch.Tensor:
                    return variable

            optimizer = torch.optim.Adam([variable], lr=s.lr)

            def code_step(step: int) -> tuple[torch.Tensor, torch.Tensor]:
                # Cosine decay of the learning rate (and the regularizers) over the last half.
                decay = cosine_second_half(step, code_steps)
                for group in optimizer.param_groups:
                    group["lr"] = s.lr * decay
                scale = s.regularizer_final + (1.0 - s.regularizer_final) * decay
                return self.loss(code(), target, regularizer_scale=scale)

            run_steps("code", code_steps, optimizer, code_step, target, progress, cancel, every)
            wp = code().detach()
            noise_deltas: list[GeneratorDelta | None] = [None] * count
            if noise_steps:
                wp, noise_deltas = self._fit_noise(wp, target, noise_names, progress, cancel, every)
            with torch.no_grad():
                reconstruction = generator.synthesize(wp)  # the code alone, the generator's own noise
            code_psnr = psnr(reconstruction, target).tolist()
            deltas: list[Any] = list(noise_deltas)
            finals = list(reconstruction.split(1))
            tuning = [0.0] * count
            if s.finetune_steps > 0:
                from .finetune import pivotal_tuning

                for i in range(count):
                    tuned_start = time.perf_counter()
                    noise = None
                    fitted = noise_deltas[i]
                    if fitted is not None:
                        own = noise_buffers(generator)
                        noise = {n: own[n].clone().add_(t) for n, t in fitted.tensors.items()}
                    weights, _ = pivotal_tuning(
                        self,
                        wp[i : i + 1],
                        target[i : i + 1],
                        progress=progress,
                        cancel=cancel,
                        every=every,
                        noise=noise,
                    )
                    deltas[i] = weights if fitted is None else fitted.merged(weights)
                    tuning[i] = time.perf_counter() - tuned_start
            shared = (time.perf_counter() - started - sum(tuning)) / count
            for i in range(count):
                if deltas[i] is not None:
                    # What replaying the code on apply_delta(generator, delta) draws, bit for bit.
                    finals[i] = self._replay(wp[i : i + 1], deltas[i])
        finally:
            for p, flag in zip(parameters, flags, strict=True):
                p.requires_grad_(flag)
            generator.train(was_training)
        radius = self.prior.radius(wp)
        results = []
        for i in range(count):
            warning = None
            if code_psnr[i] < s.out_of_domain_psnr_db:
                warning = (
                    f"the code alone reconstructs it at PSNR {code_psnr[i]:.1f} dB, below "
                    f"{s.out_of_domain_psnr_db:.0f} dB: the image looks out of the generator's domain, "
                    f"so edits may not behave"
                )
                if deltas[i] is not None:
                    warning += f" ({deltas[i].describe()}: {float(psnr(finals[i], target[i : i + 1])[0]):.1f} dB)"
            results.append(
                InversionResult(
                    wp=wp[i].cpu().numpy().astype(np.float32),
                    reconstruction=to_uint8_images(finals[i])[0],
                    target=np.asarray(images[i], dtype=np.uint8),
                    psnr_db=float(psnr(finals[i], target[i : i + 1])[0]),
                    code_psnr_db=float(code_psnr[i]),
                    seconds=shared + tuning[i],
                    perceptual=self.perceptual_name,
                    encoder_used=self.encoder is not None and s.use_encoder,
                    steps=code_steps,
                    delta=deltas[i],
                    warning=warning,
                    info={
                        "prior_radius": [round(float(x), 3) for x in radius[i]],
                        "batch": count,
                        "noise_steps": noise_steps,
                        "noise_maps": len(noise_names),
                    },
                )
            )
        return results

    def _fit_noise(
        self,
        wp: torch.Tensor,
        target: torch.Tensor,
        names: list[str],
        progress: Progress | None,
        cancel: Callable[[], bool] | None,
        every: int,
    ) -> tuple[torch.Tensor, list[GeneratorDelta | None]]:
        """The noise phase on codes ``wp [N, L, D]``: per-image noise maps ``[N, 1, r, r]`` of
        ``names`` (and the code, at ``noise_code_lr``) fitted to ``target``. Runs on a twin of
        the generator (shared weights, own buffers): the generator itself never changes.
        Returns the codes and, per image, the delta of its maps (fitted minus original)."""
        s = self.settings
        count = wp.shape[0]
        twin = noise_twin(self.generator)
        own = noise_buffers(self.generator)
        maps = {n: own[n].detach().expand(count, -1, -1, -1).clone().requires_grad_(True) for n in names}
        code = wp.detach().clone().requires_grad_(s.noise_code_lr > 0)
        groups: list[dict[str, Any]] = [{"params": list(maps.values()), "lr": s.noise_lr, "base": s.noise_lr}]
        if s.noise_code_lr > 0:
            groups.append({"params": [code], "lr": s.noise_code_lr, "base": s.noise_code_lr})
        optimizer = torch.optim.Adam(groups)

        def noise_step(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            decay = cosine_second_half(step, s.noise_steps)
            for group in optimizer.param_groups:
                group["lr"] = group["base"] * decay
            loss, current = self.loss(code, target, generator=twin, pixels_only=True)
            if s.noise_weight > 0:
                loss = loss + s.noise_weight * noise_penalty(maps)
            return loss, current

        with noise_override(twin, maps):
            run_steps("noise", s.noise_steps, optimizer, noise_step, target, progress, cancel, every)
        fingerprint = generator_fingerprint(self.generator)
        deltas: list[GeneratorDelta | None] = [
            GeneratorDelta(
                tensors={n: (maps[n][i : i + 1].detach() - own[n]).cpu().float() for n in names},
                generator=dict(fingerprint),
            )
            for i in range(count)
        ]
        return code.detach(), deltas

    def _replay(self, wp: torch.Tensor, delta: GeneratorDelta) -> torch.Tensor:
        """``apply_delta(generator, delta).synthesize(wp [1, L, D])``; a noise-only delta is
        drawn on a twin (no copy of the weights), with the same arithmetic."""
        if delta.has_weights:
            with torch.no_grad():
                return apply_delta(self.generator, delta).synthesize(wp)
        twin = noise_twin(self.generator)
        own = noise_buffers(twin)
        set_noise(twin, {n: own[n].clone().add_(t.to(own[n].device, own[n].dtype)) for n, t in delta.tensors.items()})
        with torch.no_grad():
            return twin.synthesize(wp)

    def with_settings(self, **changes: Any) -> Inverter:
        """A copy with some settings changed (shares the encoder, prior and losses)."""
        other = object.__new__(Inverter)
        other.__dict__.update(self.__dict__)
        other.settings = replace(self.settings, **changes)
        if "perceptual" in changes:
            other.perceptual_name, other.perceptual = make_perceptual_loss(other.settings.perceptual, self.generator)
        return other


def invert_image(
    generator: Generator,
    image: np.ndarray,
    settings: InversionSettings | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> InversionResult:
    """One-shot :meth:`Inverter.invert` (builds the inverter; reuse an :class:`Inverter` for many)."""
    return Inverter(generator, settings).invert(image, progress=progress, cancel=cancel)
