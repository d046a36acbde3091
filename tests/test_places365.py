"""The Places365 predictor, loaded from random weights written in the release's key layout,
and the predictor registry."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from sceneedit.semantics.predictors.places365 import (
    Places365Predictor,
    PredictorLoadError,
    load_places365,
)
from sceneedit.semantics.predictors.registry import (
    PredictorSpecError,
    available_predictors,
    build_predictor,
    parse_options,
)

NUM_CATEGORIES, NUM_ATTRIBUTES = 365, 102


def release_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of ``wideresnet18_places365.pth.tar``'s state dict (ResNet-18 blocks
    [2, 2, 2, 2], widths 64-512, a 1x1 downsample on the first block of layers 2-4, fc to
    365), written out independently of the code under test."""
    layout: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            layout[f"{prefix}.{name}"] = (c,)

    bn("bn1", 64)
    in_c = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            prefix = f"layer{stage}.{block}"
            layout[f"{prefix}.conv1.weight"] = (width, in_c if block == 0 else width, 3, 3)
            bn(f"{prefix}.bn1", width)
            layout[f"{prefix}.conv2.weight"] = (width, width, 3, 3)
            bn(f"{prefix}.bn2", width)
            if block == 0 and stage > 1:
                layout[f"{prefix}.downsample.0.weight"] = (width, in_c, 1, 1)
                bn(f"{prefix}.downsample.1", width)
        in_c = width
    layout["fc.weight"] = (NUM_CATEGORIES, 512)
    layout["fc.bias"] = (NUM_CATEGORIES,)
    return layout


