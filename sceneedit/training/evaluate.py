"""Quality of a generator trained on the procedural room world, measured by the world predictor.

No Inception weights exist offline, so this is **not FID**. The Fréchet distance here
("FD-world") is computed in the feature space of the world predictor
(``resources/world_predictor.safetensors``): the spatial means of the four stage maps of its
trunk, concatenated (``40 + 64 + 96 + 96 = 296`` dimensions with the shipped predictor). It is
comparable only with other FD-world figures from the same predictor file (its hash is recorded).

Figures (one JSON, ``figures.json``):

* FD-world of N generated images (truncation psi 1.0, and the generator's default truncation)
  against N rendered images, and of a second rendered set against the first (the floor: what
  two samples of the world itself score at this N);
* the category histogram (argmax of the predictor's four category scores) of the generated
  images against the world's (the rendered set's true labels and its predicted categories), the
  largest per-category gap in percentage points, and how confident those argmaxes are;
* per score (every factor the predictor reads) the mean and std of the predicted scores,
  generated vs rendered;
* the category check the shipped generator's test repeats (512 fixed-seed samples, psi 1.0);
* 8x8 sample grids on fixed seeds 0-63 (the generator's default truncation, and psi 1.0) and a
  grid of rendered rooms.

Command line::

    python -m sceneedit.training.evaluate --generator G.safetensors --num 5000 --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..device import describe_cpu, describe_device, resolve_device
from ..errors import USER_ERRORS, SceneeditError, user_message
from ..files import atomic_path, atomic_write_text
from ..generators.base import Generator, to_uint8_images
from ..generators.checkpoints import load_generator
from ..generators.fingerprint import generator_fingerprint
from ..imaging import make_contact_sheet, save_png
from ..resources import resource_path
from ..scenes import CATEGORIES, WORLD_VERSION, RenderPool
from ..scenes.batch import factors_for_index
from ..semantics.predictors.world import WorldPredictor, default_predictor_path, load_world_predictor

EVALUATION_FORMAT = "sceneedit-generator-evaluation"
EVALUATION_VERSION = 1
DEFAULT_GENERATOR_FILE = "default_generator.safetensors"

FEATURE_DESCRIPTION = (
    "world predictor trunk: spatial mean of each of the four stage maps (after the second "
    "conv + batch norm + ReLU of each stage), concatenated"
)

#: Streams of the evaluation sets: disjoint from the training streams of the GAN and the predictor.
RENDERED_SEED = 2_000_001
REFERENCE_SEED = 2_000_002
#: ``sample_z(num, GENERATED_SEED)`` gives the generated set's codes.
GENERATED_SEED = 2_000_003
#: The sample grids show ``sample_z_for_seeds(GRID_SEEDS)`` (as ``sceneedit synth --seeds 0-63``).
GRID_SEEDS = tuple(range(64))
GRID_COLUMNS = 8

#: The category check that the shipped generator's test repeats: ``sample_z(CHECK_COUNT,
#: CHECK_SEED)`` at psi 1.0, against the world's category shares, within CATEGORY_BOUND_PP.
#: 512 samples (standard error of a 25 % share: 1.9 pp; 2.7 pp at 256) keep the check close
#: to the full set's histogram while the test stays well under 30 s on two cores.
CHECK_COUNT = 512
CHECK_SEED = 31_337
CHECK_PSI = 1.0
CATEGORY_BOUND_PP = 10.0
#: A category probability above this counts as a confident classification.
CONFIDENT = 0.9
#: Scenes whose sampled (not rendered) factors give the world's category shares.
WORLD_SHARES_COUNT = 20_000
WORLD_SHARES_SEED = 2_000_004

#: Tag of the machine-readable block in a model card (an HTML comment holding JSON).
QUALITY_BLOCK_TAG = "sceneedit-quality-check"
_QUALITY_BLOCK = re.compile(r"<!--\s*" + re.escape(QUALITY_BLOCK_TAG) + r"\s*(\{.*?\})\s*-->", re.DOTALL)

Log = Callable[[str], None]


class EvaluationError(SceneeditError, ValueError):
    """Evaluation settings or inputs that cannot work (named in the message)."""


# ----- Fréchet distance (no scipy needed) -----------------------------------------------------
@contextmanager
def _one_thread():
    # A 296-d eigh takes ~10 ms on one thread but 0.2-3 s on two on a busy 2-core machine
    # (threads spin-waiting for each other), in torch and in numpy's OpenBLAS alike.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _symmetric_eigh(matrix: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric part of ``matrix`` (float64)."""
    m = torch.as_tensor(np.asarray(matrix, dtype=np.float64))
    return torch.linalg.eigh((m + m.T) / 2)


