"""The shipped bundles of HiGAN's official boundaries (boundaries/higan/)."""

from pathlib import Path

import numpy as np
import pytest

from sceneedit.semantics.bundle import load_bundle
from sceneedit.semantics.higan_bundles import HIGAN_REPOSITORY, write_higan_bundles
from sceneedit.semantics.importers import HIGAN_MODELS, import_higan_folder

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "boundaries" / "higan"
SOURCE = Path(__file__).parent / "fixtures" / "higan-boundaries"


def test_all_fifty_official_boundaries_are_shipped_with_their_license():
    bundles = sorted(SHIPPED.glob("*.safetensors"))
    assert [b.stem for b in bundles] == sorted(p.name for p in SOURCE.iterdir() if p.is_dir())
    assert sum(len(load_bundle(b).concepts) for b in bundles) == 50
    assert "Yujun Shen" in (SHIPPED / "LICENSE").read_text()


@pytest.mark.parametrize("model", sorted(p.name for p in SOURCE.iterdir() if p.is_dir()))
def test_shipped_bundle_equals_a_fresh_import(model):
    shipped = load_bundle(SHIPPED / f"{model}.safetensors")
    fresh = import_higan_folder(SOURCE / model)
    fingerprint = shipped.generator_fingerprint
    assert fingerprint["weights_hash"] is None
    for key in ("arch", "resolution", "num_layers", "w_dim"):
        assert fingerprint[key] == HIGAN_MODELS[model][key]
    assert sorted(shipped.concepts) == sorted(fresh.concepts)
    for name, concept in fresh.concepts.items():
        assert np.array_equal(shipped.concepts[name].normal, concept.normal)
        assert shipped.concepts[name].layers == concept.layers


def test_writing_the_bundles_again_reproduces_the_shipped_ones(tmp_path):
    written = write_higan_bundles(SOURCE, tmp_path)
    assert sum(count for _, count, _ in written) == 50
    assert (tmp_path / "LICENSE").read_bytes() == (SHIPPED / "LICENSE").read_bytes()
    for model, _, path in written:
        fresh, shipped = load_bundle(path), load_bundle(SHIPPED / f"{model}.safetensors")
        assert fresh.extra["source_repository"] == shipped.extra["source_repository"] == HIGAN_REPOSITORY
        for name, concept in shipped.concepts.items():
            assert np.array_equal(fresh.concepts[name].normal, concept.normal)