def write_release(root: Path, legacy: bool = True, drop: str | None = None, reshape: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in release_layout().items():
        if key == drop:
            continue
        if reshape == key:
            shape = (shape[0] + 1, *shape[1:])
        if key.endswith("running_var"):
            tensor = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith("running_mean") or key.endswith("bias"):
            tensor = torch.randn(shape, generator=gen) * 0.1
        elif "bn" in key or "downsample.1" in key:
            tensor = torch.rand(shape, generator=gen) + 0.5
        else:
            fan_in = int(np.prod(shape[1:]))
            tensor = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        state["module." + key] = tensor
    checkpoint = {"epoch": 40, "arch": "wideresnet18", "state_dict": state, "best_prec1": 54.0}
    torch.save(checkpoint, root / "wideresnet18_places365.pth.tar", _use_new_zipfile_serialization=not legacy)
    np.save(
        root / "W_sceneattribute_wideresnet18.npy",
        np.random.default_rng(1).standard_normal((NUM_ATTRIBUTES, 512)).astype(np.float32) * 0.05,
    )
    lines = []
    for i in range(NUM_CATEGORIES):
        name = "/b/bus_station/indoor" if i == 1 else ("/w/wood" if i == 2 else f"/c/cat{i:03d}")
        lines.append(f"{name} {i}")
    (root / "categories_places365.txt").write_text("\n".join(lines) + "\n")
    attributes = ["natural light", "indoor lighting", "wood"] + [f"attribute {i}" for i in range(3, NUM_ATTRIBUTES)]
    (root / "labels_sunattribute.txt").write_text("\n".join(attributes) + "\n")
    return root


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_release(tmp_path_factory.mktemp("places365"))


def test_loads_release_layout_and_scores_like_higan(release):
    predictor = load_places365(root=release, device="cpu")
    assert isinstance(predictor, Places365Predictor)
    assert len(predictor.score_names) == NUM_CATEGORIES + NUM_ATTRIBUTES
    assert predictor.score_names[1] == "bus_station__indoor"
    assert predictor.score_names[2] == "wood_scene"  # collides with the attribute 'wood'
    assert predictor.score_names[NUM_CATEGORIES : NUM_CATEGORIES + 3] == ["natural_light", "indoor_lighting", "wood"]
    assert predictor.score_levels["indoor_lighting"] == "attributes"
    assert predictor.score_levels["bus_station__indoor"] == "objects"
    assert float(predictor.net.fc.weight.min()) >= 0  # HiGAN zeroes negative fc weights

    images = torch.rand(2, 3, 64, 64) * 2 - 1
    scores = predictor.score(images)
    assert scores.shape == (2, NUM_CATEGORIES + NUM_ATTRIBUTES) and scores.dtype == torch.float32
    categories, attributes = scores[:, :NUM_CATEGORIES], scores[:, NUM_CATEGORIES:]
    torch.testing.assert_close(categories.sum(1), torch.ones(2))
    # attributes = pooled features @ W.T, features from the 224x224 ImageNet-normalized input
    x = torch.nn.functional.interpolate((images + 1) / 2, size=(224, 224), mode="bilinear", antialias=True)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    logits, features = predictor.net((x - mean) / std)
    assert features.shape == (2, 512)
    w = torch.from_numpy(np.load(release / "W_sceneattribute_wideresnet18.npy"))
    torch.testing.assert_close(attributes, features @ w.T, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(categories, torch.softmax(logits, 1), rtol=1e-4, atol=1e-6)


def test_zip_format_and_explicit_paths(tmp_path, release):
    root = write_release(tmp_path / "zip", legacy=False)
    predictor = load_places365(
        weights=root / "wideresnet18_places365.pth.tar",
        attribute_weights=release / "W_sceneattribute_wideresnet18.npy",
        categories=release / "categories_places365.txt",
        attributes=release / "labels_sunattribute.txt",
    )
    assert predictor.score(torch.zeros(1, 3, 224, 224)).shape == (1, 467)


def test_bad_files_are_refused(tmp_path, release):
    with pytest.raises(PredictorLoadError, match="missing key 'layer3.1.bn2.weight'"):
        load_places365(root=write_release(tmp_path / "a", drop="layer3.1.bn2.weight"))
    with pytest.raises(PredictorLoadError, match=r"'fc.weight' has shape \[366, 512\]"):
        load_places365(root=write_release(tmp_path / "b", reshape="fc.weight"))
    with pytest.raises(PredictorLoadError, match="give root=DIR"):
        load_places365()
    with pytest.raises(FileNotFoundError, match="categories_places365.txt"):
        load_places365(root=tmp_path / "nowhere")
    bad_w = tmp_path / "w.npy"
    np.save(bad_w, np.zeros((101, 512), np.float32))
    with pytest.raises(PredictorLoadError, match=r"\[101, 512\].*expected \[102, 512\]"):
        load_places365(root=release, attribute_weights=bad_w)
    bad_categories = tmp_path / "cats.txt"
    bad_categories.write_text("/a/airfield 0\n/b/bar 2\n")
    with pytest.raises(PredictorLoadError, match="without gaps"):
        load_places365(root=release, categories=bad_categories)
    with pytest.raises(PredictorLoadError, match="unknown option"):
        load_places365(root=release, colour="red")


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_malicious_weights_run_nothing(tmp_path, release):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {"conv1.weight": _Payload(str(marker))}}, evil, _use_new_zipfile_serialization=False)
    with pytest.raises(PredictorLoadError, match="refused"):
        load_places365(root=release, weights=evil)
    assert not marker.exists()


def test_registry(release):
    assert available_predictors()[:2] == ["world", "places365"]
    predictor = build_predictor("places365", parse_options([f"root={release}"]), device="cpu")
    assert predictor.name == "places365"
    with pytest.raises(PredictorSpecError, match="unknown predictor 'nope'"):
        build_predictor("nope")
    with pytest.raises(PredictorSpecError, match="no module named"):
        build_predictor("no_such_module_xyz:make")
    with pytest.raises(PredictorSpecError, match="score_names"):
        build_predictor("collections:OrderedDict")
    with pytest.raises(PredictorSpecError, match="KEY=VALUE"):
        parse_options(["root"])


def test_root_with_a_tilde_is_the_home_folder(release, monkeypatch):
    monkeypatch.setenv("HOME", str(release.parent))  # as when the shell left root='~/...' unexpanded
    predictor = build_predictor("places365", parse_options([f"root=~/{release.name}"]), device="cpu")
    assert len(predictor.score_names) == NUM_CATEGORIES + NUM_ATTRIBUTES
