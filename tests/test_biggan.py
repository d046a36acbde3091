"""BigGAN-deep: pytorch-pretrained-biggan ``pytorch_model.bin`` + ``config.json`` loading,
layer-wise codes, classes, truncation, spectral norm, bad input.

Checkpoints are written here key by key in that package's layout (not from our module's
state dict), with random weights and a tiny config.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sceneedit.generators import CheckpointError, GeneratorError, load_generator, save_generator
from sceneedit.generators.biggan import BigGANGenerator, spectral_normalized, statistics_at

CONFIG = {
    "output_dim": 16,
    "z_dim": 8,
    "class_embed_dim": 8,
    "channel_width": 4,
    "num_classes": 5,
    "layers": [[False, 16, 16], [True, 16, 8], [False, 8, 4], [True, 4, 2], [False, 2, 1]],
    "attention_layer_position": 2,
    "eps": 1e-4,
    "n_stats": 11,
}
NUM_LAYERS = 1 + len(CONFIG["layers"])  # gen_z + one row per GenBlock
W_DIM = CONFIG["z_dim"] + CONFIG["class_embed_dim"]


def biggan_state(config=CONFIG, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict in pytorch-pretrained-biggan's key layout."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=gen) * std

    state: dict[str, torch.Tensor] = {}

    def spectral(prefix, shape, bias):
        weight = randn(*shape, std=0.3)
        matrix = weight.reshape(shape[0], -1)
        u_, _, vh = torch.linalg.svd(matrix, full_matrices=False)
        # Near (not at) the top singular vectors, as a trained model's stored vectors are.
        state[prefix + ".weight_orig"] = weight
        state[prefix + ".weight_u"] = F.normalize(u_[:, 0] + 0.05 * randn(shape[0]), dim=0)
        state[prefix + ".weight_v"] = F.normalize(vh[0] + 0.05 * randn(matrix.shape[1]), dim=0)
        if bias:
            state[prefix + ".bias"] = randn(shape[0], std=0.1)

    def stats(prefix, channels):
        state[prefix + ".running_means"] = randn(config["n_stats"], channels, std=0.2)
        state[prefix + ".running_vars"] = torch.rand(config["n_stats"], channels, generator=gen) + 0.5

    ch, z_dim, n_stats = config["channel_width"], config["z_dim"], config["n_stats"]
    cond = 2 * z_dim
    state["embeddings.weight"] = randn(z_dim, config["num_classes"])
    spectral("generator.gen_z", (4 * 4 * 16 * ch, cond), bias=True)
    index = 0
    for i, (_, in_mult, out_mult) in enumerate(config["layers"]):
        if i == config["attention_layer_position"]:
            c = ch * in_mult
            prefix = f"generator.layers.{index}"
            for name, out, inp in (("theta", c // 8, c), ("phi", c // 8, c), ("g", c // 2, c), ("o_conv", c, c // 2)):
                spectral(f"{prefix}.snconv1x1_{name}", (out, inp, 1, 1), bias=False)
            state[prefix + ".gamma"] = randn(1)
            index += 1
        prefix = f"generator.layers.{index}"
        c_in, c_out = ch * in_mult, ch * out_mult
        mid = c_in // 4
        for k, c in enumerate((c_in, mid, mid, mid)):
            stats(f"{prefix}.bn_{k}", c)
            spectral(f"{prefix}.bn_{k}.scale", (c, cond), bias=False)
            spectral(f"{prefix}.bn_{k}.offset", (c, cond), bias=False)
        spectral(f"{prefix}.conv_0", (mid, c_in, 1, 1), bias=True)
        spectral(f"{prefix}.conv_1", (mid, mid, 3, 3), bias=True)
        spectral(f"{prefix}.conv_2", (mid, mid, 3, 3), bias=True)
        spectral(f"{prefix}.conv_3", (c_out, mid, 1, 1), bias=True)
        index += 1
    stats("generator.bn", ch)
    state["generator.bn.weight"] = 1 + randn(ch, std=0.1)
    state["generator.bn.bias"] = randn(ch, std=0.1)
    spectral("generator.conv_to_rgb", (ch, ch, 3, 3), bias=True)
    assert n_stats == config["n_stats"]
    return state


def write_biggan(folder, state=None, config=CONFIG, legacy: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    # The released files were written by torch 1.x: the legacy (non-zip) layout by default.
    torch.save(
        biggan_state() if state is None else state,
        folder / "pytorch_model.bin",
        _use_new_zipfile_serialization=not legacy,
    )
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def biggan_dir(tmp_path):
    return write_biggan(tmp_path / "biggan-deep-tiny")


@pytest.fixture
def generator(biggan_dir):
    return load_generator(biggan_dir)


def test_loads_folder_and_file(tmp_path, biggan_dir, generator):
    assert isinstance(generator, BigGANGenerator)
    assert generator.name == "biggan-deep-tiny"
    assert (generator.resolution, generator.z_dim, generator.w_dim, generator.num_layers) == (16, 8, W_DIM, NUM_LAYERS)
    assert set(generator.state_dict()) == set(biggan_state())  # identical key names
    assert isinstance(load_generator(biggan_dir / "pytorch_model.bin"), BigGANGenerator)
    zipped = load_generator(write_biggan(tmp_path / "zipped", legacy=False))
    wp = generator.map(generator.sample_z(1), class_index=1)
    assert torch.equal(zipped.synthesize(wp), generator.synthesize(wp))


def test_synthesis_shape_range_determinism(generator):
    z = generator.sample_z(3, seed=7)
    wp = generator.map(z, class_index=[0, 2, 4])
    assert wp.shape == (3, NUM_LAYERS, W_DIM)
    result = generator.synthesize(wp, return_features=True)
    assert result.image.shape == (3, 3, 16, 16)
    assert result.image.min() >= -1 and result.image.max() <= 1
    assert result.image.std() > 1e-3
    assert len(result.features) == NUM_LAYERS
    assert [f.shape[-1] for f in result.features] == [4, 4, 8, 8, 16, 16]
    again = generator.synthesize(generator.map(generator.sample_z(3, seed=7), class_index=[0, 2, 4]))
    assert torch.equal(result.image, again)


def test_first_feature_is_gen_z_in_tensorflow_order(generator):
    state = biggan_state()
    z = generator.sample_z(2, seed=1)
    wp = generator.map(z, class_index=1)
    prefix = "generator.gen_z"
    weight = spectral_normalized(
        state[prefix + ".weight_orig"], state[prefix + ".weight_u"], state[prefix + ".weight_v"]
    )
    flat = F.linear(wp[:, 0], weight, state[prefix + ".bias"])
    want = flat.reshape(2, 4, 4, -1).permute(0, 3, 1, 2)
    torch.testing.assert_close(generator.synthesize(wp, return_features=True).features[0], want)


def test_each_row_feeds_its_own_block(generator):
    wp = generator.map(generator.sample_z(2, seed=3), class_index=1)
    edited = wp.clone()
    edited[:, 2] += torch.linspace(-2, 2, W_DIM)  # row 2 = GenBlock 1
    assert edited.shape == (2, NUM_LAYERS, W_DIM)
    before = generator.synthesize(wp, return_features=True)
    after = generator.synthesize(edited, return_features=True)
    assert torch.equal(before.features[0], after.features[0])
    assert torch.equal(before.features[1], after.features[1])
    assert not torch.allclose(before.features[2], after.features[2])
    assert not torch.allclose(before.image, after.image)


def test_class_is_part_of_the_code(generator):
    z = generator.sample_z(2, seed=0)
    by_int = generator.map(z, class_index=3)
    by_list = generator.map(z, class_index=[3, 3])
    one_hot = np.zeros((2, CONFIG["num_classes"]), dtype=np.float32)
    one_hot[:, 3] = 1
    by_vector = generator.map(z, class_index=one_hot)
    assert torch.equal(by_int, by_list) and torch.equal(by_int, by_vector)
    embed = biggan_state()["embeddings.weight"][:, 3]
    torch.testing.assert_close(by_int[0, 0, CONFIG["z_dim"] :], embed)
    other = generator.map(z, class_index=4)
    assert not torch.allclose(generator.synthesize(by_int), generator.synthesize(other))
    mixed = generator.with_class(by_int, 4, rows=range(3, NUM_LAYERS))
    assert torch.equal(mixed[:, :3], by_int[:, :3]) and torch.equal(mixed[:, 3:], other[:, 3:])
    # No class given: the generator's default class (0).
    assert torch.equal(generator.map(z), generator.map(z, class_index=0))
    with pytest.raises(GeneratorError, match=r"class index 5 outside \[0, 5\)"):
        generator.map(z, class_index=5)
    with pytest.raises(GeneratorError, match=r"\[2, 5\]"):
        generator.map(z, class_index=np.zeros((2, 4), dtype=np.float32))


def test_truncation_trick(generator):
    z = generator.sample_z(200, seed=11)
    assert torch.equal(z, generator.sample_z(200, seed=11))
    assert z.abs().max() <= 2.0 and z.std() > 0.75  # truncated normal, not squashed
    wp = generator.map(z[:2], truncation_psi=0.5, class_index=0)
    torch.testing.assert_close(wp[:, :, : CONFIG["z_dim"]], 0.5 * z[:2, None].expand(2, NUM_LAYERS, -1))
    partial = generator.map(z[:2], truncation_psi=0.5, truncation_layers=2, class_index=0)
    torch.testing.assert_close(partial[:, :2], wp[:, :2])
    torch.testing.assert_close(partial[:, 2:, : CONFIG["z_dim"]], z[:2, None].expand(2, NUM_LAYERS - 2, -1))
    # psi also picks the batch-norm statistics.
    assert not torch.allclose(
        generator.synthesize(wp, truncation_psi=0.5), generator.synthesize(wp, truncation_psi=1.0)
    )
    for bad in (0.0, 1.5):
        with pytest.raises(GeneratorError, match=r"\(0, 1\]"):
            generator.map(z[:1], truncation_psi=bad)


def test_statistics_interpolation_matches_reference_rule():
    means = torch.arange(11.0)[:, None].repeat(1, 3)
    variances = means + 1
    mean, var = statistics_at(means, variances, 1.0)
    assert torch.equal(mean, means[10]) and torch.equal(var, variances[10])
    mean, _ = statistics_at(means, variances, 0.25)  # 2.5 steps: lower point weighted by the fraction
    coef, start = math.modf(0.25 / 0.1)
    torch.testing.assert_close(mean, means[int(start)] * coef + means[int(start) + 1] * (1 - coef))


def test_spectral_norm_weight_against_independent_formula(generator):
    state = biggan_state()
    prefix = "generator.conv_to_rgb"
    w = state[prefix + ".weight_orig"].double().numpy()
    u = state[prefix + ".weight_u"].double().numpy()
    v = state[prefix + ".weight_v"].double().numpy()
    sigma = u @ w.reshape(w.shape[0], -1) @ v
    ours = generator.generator.conv_to_rgb.weight().double().numpy()
    np.testing.assert_allclose(ours, w / sigma, rtol=1e-5)

    # With the exact top singular vectors, the normalized weight has spectral norm 1.
    matrix = torch.randn(6, 10, dtype=torch.float64)
    left, _, right = torch.linalg.svd(matrix)
    normalized = spectral_normalized(matrix, left[:, 0], right[0])
    assert abs(torch.linalg.matrix_norm(normalized, ord=2).item() - 1.0) < 1e-9


def test_gradients_flow_to_the_code(generator):
    wp = generator.map(generator.sample_z(1), class_index=2).requires_grad_(True)
    generator.synthesize(wp).mean().backward()
    assert wp.grad is not None and (wp.grad.abs().sum(dim=2) > 0).all()


@pytest.mark.slow
def test_own_format_round_trip(tmp_path, generator):
    saved = save_generator(generator, tmp_path / "biggan.safetensors")
    again = load_generator(saved)
    assert again.config == generator.config
    wp = generator.map(generator.sample_z(2), class_index=[1, 2])
    assert torch.equal(generator.synthesize(wp, truncation_psi=0.4), again.synthesize(wp, truncation_psi=0.4))


def test_missing_config_json(tmp_path):
    folder = write_biggan(tmp_path / "noconfig", config=None)
    with pytest.raises(CheckpointError, match="no config.json beside it"):
        load_generator(folder)


def test_bad_config_json(tmp_path):
    folder = write_biggan(tmp_path / "badjson")
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="config.json: not a readable JSON"):
        load_generator(folder)
    (folder / "config.json").write_text(json.dumps({**CONFIG, "output_dim": 32}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="output_dim is 32"):
        load_generator(folder)


def test_missing_key_is_named(tmp_path):
    state = biggan_state()
    del state["generator.layers.3.bn_1.scale.weight_v"]
    with pytest.raises(
        CheckpointError, match=r"missing key 'generator.layers.3.bn_1.scale.weight_v' \(expected shape \[16\]\)"
    ):
        load_generator(write_biggan(tmp_path / "missing", state))


def test_misshaped_key_is_named(tmp_path):
    state = biggan_state()
    state["embeddings.weight"] = torch.zeros(8, 7)
    with pytest.raises(CheckpointError, match=r"'embeddings.weight' has shape \[8, 7\], expected \[8, 5\]"):
        load_generator(write_biggan(tmp_path / "misshaped", state))
