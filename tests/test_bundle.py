"""The boundary bundle file: round trip, strict validation, atomic writes, compatibility."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file
from tiny_models import tiny_stylegan

from sceneedit.generators.fingerprint import generator_fingerprint
from sceneedit.generators.stylegan import StyleGANGenerator
from sceneedit.semantics.bundle import (
    METADATA_KEY,
    BundleError,
    BundleHashMismatch,
    bundle_manifest,
    check_compatible,
    load_bundle,
    merge_bundles,
    read_manifest,
    save_bundle,
)
from sceneedit.semantics.concepts import BoundaryBundle, Concept

L, D = 6, 16


def unit(rows: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, D)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fingerprint(**changes):
    fp = {"arch": "stylegan", "resolution": 16, "num_layers": L, "w_dim": D, "weights_hash": "0123456789abcdef"}
    fp.update(changes)
    return fp


def make_bundle(**fp_changes) -> BoundaryBundle:
    concepts = {
        "view": Concept(
            "view",
            unit(1, 0),
            [0, 1],
            level="layout",
            space="w",
            distance_range=(-2.5, 2.5),
            delta_s=[0.3, 0.2, 0.01, 0.0, 0.0, 0.0],
            delta_s_all=0.4,
            accuracy=0.97,
            num_samples=2000,
            predictor="world",
            extra={"sample_counts": {"positive": 500, "negative": 500}},
        ),
        "wood": Concept("wood", unit(L, 1), [3, 4, 5], level="attributes", space="wp"),
    }
    return BoundaryBundle(concepts=concepts, generator_fingerprint=fingerprint(**fp_changes), source="test")


def write_raw(path, tensors, manifest):
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(manifest)})


def test_round_trip(tmp_path):
    bundle = make_bundle()
    path = save_bundle(bundle, tmp_path / "sub" / "b.safetensors")
    loaded = load_bundle(path)
    assert loaded.names == ["view", "wood"]
    assert loaded.generator_fingerprint == bundle.generator_fingerprint
    for name in bundle.names:
        np.testing.assert_allclose(loaded[name].normal, bundle[name].normal, atol=1e-7)
        assert loaded[name].layers == bundle[name].layers
        assert loaded[name].level == bundle[name].level and loaded[name].space == bundle[name].space
    view = loaded["view"]
    assert view.distance_range == (-2.5, 2.5) and view.delta_s == pytest.approx([0.3, 0.2, 0.01, 0, 0, 0])
    assert view.delta_s_all == pytest.approx(0.4) and view.accuracy == pytest.approx(0.97)
    assert view.num_samples == 2000 and view.predictor == "world"
    assert view.extra["sample_counts"] == {"positive": 500, "negative": 500}
    assert read_manifest(path)["format_version"] == 1
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["b.safetensors"]  # no temp files left


def test_tiny_drift_is_renormalized(tmp_path):
    bundle = make_bundle()
    bundle.concepts["view"].normal = bundle["view"].normal * 1.004
    loaded = load_bundle(save_bundle(bundle, tmp_path / "b.safetensors"))
    assert np.linalg.norm(loaded["view"].normal) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t, m: t.__setitem__("view", np.ones((1, D - 1), np.float32)), r"shape \[1, 15\], expected \[1, 16\]"),
        (lambda t, m: t.__setitem__("wood", unit(L - 1, 3)), r"expected \[6, 16\]"),
        (lambda t, m: t["view"].__setitem__((0, 3), np.nan), "NaN"),
        (lambda t, m: t.__setitem__("view", np.zeros((1, D), np.float32)), "is zero"),
        (lambda t, m: t.__setitem__("view", unit(1, 4) * 3), "norm 3"),
        (lambda t, m: m["concepts"][0].__setitem__("layers", [0, 6]), "layer index 6 is out of range"),
        (lambda t, m: m["concepts"][0].__setitem__("layers", [2, 1]), "sorted and unique"),
        (lambda t, m: m["concepts"][0].__setitem__("level", "mood"), "level 'mood'"),
        (lambda t, m: m["concepts"][0].__setitem__("delta_s", [0.1]), "one value per layer"),
        (lambda t, m: m.__setitem__("format_version", 99), "newer than this sceneedit supports"),
        (lambda t, m: m["generator"].__setitem__("w_dim", 0), "w_dim"),
        (lambda t, m: t.pop("wood"), "'wood' has no normal tensor"),
        (lambda t, m: t.__setitem__("ghost", unit(1, 5)), "'ghost' is not described"),
        (lambda t, m: m["concepts"].append(dict(m["concepts"][0])), "more than once"),
    ],
)
def test_load_refuses_malformed_bundles(tmp_path, mutate, message):
    bundle = make_bundle()
    tensors = {name: c.normal.copy() for name, c in bundle.concepts.items()}
    manifest = json.loads(json.dumps(bundle_manifest(bundle)))
    mutate(tensors, manifest)
    path = tmp_path / "bad.safetensors"
    write_raw(path, tensors, manifest)
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_load_refuses_non_bundles(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(BundleError, match="not a readable safetensors"):
        load_bundle(junk)
    other = tmp_path / "other.safetensors"
    save_file({"x": np.zeros((1, D), np.float32)}, str(other))
    with pytest.raises(BundleError, match=r"not a sceneedit boundary bundle$"):
        load_bundle(other)
    with pytest.raises(FileNotFoundError):
        load_bundle(tmp_path / "missing.safetensors")


def test_a_generator_and_a_bundle_swapped_say_what_the_file_is(tmp_path):
    from sceneedit.generators import load_generator, save_generator
    from sceneedit.generators.checkpoints import CheckpointError

    generator = save_generator(
        StyleGANGenerator(resolution=8, z_dim=8, w_dim=8, mapping_layers=1, fmaps_base=16, fmaps_max=8),
        tmp_path / "g.safetensors",
    )
    bundle = save_bundle(make_bundle(), tmp_path / "b.safetensors")
    with pytest.raises(
        BundleError, match=r"not a sceneedit boundary bundle \(it is a sceneedit generator: pass it as --generator"
    ):
        load_bundle(generator)
    with pytest.raises(
        CheckpointError, match=r"not a sceneedit generator \(it is a boundary bundle: pass it as --bundle"
    ):
        load_generator(bundle)


def test_failed_save_keeps_the_old_file(tmp_path):
    path = save_bundle(make_bundle(), tmp_path / "b.safetensors")
    before = path.read_bytes()
    broken = make_bundle()
    broken.concepts["view"].normal = np.full((1, D), np.nan, np.float32)
    with pytest.raises(BundleError, match="NaN"):
        save_bundle(broken, path)
    unserializable = make_bundle()
    unserializable.concepts["view"].extra = {"oops": object()}
    with pytest.raises(BundleError, match="JSON"):
        save_bundle(unserializable, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["b.safetensors"]


def test_check_compatible():
    generator = tiny_stylegan(w_dim=D, mapping_layers=1, fmaps_max=16, truncation_layers=2)
    fp = generator_fingerprint(generator)
    assert fp["num_layers"] == L
    good = make_bundle(weights_hash=fp["weights_hash"])
    assert check_compatible(good, generator) == []
    other_hash = make_bundle()
    with pytest.raises(BundleHashMismatch, match="weights 0123456789abcdef"):
        check_compatible(other_hash, generator)
    warnings = check_compatible(other_hash, generator, allow_hash_mismatch=True)
    assert len(warnings) == 1 and "may not mean the same" in warnings[0]
    unknown = make_bundle(weights_hash=None)
    assert "no weights hash" in check_compatible(unknown, generator)[0]
    wrong_layers = make_bundle(num_layers=14)
    wrong_layers.concepts["wood"].normal = unit(14, 1)
    with pytest.raises(BundleError, match="14 layers; this one has 6") as info:
        check_compatible(wrong_layers, generator, allow_hash_mismatch=True)
    assert not isinstance(info.value, BundleHashMismatch)
    with pytest.raises(BundleError, match="codes of 32 dims"):
        check_compatible(make_bundle(w_dim=32), generator, allow_hash_mismatch=True)


def test_merge():
    a = make_bundle()
    b = BoundaryBundle(
        {"clouds": Concept("clouds", unit(1, 9), [4, 5], level="attributes")},
        generator_fingerprint=fingerprint(weights_hash=None),
        source="b",
    )
    merged = merge_bundles([a, b])
    assert merged.names == ["view", "wood", "clouds"]
    assert merged.generator_fingerprint["weights_hash"] == "0123456789abcdef"
    with pytest.raises(BundleError, match="more than one bundle"):
        merge_bundles([a, a])
    assert merge_bundles([a, a], replace=True).names == ["view", "wood"]
    with pytest.raises(BundleError, match="num_layers"):
        merge_bundles([a, make_bundle(num_layers=8)])


def test_bundle_commands(tmp_path, capsys):
    from sceneedit.cli import main

    a = save_bundle(make_bundle(), tmp_path / "a.safetensors")
    b = save_bundle(
        BoundaryBundle(
            {"clouds": Concept("clouds", unit(1, 9), [4, 5], level="attributes")}, generator_fingerprint=fingerprint()
        ),
        tmp_path / "b.safetensors",
    )
    assert main(["bundle", "info", str(a)]) == 0
    out = capsys.readouterr().out
    assert "view" in out and "0-1" in out and "layout     peaks at layer 0" in out
    assert main(["bundle", "info", str(a), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["concepts"][1]["name"] == "wood"
    assert main(["bundle", "merge", str(a), str(b), "--out", str(tmp_path / "ab.safetensors")]) == 0
    assert load_bundle(tmp_path / "ab.safetensors").names == ["view", "wood", "clouds"]
    assert main(["bundle", "merge", str(a), str(a), "--out", str(tmp_path / "aa.safetensors")]) == 2
    assert "more than one bundle" in capsys.readouterr().err and not (tmp_path / "aa.safetensors").exists()
    assert main(["bundle", "report", str(a), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "heatmap.png").is_file()
    np.save(tmp_path / "smile.npy", unit(1, 3))
    assert main(["bundle", "import", str(tmp_path / "smile.npy"), "--out", str(tmp_path / "s.safetensors")]) == 2
    assert "--num-layers" in capsys.readouterr().err
    assert (
        main(
            [
                "bundle",
                "import",
                str(tmp_path / "smile.npy"),
                "--num-layers",
                "6",
                "--layers",
                "2-3",
                "--out",
                str(tmp_path / "s.safetensors"),
            ]
        )
        == 0
    )
    assert load_bundle(tmp_path / "s.safetensors")["smile"].layers == [2, 3]


def test_bundle_import_of_a_higan_folder_for_a_generator(tmp_path, capsys):
    from sceneedit.cli import main
    from sceneedit.generators import save_generator

    generator = tiny_stylegan(w_dim=D, mapping_layers=1, fmaps_max=16, truncation_layers=2)
    gen_path = save_generator(generator, tmp_path / "g.safetensors")
    folder = tmp_path / "stylegan_bedroom"
    folder.mkdir()
    np.save(folder / "view_boundary.npy", unit(1, 1))
    np.save(
        folder / "wood_boundary.npy",
        np.array(
            {"boundary": unit(1, 2).astype(np.float64), "meta_data": {"type": "attribute", "manipulate_layers": "3-5"}},
            dtype=object,
        ),
        allow_pickle=True,
    )
    assert (
        main(["bundle", "import", str(folder), "--generator", str(gen_path), "--out", str(tmp_path / "o.safetensors")])
        == 0
    )
    assert "made for a stylegan 256 px" in capsys.readouterr().out  # a warning, still imported
    bundle = load_bundle(tmp_path / "o.safetensors")
    assert bundle["wood"].layers == [3, 4, 5] and bundle["view"].layers == [
        0,
        1,
        2,
    ]  # layout 0-4 of 14, scaled to 6 layers
    assert check_compatible(bundle, generator)[0].startswith("stylegan_bedroom boundaries")