@_one_thread()
def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite ``[D, D]`` matrix.

    Eigen-decomposition based (no scipy); eigenvalues below zero (round-off) are clipped to zero.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise EvaluationError(f"expected a square matrix, got shape {list(matrix.shape)}")
    values, vectors = _symmetric_eigh(matrix)
    return ((vectors * values.clamp(min=0).sqrt()) @ vectors.T).numpy()


@_one_thread()
def trace_sqrt_product(a: np.ndarray, b: np.ndarray) -> float:
    """``Tr((a @ b)^(1/2))`` for symmetric PSD ``a``, ``b`` ``[D, D]``.

    ``a @ b`` is similar to ``sqrt(a) @ b @ sqrt(a)`` (symmetric PSD), so the trace of its
    square root is the sum of the square roots of that matrix's eigenvalues.
    """
    root_a = torch.as_tensor(psd_sqrt(a))
    inner = root_a @ torch.as_tensor(np.asarray(b, dtype=np.float64)) @ root_a
    values, _ = _symmetric_eigh(inner.numpy())
    return float(values.clamp(min=0).sqrt().sum())


@dataclass(frozen=True)
class FeatureStats:
    """Mean ``[D]`` and covariance ``[D, D]`` (float64) of ``count`` feature vectors."""

    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    @_one_thread()
    def of(cls, features: np.ndarray) -> FeatureStats:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] < 2:
            raise EvaluationError(f"need features [N >= 2, D] for a covariance, got shape {list(features.shape)}")
        x = torch.from_numpy(features)
        mean = x.mean(dim=0)
        centered = x - mean
        cov = centered.T @ centered / (x.shape[0] - 1)
        return cls(mean.numpy(), cov.numpy(), int(features.shape[0]))


def frechet_distance(first: FeatureStats, second: FeatureStats) -> float:
    """``|mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))`` between two Gaussians (>= 0)."""
    if first.mean.shape != second.mean.shape:
        raise EvaluationError(f"feature sizes differ: {first.mean.shape[0]} vs {second.mean.shape[0]}")
    diff = first.mean - second.mean
    value = (
        float((diff * diff).sum())
        + float(np.trace(first.cov) + np.trace(second.cov))
        - 2 * trace_sqrt_product(first.cov, second.cov)
    )
    return float(max(value, 0.0))


