"""StyleGAN (v1): genforce/HiGAN layout, loading, synthesis and the reference's maths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from stylegan_reference import BUFFER_SUFFIXES, genforce_stylegan_shapes, genforce_stylegan_state, to_genforce_v2
from tiny_models import tiny_stylegan

from sceneedit.generators import GeneratorError, load_generator, to_uint8_images
from sceneedit.generators.layers import num_layers_for
from sceneedit.generators.stylegan import StyleGANGenerator, UpConvBlock

TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, fmaps_base=128, fmaps_max=32)


@pytest.fixture()
def genforce_file(tmp_path):
    """A HiGAN-layout .pth (zip) with random weights: 16 px, channels 32/32/8."""
    path = tmp_path / "stylegan_tiny_generator.pth"
    torch.save(genforce_stylegan_state(seed=1, **TINY), path)
    return path


# ----- layout ---------------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [8, 16, 32, 64, 128, 256, 512, 1024])
def test_num_layers_follows_two_per_resolution(resolution):
    assert num_layers_for(resolution) == 2 * math.log2(resolution / 4) + 2


def test_256px_model_has_the_reference_keys_shapes_and_size():
    generator = StyleGANGenerator(resolution=256)
    ours = {k: tuple(v.shape) for k, v in generator.state_dict().items()}
    reference = genforce_stylegan_shapes(256)
    assert ours == reference
    assert generator.num_layers == 14
    # fused-scale ('auto'): transposed conv at 128 and 256 px only
    assert "synthesis.layer10.weight" in ours and "synthesis.layer12.weight" in ours
    assert "synthesis.layer8.conv.weight" in ours
    parameters = sum(p.numel() for p in generator.parameters())
    expected = sum(math.prod(shape) for key, shape in reference.items() if not key.endswith(BUFFER_SUFFIXES))
    assert parameters == expected
    assert 25.5e6 < parameters < 26.5e6  # "26 M parameters" for the public 256 px model
    assert generator.channels() == [512, 512, 512, 512, 256, 128, 64]


# ----- loading genforce files -----------------------------------------------------------------
def test_genforce_file_loads_and_synthesizes(genforce_file):
    generator = load_generator(genforce_file, device="cpu")
    assert generator.arch == "stylegan"
    assert (generator.resolution, generator.z_dim, generator.w_dim, generator.num_layers) == (16, 16, 16, 6)
    assert generator.config["fmaps_max"] == 32 and generator.config["mapping_fmaps"] == 32
    assert generator.channels() == [32, 16, 8]
    # defaults come from the file's recorded truncation coefficients (0.7 on 8 -> all 6)
    assert generator.truncation_psi == pytest.approx(0.7) and generator.truncation_layers == 6
    state = genforce_stylegan_state(seed=1, **TINY)
    for key, value in generator.state_dict().items():
        assert torch.equal(value, state[key]), key

    wp = generator.map(generator.sample_z(3, seed=7))
    result = generator.synthesize(wp, return_features=True)
    assert result.image.shape == (3, 3, 16, 16)
    assert result.image.min() >= -1 and result.image.max() <= 1
    assert [tuple(f.shape) for f in result.features] == [(3, 32, 4, 4), (3, 16, 8, 8), (3, 8, 16, 16)]
    again = load_generator(genforce_file, device="cpu")
    assert torch.equal(again.synthesize(again.map(again.sample_z(3, seed=7))), result.image)
    assert torch.equal(generator.synthesize(wp), result.image)
    pixels = to_uint8_images(result.image)
    assert pixels.shape == (3, 16, 16, 3) and pixels.dtype == np.uint8


def test_wrapped_checkpoint_prefers_the_smoothed_generator(tmp_path):
    smooth, raw = genforce_stylegan_state(seed=2, **TINY), genforce_stylegan_state(seed=3, **TINY)
    path = tmp_path / "checkpoint.pth"
    torch.save({"generator": raw, "generator_smooth": smooth, "iteration": 5}, path)
    generator = load_generator(path, device="cpu")
    assert torch.equal(generator.state_dict()["synthesis.layer0.const"], smooth["synthesis.layer0.const"])


def test_legacy_non_zip_torch_file_loads(tmp_path):
    path = tmp_path / "old.pth"
    torch.save(genforce_stylegan_state(seed=4, **TINY), path, _use_new_zipfile_serialization=False)
    generator = load_generator(path, device="cpu")
    assert generator.synthesize(generator.map(generator.sample_z(1))).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("fused_scale", [True, False, "auto"])
def test_fused_scale_is_inferred_from_the_keys(tmp_path, fused_scale):
    layout = dict(TINY, resolution=128, fmaps_base=256, fmaps_max=16, fused_scale=fused_scale)
    path = tmp_path / "g.pth"
    torch.save(genforce_stylegan_state(seed=5, **layout), path)
    generator = load_generator(path, device="cpu")
    assert generator.config["fused_scale"] == fused_scale
    assert generator.config["fmaps_base"] == 256 and generator.resolution == 128


def test_genforce_v2_layout_gives_the_same_image(tmp_path):
    state = genforce_stylegan_state(seed=6, **dict(TINY, resolution=128, fmaps_base=256, fmaps_max=16))
    higan, v2 = tmp_path / "higan.pth", tmp_path / "v2.pth"
    torch.save(state, higan)
    torch.save({"generator_smooth": to_genforce_v2(state)}, v2)
    a, b = load_generator(higan, device="cpu"), load_generator(v2, device="cpu")
    wp = a.map(a.sample_z(2, seed=0), truncation_psi=1.0)
    assert torch.allclose(a.synthesize(wp), b.synthesize(wp), atol=1e-5)


# ----- the reference's maths, checked independently -------------------------------------------
def test_mapping_is_pixel_norm_then_equalized_lr_dense_layers():
    generator = tiny_stylegan(**(TINY | dict(mapping_layers=1, z_dim=4, w_dim=16)))
    z = torch.tensor([[1.0, -2.0, 0.5, 3.0]])
    weight = generator.mapping.dense0.fc.weight.detach().numpy()
    bias = generator.mapping.dense0.wscale.bias.detach().numpy()
    bias[:] = np.linspace(-1, 1, bias.size)
    zn = z.numpy() / np.sqrt(np.mean(z.numpy() ** 2) + 1e-8)
    lr_mul = 0.01
    pre = zn @ (weight * math.sqrt(2) / math.sqrt(4) * lr_mul).T + bias * lr_mul
    expected = np.where(pre >= 0, pre, 0.2 * pre)
    wp = generator.map(z, truncation_psi=1.0)
    assert np.allclose(wp[0, 0].detach().numpy(), expected, atol=1e-6)
    assert torch.equal(wp[:, 0], wp[:, -1])  # the same w at every layer


def test_truncation_pulls_the_first_layers_towards_w_avg():
    generator = tiny_stylegan(**(TINY | dict(resolution=32)))  # 8 layers
    generator.truncation.w_avg.copy_(torch.randn(16))
    z = generator.sample_z(2, seed=3)
    free = generator.map(z, truncation_psi=1.0)
    cut = generator.map(z, truncation_psi=0.5, truncation_layers=3)
    w_avg = generator.w_avg
    assert torch.allclose(cut[:, :3], w_avg + 0.5 * (free[:, :3] - w_avg), atol=1e-6)
    assert torch.equal(cut[:, 3:], free[:, 3:])
    assert torch.equal(generator.map(z, truncation_layers=0), free)


def test_first_layer_is_noise_bias_lrelu_instance_norm_then_style():
    generator = tiny_stylegan(**TINY)
    layer = generator.synthesis.layer0
    with torch.no_grad():
        layer.epilogue.apply_noise.weight.normal_()
        layer.epilogue.bias.normal_()
        layer.epilogue.style_mod.dense.wscale.bias.normal_()
    w = torch.randn(2, 16)
    x = layer.const.detach().numpy()
    x = (
        x
        + layer.epilogue.apply_noise.noise.numpy()
        * layer.epilogue.apply_noise.weight.detach().numpy()[None, :, None, None]
    )
    x = x + layer.epilogue.bias.detach().numpy()[None, :, None, None]
    x = np.where(x >= 0, x, 0.2 * x)
    x = x - x.mean(axis=(2, 3), keepdims=True)
    x = x / np.sqrt((x**2).mean(axis=(2, 3), keepdims=True) + 1e-8)
    dense = layer.epilogue.style_mod.dense
    style = w.numpy() @ (dense.fc.weight.detach().numpy() / math.sqrt(16)).T + dense.wscale.bias.detach().numpy()
    style = style.reshape(2, 2, 32, 1, 1)
    expected = x * (style[:, 0] + 1) + style[:, 1]
    actual = layer(w, randomize_noise=False).detach().numpy()
    assert np.allclose(actual, expected, atol=1e-4)


def test_fused_upsampling_equals_nearest_upsample_then_conv():
    # StyleGAN's fused upscale2d_conv2d is nearest 2x + 3x3 conv (kernel flipped, since
    # a transposed conv applies it mirrored); blur and epilogue follow either way.
    torch.manual_seed(0)
    fused = UpConvBlock(8, 5, 6, 4, fused=True)
    plain = UpConvBlock(8, 5, 6, 4, fused=False)
    with torch.no_grad():
        plain.conv.weight.copy_(fused.weight.permute(3, 2, 0, 1).flip(2, 3))
        for p_fused, p_plain in zip(fused.epilogue.parameters(), plain.epilogue.parameters(), strict=True):
            p_plain.copy_(p_fused)
        plain.epilogue.apply_noise.noise.copy_(fused.epilogue.apply_noise.noise)
    x, w = torch.randn(2, 5, 4, 4), torch.randn(2, 4)
    assert torch.allclose(fused(x, w, False), plain(x, w, False), atol=1e-5)


def test_blur_kernel_and_equalized_lr_scales():
    generator = tiny_stylegan(**TINY)
    kernel = generator.synthesis.layer2.blur.kernel
    assert torch.equal(kernel[0, 0], torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16)
    assert generator.synthesis.layer3.scale == pytest.approx(math.sqrt(2) / math.sqrt(16 * 9))
    assert generator.synthesis.output2.scale == pytest.approx(1 / math.sqrt(8))
    assert generator.mapping.dense1.scale == pytest.approx(math.sqrt(2) / math.sqrt(16) * 0.01)


# ----- behaviour --------------------------------------------------------------------------------
def test_noise_is_fixed_unless_randomized():
    generator = tiny_stylegan(**TINY)
    with torch.no_grad():
        for name, p in generator.named_parameters():
            if name.endswith("apply_noise.weight"):
                p.fill_(0.5)
    wp = generator.map(generator.sample_z(2, seed=0))
    assert torch.equal(generator.synthesize(wp), generator.synthesize(wp))
    generator.randomize_noise = True
    assert not torch.equal(generator.synthesize(wp), generator.synthesize(wp))


def test_gradients_flow_from_image_and_features_to_the_code():
    generator = tiny_stylegan(**TINY)
    z = generator.sample_z(2, seed=0).requires_grad_(True)
    result = generator.synthesize(generator.map(z), return_features=True)
    (result.image.square().mean() + result.features[1].mean()).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert generator.synthesis.layer5.conv.weight.grad.abs().sum() > 0


def test_raw_output_is_unclamped_and_synthesize_clamps():
    generator = tiny_stylegan(**TINY)
    wp = generator.map(generator.sample_z(2, seed=0))
    raw = generator.synthesize_raw(wp)
    assert torch.equal(generator.synthesize(wp), raw.clamp(-1, 1))


def test_update_w_avg_is_an_exponential_moving_average():
    generator = tiny_stylegan(**(TINY | dict(w_avg_beta=0.9)))
    w = torch.randn(4, 16)
    generator.update_w_avg(w)
    assert torch.allclose(generator.w_avg, 0.1 * w.mean(0))
    with pytest.raises(GeneratorError, match=r"\[N, 16\]"):
        generator.update_w_avg(torch.randn(4, 3))


def test_lod_upsamples_a_lower_resolution_output():
    generator = tiny_stylegan(**TINY)
    wp = generator.map(generator.sample_z(1, seed=0))
    generator.synthesis.lod.fill_(1.0)
    result = generator.synthesize_raw(wp, return_features=True)
    assert result.image.shape == (1, 3, 16, 16) and len(result.features) == 2
    low = generator.synthesis.output1(result.features[-1])
    assert torch.equal(result.image, F.interpolate(low, scale_factor=2, mode="nearest"))


def test_bad_options_and_shapes_are_named():
    with pytest.raises(GeneratorError, match="allowed"):
        StyleGANGenerator(resolution=48)
    with pytest.raises(GeneratorError, match="fused_scale"):
        StyleGANGenerator(resolution=16, fused_scale="sometimes")
    generator = tiny_stylegan(**TINY)
    with pytest.raises(GeneratorError, match=r"\[N, 16\]"):
        generator.map(torch.zeros(2, 5))
    with pytest.raises(GeneratorError, match=r"\[N, 6, 16\]"):
        generator.synthesize(torch.zeros(2, 5, 16))
