"""The probe on the shipped default generator, and the shipped boundary bundle.

* A small end-to-end ``sceneedit probe`` (N = 2,000, K = 200, K' = 6) on
  ``resources/default_generator.safetensors`` with the world predictor: the bundle is
  written, loads, fits the generator, covers the four levels, and its boundaries separate
  the concepts well above chance (so a generator that ignored its codes would fail).
* ``boundaries/default.safetensors`` fits the shipped generator and covers the levels the
  product promises; ``docs/probe/README.md`` describes that very bundle.

The shipped files are part of the repository; a missing one fails its test, naming the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sceneedit.resources import resource_path
from sceneedit.semantics import default_bundle

REPO = Path(__file__).resolve().parent.parent
SHIPPED_BUNDLE = REPO / "boundaries" / "default.safetensors"
PROBE_README = REPO / "docs" / "probe" / "README.md"
LEVELS = ("layout", "objects", "attributes", "color")
#: Fewest concepts per level the shipped bundle must hold.
REQUIRED_PER_LEVEL = {"layout": 1, "objects": 1, "attributes": 3, "color": 2}
#: One well-read concept per level (resources/world_predictor.md).
SMALL_PROBE_CONCEPTS = ("camera_pitch", "bedroom", "indoor_lighting", "wall_hue")


def _require(path: Path, what: str, how: str) -> Path:
    # The default generator and bundle are part of the repository: absence is a failure.
    assert path.is_file(), f"{what} is missing: {path} ({how})"
    return path


@pytest.fixture
def generator_file() -> Path:
    return _require(
        resource_path("default_generator.safetensors"),
        "the default generator",
        "export it with scripts/export_default.sh",
    )


@pytest.fixture
def predictor_file() -> Path:
    return _require(
        resource_path("world_predictor.safetensors"),
        "the world predictor",
        "train it with python -m sceneedit.training.predictor",
    )


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine two threads run the probe several times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_small_probe_of_the_default_generator(tmp_path, generator_file, predictor_file, one_thread, capsys):
    from sceneedit.cli import main
    from sceneedit.generators import load_generator
    from sceneedit.semantics.bundle import check_compatible, load_bundle

    bundle_file = tmp_path / "probe.safetensors"
    code = main(
        [
            "probe",
            "--generator",
            str(generator_file),
            "--predictor",
            "world",
            "--predictor-option",
            f"path={predictor_file}",
            "--num",
            "2000",
            "--k",
            "200",
            "--rescore-samples",
            "6",
            "--device",
            "cpu",
            "--no-progress",
            "--effect-seeds",
            "0",
            "--layer-rule",
            "share",
            "--concepts",
            *SMALL_PROBE_CONCEPTS,
            "--out",
            str(tmp_path / "run"),
            "--bundle",
            str(bundle_file),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "report" / "heatmap.png").stat().st_size > 0

    bundle = load_bundle(bundle_file)
    generator = load_generator(generator_file, device="cpu")
    assert check_compatible(bundle, generator) == []
    assert set(bundle.names) == set(SMALL_PROBE_CONCEPTS)
    assert {c.level for c in bundle} == set(LEVELS)
    for concept in bundle:
        assert concept.num_samples == 2000 and concept.extra["sample_counts"]["positive"] == 200
        assert concept.normal.shape == (1, generator.w_dim)
        assert len(concept.delta_s) == generator.num_layers and all(v >= 0 for v in concept.delta_s)
        assert concept.layers and all(0 <= layer < generator.num_layers for layer in concept.layers)

    accuracies = {c.name: c.accuracy for c in bundle}
    # Chance is 0.5 (120 held-out codes per concept, balanced).
    assert max(accuracies.values()) >= 0.8, f"no boundary separates its concept well above chance: {accuracies}"
    # Moving every layer along a concept's normal must raise that concept's score, and the
    # bundle ranks concepts by that response ("most relevant semantics").
    moved = {c.name: c.delta_s_all for c in bundle}
    assert max(moved.values()) > 0.02, f"moving all layers barely changes any score: {moved}"
    assert list(moved.values()) == sorted(moved.values(), reverse=True)

    # The docs README generator works on this bundle and agrees with its own table.
    readme = default_bundle.write_readme(bundle, tmp_path / "README.md", {})
    text = readme.read_text()
    for level in LEVELS:
        assert f"\n| {level} | " in text
    table = text.split("### Verdict")[0]
    agreeing = sum(1 for line in table.splitlines() if line.startswith("| ") and line.rstrip().endswith("| yes |"))
    assert f"{agreeing} of 4 levels peak inside" in text


def test_shipped_bundle_fits_the_shipped_generator(generator_file):
    from sceneedit.generators import load_generator
    from sceneedit.semantics.bundle import check_compatible, load_bundle

    bundle_file = _require(SHIPPED_BUNDLE, "the default boundary bundle", "make it with scripts/make_default_bundle.py")
    bundle = load_bundle(bundle_file)
    # Raises when dims or layers differ, and when the bundle was made for other weights.
    check_compatible(bundle, load_generator(generator_file, device="cpu"))
    counts = {level: sum(1 for c in bundle if c.level == level) for level in LEVELS}
    for level, needed in REQUIRED_PER_LEVEL.items():
        assert counts[level] >= needed, f"{level}: {counts[level]} concepts, need {needed} ({counts})"
    for concept in bundle:
        assert concept.delta_s is not None and concept.delta_s_all is not None, f"{concept.name} was not re-scored"
        assert concept.accuracy is not None and concept.accuracy > 0.5, f"{concept.name}: accuracy {concept.accuracy}"
    well_separated = [c.name for c in bundle if c.accuracy >= 0.8]
    assert len(well_separated) >= len(bundle) // 2, {c.name: c.accuracy for c in bundle}


def test_probe_readme_describes_the_shipped_bundle():
    from sceneedit.semantics.bundle import load_bundle

    bundle_file = _require(SHIPPED_BUNDLE, "the default boundary bundle", "make it with scripts/make_default_bundle.py")
    readme = _require(PROBE_README, "the probe README", "scripts/make_default_bundle.py writes it")
    text = readme.read_text()
    bundle = load_bundle(bundle_file)
    assert f"`{bundle.generator_fingerprint['weights_hash']}`" in text, "docs/probe/README.md is for another bundle"
    for concept in bundle:
        assert f"| {concept.name} |" in text
    for name in ("heatmap.png", "report.md"):
        assert (PROBE_README.parent / name).is_file()


def test_shipped_bundle_records_what_each_concept_does():
    """Every shipped concept carries its measured effect (the concept x score matrix of the
    probe), the dropped factors are absent, and the README states the goals as measured."""
    from sceneedit.semantics.bundle import load_bundle
    from sceneedit.semantics.effects import effect_goals

    bundle = load_bundle(
        _require(SHIPPED_BUNDLE, "the default boundary bundle", "make it with scripts/make_default_bundle.py")
    )
    effects = bundle.extra["effects"]
    assert effects["num_seeds"] >= 200 and effects["concepts"] == bundle.names
    dropped = default_bundle.DROPPED
    assert not set(dropped) & set(bundle.names)
    for concept in bundle:
        effect = concept.extra["effect"]
        assert effect["own_std"] > 0 and effect["selectivity"] > 0, concept.name
        assert isinstance(concept.extra["hold"], list) and set(concept.extra["hold"]) <= set(bundle.names)
        assert concept.distance_range[0] < 0 < concept.distance_range[1] < 1e6
    goals = effect_goals(bundle)
    text = PROBE_README.read_text()
    assert f"**{goals['own_ok']} of {goals['concepts']}**" in text
    assert f"Median selectivity: **{goals['median_selectivity']:.2f}**" in text
    for name in dropped:
        assert f"- `{name}`:" in text
    assert (PROBE_README.parent / "effects.png").is_file()
