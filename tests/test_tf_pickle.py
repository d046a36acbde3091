"""NVIDIA's TensorFlow pickles (PGGAN, StyleGAN, StyleGAN2), read without TensorFlow.

The fixtures in ``fixtures/nvidia-tf-pickles`` were written by NVIDIA's own TF code, with
reference outputs computed by that code (see their README). More pickles in the same layout
are written here by ``tf_pickle_writer`` (no TensorFlow).
"""

from pathlib import Path

import numpy as np
import pytest
import tf_pickle_writer as writer
import torch

from sceneedit.generators import CheckpointError, load_generator
from sceneedit.generators.checkpoints import read_payload

FIXTURES = Path(__file__).parent / "fixtures" / "nvidia-tf-pickles"
TOLERANCE = 1e-4
EXPECTED_ARCH = {
    "pggan-64": "pggan",
    "pggan-64-fused": "pggan",
    "stylegan-64": "stylegan",
    "stylegan-128": "stylegan",
    "stylegan2-64": "stylegan2",
}


def _reference(name):
    return dict(np.load(FIXTURES / f"{name}-ref.npz"))


def _max_diff(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


@pytest.mark.parametrize("name", sorted(EXPECTED_ARCH))
def test_pixels_match_nvidia_tensorflow(name):
    generator = load_generator(FIXTURES / f"{name}.pkl")
    ref = _reference(name)
    assert generator.arch == EXPECTED_ARCH[name]
    assert generator.resolution == ref["images"].shape[-1]
    z = torch.from_numpy(ref["z"])
    with torch.no_grad():
        wp = generator.map(z, truncation_psi=1.0)
        images = generator.synthesize_raw(wp).numpy()
    assert _max_diff(images, ref["images"]) < TOLERANCE
    # Gs, not the training G: their outputs differ by whole units.
    assert _max_diff(images, ref["images_G"]) > 0.1
    if "dlatents" in ref:
        assert _max_diff(wp, ref["dlatents"]) < TOLERANCE
        assert _max_diff(generator.w_avg, ref["dlatent_avg"]) == 0.0
        with torch.no_grad():
            from_dlatents = generator.synthesize_raw(torch.from_numpy(ref["dlatents"])).numpy()
            # psi 0.7 at the file's default cutoff (StyleGAN: 8 layers, StyleGAN2: all).
            truncated = generator.synthesize_raw(generator.map(z, truncation_psi=0.7)).numpy()
        assert _max_diff(from_dlatents, ref["images_synthesis"]) < TOLERANCE
        assert _max_diff(truncated, ref["images_psi0.7"]) < TOLERANCE
        expected_layers = 8 if generator.arch == "stylegan" else generator.num_layers
        assert generator.truncation_layers == expected_layers


def _rewritten(tmp_path, name, edit=None, build_module_src="", filename=None):
    """The fixture ``name`` read back and written again by our writer, after ``edit(G, D, Gs)``."""
    networks = [writer.from_loaded(n, build_module_src) for n in read_payload(FIXTURES / f"{name}.pkl")]
    if edit is not None:
        networks = edit(*networks)
    path = tmp_path / (filename or f"{name}-rewritten.pkl")
    path.write_bytes(writer.dumps(tuple(networks) if isinstance(networks, list) else networks))
    return path


@pytest.mark.parametrize("name", ["pggan-64-fused", "stylegan-128"])
def test_written_pickle_loads_and_its_source_never_runs(tmp_path, name):
    marker = tmp_path / "source-ran"
    source = f"open({str(marker)!r}, 'w').write('executed')\nraise SystemExit('build_module_src executed')\n"
    path = _rewritten(tmp_path, name, build_module_src=source)
    assert b"numpy.core.multiarray" in path.read_bytes() and b"build_module_src" in path.read_bytes()
    generator = load_generator(path)
    ref = _reference(name)
    with torch.no_grad():
        images = generator.synthesize_raw(generator.map(torch.from_numpy(ref["z"]), truncation_psi=1.0))
    assert _max_diff(images, ref["images"]) < TOLERANCE
    assert not marker.exists()


def _set_variable(net, name, value):
    net.state["variables"] = [(k, value if k == name else v) for k, v in net.state["variables"]]


@pytest.mark.parametrize("name, lod_scope", [("pggan-64", None), ("stylegan-64", "synthesis")])
def test_fractional_lod_blends_two_resolutions(tmp_path, name, lod_scope):
    def with_lod(lod):
        def edit(G, D, Gs):
            target = Gs.state["components"][lod_scope] if lod_scope else Gs
            _set_variable(target, "lod", np.float32(lod))
            return [G, D, Gs]

        return load_generator(_rewritten(tmp_path, name, edit, filename=f"lod{lod}.pkl"))

    z = torch.from_numpy(_reference(name)["z"])
    images = {}
    for lod in (0.0, 1.0, 0.25):
        generator = with_lod(lod)
        with torch.no_grad():
            images[lod] = generator.synthesize_raw(generator.map(z, truncation_psi=1.0)).numpy()
    assert images[1.0].shape == images[0.0].shape
    assert _max_diff(images[1.0][..., ::2, ::2], images[1.0][..., 1::2, 1::2]) == 0.0  # half resolution
    blended = 0.75 * images[0.0] + 0.25 * images[1.0]
    assert _max_diff(images[0.25], blended) < 1e-5


# ----- bad input ------------------------------------------------------------------------------
def test_discriminator_only_file_is_refused(tmp_path):
    path = _rewritten(tmp_path, "stylegan-64", lambda G, D, Gs: D)
    with pytest.raises(CheckpointError, match="discriminator") as info:
        load_generator(path)
    assert str(path) in str(info.value) and "D_basic" in str(info.value)


def test_unknown_build_function_is_named(tmp_path):
    def edit(G, D, Gs):
        Gs.state["build_func_name"] = "G_fancy"
        return [G, D, Gs]

    path = _rewritten(tmp_path, "stylegan-64", edit)
    with pytest.raises(CheckpointError, match="G_fancy") as info:
        load_generator(path)
    assert str(path) in str(info.value)


def test_missing_variable_is_named_with_its_shape(tmp_path):
    def edit(G, D, Gs):
        synthesis = Gs.state["components"]["synthesis"]
        synthesis.state["variables"] = [
            (k, v) for k, v in synthesis.state["variables"] if k != "32x32/Conv1/Noise/weight"
        ]
        return [G, D, Gs]

    path = _rewritten(tmp_path, "stylegan-64", edit)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    message = str(info.value)
    assert str(path) in message and "'synthesis/32x32/Conv1/Noise/weight'" in message and "[16]" in message


@pytest.mark.parametrize(
    "name, variable, scope",
    [
        ("stylegan2-64", "16x16/Conv1/mod_weight", "synthesis"),
        ("pggan-64", "ToRGB_lod1/weight", None),
    ],
)
def test_misshaped_variable_is_named_with_its_shape(tmp_path, name, variable, scope):
    def edit(G, D, Gs):
        net = Gs.state["components"][scope] if scope else Gs
        value = dict(net.state["variables"])[variable]
        _set_variable(net, variable, np.zeros(value.shape[:-1] + (value.shape[-1] + 1,), np.float32))
        return [G, D, Gs]

    path = _rewritten(tmp_path, name, edit)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    message = str(info.value)
    shown = (f"{scope}/" if scope else "") + variable
    assert str(path) in message and repr(shown) in message and "has shape" in message


class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch '{self.marker}'",))


def test_hostile_global_in_a_tf_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    def edit(G, D, Gs):
        Gs.state["static_kwargs"]["resolution"] = _Hostile(marker)
        return [G, D, Gs]

    path = _rewritten(tmp_path, "pggan-64", edit)
    with pytest.raises(CheckpointError, match="refused global posix.system|refused global os.system") as info:
        load_generator(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_static_kwargs_that_contradict_the_variables_are_named(tmp_path):
    def edit(G, D, Gs):
        Gs.state["components"]["synthesis"].state["static_kwargs"]["resolution"] = 128
        return [G, D, Gs]

    path = _rewritten(tmp_path, "stylegan2-64", edit)
    with pytest.raises(CheckpointError, match="resolution=128, but its variables") as info:
        load_generator(path)
    assert str(path) in str(info.value) and "64" in str(info.value)


def test_unsupported_stylegan2_architecture_is_named(tmp_path):
    def edit(G, D, Gs):
        Gs.state["components"]["synthesis"].state["static_kwargs"]["architecture"] = "resnet"
        return [G, D, Gs]

    path = _rewritten(tmp_path, "stylegan2-64", edit)
    with pytest.raises(CheckpointError, match="architecture='resnet'; only architecture='skip'") as info:
        load_generator(path)
    assert str(path) in str(info.value)


def test_unknown_network_state_version_is_refused(tmp_path):
    def edit(G, D, Gs):
        Gs.state["version"] = 9
        return [G, D, Gs]

    with pytest.raises(CheckpointError, match="version 9"):
        load_generator(_rewritten(tmp_path, "pggan-64", edit))
