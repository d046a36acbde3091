"""Spatial feature blending: an edit that changes only the inside of a mask.

A masked drag optimizes the code like any drag, but the image is synthesized with the
feature maps of some synthesis blocks blended, pixel by pixel, between the *edited* code's
and the *kept* code's (the code before the masked drags):

    features_b = m_b * edited_b + (1 - m_b) * kept_b

where ``m_b`` is the mask (1 = may change) area-averaged to block ``b``'s size. Outside the
mask the blocks carry the kept scene's features, so the rest of the image stays as it was,
while the content inside moves freely (the keep-the-rest *loss* of DragGAN fights the
motion instead). The drag optimizes through this blend and the renderer applies the same
one, so the canvas, the exports and a replayed recipe show what the drag saw.

The blocks are found by identity: the module whose output *is* each entry of
``generator.synthesize(..., return_features=True).features``; a forward hook replaces that
output, so every later block (and the image) is computed from the blended map. Pure
functions of their inputs; no state besides a per-generator cache of those modules.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SceneeditError
from ..generators.base import Generator, SynthesisResult

_MODULES: weakref.WeakKeyDictionary[Generator, list[nn.Module]] = weakref.WeakKeyDictionary()
_IMAGE_BLEND: weakref.WeakKeyDictionary[Generator, bool] = weakref.WeakKeyDictionary()


class BlendError(SceneeditError, ValueError):
    """A blend that cannot be applied (mask of the wrong size, block out of range)."""


def block_modules(generator: Generator) -> list[nn.Module]:
    """The module whose output is feature block ``i`` of ``generator`` (one per block),
    found once per generator by one synthesis with hooks on every module."""
    if generator in _MODULES:
        return _MODULES[generator]
    produced: dict[int, nn.Module] = {}

    def remember(module, _inputs, output):
        if isinstance(output, torch.Tensor):
            produced[id(output)] = module  # the outermost module returning it is hooked last

    handles = [m.register_forward_hook(remember) for m in generator.modules() if m is not generator]
    try:
        with torch.no_grad():
            wp = torch.zeros(1, int(generator.num_layers), int(generator.w_dim), device=generator.device)
            features = generator.synthesize(wp, return_features=True).features
    finally:
        for handle in handles:
            handle.remove()
    modules = []
    for index, feature in enumerate(features):
        if id(feature) not in produced:
            raise BlendError(f"{generator.arch}: feature block {index} is not a module's output; cannot blend it")
        modules.append(produced[id(feature)])
    _MODULES[generator] = modules
    return modules


def default_blend_blocks(feature_sizes: Sequence[int], resolution: int) -> list[int]:
    """Blocks blended by default: every block at least a quarter of the output size (at
    64 px: the 16, 32 and 64 px blocks). The coarse blocks are left free: their few
    pixels span the mask's border, and the layout they hold must follow the motion."""
    chosen = [i for i, size in enumerate(feature_sizes) if size * 4 >= resolution]
    return chosen or [len(feature_sizes) - 1]


def block_masks(mask: np.ndarray | torch.Tensor, sizes: Sequence[int], device: torch.device) -> list[torch.Tensor]:
    """``mask [H, W]`` (1 = may change) area-averaged to each side in ``sizes``:
    ``[1, 1, s, s]`` float32 tensors in [0, 1]."""
    full = mask if isinstance(mask, torch.Tensor) else torch.from_numpy(np.array(mask, dtype=np.float32))
    full = full.to(device=device, dtype=torch.float32).clamp(0, 1).view(1, 1, *full.shape[-2:])
    return [F.adaptive_avg_pool2d(full, int(s)) for s in sizes]


