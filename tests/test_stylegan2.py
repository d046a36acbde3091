"""StyleGAN2: our module, and the genforce / NVIDIA / rosinality checkpoint layouts.

Each format test writes a tiny checkpoint in that repository's exact key layout with random
weights, loads it through ``load_generator`` and compares our image with an independent
forward pass written here from that repository's own formulas (its gains, modulation,
demodulation, resampling). Sizes: 16 px, 32-dim latents, <= 32 channels.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sceneedit.generators import CheckpointError, load_generator, save_generator
from sceneedit.generators.stylegan2 import StyleGAN2Generator, num_layers_for

RES = 16
Z_DIM = W_DIM = 32
MAPPING_LAYERS = 2
FMAPS_BASE, FMAPS_MAX = 256, 32  # channels: 4 px 32, 8 px 32, 16 px 16
RESOLUTIONS = [4, 8, 16]
LR_MUL = 0.01
SQRT2 = math.sqrt(2.0)
TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These networks are tiny: one thread avoids thread start-up and contention costs."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def channels(res: int) -> int:
    return min(FMAPS_BASE // res, FMAPS_MAX)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2


def assert_close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    assert ours.shape == reference.shape
    scale = max(1.0, float(reference.abs().max()))
    diff = float((ours - reference).abs().max())
    assert diff <= TOL * scale, f"max abs difference {diff} (reference magnitude {scale})"


def upfirdn2d_ref(
    x: torch.Tensor, f: torch.Tensor, up: int, pad: tuple[int, int, int, int], gain: float
) -> torch.Tensor:
    """NVIDIA's ``_upfirdn2d_ref``: zero-insert upsample, pad (x0, x1, y0, y1), convolve with ``f * gain``."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, list(pad))
    f = (f * gain ** (f.ndim / 2)).flip(list(range(f.ndim)))  # convolution, not correlation
    return F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)


def check_images(generator, seeds=(0, 1)) -> torch.Tensor:
    """Shape, range and determinism of ``generator``'s images; returns them."""
    z = generator.sample_z_for_seeds(list(seeds))
    wp = generator.map(z)
    assert wp.shape == (len(seeds), generator.num_layers, generator.w_dim)
    result = generator.synthesize(wp, return_features=True)
    image = result.image
    assert image.shape == (len(seeds), 3, RES, RES)
    assert torch.isfinite(image).all()
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert image.std() > 0
    assert [tuple(f.shape[1:]) for f in result.features] == [(channels(r), r, r) for r in RESOLUTIONS]
    again = generator.synthesize(generator.map(generator.sample_z_for_seeds(list(seeds))))
    assert torch.equal(image, again)
    # A sample alone (the fused, grouped-conv path) renders as it does within a batch.
    alone = generator.synthesize(wp[:1])
    assert float((alone - image[:1]).abs().max()) <= TOL
    return image


# ----- genforce / HiGAN layout -----------------------------------------------------------------
def genforce_fir() -> torch.Tensor:
    """genforce's ``UpsamplingLayer`` kernel: outer([1,3,3,1]) / sum * 2**2, flipped, [1, 1, 4, 4]."""
    k = np.array([1, 3, 3, 1], dtype=np.float32)
    k = np.outer(k, k)
    k = k / k.sum() * 4
    return torch.from_numpy(k[::-1, ::-1].copy()).view(1, 1, 4, 4)