# ----- predictor outputs ------------------------------------------------------------------------
def pooled_features_and_scores(predictor: WorldPredictor, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``images [N, 3, H, W]`` in [-1, 1] -> ``(features [N, F], scores [N, S])`` float32 numpy
    (see :meth:`WorldPredictor.pooled_features_and_scores` and :data:`FEATURE_DESCRIPTION`)."""
    features, scores = predictor.pooled_features_and_scores(images)
    return features.cpu().numpy(), scores.cpu().numpy()


@dataclass
class ImageSet:
    """Predictor outputs of one evaluation set."""

    features: np.ndarray  # [N, F]
    scores: np.ndarray  # [N, S]
    true_categories: np.ndarray | None = None  # [N] (rendered sets only)

    def predicted_categories(self, num_categories: int) -> np.ndarray:
        return self.scores[:, :num_categories].argmax(axis=1)


def _batches(total: int, size: int):
    for start in range(0, total, size):
        yield start, min(size, total - start)


@torch.no_grad()
def generate(
    generator: Generator, z: torch.Tensor, truncation_psi: float, truncation_layers: int | None = None
) -> torch.Tensor:
    """``z [N, z_dim]`` -> images ``[N, 3, R, R]`` in [-1, 1] (psi 1.0 means no truncation)."""
    wp = generator.map(z.to(generator.device), truncation_psi=truncation_psi, truncation_layers=truncation_layers)
    return generator.synthesize(wp)


def generated_set(
    generator: Generator,
    predictor: WorldPredictor,
    count: int,
    seed: int,
    truncation_psi: float,
    truncation_layers: int | None = None,
    batch_size: int = 100,
) -> ImageSet:
    """Predictor outputs of ``generator`` on ``sample_z(count, seed)``."""
    z = generator.sample_z(count, seed)
    features, scores = [], []
    for start, size in _batches(count, batch_size):
        images = generate(generator, z[start : start + size], truncation_psi, truncation_layers)
        f, s = pooled_features_and_scores(predictor, images)
        features.append(f)
        scores.append(s)
    return ImageSet(np.concatenate(features), np.concatenate(scores))


def uint8_to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, H, W]`` in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def rendered_set(
    predictor: WorldPredictor, count: int, seed: int, resolution: int, batch_size: int = 250, workers: int = 0
) -> tuple[ImageSet, np.ndarray]:
    """Predictor outputs of scenes ``0 .. count-1`` of world stream ``seed`` rendered at
    ``resolution``; also returns the first 64 images (uint8 ``[64, R, R, 3]``) for a grid."""
    features, scores, categories = [], [], []
    first: np.ndarray | None = None
    with RenderPool(workers, resolution) as pool:
        for start, size in _batches(count, batch_size):
            images, labels = pool.render(size, seed=seed, start=start)
            if first is None:
                first = images[: len(GRID_SEEDS)]
            f, s = pooled_features_and_scores(predictor, uint8_to_tensor(images, predictor.device))
            features.append(f)
            scores.append(s)
            categories.append(np.asarray(labels["category"], dtype=np.int64))
    if first is None:
        raise ValueError(f"a rendered set needs at least one scene, got count={count}")
    return ImageSet(np.concatenate(features), np.concatenate(scores), np.concatenate(categories)), first


# ----- categories --------------------------------------------------------------------------------
def category_shares(categories: np.ndarray, num_categories: int = len(CATEGORIES)) -> np.ndarray:
    """Fractions ``[K]`` of each category index in ``categories [N]``."""
    categories = np.asarray(categories, dtype=np.int64)
    if categories.size == 0:
        raise EvaluationError("no images to make a category histogram from")
    return np.bincount(categories, minlength=num_categories)[:num_categories] / categories.size


def max_gap_pp(shares: np.ndarray, reference: np.ndarray) -> float:
    """Largest per-category difference between two share vectors, in percentage points."""
    return float(np.max(np.abs(np.asarray(shares) - np.asarray(reference))) * 100.0)


def world_category_shares(count: int = WORLD_SHARES_COUNT, seed: int = WORLD_SHARES_SEED) -> np.ndarray:
    """The world's category shares ``[K]``: sampled factors of ``count`` scenes (nothing rendered)."""
    categories = np.array([factors_for_index(seed, i).category for i in range(count)], dtype=np.int64)
    return category_shares(categories)


def _as_named(shares: np.ndarray) -> dict[str, float]:
    return {name: round(float(shares[i]), 5) for i, name in enumerate(CATEGORIES)}


def category_check(
    generator: Generator,
    predictor: WorldPredictor,
    count: int = CHECK_COUNT,
    seed: int = CHECK_SEED,
    truncation_psi: float = CHECK_PSI,
    world_shares: np.ndarray | None = None,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Predicted category shares of ``sample_z(count, seed)`` vs the world's, and their largest gap.

    Returns ``{count, z_seed, truncation_psi, histogram, world, max_gap_pp}`` (shares as fractions).
    """
    if count < 1:
        raise EvaluationError(f"category check needs at least one sample, got {count}")
    world = world_category_shares() if world_shares is None else np.asarray(world_shares)
    images = generated_set(generator, predictor, count, seed, truncation_psi, batch_size=batch_size)
    shares = category_shares(images.predicted_categories(len(CATEGORIES)))
    return {
        "count": int(count),
        "z_seed": int(seed),
        "truncation_psi": float(truncation_psi),
        "histogram": _as_named(shares),
        "world": _as_named(world),
        "max_gap_pp": round(max_gap_pp(shares, world), 3),
    }


def score_statistics(scores: np.ndarray) -> list[dict[str, float]]:
    """Per column of ``scores [N, S]``: ``{mean, std}``."""
    return [
        {"mean": round(float(m), 5), "std": round(float(s), 5)}
        for m, s in zip(scores.mean(axis=0), scores.std(axis=0), strict=True)
    ]


# ----- grids -------------------------------------------------------------------------------------
def sample_grid(
    generator: Generator,
    truncation_psi: float | None = None,
    truncation_layers: int | None = None,
    seeds: tuple[int, ...] = GRID_SEEDS,
) -> np.ndarray:
    """8-column uint8 contact sheet of the generator on ``seeds`` (default truncation if None)."""
    z = generator.sample_z_for_seeds(list(seeds))
    psi = generator.truncation_psi if truncation_psi is None else truncation_psi
    images = np.concatenate(
        [to_uint8_images(generate(generator, z[i : i + 16], psi, truncation_layers)) for i in range(0, len(seeds), 16)]
    )
    return make_contact_sheet(images, columns=GRID_COLUMNS, padding=2)


# ----- the whole evaluation ---------------------------------------------------------------------
def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file, first 16 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def describe_machine(device: torch.device) -> str:
    return f"{describe_device(device)}, {describe_cpu()} ({os.cpu_count()} cores visible), torch {torch.__version__}"


def _cached_rendered_set(
    predictor: WorldPredictor,
    predictor_hash: str,
    count: int,
    seed: int,
    resolution: int,
    batch_size: int,
    workers: int,
    cache_dir: Path | None,
) -> tuple[ImageSet, np.ndarray]:
    """:func:`rendered_set`, kept as ``.npz`` in ``cache_dir`` (keyed by everything it depends on)."""
    if cache_dir is None:
        return rendered_set(predictor, count, seed, resolution, batch_size, workers)
    path = cache_dir / f"rendered-w{WORLD_VERSION}-s{seed}-n{count}-r{resolution}-p{predictor_hash}.npz"
    if path.is_file():
        try:
            with np.load(path) as data:
                return ImageSet(data["features"], data["scores"], data["true_categories"]), data["grid_images"]
        except (OSError, KeyError, ValueError) as exc:
            print(f"warning: ignoring unreadable cache file {path} ({exc})", file=sys.stderr)
    result, grid_images = rendered_set(predictor, count, seed, resolution, batch_size, workers)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        arrays: dict[str, Any] = {
            "features": result.features,
            "scores": result.scores,
            "true_categories": result.true_categories,
            "grid_images": grid_images,
        }
        np.savez(tmp, **arrays)
    return result, grid_images


def evaluate_generator(
    generator: Generator,
    predictor: WorldPredictor,
    num: int = 5000,
    *,
    generator_path: str | os.PathLike | None = None,
    predictor_path: str | os.PathLike | None = None,
    truncated: bool = True,
    batch_size: int = 100,
    workers: int = 0,
    cache_dir: str | os.PathLike | None = None,
    log: Log | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Measure ``generator`` against the world; returns ``(figures, grids)``.

    ``figures`` is JSON-ready (see the module docstring); ``grids`` maps a PNG file name to a
    uint8 image. ``truncated=False`` skips the default-truncation set (saves a third of the time).
    """
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    if num < 2:
        raise EvaluationError(f"--num must be >= 2 (a covariance needs two samples), got {num}")
    if batch_size < 1:
        raise EvaluationError(f"batch size must be >= 1, got {batch_size}")
    names = list(predictor.score_names)
    if names[: len(CATEGORIES)] != list(CATEGORIES):
        raise EvaluationError(
            f"predictor's first scores {names[: len(CATEGORIES)]} are not the world's categories {list(CATEGORIES)}"
        )
    k = len(CATEGORIES)
    resolution = int(generator.resolution)
    predictor_hash = file_hash(predictor_path) if predictor_path is not None else "unknown"
    timing: dict[str, float] = {}
    started = time.perf_counter()

    def timed(key: str, label: str, job: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = job()
        timing[key] = round(time.perf_counter() - t0, 1)
        say(f"{label}: {timing[key]:.1f} s")
        return result

    # The cache is keyed by the predictor file's hash, so it needs the file.
    cache = Path(cache_dir) if cache_dir is not None and predictor_path is not None else None
    rendered, real_grid_images = timed(
        "rendered",
        f"rendered + scored {num} rooms (stream {RENDERED_SEED})",
        lambda: _cached_rendered_set(predictor, predictor_hash, num, RENDERED_SEED, resolution, 250, workers, cache),
    )
    reference, _ = timed(
        "rendered_reference",
        f"rendered + scored {num} reference rooms (stream {REFERENCE_SEED})",
        lambda: _cached_rendered_set(predictor, predictor_hash, num, REFERENCE_SEED, resolution, 250, workers, cache),
    )
    sets: dict[str, ImageSet] = {"rendered": rendered, "rendered_reference": reference}
    sets["generated"] = timed(
        "generated",
        f"generated + scored {num} images (psi 1.0)",
        lambda: generated_set(generator, predictor, num, GENERATED_SEED, 1.0, batch_size=batch_size),
    )
    if truncated:
        sets["generated_truncated"] = timed(
            "generated_truncated",
            f"generated + scored {num} images (psi {generator.truncation_psi} on {generator.truncation_layers} layers)",
            lambda: generated_set(
                generator,
                predictor,
                num,
                GENERATED_SEED,
                generator.truncation_psi,
                generator.truncation_layers,
                batch_size=batch_size,
            ),
        )

    t0 = time.perf_counter()
    stats = {name: FeatureStats.of(s.features) for name, s in sets.items()}
    fd = {name: round(frechet_distance(stats[name], stats["rendered"]), 4) for name in sets if name != "rendered"}
    timing["frechet"] = round(time.perf_counter() - t0, 2)

    world = category_shares(rendered.true_categories, k)
    histograms = {"world": world, "rendered_predicted": rendered.predicted_categories(k)}
    histograms["rendered_predicted"] = category_shares(histograms["rendered_predicted"], k)
    for name in sets:
        if name.startswith("generated"):
            histograms[name] = category_shares(sets[name].predicted_categories(k), k)
    gaps = {name: round(max_gap_pp(h, world), 3) for name, h in histograms.items() if name != "world"}
    # How sure the predictor is of each image's category: near 1 on rendered rooms; an argmax
    # always picks some category, so low confidence flags images that resemble no room.
    confidence = {}
    for name, image_set in sets.items():
        if name != "rendered_reference":
            top = image_set.scores[:, :k].max(axis=1)
            confidence[name] = {
                "mean_top_probability": round(float(top.mean()), 4),
                "share_top_above_0.9": round(float((top > CONFIDENT).mean()), 4),
            }

    per_set_scores = {name: score_statistics(s.scores) for name, s in sets.items() if name != "rendered_reference"}
    factors: dict[str, Any] = {}
    for j, name in enumerate(names):
        entry: dict[str, Any] = {"level": predictor.score_levels.get(name, "unknown")}
        for set_name, columns in per_set_scores.items():
            entry[set_name] = columns[j]
        spread = entry["rendered"]["std"]
        for set_name in per_set_scores:
            if set_name.startswith("generated"):
                entry[f"{set_name}_mean_shift_in_rendered_std"] = round(
                    abs(entry[set_name]["mean"] - entry["rendered"]["mean"]) / max(spread, 1e-6), 3
                )
        factors[name] = entry

    check = timed(
        "check",
        f"category check ({CHECK_COUNT} samples, seed {CHECK_SEED})",
        lambda: category_check(generator, predictor, world_shares=world_category_shares()),
    )
    check.update(bound_pp=CATEGORY_BOUND_PP, passed=bool(check["max_gap_pp"] <= CATEGORY_BOUND_PP))

    grids = timed(
        "grids",
        "sample grids",
        lambda: {
            "samples.png": sample_grid(generator),
            "samples_psi1.png": sample_grid(generator, truncation_psi=1.0),
            "reals.png": make_contact_sheet(real_grid_images, columns=GRID_COLUMNS, padding=2),
        },
    )
    timing["total"] = round(time.perf_counter() - started, 1)

    metadata = getattr(generator, "checkpoint_metadata", None) or {}
    figures: dict[str, Any] = {
        "format": EVALUATION_FORMAT,
        "version": EVALUATION_VERSION,
        "generator": {
            "path": str(generator_path) if generator_path is not None else None,
            "file_sha256_16": file_hash(generator_path) if generator_path is not None else None,
            "fingerprint": generator_fingerprint(generator),
            "describe": generator.describe(),
            "config": dict(generator.config),
            "training": metadata.get("training"),
            "dataset": metadata.get("dataset"),
        },
        "predictor": {
            "path": str(predictor_path) if predictor_path is not None else None,
            "file_sha256_16": predictor_hash,
            "features": FEATURE_DESCRIPTION,
            "feature_dim": int(rendered.features.shape[1]),
            "metrics": predictor.metrics,
        },
        "settings": {
            "num": int(num),
            "resolution": resolution,
            "world_version": WORLD_VERSION,
            "rendered_stream": RENDERED_SEED,
            "reference_stream": REFERENCE_SEED,
            "generated_z_seed": GENERATED_SEED,
            "grid_seeds": f"{GRID_SEEDS[0]}-{GRID_SEEDS[-1]}",
            "default_truncation": {"psi": generator.truncation_psi, "layers": generator.truncation_layers},
            "noise": "fixed noise buffers (randomize_noise off)",
        },
        "frechet_distance": fd,
        "categories": {
            "names": list(CATEGORIES),
            "histograms": {name: _as_named(h) for name, h in histograms.items()},
            "max_gap_pp_vs_world": gaps,
            "confidence": confidence,
        },
        "factors": factors,
        "check": check,
        "grids": sorted(grids),
        "timing_s": timing,
        "hardware": describe_machine(predictor.device),
    }
    return figures, grids


def write_outputs(figures: dict[str, Any], grids: dict[str, np.ndarray], out_dir: str | os.PathLike) -> Path:
    """Write ``figures.json`` and the grid PNGs into ``out_dir`` (atomically each); returns the JSON path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, image in grids.items():
        save_png(image, out / name)
    path = out / "figures.json"
    atomic_write_text(path, json.dumps(figures, indent=1, sort_keys=False) + "\n")
    return path


def read_figures(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``figures.json`` (a folder holding one is accepted) with clear errors."""
    path = Path(path)
    if path.is_dir():
        path = path / "figures.json"
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file (run python -m sceneedit.training.evaluate first)") from None
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(figures, dict) or figures.get("format") != EVALUATION_FORMAT:
        found = figures.get("format") if isinstance(figures, dict) else None
        raise EvaluationError(f"{path}: not a sceneedit generator evaluation (format {found!r})")
    if int(figures.get("version", 0)) > EVALUATION_VERSION:
        raise EvaluationError(f"{path}: evaluation version {figures['version']} is newer than this sceneedit")
    return figures


# ----- the model card's machine-readable block ---------------------------------------------------
def format_quality_block(values: dict[str, Any]) -> str:
    """An HTML comment (invisible when rendered) holding ``values`` as JSON on one line."""
    return f"<!-- {QUALITY_BLOCK_TAG} {json.dumps(values, sort_keys=True)} -->"


def parse_quality_block(markdown: str, source: str = "model card") -> dict[str, Any]:
    """The JSON of the model card's :func:`format_quality_block` comment; errors name ``source``."""
    found = _QUALITY_BLOCK.findall(markdown)
    if len(found) != 1:
        raise EvaluationError(
            f"{source}: expected exactly one '<!-- {QUALITY_BLOCK_TAG} {{...}} -->' block, found {len(found)}"
        )
    try:
        values = json.loads(found[0])
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"{source}: the {QUALITY_BLOCK_TAG} block is not valid JSON ({exc})") from exc
    if not isinstance(values, dict):
        raise EvaluationError(f"{source}: the {QUALITY_BLOCK_TAG} block must hold a JSON object")
    return values


# ----- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sceneedit.training.evaluate",
        description="Measure a generator trained on the room world: FD in the world predictor's feature "
        "space (not FID: no Inception weights offline), category histogram, per-factor scores, "
        "sample grids. Writes DIR/figures.json and PNG grids.",
    )
    parser.add_argument(
        "--generator", type=Path, default=None, help=f"generator file (default: resources/{DEFAULT_GENERATOR_FILE})"
    )
    parser.add_argument(
        "--predictor",
        type=Path,
        default=None,
        help="world predictor file (default: resources/world_predictor.safetensors)",
    )
    parser.add_argument("--num", type=int, default=5000, help="images per set (default 5000)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--batch-size", type=int, default=100, help="generator batch size (default 100)")
    parser.add_argument("--workers", type=int, default=0, help="render worker processes (default 0: in this process)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: best available)")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="keep the rendered sets' predictor outputs here and reuse them"
    )
    parser.add_argument(
        "--no-truncated", action="store_true", help="skip the set at the generator's default truncation"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise EvaluationError(f"--threads must be >= 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        if args.workers < 0:
            raise EvaluationError(f"--workers must be >= 0, got {args.workers}")
        device = resolve_device(args.device)
        generator_path = args.generator or resource_path(DEFAULT_GENERATOR_FILE)
        predictor_path = args.predictor or default_predictor_path()
        generator = load_generator(generator_path, device=device)
        predictor = load_world_predictor(predictor_path, device=device)
        figures, grids = evaluate_generator(
            generator,
            predictor,
            args.num,
            generator_path=generator_path,
            predictor_path=predictor_path,
            truncated=not args.no_truncated,
            batch_size=args.batch_size,
            workers=args.workers,
            cache_dir=args.cache_dir,
        )
        figures["command"] = "python -m sceneedit.training.evaluate " + shlex.join(
            argv if argv is not None else sys.argv[1:]
        )
        path = write_outputs(figures, grids, args.out)
    except USER_ERRORS as exc:
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 2
    fd, gaps = figures["frechet_distance"], figures["categories"]["max_gap_pp_vs_world"]
    print(
        f"FD-world (world predictor features, not FID): generated {fd['generated']:.3f}"
        + (f", truncated {fd['generated_truncated']:.3f}" if "generated_truncated" in fd else "")
        + f", rendered-vs-rendered floor {fd['rendered_reference']:.3f}"
    )
    print("largest category gap vs the world: " + ", ".join(f"{k} {v:.1f} pp" for k, v in gaps.items()))
    print(
        f"category check ({figures['check']['count']} samples): {figures['check']['max_gap_pp']:.1f} pp "
        f"(bound {figures['check']['bound_pp']:.0f} pp) -> {'pass' if figures['check']['passed'] else 'FAIL'}"
    )
    print(f"wrote {path} in {figures['timing_s']['total']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
