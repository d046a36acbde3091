"""The genforce / HiGAN StyleGAN ``.pth`` key layout, written from the reference's rules.

Independent of ``sceneedit.generators.stylegan``: it follows genforce's
``StyleGANGeneratorNet`` (HiGAN / idinvert ``models/stylegan_generator_network.py``):
mapping hidden width = ``fmaps_max``, channels ``min(fmaps_base // res, fmaps_max)``,
fused-scale upsampling (``layer{k}.weight`` in TF order ``[3, 3, in, out]``) at >= 128 px
under ``'auto'``, blur kernels on upsampling layers, ``truncation.truncation`` holding the
converter's coefficients (psi 0.7 on 8 layers) and ``synthesis.lod`` (a scalar).
"""

from __future__ import annotations

import math

import torch


def genforce_stylegan_shapes(
    resolution: int,
    z_dim: int = 512,
    w_dim: int = 512,
    mapping_layers: int = 8,
    fmaps_base: int = 16 << 10,
    fmaps_max: int = 512,
    fused_scale: bool | str = "auto",
) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a genforce StyleGAN state dict, in the reference's order."""
    nf = lambda res: min(fmaps_base // res, fmaps_max)  # noqa: E731
    num_layers = int(math.log2(resolution // 4 * 2)) * 2
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(mapping_layers):
        in_dim = z_dim if i == 0 else fmaps_max
        out_dim = w_dim if i == mapping_layers - 1 else fmaps_max
        shapes[f"mapping.dense{i}.fc.weight"] = (out_dim, in_dim)
        shapes[f"mapping.dense{i}.wscale.bias"] = (out_dim,)
    shapes["truncation.w_avg"] = (w_dim,)
    shapes["truncation.truncation"] = (1, num_layers, 1)
    shapes["synthesis.lod"] = ()

    def epilogue(layer: int, res: int, channels: int) -> None:
        prefix = f"synthesis.layer{layer}.epilogue"
        shapes[f"{prefix}.apply_noise.noise"] = (1, 1, res, res)
        shapes[f"{prefix}.apply_noise.weight"] = (channels,)
        shapes[f"{prefix}.bias"] = (channels,)
        shapes[f"{prefix}.style_mod.dense.fc.weight"] = (2 * channels, w_dim)
        shapes[f"{prefix}.style_mod.dense.wscale.bias"] = (2 * channels,)

    for block, res_log2 in enumerate(range(2, int(math.log2(resolution)) + 1)):
        res = 2**res_log2
        channels = nf(res)
        if block == 0:
            shapes["synthesis.layer0.const"] = (1, channels, 4, 4)
        else:
            fused = res >= 128 if fused_scale == "auto" else bool(fused_scale)
            if fused:
                shapes[f"synthesis.layer{2 * block}.weight"] = (3, 3, nf(res // 2), channels)
            else:
                shapes[f"synthesis.layer{2 * block}.conv.weight"] = (channels, nf(res // 2), 3, 3)
            shapes[f"synthesis.layer{2 * block}.blur.kernel"] = (channels, 1, 3, 3)
        epilogue(2 * block, res, channels)
        shapes[f"synthesis.layer{2 * block + 1}.conv.weight"] = (channels, channels, 3, 3)
        epilogue(2 * block + 1, res, channels)
        shapes[f"synthesis.output{block}.conv.weight"] = (3, channels, 1, 1)
        shapes[f"synthesis.output{block}.bias"] = (3,)
    return shapes


#: Buffers (not trainable parameters) of the reference layout, by key suffix.
BUFFER_SUFFIXES = ("apply_noise.noise", "truncation.w_avg", "truncation.truncation", "blur.kernel", "synthesis.lod")


def genforce_stylegan_state(seed: int = 0, **layout) -> dict[str, torch.Tensor]:
    """A genforce-layout state dict with random weights (deterministic for ``seed``)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, shape in genforce_stylegan_shapes(**layout).items():
        if key == "synthesis.lod":
            value = torch.zeros(())
        elif key == "truncation.truncation":
            value = torch.ones(shape)
            value[:, :8] = 0.7  # genforce's STYLEGAN_TRUNCATION_PSI / _LAYERS
        elif key.endswith("blur.kernel"):
            k = torch.tensor([1.0, 2.0, 1.0])
            value = (torch.outer(k, k) / 16).expand(shape).clone()
        elif key.endswith("const"):
            value = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif key.endswith(("bias", "apply_noise.weight", "w_avg")):
            value = 0.1 * torch.randn(shape, generator=gen)
        else:  # unscaled weights (equalized lr) and noise maps: N(0, 1)
            value = torch.randn(shape, generator=gen)
        state[key] = value
    return state


def to_genforce_v2(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a HiGAN-layout state dict to genforce v2 / SeFa names (and kernel order)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        if key.startswith("mapping.dense"):
            new = key.replace(".fc.weight", ".weight").replace(".wscale.bias", ".bias")
        elif key.startswith("truncation.truncation"):
            continue  # genforce v2 has no stored coefficients
        elif ".epilogue.style_mod.dense.fc.weight" in key:
            new = key.replace(".epilogue.style_mod.dense.fc.weight", ".style.weight")
        elif ".epilogue.style_mod.dense.wscale.bias" in key:
            new = key.replace(".epilogue.style_mod.dense.wscale.bias", ".style.bias")
        elif ".epilogue.apply_noise." in key:
            new = key.replace(".epilogue.apply_noise.", ".apply_noise.")
        elif key.endswith(".epilogue.bias"):
            new = key.replace(".epilogue.bias", ".bias")
        elif key.startswith("synthesis.layer") and key.endswith(".conv.weight"):
            new = key.replace(".conv.weight", ".weight")
        elif key.startswith("synthesis.layer") and key.endswith(".weight") and value.ndim == 4:
            value = value.permute(3, 2, 0, 1).contiguous()  # TF [k,k,in,out] -> [out,in,k,k]
        elif key.startswith("synthesis.output") and key.endswith(".conv.weight"):
            new = key.replace(".conv.weight", ".weight")
        out[new] = value
    return out