def genforce_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under genforce's StyleGAN2 key names (``StyleGAN2GeneratorNet``)."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return torch.randn(shape, generator=g) * scale

    state: dict[str, torch.Tensor] = {}
    for i in range(MAPPING_LAYERS):
        state[f"mapping.dense{i}.fc.weight"] = randn(W_DIM, Z_DIM if i == 0 else W_DIM, scale=1 / LR_MUL)
        state[f"mapping.dense{i}.bias"] = randn(W_DIM, scale=10.0)
    state["truncation.w_avg"] = randn(W_DIM, scale=0.5)
    state["synthesis.early_layer.const"] = randn(1, channels(4), 4, 4)

    def modconv(name, res, cin, cout, k, noise, up):
        state[f"{name}.weight"] = randn(k, k, cin, cout)
        state[f"{name}.bias"] = randn(cout, scale=0.2)
        state[f"{name}.style.fc.weight"] = randn(cin, W_DIM)
        state[f"{name}.style.bias"] = randn(cin, scale=0.2)
        if noise:
            state[f"{name}.noise_strength"] = randn(scale=0.3)
            state[f"{name}.noise"] = randn(1, 1, res, res)
        if up:
            state[f"{name}.filter.kernel"] = genforce_fir()

    for b, res in enumerate(RESOLUTIONS):
        if b > 0:
            modconv(f"synthesis.layer{2 * b - 1}", res, channels(res // 2), channels(res), 3, True, True)
        modconv(f"synthesis.layer{2 * b}", res, channels(res), channels(res), 3, True, False)
        modconv(f"synthesis.output{b}", res, channels(res), 3, 1, False, False)
    state["synthesis.upsample.kernel"] = genforce_fir()
    return state


def genforce_reference(state, z, psi=0.5) -> torch.Tensor:
    """mganprior/HiGAN ``StyleGAN2GeneratorNet`` forward, non-fused modulation path."""
    x = z / torch.sqrt((z**2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(MAPPING_LAYERS):
        w = state[f"mapping.dense{i}.fc.weight"]
        x = lrelu(x @ w.t() / math.sqrt(w.shape[1]) * LR_MUL + state[f"mapping.dense{i}.bias"] * LR_MUL)
    num_layers = 2 * len(RESOLUTIONS)
    wp = x[:, None].repeat(1, num_layers, 1)
    w_avg = state["truncation.w_avg"].view(1, 1, -1)
    wp = w_avg + (wp - w_avg) * psi

    def modconv(name, x, w, up=False, demodulate=True, noise=True, act=True):
        weight = state[f"{name}.weight"]
        k, _, cin, cout = weight.shape
        weight = weight / math.sqrt(cin * k * k)
        style = w @ state[f"{name}.style.fc.weight"].t() / math.sqrt(W_DIM) + state[f"{name}.style.bias"] + 1.0
        modulated = weight.view(1, k, k, cin, cout) * style.view(-1, 1, 1, cin, 1)
        norm = torch.sqrt(torch.sum(modulated**2, dim=[1, 2, 3]) + 1e-8)
        x = x * style.view(-1, cin, 1, 1)
        if up:
            x = F.conv_transpose2d(x, weight.flip(0, 1).permute(2, 3, 0, 1), stride=2)
            n, c = x.shape[:2]
            x = F.conv2d(F.pad(x.view(-1, 1, *x.shape[2:]), (1, 1, 1, 1)), state[f"{name}.filter.kernel"])
            x = x.view(n, c, *x.shape[2:])
        else:
            x = F.conv2d(x, weight.permute(3, 2, 0, 1), padding=k // 2)
        if demodulate:
            x = x / norm.view(-1, cout, 1, 1)
        if noise:
            x = x + state[f"{name}.noise"] * state[f"{name}.noise_strength"]
        x = x + state[f"{name}.bias"].view(1, -1, 1, 1)
        return lrelu(x) if act else x

    def upsample(image):
        n, c, h, w = image.shape
        image = F.pad(image.view(-1, c, h, 1, w, 1), (0, 1, 0, 0, 0, 1)).view(-1, 1, 2 * h, 2 * w)
        image = F.conv2d(F.pad(image, (2, 1, 2, 1)), state["synthesis.upsample.kernel"])
        return image.view(n, c, 2 * h, 2 * w)

    x = state["synthesis.early_layer.const"].repeat(z.shape[0], 1, 1, 1)
    image = None
    for layer in range(num_layers - 1):
        x = modconv(f"synthesis.layer{layer}", x, wp[:, layer], up=layer % 2 == 1)
        if layer % 2 == 0:
            rgb = modconv(
                f"synthesis.output{layer // 2}", x, wp[:, layer + 1], demodulate=False, noise=False, act=False
            )
            image = rgb if image is None else rgb + upsample(image)
    return image


def test_genforce_pth_loads_and_matches_reference(tmp_path):
    state = genforce_state()
    path = tmp_path / "stylegan2_tiny16_generator.pth"
    torch.save(state, path)
    generator = load_generator(path)
    assert isinstance(generator, StyleGAN2Generator)
    assert generator.checkpoint_metadata["format"] == "genforce-stylegan2"
    assert (generator.resolution, generator.z_dim, generator.w_dim, generator.num_layers) == (RES, Z_DIM, W_DIM, 6)
    assert generator.config["fmaps_base"] == FMAPS_BASE and generator.config["fmaps_max"] == FMAPS_MAX
    assert generator.config["mapping_layers"] == MAPPING_LAYERS
    # genforce/HiGAN defaults: psi 0.5 on all layers.
    assert generator.truncation_psi == 0.5 and generator.truncation_layers == generator.num_layers
    check_images(generator)

    z = generator.sample_z(3, seed=7)
    with torch.no_grad():
        ours = generator.synthesize_raw(generator.map(z))
        reference = genforce_reference(state, z)
    assert_close(ours, reference)


def test_genforce_wrapped_checkpoint_prefers_the_smoothed_generator(tmp_path):
    smooth, raw = genforce_state(seed=1), genforce_state(seed=2)
    raw["truncation.truncation"] = torch.ones(1, 6, 1)  # genforce keeps this derived buffer
    path = tmp_path / "checkpoint.pth"
    torch.save({"generator": raw, "generator_smooth": smooth, "discriminator": {}}, path)
    generator = load_generator(path)
    assert torch.equal(generator.synthesis.early_layer.const, smooth["synthesis.early_layer.const"])


# ----- NVIDIA stylegan2-ada-pytorch / stylegan3 .pkl -------------------------------------------
def nvidia_filter() -> torch.Tensor:
    """``upfirdn2d.setup_filter([1, 3, 3, 1])``: the outer product normalized to sum 1."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(f, f)
    return f / f.sum()


def nvidia_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random ``G_ema.state_dict()`` of NVIDIA's StyleGAN2 ``Generator`` (training/networks.py)."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return torch.randn(shape, generator=g) * scale

    state: dict[str, torch.Tensor] = {}
    for i in range(MAPPING_LAYERS):
        state[f"mapping.fc{i}.weight"] = randn(W_DIM, Z_DIM if i == 0 else W_DIM, scale=1 / LR_MUL)
        state[f"mapping.fc{i}.bias"] = randn(W_DIM, scale=10.0)
    state["mapping.w_avg"] = randn(W_DIM, scale=0.5)

    def layer(name, res, cin, cout, k=3, torgb=False):
        state[f"{name}.weight"] = randn(cout, cin, k, k)
        state[f"{name}.bias"] = randn(cout, scale=0.2)
        state[f"{name}.affine.weight"] = randn(cin, W_DIM)
        state[f"{name}.affine.bias"] = 1.0 + randn(cin, scale=0.2)  # bias_init=1
        if not torgb:
            state[f"{name}.resample_filter"] = nvidia_filter()
            state[f"{name}.noise_const"] = randn(res, res)
            state[f"{name}.noise_strength"] = randn(scale=0.3)

    for res in RESOLUTIONS:
        block = f"synthesis.b{res}"
        state[f"{block}.resample_filter"] = nvidia_filter()
        if res == 4:
            state[f"{block}.const"] = randn(channels(4), 4, 4)
        else:
            layer(f"{block}.conv0", res, channels(res // 2), channels(res))
        layer(f"{block}.conv1", res, channels(res), channels(res))
        layer(f"{block}.torgb", res, channels(res), 3, k=1, torgb=True)
    # Weights so small that demodulation's epsilon (1e-8) matters: the image then depends
    # on the weight's exact scale, which NVIDIA and genforce store differently.
    state["synthesis.b8.conv1.weight"] *= 1e-5
    return state


def nvidia_reference(state, z, psi=1.0, conv_clamp=None) -> torch.Tensor:
    """NVIDIA's StyleGAN2 forward (noise_mode='const'), modulated conv in its non-fused form,
    the up-sampling conv through conv2d_resample's generic path (upfirdn2d, then a true conv)."""

    def fc(x, name, lr=1.0, act="linear"):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        x = x @ (w * (lr / np.sqrt(w.shape[1]))).t() + b * lr
        return lrelu(x) if act == "lrelu" else x

    x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    for i in range(MAPPING_LAYERS):
        x = fc(x, f"mapping.fc{i}", lr=LR_MUL, act="lrelu")
    num_ws = 2 * len(RESOLUTIONS)
    ws = x.unsqueeze(1).repeat([1, num_ws, 1])
    if psi != 1:
        ws = state["mapping.w_avg"].lerp(ws, psi)

    def modulated_conv2d(x, weight, styles, demodulate=True, up=1, f=None, padding=0):
        n = x.shape[0]
        w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        x = x * styles.reshape(n, -1, 1, 1)
        if up > 1:
            fw = f.shape[-1]
            px0, px1 = padding + (fw + up - 1) // 2, padding + (fw - up) // 2
            x = upfirdn2d_ref(x, f, up=up, pad=(px0, px1, px0, px1), gain=up**2)
            x = F.conv2d(x, weight.flip([2, 3]))  # flip_weight=False: a true convolution
        else:
            x = F.conv2d(x, weight, padding=padding)
        if demodulate:
            x = x * dcoefs.reshape(n, -1, 1, 1)
        return x

    def bias_act(x, b, act, clamp):
        x = x + b.reshape(1, -1, 1, 1)
        if act == "lrelu":
            x = lrelu(x)
        return x.clamp(-clamp, clamp) if clamp is not None else x

    def synthesis_layer(x, w, name, up):
        styles = fc(w, f"{name}.affine")
        x = modulated_conv2d(x, state[f"{name}.weight"], styles, up=up, f=state[f"{name}.resample_filter"], padding=1)
        x = x + state[f"{name}.noise_const"] * state[f"{name}.noise_strength"]
        return bias_act(x, state[f"{name}.bias"], "lrelu", conv_clamp)

    def torgb(x, w, name):
        weight = state[f"{name}.weight"]
        styles = fc(w, f"{name}.affine") * (1 / np.sqrt(weight.shape[1] * weight.shape[2] * weight.shape[3]))
        x = modulated_conv2d(x, weight, styles, demodulate=False)
        return bias_act(x, state[f"{name}.bias"], "linear", conv_clamp)

    x = img = None
    w_idx = 0
    for res in RESOLUTIONS:
        block = f"synthesis.b{res}"
        num_conv = 1 if res == 4 else 2
        cur = ws.narrow(1, w_idx, num_conv + 1)
        w_idx += num_conv
        if res == 4:
            x = state[f"{block}.const"].unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = synthesis_layer(x, cur[:, 0], f"{block}.conv1", up=1)
        else:
            x = synthesis_layer(x, cur[:, 0], f"{block}.conv0", up=2)
            x = synthesis_layer(x, cur[:, 1], f"{block}.conv1", up=1)
        if img is not None:
            img = upfirdn2d_ref(img, state[f"{block}.resample_filter"], up=2, pad=(2, 1, 2, 1), gain=4)
        y = torgb(x, cur[:, num_conv], f"{block}.torgb")
        img = img + y if img is not None else y
    return img


@contextlib.contextmanager
def fake_nvidia_modules():
    """Stand-ins for ``torch_utils.persistence`` and ``dnnlib.util`` while *writing* a pickle.

    Pickle records functions and classes by module and name; these fakes make it write the
    very globals NVIDIA's files hold. They are removed again before anything is loaded.
    """
    names = ["torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"]
    saved = {name: sys.modules.get(name) for name in names}
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # never called: we only write
        raise AssertionError("the test's fake persistence module must not be used for loading")

    _reconstruct_persistent_obj.__module__ = persistence.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = util.__name__, "EasyDict"
    util.EasyDict = EasyDict
    package, dnnlib = types.ModuleType("torch_utils"), types.ModuleType("dnnlib")
    package.persistence, dnnlib.util = persistence, util
    sys.modules.update(
        {"torch_utils": package, "torch_utils.persistence": persistence, "dnnlib": dnnlib, "dnnlib.util": util}
    )
    try:
        yield persistence, util
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class PersistentNetwork:
    """Pickles exactly as NVIDIA's ``persistent_class`` wrapper: ``_reconstruct_persistent_obj(meta)``."""

    def __init__(self, persistence, class_name: str, state: dict, module_src: str) -> None:
        self.persistence, self.class_name, self.state, self.module_src = persistence, class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name, state=self.state)
        return (self.persistence._reconstruct_persistent_obj, (meta,))


NVIDIA_BUFFERS = {"w_avg", "resample_filter", "noise_const"}


def nvidia_class_name(path: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if path == "":
        return "Generator"
    if path == "mapping":
        return "MappingNetwork"
    if path == "synthesis":
        return "SynthesisNetwork"
    if last.startswith("fc") or last in ("affine", "embed"):
        return "FullyConnectedLayer"
    if last.startswith("b") and last[1:].isdigit():
        return "SynthesisBlock"
    if last == "torgb":
        return "ToRGBLayer"
    if last == "input":
        return "SynthesisInput"
    return "SynthesisLayer"


def nvidia_object_tree(flat, persistence, util, module_src, conv_clamp=None, lr_mul=LR_MUL, path=""):
    """The persistent-object tree of ``G_ema`` whose tensors are ``flat`` (a state dict)."""
    prefix = path + "." if path else ""
    params, buffers, children = OrderedDict(), OrderedDict(), OrderedDict()
    for key, tensor in flat.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if "." in rest:
            children.setdefault(rest.split(".", 1)[0], None)
        elif rest in NVIDIA_BUFFERS:
            buffers[rest] = tensor.clone()
        else:
            params[rest] = torch.nn.Parameter(tensor.clone(), requires_grad=False)
    class_name = nvidia_class_name(path)
    modules = OrderedDict(
        (name, nvidia_object_tree(flat, persistence, util, module_src, conv_clamp, lr_mul, prefix + name))
        for name in children
    )
    state = dict(
        training=False,
        _parameters=params,
        _buffers=buffers,
        _non_persistent_buffers_set=set(),
        _backward_hooks=OrderedDict(),
        _forward_hooks=OrderedDict(),
        _forward_pre_hooks=OrderedDict(),
        _state_dict_hooks=OrderedDict(),
        _load_state_dict_pre_hooks=OrderedDict(),
        _modules=modules,
        _init_args=(),
    )
    if class_name == "FullyConnectedLayer":
        gain = lr_mul if path.startswith("mapping") else 1.0
        in_features = flat[prefix + "weight"].shape[1] if prefix + "weight" in flat else W_DIM
        state.update(
            activation="lrelu" if path.startswith("mapping") else "linear",
            weight_gain=np.float64(gain / np.sqrt(in_features)),
            bias_gain=gain,
        )
    elif class_name == "SynthesisLayer" and prefix + "noise_const" in flat:
        state.update(
            resolution=flat[prefix + "noise_const"].shape[0],
            up=2 if path.endswith("conv0") else 1,
            use_noise=True,
            activation="lrelu",
            conv_clamp=conv_clamp,
            padding=1,
            act_gain=np.float64(np.sqrt(2)),
        )
    elif class_name == "ToRGBLayer":
        state.update(conv_clamp=conv_clamp, weight_gain=np.float64(1 / np.sqrt(flat[prefix + "weight"].shape[1])))
    elif class_name == "SynthesisBlock":
        state.update(
            architecture="skip",
            use_fp16=False,
            in_channels=0 if path.endswith("b4") else 1,
            block_shape=np.array([3, 4], dtype=np.int64),
        )
    elif class_name == "Generator":
        state.update(
            z_dim=Z_DIM,
            c_dim=0,
            w_dim=W_DIM,
            img_resolution=RES,
            img_channels=3,
            _init_kwargs=dict(
                z_dim=Z_DIM,
                c_dim=0,
                w_dim=W_DIM,
                img_resolution=RES,
                img_channels=3,
                mapping_kwargs=util.EasyDict(num_layers=MAPPING_LAYERS),
                synthesis_kwargs=util.EasyDict(channel_base=FMAPS_BASE, channel_max=FMAPS_MAX, conv_clamp=conv_clamp),
            ),
        )
    return PersistentNetwork(persistence, class_name, state, module_src)


#: A module source that would leave a marker file if anything ever executed it.
def marker_source(marker: Path) -> str:
    return (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('the pickled module source was executed')\n"
        "class Generator: pass\n"
    )


def write_nvidia_pickle(path: Path, flat, module_src: str, conv_clamp=None, extra=None) -> None:
    with fake_nvidia_modules() as (persistence, util):
        g_ema = nvidia_object_tree(flat, persistence, util, module_src, conv_clamp)
        data = dict(
            G=None,
            D=None,
            G_ema=g_ema,
            augment_pipe=None,
            training_set_kwargs=util.EasyDict(resolution=RES, path="church.zip"),
        )
        data.update(extra or {})
        with path.open("wb") as handle:
            pickle.dump(data, handle)
    assert "torch_utils.persistence" not in sys.modules


def test_nvidia_pickle_loads_without_running_code_and_matches_reference(tmp_path):
    flat = nvidia_state()
    marker = tmp_path / "executed.txt"
    path = tmp_path / "network-snapshot-000100.pkl"
    write_nvidia_pickle(path, flat, marker_source(marker), conv_clamp=1.5)
    raw = path.read_bytes()
    assert b"torch_utils.persistence" in raw and b"_reconstruct_persistent_obj" in raw and b"_load_from_bytes" in raw

    generator = load_generator(path)
    assert not marker.exists()
    assert generator.checkpoint_metadata["format"] == "nvidia-stylegan2-pkl"
    assert (generator.resolution, generator.num_layers, generator.config["conv_clamp"]) == (RES, 6, 1.5)
    assert generator.config["mapping_lr_mul"] == pytest.approx(LR_MUL)
    assert generator.truncation_psi == 1.0  # NVIDIA's generate.py default
    check_images(generator)

    z = generator.sample_z(3, seed=3)
    with torch.no_grad():
        for psi in (1.0, 0.7):
            ours = generator.synthesize_raw(generator.map(z, truncation_psi=psi))
            assert_close(ours, nvidia_reference(flat, z, psi=psi, conv_clamp=1.5))
    assert not marker.exists()


def test_nvidia_state_dict_gives_the_same_generator(tmp_path):
    flat = nvidia_state(seed=4)
    pkl, pt = tmp_path / "g.pkl", tmp_path / "g_ema.pt"
    write_nvidia_pickle(pkl, flat, "class Generator: pass\n")
    torch.save(flat, pt)
    from_pickle, from_state = load_generator(pkl), load_generator(pt)
    assert from_state.checkpoint_metadata["format"] == "nvidia-stylegan2-state-dict"
    wp = from_pickle.map(from_pickle.sample_z(2, seed=0))
    assert torch.equal(from_pickle.synthesize(wp), from_state.synthesize(wp))


def test_malicious_pickle_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "pwned.txt"

    class RunsAShellCommand:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    write_nvidia_pickle(path, nvidia_state(), marker_source(marker), extra={"augment_pipe": RunsAShellCommand()})
    with pytest.raises(CheckpointError, match=r"refused global \w+\.system"):
        load_generator(path)
    assert not marker.exists()

    for target in (eval, exec):

        class CallsABuiltin:
            def __reduce__(self, target=target):
                return (target, (f"open({str(marker)!r}, 'w')",))

        evil = tmp_path / f"{target.__name__}.pkl"
        evil.write_bytes(pickle.dumps({"G_ema": CallsABuiltin()}))
        with pytest.raises(CheckpointError, match=f"refused global builtins.{target.__name__}"):
            load_generator(evil)
        assert not marker.exists()


def test_nvidia_pickle_errors_name_the_key(tmp_path):
    flat = nvidia_state()
    missing = {k: v for k, v in flat.items() if k != "synthesis.b8.conv0.affine.weight"}
    path = tmp_path / "missing.pkl"
    write_nvidia_pickle(path, missing, "")
    with pytest.raises(CheckpointError, match=r"missing\.pkl: missing key 'synthesis\.b8\.conv0\.affine\.weight'"):
        load_generator(path)

    misshaped = dict(flat)
    misshaped["synthesis.b16.conv1.affine.weight"] = torch.zeros(channels(16) + 1, W_DIM)
    path = tmp_path / "misshaped.pkl"
    write_nvidia_pickle(path, misshaped, "")
    with pytest.raises(CheckpointError, match=r"key 'synthesis\.b16\.conv1\.affine\.weight' has shape \[17, 32\]"):
        load_generator(path)

    resnet = dict(flat)
    resnet["synthesis.b8.skip.weight"] = torch.zeros(channels(8), channels(4), 1, 1)
    path = tmp_path / "resnet.pt"
    torch.save(resnet, path)
    with pytest.raises(CheckpointError, match=r"unexpected key 'synthesis\.b8\.skip\.weight'.*'skip'"):
        load_generator(path)

    conditional = dict(flat)
    conditional["mapping.embed.weight"] = torch.zeros(W_DIM, 10)
    path = tmp_path / "conditional.pt"
    torch.save(conditional, path)
    with pytest.raises(CheckpointError, match="mapping.embed.weight'.*class-conditional"):
        load_generator(path)


# ----- rosinality stylegan2-pytorch .pt --------------------------------------------------------
def rosinality_kernel() -> torch.Tensor:
    """rosinality's ``make_kernel([1, 3, 3, 1]) * factor**2`` (Blur / Upsample buffers)."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = k[None, :] * k[:, None]
    return k / k.sum() * 4


def rosinality_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random ``g_ema.state_dict()`` of rosinality's ``Generator`` (model.py)."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return torch.randn(shape, generator=g) * scale

    state: dict[str, torch.Tensor] = {}
    for j in range(1, MAPPING_LAYERS + 1):
        state[f"style.{j}.weight"] = randn(W_DIM, W_DIM, scale=1 / LR_MUL)
        state[f"style.{j}.bias"] = randn(W_DIM, scale=10.0)
    state["input.input"] = randn(1, channels(4), 4, 4)

    def styled_conv(name, cin, cout, up):
        state[f"{name}.conv.weight"] = randn(1, cout, cin, 3, 3)
        state[f"{name}.conv.modulation.weight"] = randn(cin, W_DIM)
        state[f"{name}.conv.modulation.bias"] = 1.0 + randn(cin, scale=0.2)
        if up:
            state[f"{name}.conv.blur.kernel"] = rosinality_kernel()
        state[f"{name}.noise.weight"] = randn(1, scale=0.3)
        state[f"{name}.activate.bias"] = randn(cout, scale=0.2)

    def to_rgb(name, cin, up):
        if up:
            state[f"{name}.upsample.kernel"] = rosinality_kernel()
        state[f"{name}.conv.weight"] = randn(1, 3, cin, 1, 1)
        state[f"{name}.conv.modulation.weight"] = randn(cin, W_DIM)
        state[f"{name}.conv.modulation.bias"] = 1.0 + randn(cin, scale=0.2)
        state[f"{name}.bias"] = randn(1, 3, 1, 1, scale=0.2)

    styled_conv("conv1", channels(4), channels(4), up=False)
    to_rgb("to_rgb1", channels(4), up=False)
    for i, res in enumerate(RESOLUTIONS[1:]):
        styled_conv(f"convs.{2 * i}", channels(res // 2), channels(res), up=True)
        styled_conv(f"convs.{2 * i + 1}", channels(res), channels(res), up=False)
        to_rgb(f"to_rgbs.{i}", channels(res), up=True)
    for k in range(2 * len(RESOLUTIONS) - 1):
        res = 2 ** ((k + 5) // 2)
        state[f"noises.noise_{k}"] = randn(1, 1, res, res)
    return state


def rosinality_reference(state, z, truncation=1.0, truncation_latent=None) -> torch.Tensor:
    """rosinality's ``Generator.forward(randomize_noise=False)``, fused modulated conv as in model.py."""

    def equal_linear(x, name, lr_mul=1.0, activation=False):
        weight, bias = state[f"{name}.weight"], state[f"{name}.bias"]
        scale = (1 / math.sqrt(weight.shape[1])) * lr_mul
        if activation:
            return F.leaky_relu(F.linear(x, weight * scale) + bias * lr_mul, 0.2) * 2**0.5
        return F.linear(x, weight * scale, bias=bias * lr_mul)

    def upfirdn2d_native(x, kernel, up, pad):
        n, c, h, w = x.shape
        out = x.reshape(-1, h, 1, w, 1, 1)
        out = F.pad(out, [0, 0, 0, up - 1, 0, 0, 0, up - 1]).view(-1, h * up, w * up, 1)
        out = F.pad(out, [0, 0, pad[0], pad[1], pad[0], pad[1]])
        out = out.permute(0, 3, 1, 2).reshape(-1, 1, out.shape[1], out.shape[2])
        out = F.conv2d(out, torch.flip(kernel, [0, 1]).view(1, 1, *kernel.shape))
        return out.view(n, c, out.shape[2], out.shape[3])

    def modulated_conv(x, s, name, demodulate=True, upsample=False):
        batch, in_channel, height, width = x.shape
        weight = state[f"{name}.weight"]
        out_channel, k = weight.shape[1], weight.shape[-1]
        style = equal_linear(s, f"{name}.modulation").view(batch, 1, in_channel, 1, 1)
        weight = (1 / math.sqrt(in_channel * k * k)) * weight * style
        if demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(batch, out_channel, 1, 1, 1)
        weight = weight.view(batch * out_channel, in_channel, k, k)
        x = x.view(1, batch * in_channel, height, width)
        if upsample:
            weight = weight.view(batch, out_channel, in_channel, k, k).transpose(1, 2)
            weight = weight.reshape(batch * in_channel, out_channel, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            out = out.view(batch, out_channel, out.shape[2], out.shape[3])
            return upfirdn2d_native(out, state[f"{name}.blur.kernel"], up=1, pad=(1, 1))
        out = F.conv2d(x, weight, padding=k // 2, groups=batch)
        return out.view(batch, out_channel, height, width)

    def styled_conv(x, s, name, noise, upsample=False):
        out = modulated_conv(x, s, f"{name}.conv", upsample=upsample)
        out = out + state[f"{name}.noise.weight"] * noise
        return F.leaky_relu(out + state[f"{name}.activate.bias"].view(1, -1, 1, 1), 0.2) * 2**0.5

    def to_rgb(x, s, name, skip=None):
        out = modulated_conv(x, s, f"{name}.conv", demodulate=False) + state[f"{name}.bias"]
        if skip is not None:
            out = out + upfirdn2d_native(skip, state[f"{name}.upsample.kernel"], up=2, pad=(2, 1))
        return out

    style = z * torch.rsqrt(torch.mean(z**2, dim=1, keepdim=True) + 1e-8)
    for j in range(1, MAPPING_LAYERS + 1):
        style = equal_linear(style, f"style.{j}", lr_mul=LR_MUL, activation=True)
    if truncation < 1:
        style = truncation_latent + truncation * (style - truncation_latent)
    n_latent = 2 * len(RESOLUTIONS)
    latent = style.unsqueeze(1).repeat(1, n_latent, 1)
    noise = [state[f"noises.noise_{k}"] for k in range(n_latent - 1)]
    out = state["input.input"].repeat(z.shape[0], 1, 1, 1)
    out = styled_conv(out, latent[:, 0], "conv1", noise[0])
    skip = to_rgb(out, latent[:, 1], "to_rgb1")
    i = 1
    for b in range(len(RESOLUTIONS) - 1):
        out = styled_conv(out, latent[:, i], f"convs.{2 * b}", noise[i], upsample=True)
        out = styled_conv(out, latent[:, i + 1], f"convs.{2 * b + 1}", noise[i + 1])
        skip = to_rgb(out, latent[:, i + 2], f"to_rgbs.{b}", skip)
        i += 2
    return skip


def test_rosinality_checkpoint_loads_and_matches_reference(tmp_path):
    state = rosinality_state()
    latent_avg = torch.randn(W_DIM, generator=torch.Generator().manual_seed(9))
    path = tmp_path / "stylegan2-church-config-f.pt"
    torch.save({"g_ema": state, "latent_avg": latent_avg}, path)
    generator = load_generator(path)
    assert generator.checkpoint_metadata["format"] == "rosinality-stylegan2"
    assert (generator.resolution, generator.num_layers) == (RES, 6)
    assert torch.equal(generator.w_avg, latent_avg)
    assert generator.truncation_psi == 1.0  # rosinality's generate.py default
    check_images(generator)

    z = generator.sample_z(3, seed=5)
    with torch.no_grad():
        assert_close(generator.synthesize_raw(generator.map(z)), rosinality_reference(state, z))
        ours = generator.synthesize_raw(generator.map(z, truncation_psi=0.6))
        assert_close(ours, rosinality_reference(state, z, truncation=0.6, truncation_latent=latent_avg))


def test_rosinality_training_checkpoint_with_args_and_no_latent_avg(tmp_path):
    state = rosinality_state(seed=3)
    args = argparse.Namespace(size=RES, n_mlp=MAPPING_LAYERS, latent=W_DIM, lr_mlp=LR_MUL, channel_multiplier=2)
    path = tmp_path / "550000.pt"
    torch.save(
        {
            "g": state,
            "d": {"convs.0.0.weight": torch.zeros(1)},
            "g_ema": state,
            "g_optim": {"state": {}, "param_groups": []},
            "args": args,
        },
        path,
    )
    generator = load_generator(path)
    # No latent_avg in the file: estimated like rosinality's mean_latent(4096).
    assert generator.w_avg.abs().sum() > 0
    with torch.no_grad():
        z = torch.randn(4096, Z_DIM, generator=torch.Generator().manual_seed(123))
        w = generator.map_w(z)
        # Two independent 4096-sample means: within 6 standard errors of each other.
        assert ((generator.w_avg - w.mean(dim=0)).abs() <= 6 * w.std(dim=0) * math.sqrt(2 / 4096)).all()
    z = generator.sample_z(2, seed=1)
    with torch.no_grad():
        assert_close(generator.synthesize_raw(generator.map(z)), rosinality_reference(state, z))


def test_rosinality_errors_name_the_key(tmp_path):
    state = rosinality_state()
    state["convs.1.conv.weight"] = torch.zeros(1, channels(8), channels(8), 3, 2)
    path = tmp_path / "bad.pt"
    torch.save({"g_ema": state}, path)
    with pytest.raises(
        CheckpointError,
        match=r"bad\.pt: key 'convs\.1\.conv\.weight' has shape \[1, 32, 32, 3, 2\]; "
        r"as 'synthesis\.layer2\.weight' that is \[3, 2, 32, 32\], expected \[3, 3, 32, 32\]",
    ):
        load_generator(path)

    state = rosinality_state()
    del state["noises.noise_3"]
    torch.save({"g_ema": state}, path)
    with pytest.raises(CheckpointError, match=r"missing key 'noises\.noise_3'"):
        load_generator(path)


# ----- our own module and format --------------------------------------------------------------
def test_genforce_errors_name_the_key(tmp_path):
    state = genforce_state()
    del state["synthesis.layer3.noise"]
    path = tmp_path / "missing.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"missing\.pth: missing key 'synthesis\.layer3\.noise'"):
        load_generator(path)

    state = genforce_state()
    state["synthesis.layer1.style.fc.weight"] = torch.zeros(5, W_DIM)
    torch.save(state, path)
    with pytest.raises(
        CheckpointError, match=r"key 'synthesis\.layer1\.style\.fc\.weight' has shape \[5, 32\], expected \[32, 32\]"
    ):
        load_generator(path)

    state = genforce_state()
    state["synthesis.skip_layer0.weight"] = torch.zeros(1, 1, 32, 32)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"unexpected key 'synthesis\.skip_layer0\.weight'"):
        load_generator(path)


def test_own_format_round_trips_and_gradients_reach_the_codes(tmp_path):
    torch.manual_seed(0)
    generator = StyleGAN2Generator(
        resolution=RES,
        z_dim=Z_DIM,
        w_dim=W_DIM,
        mapping_layers=MAPPING_LAYERS,
        fmaps_base=FMAPS_BASE,
        fmaps_max=FMAPS_MAX,
        name="tiny",
    )
    path = save_generator(generator, tmp_path / "tiny.safetensors", dataset="none")
    loaded = load_generator(path)
    assert loaded.config == generator.config
    for key, value in generator.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    wp = generator.map(generator.sample_z(2, seed=0)).detach().requires_grad_(True)
    loaded.synthesize(wp).square().sum().backward()
    assert wp.grad is not None and wp.grad.abs().sum() > 0
    assert torch.equal(generator.synthesize(wp), loaded.synthesize(wp))

    # Fresh noise only when asked for.
    with torch.no_grad():
        loaded.synthesis.layer2.noise_strength.fill_(1.0)
        fixed = loaded.synthesize(wp)
        loaded.randomize_noise = True
        assert not torch.equal(loaded.synthesize(wp), loaded.synthesize(wp))
        loaded.randomize_noise = False
        assert torch.equal(loaded.synthesize(wp), fixed)


def test_code_count_and_validation():
    assert [num_layers_for(r) for r in (16, 256, 1024)] == [6, 14, 18]
    generator = StyleGAN2Generator(resolution=256, z_dim=8, w_dim=8, mapping_layers=1, fmaps_base=1024, fmaps_max=8)
    assert generator.num_layers == 14 and generator.truncation_layers == 14
    assert generator.channels() == [8, 8, 8, 8, 8, 8, 4]
    with pytest.raises(ValueError, match="resolution 100 not allowed"):
        StyleGAN2Generator(resolution=100)
    with pytest.raises(ValueError, match=r"expected wp of shape \[N, 14, 8\]"):
        generator.synthesize(torch.zeros(1, 13, 8))


def test_genforce_file_without_the_fixed_filter_kernels_still_loads(tmp_path):
    state = genforce_state()
    complete = tmp_path / "complete.pth"
    torch.save(state, complete)
    stripped = {k: v for k, v in state.items() if not k.endswith("kernel")}
    assert len(stripped) == len(state) - 3
    path = tmp_path / "stripped.pth"
    torch.save(stripped, path)
    a, b = load_generator(complete), load_generator(path)
    wp = a.map(a.sample_z(2, seed=0))
    assert torch.equal(a.synthesize(wp), b.synthesize(wp))


def test_nvidia_pickle_that_is_truncated_or_not_stylegan2_is_refused(tmp_path):
    path = tmp_path / "snapshot.pkl"
    write_nvidia_pickle(path, nvidia_state(), "")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pkl: corrupt, truncated"):
        load_generator(truncated)

    # A StyleGAN3 (alias-free) G_ema: its synthesis network starts with an 'input' layer.
    stylegan3 = {
        "mapping.fc0.weight": torch.zeros(W_DIM, Z_DIM),
        "mapping.fc0.bias": torch.zeros(W_DIM),
        "mapping.w_avg": torch.zeros(W_DIM),
        "synthesis.input.weight": torch.zeros(4, 2),
        "synthesis.L0_36_512.weight": torch.zeros(4, 4, 3, 3),
    }
    path = tmp_path / "stylegan3-t.pkl"
    write_nvidia_pickle(path, stylegan3, "")
    with pytest.raises(CheckpointError, match="StyleGAN3"):
        load_generator(path)
