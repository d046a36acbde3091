"""The Places365 scene classifier with the SUN-attribute head, as HiGAN uses it.

Files (from the CSAILVision/places365 release; the user gives local paths, nothing is
downloaded):

* ``wideresnet18_places365.pth.tar`` — a ResNet-18 variant (no max-pool after ``conv1``,
  ``AvgPool2d(14)`` on the 14x14 ``layer4`` output of a 224x224 input, ``fc`` 512 -> 365),
  stored as ``{'state_dict': {'module.conv1.weight': ..., ...}}`` (DataParallel prefix).
* ``W_sceneattribute_wideresnet18.npy`` — ``[102, 512]`` weights of the attribute head.
* ``categories_places365.txt`` — lines ``/a/airfield 0``; the name is the path after the
  letter folder with ``/`` -> ``__`` (``/a/apartment_building/outdoor`` ->
  ``apartment_building__outdoor``), as HiGAN's ``ScenePredictor`` does.
* ``labels_sunattribute.txt`` — one attribute per line; spaces -> ``_``.

Scoring (HiGAN ``predictors/scene_predictor.py``): images resized to 224x224 (bilinear,
antialiased like PIL), scaled to [0, 1], normalized with the ImageNet mean/std; category
scores are the softmax of the logits; attribute scores are the pooled 512-d features
times the attribute weights (``features @ W.T``). Like HiGAN, negative ``fc`` weights are
zeroed after loading (HiGAN does it to reuse the weights for class activation maps, and
it changes the category probabilities, so we keep it to match its scores).

Score names: the 365 categories (level ``objects``) then the 102 attributes (level
``attributes``). A category named like an attribute gets the suffix ``_scene``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import MissingFileError, SceneeditError

WEIGHTS_FILE = "wideresnet18_places365.pth.tar"
ATTRIBUTE_WEIGHTS_FILE = "W_sceneattribute_wideresnet18.npy"
CATEGORIES_FILE = "categories_places365.txt"
ATTRIBUTES_FILE = "labels_sunattribute.txt"
INPUT_SIZE = 224
FEATURE_DIM = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PredictorLoadError(SceneeditError, ValueError):
    """A predictor file is missing, malformed, or does not fit the architecture."""


# ----- the network (module names = the checkpoint's keys) ------------------------------------
class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with batch norm, identity or 1x1 shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class WideResNet18(nn.Module):
    """Places365's ``wideresnet18``: ``[N, 3, 224, 224]`` -> (logits ``[N, C]``, features ``[N, 512]``)."""

    def __init__(self, num_classes: int = 365) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AvgPool2d(14)
        self.fc = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        features = self.avgpool(x).flatten(1)
        return self.fc(features), features


# ----- label files ---------------------------------------------------------------------------
def read_categories(path: Path) -> list[str]:
    """Category names in index order from ``categories_places365.txt``."""
    if not path.is_file():
        raise MissingFileError(f"{path}: no such category list")
    by_index: dict[int, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].startswith("/") or len(parts[0]) < 4:
            raise PredictorLoadError(f"{path}:{number}: expected '/x/name index', got {line.strip()!r}")
        try:
            index = int(parts[1])
        except ValueError:
            raise PredictorLoadError(f"{path}:{number}: index {parts[1]!r} is not an integer") from None
        if index in by_index:
            raise PredictorLoadError(f"{path}:{number}: index {index} appears twice")
        by_index[index] = parts[0][3:].replace("/", "__")
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise PredictorLoadError(f"{path}: indices must be 0..{len(by_index) - 1} without gaps")
    return [by_index[i] for i in range(len(by_index))]


def read_attributes(path: Path) -> list[str]:
    """Attribute names in order from ``labels_sunattribute.txt`` (spaces -> ``_``)."""
    if not path.is_file():
        raise MissingFileError(f"{path}: no such attribute list")
    names = [line.strip().replace(" ", "_") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise PredictorLoadError(f"{path}: no attribute names")
    if len(set(names)) != len(names):
        raise PredictorLoadError(f"{path}: duplicate attribute names")
    return names


# ----- weights -------------------------------------------------------------------------------
def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The classifier's state dict from a ``.pth.tar`` (tensors only; 'module.' stripped)."""
    import pickle

    if not path.is_file():
        raise MissingFileError(f"{path}: no such weights file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise PredictorLoadError(
            f"{path}: refused to load: the file holds objects beyond tensors and containers "
            f"({str(exc).splitlines()[0]})"
        ) from exc
    except Exception as exc:
        raise PredictorLoadError(f"{path}: corrupt or unreadable torch file ({exc})") from exc
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict):
        raise PredictorLoadError(
            f"{path}: expected a state dict (or {{'state_dict': ...}}), got {type(payload).__name__}"
        )
    state = {}
    for key, value in payload.items():
        if not isinstance(key, str):
            raise PredictorLoadError(f"{path}: non-string key {key!r}")
        state[key[len("module.") :] if key.startswith("module.") else key] = value
    return state