def blended_synthesis(
    generator: Generator,
    wp: torch.Tensor,
    kept: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    blocks: Sequence[int],
    return_features: bool = False,
    truncation_psi: float | None = None,
    kept_image: torch.Tensor | None = None,
    image_mask: torch.Tensor | None = None,
):
    """Synthesize ``wp [N, L, D]`` with block ``blocks[i]``'s output replaced by
    ``masks[i] * output + (1 - masks[i]) * kept[i]`` (``kept[i]`` ``[1 or N, C, s, s]``,
    the kept code's features of that block), and, given ``kept_image`` ``[1, 3, H, W]``
    and ``image_mask`` ``[1, 1, H, W]``, the image blended the same way (for architectures
    whose image also sums coarse blocks' outputs, see :func:`needs_image_blend`). Returns
    what ``generator.synthesize`` does; differentiable in ``wp``."""
    modules = block_modules(generator)
    hooks = []
    try:
        for block, feature, mask in zip(blocks, kept, masks, strict=True):
            if not -len(modules) <= block < len(modules):
                raise BlendError(f"blend block {block} out of range; this generator has {len(modules)} blocks")

            def blend(_module, _inputs, output, feature=feature, mask=mask):
                return torch.lerp(feature.to(output.dtype), output, mask.to(output.dtype))

            hooks.append(modules[block].register_forward_hook(blend))
        result = generator.synthesize(wp, return_features=return_features, truncation_psi=truncation_psi)
    finally:
        for hook in hooks:
            hook.remove()
    if kept_image is None:
        return result
    if return_features:
        image = torch.lerp(kept_image.to(result.image.dtype), result.image, image_mask.to(result.image.dtype))
        return SynthesisResult(image=image, features=result.features)
    return torch.lerp(kept_image.to(result.dtype), result, image_mask.to(result.dtype))


def needs_image_blend(generator: Generator) -> bool:
    """Whether blending the default blocks leaves the image outside the mask different from
    the kept code's (True for StyleGAN2, whose image adds every block's RGB output; False for
    StyleGAN and PGGAN, whose image is the last block's alone). Found once per generator
    with two fixed random codes and an empty mask."""
    if generator not in _IMAGE_BLEND:
        rng = torch.Generator().manual_seed(0)
        shape = (1, int(generator.num_layers), int(generator.w_dim))
        edited = torch.randn(shape, generator=rng).to(generator.device)
        kept_wp = torch.randn(shape, generator=rng).to(generator.device)
        with torch.no_grad():
            full = generator.synthesize(kept_wp, return_features=True)
            sizes = [int(f.shape[-1]) for f in full.features]
            blocks = default_blend_blocks(sizes, int(generator.resolution))
            empty = [torch.zeros(1, 1, sizes[b], sizes[b], device=generator.device) for b in blocks]
            image = blended_synthesis(generator, edited, [full.features[b] for b in blocks], empty, blocks)
        _IMAGE_BLEND[generator] = not torch.equal(image, full.image)
    return _IMAGE_BLEND[generator]


def kept_features(
    generator: Generator, kept_wp: torch.Tensor, blocks: Sequence[int], truncation_psi: float | None = None
) -> list[torch.Tensor]:
    """The features of ``blocks`` for the kept code ``kept_wp [N, L, D]`` (no gradient)."""
    with torch.no_grad():
        result: SynthesisResult = generator.synthesize(kept_wp, return_features=True, truncation_psi=truncation_psi)
    return [result.features[b].detach() for b in blocks]


def synthesize_masked(
    generator: Generator,
    wp: np.ndarray,
    kept_wp: np.ndarray,
    mask: np.ndarray,
    truncation_psi: float | None = None,
    blocks: Sequence[int] | None = None,
) -> torch.Tensor:
    """The image ``[1, 3, H, W]`` in [-1, 1] of the edited code ``wp [L, D]`` inside
    ``mask [H, W]`` and the kept code ``kept_wp [L, D]`` outside (blended at ``blocks``,
    default :func:`default_blend_blocks`). Deterministic: the same inputs give the same
    pixels."""
    resolution = int(generator.resolution)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape != (resolution, resolution):
        raise BlendError(f"mask must be [{resolution}, {resolution}], got {list(mask.shape)}")
    device = generator.device
    with torch.inference_mode():
        kept_t = torch.from_numpy(np.ascontiguousarray(kept_wp, dtype=np.float32)).to(device)[None]
        edited_t = torch.from_numpy(np.ascontiguousarray(wp, dtype=np.float32)).to(device)[None]
        full = generator.synthesize(kept_t, return_features=True, truncation_psi=truncation_psi)
        sizes = [int(f.shape[-1]) for f in full.features]
        chosen = list(default_blend_blocks(sizes, resolution) if blocks is None else blocks)
        masks = block_masks(mask, [sizes[b] for b in chosen], device)
        kept = [full.features[b] for b in chosen]
        image_blend = {}
        if needs_image_blend(generator):
            image_blend = {"kept_image": full.image, "image_mask": block_masks(mask, [resolution], device)[0]}
        return blended_synthesis(generator, edited_t, kept, masks, chosen, truncation_psi=truncation_psi, **image_blend)
