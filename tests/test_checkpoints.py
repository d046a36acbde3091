"""Our safetensors format and bad-input handling of checkpoint loading."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from stylegan_reference import genforce_stylegan_state

from sceneedit.generators import CheckpointError, load_generator, read_metadata, save_generator
from sceneedit.generators.stylegan import StyleGANGenerator

TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, fmaps_base=128, fmaps_max=32)


@pytest.fixture()
def generator():
    torch.manual_seed(0)
    model = StyleGANGenerator(**TINY, truncation_psi=0.6, truncation_layers=4, name="tiny").eval()
    with torch.no_grad():  # non-trivial values everywhere, so a lost tensor would show
        for tensor in model.state_dict().values():
            if tensor.is_floating_point() and tensor.ndim > 0 and not tensor.any():
                tensor.normal_()
    return model


def _genforce_file(tmp_path, state=None, name="g.pth"):
    path = tmp_path / name
    torch.save(genforce_stylegan_state(seed=1, **TINY) if state is None else state, path)
    return path


# ----- our own format ----------------------------------------------------------------------------
def test_own_format_round_trips_bit_exactly(tmp_path, generator):
    path = save_generator(generator, tmp_path / "tiny.safetensors", dataset="rooms", provenance="test")
    loaded = load_generator(path, device="cpu")
    assert type(loaded) is StyleGANGenerator
    assert loaded.config == generator.config
    original, restored = generator.state_dict(), loaded.state_dict()
    assert list(restored) == list(original)
    for key, value in original.items():
        assert restored[key].dtype == value.dtype and torch.equal(restored[key], value), key
    z = generator.sample_z(3, seed=11)
    assert torch.equal(loaded.map(z), generator.map(z))
    wp = generator.map(z)
    assert torch.equal(loaded.synthesize(wp), generator.synthesize(wp))
    assert (loaded.truncation_psi, loaded.truncation_layers, loaded.name) == (0.6, 4, "tiny")
    meta = read_metadata(path)
    assert meta["arch"] == "stylegan" and meta["dataset"] == "rooms" and meta["provenance"] == "test"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.safetensors"]  # no temp files left


def test_genforce_file_converts_to_our_format_exactly(tmp_path):
    from_pth = load_generator(_genforce_file(tmp_path), device="cpu")
    path = save_generator(from_pth, tmp_path / "converted.safetensors")
    again = load_generator(path, device="cpu")
    wp = from_pth.map(from_pth.sample_z(2, seed=5))
    assert torch.equal(again.synthesize(wp), from_pth.synthesize(wp))


def test_loaded_generator_is_in_eval_mode_without_grad(tmp_path, generator):
    loaded = load_generator(save_generator(generator, tmp_path / "g.safetensors"), device="cpu")
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())


# ----- bad files ---------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file") as info:
        load_generator(tmp_path / "nope.pth")
    assert "nope.pth" in str(info.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_generator(path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file(tmp_path, generator, suffix):
    if suffix == ".pth":
        whole = _genforce_file(tmp_path)
    else:
        whole = save_generator(generator, tmp_path / "whole.safetensors")
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_generator(cut)
    assert str(cut) in str(info.value)


@pytest.mark.parametrize("suffix", [".pth", ".pkl", ".safetensors", ".bin"])
def test_garbage_bytes(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert str(path) in str(info.value)


def test_unrecognized_layout_names_the_file_and_keys(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a recognized checkpoint layout") as info:
        load_generator(path)
    assert "encoder.weight" in str(info.value)


def test_state_dict_with_a_missing_key(tmp_path):
    state = genforce_stylegan_state(seed=1, **TINY)
    del state["synthesis.layer3.epilogue.style_mod.dense.fc.weight"]
    with pytest.raises(CheckpointError) as info:
        load_generator(_genforce_file(tmp_path, state))
    message = str(info.value)
    assert "g.pth" in message and "missing key 'synthesis.layer3.epilogue.style_mod.dense.fc.weight'" in message
    assert "[32, 16]" in message  # the expected shape (2 x 16 channels at 8 px, w_dim 16)


def test_state_dict_with_an_unexpected_key(tmp_path):
    state = genforce_stylegan_state(seed=1, **TINY)
    state["synthesis.layer3.extra"] = torch.zeros(2, 2)
    with pytest.raises(CheckpointError, match=r"unexpected key 'synthesis.layer3.extra' \(shape \[2, 2\]\)"):
        load_generator(_genforce_file(tmp_path, state))


def test_state_dict_with_a_misshaped_key(tmp_path):
    state = genforce_stylegan_state(seed=1, **TINY)
    state["synthesis.layer3.conv.weight"] = torch.zeros(16, 8, 3, 3)
    with pytest.raises(
        CheckpointError, match=r"'synthesis.layer3.conv.weight' has shape \[16, 8, 3, 3\], expected \[16, 16, 3, 3\]"
    ):
        load_generator(_genforce_file(tmp_path, state))


def test_misshaped_key_used_for_inference_is_named(tmp_path):
    state = genforce_stylegan_state(seed=1, **TINY)
    state["mapping.dense0.fc.weight"] = torch.zeros(32)
    with pytest.raises(CheckpointError, match=r"'mapping.dense0.fc.weight' has shape \[32\]"):
        load_generator(_genforce_file(tmp_path, state))


def test_unknown_arch_argument(tmp_path):
    with pytest.raises(CheckpointError, match="unknown architecture 'nope'.*stylegan"):
        load_generator(_genforce_file(tmp_path), arch="nope")


def test_unknown_arch_in_our_metadata(tmp_path, generator):
    from safetensors.torch import save_file

    path = tmp_path / "odd.safetensors"
    config = {"format_version": 1, "arch": "nope", "kwargs": {}, "name": "x"}
    save_file({"w": torch.zeros(1)}, str(path), metadata={"sceneedit": json.dumps(config)})
    with pytest.raises(CheckpointError, match="unknown architecture 'nope'"):
        load_generator(path)


def test_our_file_with_a_tampered_tensor_shape(tmp_path, generator):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in generator.state_dict().items()}
    state["synthesis.output0.bias"] = torch.zeros(4)
    config = {"format_version": 1, "arch": "stylegan", "kwargs": generator.config, "name": "x"}
    path = tmp_path / "tampered.safetensors"
    save_file(state, str(path), metadata={"sceneedit": json.dumps(config)})
    with pytest.raises(CheckpointError, match=r"'synthesis.output0.bias' has shape \[4\], expected \[3\]"):
        load_generator(path)


def test_safetensors_without_our_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    with pytest.raises(CheckpointError, match="not a sceneedit generator"):
        load_generator(path)


# ----- pickles that would run code -----------------------------------------------------------------
class _Payload:
    """Unpickling this would create ``marker`` through os.system."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _OpenPayload:
    """Unpickling this would create ``marker`` through builtins.open."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("payload_class", [_Payload, _OpenPayload])
@pytest.mark.parametrize("container", ["legacy-pickle", "torch-zip", "torch-legacy"])
def test_pickle_that_would_run_code_is_refused(tmp_path, payload_class, container):
    marker = tmp_path / "pwned"
    evil = {"synthesis.layer0.const": payload_class(marker)}
    path = tmp_path / "evil.pkl"
    if container == "legacy-pickle":
        path.write_bytes(pickle.dumps(evil, protocol=2))
    else:
        torch.save(evil, path, _use_new_zipfile_serialization=(container == "torch-zip"))
    with pytest.raises(CheckpointError, match="refused") as info:
        load_generator(path)
    assert str(path) in str(info.value)
    assert not marker.exists()
