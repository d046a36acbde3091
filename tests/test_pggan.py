"""PGGAN: genforce/HiGAN ``.pth`` loading, synthesis, the single code, bad input.

Checkpoints are written here key by key in genforce's ``PGGANGeneratorNet`` layout (not
from our module's state dict), with random weights, tiny sizes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sceneedit.generators import CheckpointError, GeneratorError, load_generator, save_generator
from sceneedit.generators.pggan import PGGANGenerator

Z_DIM = 16
FMAPS_BASE = 128
FMAPS_MAX = 16
HE_GAIN = math.sqrt(2)  # the reference layers' default weight gain


def channels(res: int) -> int:
    return min(FMAPS_BASE // res, FMAPS_MAX)


def genforce_pggan_state(
    resolution: int = 16, fused: bool = False, lod: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A random state dict in genforce's PGGAN key layout."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen)

    state = {"lod": torch.tensor(float(lod))}
    for block in range(int(math.log2(resolution)) - 1):
        res = 4 * 2**block
        nf = channels(res)
        if block == 0:
            state["layer0.conv.weight"] = randn(nf, Z_DIM, 4, 4)
        elif fused:
            state[f"layer{2 * block}.weight"] = randn(3, 3, channels(res // 2), nf)
        else:
            state[f"layer{2 * block}.conv.weight"] = randn(nf, channels(res // 2), 3, 3)
        state[f"layer{2 * block}.wscale.bias"] = 0.1 * randn(nf)
        state[f"layer{2 * block + 1}.conv.weight"] = randn(nf, nf, 3, 3)
        state[f"layer{2 * block + 1}.wscale.bias"] = 0.1 * randn(nf)
        state[f"output{block}.conv.weight"] = randn(3, nf, 1, 1)
        state[f"output{block}.wscale.bias"] = 0.1 * randn(3)
    return state


def write_pth(path, payload, legacy: bool = True):
    # HiGAN's model zoo predates torch's zip format: the legacy layout by default.
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    return path


def expected_image(state: dict[str, torch.Tensor], z: torch.Tensor, fused: bool) -> torch.Tensor:
    """Independent re-derivation of the PGGAN forward pass (lod 0) from the state dict."""

    def pixnorm(x):
        return x / torch.sqrt((x**2).mean(dim=1, keepdim=True) + 1e-8)

    def block(x, name, kernel, padding, up, gain=HE_GAIN, act=True):
        x = pixnorm(x)
        bias = state[f"{name}.wscale.bias"].view(1, -1, 1, 1)
        if up and fused:
            w = state[f"{name}.weight"]  # [3, 3, in, out]
            scale = gain / math.sqrt(w.shape[2] * 9)
            w4 = F.pad(w * scale, (0, 0, 0, 0, 1, 1, 1, 1))
            w4 = w4[1:, 1:] + w4[:-1, 1:] + w4[1:, :-1] + w4[:-1, :-1]
            x = F.conv_transpose2d(x, w4.permute(2, 3, 0, 1), stride=2, padding=1) + bias
        else:
            if up:
                x = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
            w = state[f"{name}.conv.weight"]
            x = F.conv2d(x, w, padding=padding) * (gain / math.sqrt(w[0].numel())) + bias
        return F.leaky_relu(x, 0.2) if act else x

    num_blocks = sum(1 for k in state if k.startswith("output") and k.endswith("conv.weight"))
    x = z.view(z.shape[0], -1, 1, 1)
    for b in range(num_blocks):
        x = block(x, f"layer{2 * b}", 4 if b == 0 else 3, 3 if b == 0 else 1, up=b > 0)
        x = block(x, f"layer{2 * b + 1}", 3, 1, up=False)
    return block(x, f"output{num_blocks - 1}", 1, 0, up=False, gain=1.0, act=False)


@pytest.fixture
def pggan_file(tmp_path):
    state = genforce_pggan_state()
    return write_pth(tmp_path / "pggan_tiny.pth", state), state


def test_loads_genforce_pth_and_synthesizes(pggan_file):
    path, state = pggan_file
    generator = load_generator(path)
    assert isinstance(generator, PGGANGenerator)
    assert (generator.resolution, generator.z_dim, generator.w_dim, generator.num_layers) == (16, Z_DIM, Z_DIM, 1)
    assert generator.config["fmaps_base"] == FMAPS_BASE and generator.config["fmaps_max"] == FMAPS_MAX
    assert set(generator.state_dict()) == set(state)  # identical key names

    z = generator.sample_z(3, seed=5)
    wp = generator.map(z)
    assert wp.shape == (3, 1, Z_DIM)
    result = generator.synthesize(wp, return_features=True)
    image = result.image
    assert image.shape == (3, 3, 16, 16) and image.dtype == torch.float32
    assert image.min() >= -1 and image.max() <= 1
    assert [tuple(f.shape) for f in result.features] == [(3, 16, 4, 4), (3, 16, 8, 8), (3, 8, 16, 16)]
    assert torch.equal(image, generator.synthesize(generator.map(generator.sample_z(3, seed=5))))
    assert torch.equal(image, load_generator(path).synthesize(wp))  # same file, same image
    assert not torch.equal(image[0], image[1])


@pytest.mark.parametrize("fused", [False, True])
def test_matches_independent_forward(tmp_path, fused):
    state = genforce_pggan_state(fused=fused, seed=3)
    generator = load_generator(write_pth(tmp_path / "g.pth", state))
    assert generator.config["fused_scale"] is fused
    z = generator.sample_z(2, seed=1)
    want = expected_image(state, z, fused)
    raw = generator.synthesize_raw(generator.map(z))
    torch.testing.assert_close(raw, want, rtol=1e-4, atol=1e-5)
    assert torch.equal(generator.synthesize(generator.map(z)), raw.clamp(-1, 1))


def test_wrapped_state_dict_and_lod(tmp_path):
    state = genforce_pggan_state(lod=1.0)
    generator = load_generator(write_pth(tmp_path / "wrapped.pth", {"generator": state}, legacy=False))
    result = generator.synthesize(generator.map(generator.sample_z(1)), return_features=True)
    assert result.image.shape == (1, 3, 16, 16)
    assert len(result.features) == 2  # the 16 px block is skipped at lod 1
    image = result.image[0]
    torch.testing.assert_close(image, image[:, ::2, ::2].repeat_interleave(2, 1).repeat_interleave(2, 2))


def test_code_is_normalized_z_and_truncation_ignored(pggan_file):
    generator = load_generator(pggan_file[0])
    z = generator.sample_z(4, seed=2)
    wp = generator.map(z)
    torch.testing.assert_close(wp.norm(dim=2), torch.full((4, 1), math.sqrt(Z_DIM)))
    assert torch.equal(generator.map(z, truncation_psi=0.5), wp)
    # Image independent of the code's norm: the network starts with pixel norm.
    torch.testing.assert_close(generator.synthesize(3 * wp), generator.synthesize(wp), atol=1e-5, rtol=1e-4)
    with pytest.raises(GeneratorError, match="unconditional"):
        generator.map(z, class_index=1)


def test_editing_the_code_changes_image_and_gradients_flow(pggan_file):
    generator = load_generator(pggan_file[0])
    wp = generator.map(generator.sample_z(2, seed=0))
    direction = torch.from_numpy(np.random.RandomState(0).standard_normal(Z_DIM).astype(np.float32))
    edited = wp.clone()
    edited[0, 0] += 3.0 * direction
    assert edited.shape == wp.shape
    before, after = generator.synthesize(wp), generator.synthesize(edited)
    assert not torch.allclose(before[0], after[0])
    assert torch.equal(before[1], after[1])

    wp = wp.clone().requires_grad_(True)
    generator.synthesize(wp, return_features=True).features[-1].square().mean().backward()
    assert wp.grad is not None and wp.grad.abs().sum() > 0


def test_own_format_round_trip(tmp_path, pggan_file):
    generator = load_generator(pggan_file[0])
    saved = save_generator(generator, tmp_path / "pggan.safetensors")
    again = load_generator(saved)
    assert again.config == generator.config
    for key, value in generator.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    wp = generator.map(generator.sample_z(2))
    assert torch.equal(generator.synthesize(wp), again.synthesize(wp))


def test_missing_key_is_named(tmp_path):
    state = genforce_pggan_state()
    del state["layer3.wscale.bias"]
    with pytest.raises(CheckpointError, match=r"missing key 'layer3.wscale.bias'.*\[16\]"):
        load_generator(write_pth(tmp_path / "bad.pth", state))


def test_misshaped_key_is_named(tmp_path):
    state = genforce_pggan_state()
    state["layer3.conv.weight"] = torch.zeros(16, 16, 1, 1)
    with pytest.raises(
        CheckpointError, match=r"'layer3.conv.weight' has shape \[16, 16, 1, 1\], expected \[16, 16, 3, 3\]"
    ):
        load_generator(write_pth(tmp_path / "bad.pth", state))


def test_unsupported_resolution_and_bad_codes(tmp_path, pggan_file):
    state = genforce_pggan_state(resolution=8)
    state = {k: v for k, v in state.items() if not k.startswith(("layer2", "layer3", "output1"))}
    with pytest.raises(CheckpointError, match="resolution 4"):
        load_generator(write_pth(tmp_path / "tiny.pth", state))
    with pytest.raises(GeneratorError, match="allowed"):
        PGGANGenerator(resolution=48)
    generator = load_generator(pggan_file[0])
    with pytest.raises(GeneratorError, match=rf"\[N, {Z_DIM}\]"):
        generator.map(torch.zeros(2, Z_DIM + 1))
    with pytest.raises(GeneratorError, match=rf"\[N, 1, {Z_DIM}\]"):
        generator.synthesize(torch.zeros(2, 2, Z_DIM))