def load_network(path: Path, num_classes: int) -> WideResNet18:
    """Build the network and load ``path`` strictly (BatchNorm step counters may be absent,
    as in the 2017 release)."""
    state = read_state_dict(path)
    net = WideResNet18(num_classes)
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing:
        raise PredictorLoadError(
            f"{path}: missing key {missing[0]!r} (expected shape {list(own[missing[0]].shape)}); {len(missing)} missing"
        )
    if unexpected:
        raise PredictorLoadError(f"{path}: unexpected key {unexpected[0]!r}; {len(unexpected)} unexpected")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise PredictorLoadError(f"{path}: key {key!r} is not a tensor")
        if tuple(value.shape) != tuple(own[key].shape):
            raise PredictorLoadError(
                f"{path}: key {key!r} has shape {list(value.shape)}, expected {list(own[key].shape)}"
            )
    merged = {k: state.get(k, own[k]).to(own[k].dtype) for k in own}
    net.load_state_dict(merged, strict=True)
    with torch.no_grad():
        net.fc.weight.clamp_(min=0)  # as HiGAN (see module docstring)
    return net.eval().requires_grad_(False)


# ----- the predictor -------------------------------------------------------------------------
class Places365Predictor(nn.Module):
    """Scores: ``[N, 365 + 102]`` (category probabilities, then attribute responses)."""

    attribute_weight: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    name = "places365"

    def __init__(
        self, net: WideResNet18, attribute_weight: np.ndarray, categories: list[str], attributes: list[str]
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("attribute_weight", torch.as_tensor(np.asarray(attribute_weight, np.float32)))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        attribute_set = set(attributes)
        self.category_names = [f"{c}_scene" if c in attribute_set else c for c in categories]
        self.attribute_names = list(attributes)
        self.score_names = self.category_names + self.attribute_names
        self.score_levels = {
            **{c: "objects" for c in self.category_names},
            **{a: "attributes" for a in self.attribute_names},
        }

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` in [-1, 1] -> normalized ``[N, 3, 224, 224]``."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"places365: expected images [N, 3, H, W], got {list(images.shape)}")
        x = ((images.float() + 1) / 2).clamp(0, 1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    @torch.inference_mode()
    def score(self, images: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(images.to(self.mean.device))
        logits, features = self.net(x)
        categories = F.softmax(logits, dim=1)
        attributes = features @ self.attribute_weight.t()
        return torch.cat([categories, attributes], dim=1).float()


def load_places365(
    weights: str | os.PathLike | None = None,
    attribute_weights: str | os.PathLike | None = None,
    categories: str | os.PathLike | None = None,
    attributes: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    **unknown: Any,
) -> Places365Predictor:
    """Load the predictor from local files: each path given, or found by its standard name
    in ``root``. Raises ``FileNotFoundError`` / :class:`PredictorLoadError` naming the file."""
    from ...device import resolve_device

    if unknown:
        raise PredictorLoadError(
            f"places365: unknown option(s) {', '.join(sorted(unknown))}; "
            "allowed: root, weights, attribute_weights, categories, attributes, device"
        )

    def pick(value: Any, default_name: str, option: str) -> Path:
        if value is not None:  # ~ too: a quoted option (root='~/places365') reaches us unexpanded
            return Path(value).expanduser()
        if root is None:
            raise PredictorLoadError(
                f"places365: give root=DIR holding {default_name} (or {option}=PATH); nothing is downloaded"
            )
        return Path(root).expanduser() / default_name

    category_names = read_categories(pick(categories, CATEGORIES_FILE, "categories"))
    attribute_names = read_attributes(pick(attributes, ATTRIBUTES_FILE, "attributes"))
    net = load_network(pick(weights, WEIGHTS_FILE, "weights"), len(category_names))
    weight_path = pick(attribute_weights, ATTRIBUTE_WEIGHTS_FILE, "attribute_weights")
    if not weight_path.is_file():
        raise MissingFileError(f"{weight_path}: no such attribute weights file")
    try:
        attribute_weight = np.load(weight_path, allow_pickle=False)
    except (ValueError, EOFError) as exc:  # EOFError: an empty file
        from ..safe_npy import npy_error_reason

        raise PredictorLoadError(f"{weight_path}: not a plain numeric .npy array ({npy_error_reason(exc)})") from exc
    if attribute_weight.shape != (len(attribute_names), FEATURE_DIM) or attribute_weight.dtype.kind != "f":
        raise PredictorLoadError(
            f"{weight_path}: attribute weights have shape {list(attribute_weight.shape)} ({attribute_weight.dtype}), "
            f"expected [{len(attribute_names)}, {FEATURE_DIM}] floats"
        )
    if not np.all(np.isfinite(attribute_weight)):
        raise PredictorLoadError(f"{weight_path}: attribute weights contain NaN or infinite values")
    predictor = Places365Predictor(net, attribute_weight, category_names, attribute_names)
    return predictor.to(resolve_device(device)).eval()
