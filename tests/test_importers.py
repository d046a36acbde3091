"""Importing HiGAN / InterFaceGAN boundaries; refusing malformed and malicious files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sceneedit.semantics.bundle import BundleError, load_bundle, save_bundle
from sceneedit.semantics.importers import (
    import_any,
    import_array,
    import_boundary_list,
    import_higan_folder,
    read_boundary_file,
)
from sceneedit.semantics.layers import LayerSpecError, default_layers, parse_layer_spec
from sceneedit.semantics.levels import infer_level
from sceneedit.semantics.safe_npy import UnsafeNpyError, load_npy_untrusted

#: The real boundary files of the official HiGAN repository (MIT, see their LICENSE), vendored
#: so these tests always run; SCENEEDIT_HIGAN_FIXTURES points at another copy.
FIXTURE_ENV = "SCENEEDIT_HIGAN_FIXTURES"
VENDORED_FIXTURES = Path(__file__).parent / "fixtures" / "higan-boundaries"


def higan_fixtures() -> Path:
    folder = Path(os.environ.get(FIXTURE_ENV) or VENDORED_FIXTURES)
    if not folder.is_dir():
        pytest.fail(f"HiGAN boundary fixtures not found at {folder} (set {FIXTURE_ENV} or restore {VENDORED_FIXTURES})")
    return folder


def save_dict_form(path: Path, boundary, meta) -> Path:
    np.save(path, np.array({"boundary": boundary, "meta_data": meta}, dtype=object), allow_pickle=True)
    return path


def unit(shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_every_higan_fixture_imports_with_its_layers(tmp_path):
    root = higan_fixtures()
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    assert len(folders) == 7
    total = 0
    for folder in folders:
        bundle = import_higan_folder(folder)
        files = sorted(folder.glob("*_boundary.npy"))
        assert bundle.names == [f.name[: -len("_boundary.npy")] for f in files]
        assert bundle.generator_fingerprint["num_layers"] == 14 and bundle.generator_fingerprint["w_dim"] == 512
        for path in files:
            concept = bundle[path.name[: -len("_boundary.npy")]]
            is_dict_form = b"'descr': '|O'" in path.read_bytes()[:128]
            if is_dict_form:  # HiGAN's metadata says '6-11' for every dict-form file
                assert concept.layers == list(range(6, 12)), path
                assert concept.extra["layer_rule"].startswith("file meta_data")
            elif concept.name == "view":  # HiGAN's bedroom notebook: view on '0-4'
                assert concept.layers == [0, 1, 2, 3, 4] and concept.level == "layout"
            else:  # plain arrays elsewhere: HiGAN's default '6-11'
                assert concept.layers == list(range(6, 12)), path
            assert concept.normal.shape == (1, 512) and concept.space == "w"
            assert np.linalg.norm(concept.normal) == pytest.approx(1.0, abs=1e-5)
            raw = read_boundary_file(path)
            np.testing.assert_allclose(concept.normal, raw.normal, atol=1e-6)
            if concept.name != "view":
                assert concept.level == "attributes", path
            total += 1
        loaded = load_bundle(save_bundle(bundle, tmp_path / f"{folder.name}.safetensors"))
        assert [c.layers for c in loaded] == [c.layers for c in bundle]
    assert total == 50
    church = import_higan_folder(root / "stylegan2_church")
    assert church.generator_fingerprint["arch"] == "stylegan2" and church["clouds"].distance_range == (-8.0, 8.0)


def test_higan_fixture_into_a_smaller_generator_is_refused():
    root = higan_fixtures()
    fp = {"arch": "stylegan", "resolution": 64, "num_layers": 10, "w_dim": 512, "weights_hash": "ab"}
    with pytest.raises(BundleError, match="layer index 11 .*out of range for a generator with 10 layers"):
        import_higan_folder(root / "stylegan_bedroom", fingerprint=fp)
    with pytest.raises(BundleError, match="512 dims"):
        import_higan_folder(root / "stylegan_bedroom", fingerprint={**fp, "num_layers": 14, "w_dim": 256})
    bundle = import_higan_folder(root / "stylegan_bedroom", fingerprint={**fp, "num_layers": 14})
    assert bundle.generator_fingerprint["weights_hash"] == "ab"
    assert "made for a stylegan 256 px" in bundle.extra["import_warnings"][0]


def test_boundary_list(tmp_path, monkeypatch):
    folder = tmp_path / "bounds"
    folder.mkdir()
    np.save(folder / "age.npy", unit((1, 8), 1).astype(np.float32))
    np.save(folder / "pose.npy", unit((1, 6, 8), 2).astype(np.float32))
    save_dict_form(folder / "light.npy", unit((1, 8), 3), {"type": "attribute", "manipulate_layers": "3,4"})
    listing = tmp_path / "list.txt"
    listing.write_text(
        "# HiGAN boundary list\n"
        "(age, w): bounds/age.npy\n"
        "DISABLE(skip, w): bounds/missing.npy\n"
        "\n"
        "(pose, wp): bounds/pose.npy\n"
        f"(indoor_lighting, W): {folder / 'light.npy'}\n"
    )
    monkeypatch.chdir(tmp_path / "bounds")  # relative paths resolve against the list's folder
    bundle = import_boundary_list(listing, num_layers=6)
    assert bundle.names == ["age", "pose", "indoor_lighting"]
    assert bundle["pose"].space == "wp" and bundle["pose"].normal.shape == (6, 8)
    assert bundle["indoor_lighting"].layers == [3, 4] and bundle["indoor_lighting"].level == "attributes"
    assert bundle["age"].layers == default_layers("unknown", 6)
    listing.write_text("(age, z): bounds/age.npy\n")
    with pytest.raises(BundleError, match="Z space"):
        import_boundary_list(listing, num_layers=6)
    listing.write_text("age: bounds/age.npy\n")
    with pytest.raises(BundleError, match=r"list.txt:1: expected '\(name, space\): path'"):
        import_boundary_list(listing, num_layers=6)
    listing.write_text("(age, w): bounds/nope.npy\n")
    with pytest.raises(BundleError, match="not found"):
        import_boundary_list(listing, num_layers=6)


def test_interfacegan_and_per_layer_arrays(tmp_path):
    np.save(tmp_path / "smile.npy", (unit((1, 8), 4) * 3).astype(np.float64))  # not unit: rescaled
    bundle = import_array(tmp_path / "smile.npy", num_layers=6, layers="2-3", level="attributes")
    concept = bundle["smile"]
    assert concept.layers == [2, 3] and concept.extra["original_norm"] == pytest.approx(3.0)
    assert np.linalg.norm(concept.normal) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(BundleError, match="layer count|number of layers"):
        import_array(tmp_path / "smile.npy")
    np.save(tmp_path / "yaw.npy", unit((6, 8), 5).astype(np.float32))
    per_layer = import_array(tmp_path / "yaw.npy")
    assert per_layer["yaw"].space == "wp" and per_layer["yaw"].level == "layout"
    assert per_layer["yaw"].layers == default_layers("layout", 6)
    with pytest.raises(BundleError, match="7 rows, but the generator has 6"):
        np.save(tmp_path / "bad.npy", unit((7, 8), 6))
        import_array(tmp_path / "bad.npy", num_layers=6)
    assert import_any(tmp_path / "yaw.npy").names == ["yaw"]


@pytest.mark.parametrize(
    "content, message",
    [
        (np.zeros((1, 8)), "is zero"),
        (np.full((1, 8), np.nan), "NaN"),
        (np.ones((2, 2, 2, 8)), "expected"),
        (np.array(["a", "b"]), "dtype"),
    ],
)
def test_bad_arrays_are_refused(tmp_path, content, message):
    np.save(tmp_path / "x_boundary.npy", content)
    with pytest.raises(ValueError, match=message):
        import_array(tmp_path / "x_boundary.npy", num_layers=6)


def test_bad_dict_forms_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.array({"normal": unit((1, 8))}, dtype=object), allow_pickle=True)
    with pytest.raises(BundleError, match="lacks key 'boundary'"):
        read_boundary_file(tmp_path / "a.npy")
    save_dict_form(tmp_path / "b.npy", unit((1, 8)), {"manipulate_layers": "six"})
    with pytest.raises(BundleError, match="manipulate_layers"):
        read_boundary_file(tmp_path / "b.npy")
    save_dict_form(tmp_path / "c.npy", unit((1, 8)), {"manipulate_layers": "6-20"})
    with pytest.raises(BundleError, match="out of range"):
        import_array(tmp_path / "c.npy", num_layers=14)
    (tmp_path / "d.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="not a readable .npy"):
        read_boundary_file(tmp_path / "d.npy")


class _MakeDir:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


class _Eval:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (eval, (f"open({self.path!r}, 'w').close()",))


@pytest.mark.parametrize("payload_class", [_MakeDir, _Eval])
def test_malicious_pickle_runs_nothing(tmp_path, payload_class):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil_boundary.npy"
    np.save(evil, np.array({"boundary": payload_class(str(marker)), "meta_data": {}}, dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeNpyError, match="refused global"):
        import_array(evil, num_layers=6)
    with pytest.raises(UnsafeNpyError):
        import_higan_folder(tmp_path, num_layers=6)
    assert not marker.exists()


def test_safe_npy_reads_plain_containers(tmp_path):
    data = {"boundary": unit((1, 4)), "meta_data": {"a": 1, "b": [1.5, "x"], "c": np.float64(2.0)}}
    np.save(tmp_path / "ok.npy", np.array(data, dtype=object), allow_pickle=True)
    loaded = load_npy_untrusted(tmp_path / "ok.npy")
    np.testing.assert_array_equal(loaded["boundary"], data["boundary"])
    assert loaded["meta_data"] == {"a": 1, "b": [1.5, "x"], "c": 2.0}


def test_layer_specs_and_levels():
    assert parse_layer_spec("6-11") == [6, 7, 8, 9, 10, 11]
    assert parse_layer_spec("0, 2, 4-5", 6) == [0, 2, 4, 5]
    assert parse_layer_spec([3, 1, 3]) == [1, 3]
    assert parse_layer_spec("", 3) == [0, 1, 2]
    for bad in ("6-", "a", "5-2", [1.5], "-1"):
        with pytest.raises(LayerSpecError):
            parse_layer_spec(bad, 14)
    assert default_layers("layout", 14) == [0, 1, 2, 3, 4]
    assert default_layers("attributes", 14) == list(range(6, 12))
    assert default_layers("color", 14) == [12, 13]
    assert default_layers("attributes", 10) == [4, 5, 6, 7, 8]
    assert default_layers("color", 1) == [0]
    assert infer_level("view") == "layout"
    assert infer_level("far-away_horizon") == "attributes"
    assert infer_level("wall_hue") == "color"
    assert infer_level("bedroom") == "objects"
    assert infer_level("camera_yaw") == "layout"
    assert infer_level("mystery") == "unknown"
    assert infer_level("mystery", type_hint="attribute") == "attributes"
