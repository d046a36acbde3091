"""The probing pipeline: sample and score, fit boundaries, re-score per layer, build a bundle.

1. :func:`sample_and_score` draws N seeded codes, maps them (untruncated W for fitting,
   W+ with the generator's truncation for synthesis), synthesizes in batches, scores each
   image with a predictor, and stores codes and scores chunk by chunk (:mod:`.storage`):
   memory bounded at any N, resumable, shardable (``shard=(i, n)``; merge with
   :func:`.storage.merge_runs`).
2. :func:`fit_concepts` fits one linear boundary per concept (:mod:`.boundaries`) in W
   (one normal shared by all layers, as HiGAN ships) or per layer (space ``wp``).
3. :func:`rescore_concepts` measures Δs per layer and with all layers moved
   (:mod:`.rescore`), on the first K' stored codes; results are cached per concept in
   ``rescore.json`` so an interrupted run continues where it stopped.
4. :func:`build_bundle` picks each concept's layers (:func:`.layers.select_layers`) and
   slider range and returns a :class:`BoundaryBundle`.

:func:`run_probe` chains the four steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SceneeditError
from ..generators.base import Generator
from .boundaries import (
    DEFAULT_CHOSEN,
    DEFAULT_SPLIT,
    BoundaryError,
    BoundaryFit,
    fit_on_sets,
    select_extremes,
)
from .bundle import fingerprint_for
from .concepts import LEVELS, BoundaryBundle, Concept
from .layers import DEFAULT_SHARE, default_layers, format_layer_spec, select_layers
from .levels import infer_level
from .predictors.base import Predictor
from .rescore import RescoreResult, layer_strengths, rescore_concept
from .storage import ProbeStore, StoreError, chunk_seed

RESCORE_FILE = "rescore.json"
FITS_FILE = "fits.json"
#: Codes used to estimate each concept's slider range.
RANGE_SAMPLES = 20000


class ProbeError(SceneeditError, ValueError):
    """The probe cannot run with these inputs (mismatch, unknown concept, bad option)."""


@dataclass
class ProbeConfig:
    """Sampling options. ``truncation_*`` None = the generator's defaults."""

    num: int = 2000
    seed: int = 0
    chunk_size: int = 10000
    batch_size: int = 32
    shard: tuple[int, int] | None = None
    store_wp: bool = False
    truncation_psi: float | None = None
    truncation_layers: int | None = None


@dataclass
class ConceptFit:
    """One concept's boundary: ``normal`` ``[1, D]`` (space w) or ``[L, D]`` (wp)."""

    name: str
    space: str
    normal: np.ndarray
    accuracy: float
    fits: list[BoundaryFit]
    offset: np.ndarray = field(default_factory=lambda: np.zeros(1))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "space": self.space,
            "accuracy": self.accuracy,
            "train_accuracy": float(np.mean([f.train_accuracy for f in self.fits])),
            "fit_seconds": float(sum(f.fit_seconds for f in self.fits)),
            "sample_counts": self.fits[0].sample_counts(),
            "solver": self.fits[0].extra,
        }


# ----- helpers -----------------------------------------------------------------------------
def _predictor_name(predictor: Predictor) -> str:
    return str(getattr(predictor, "name", type(predictor).__name__))


def _check_scores(scores: torch.Tensor, expected: int, names: list[str], predictor: Predictor) -> np.ndarray:
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or tuple(scores.shape) != (expected, len(names)):
        shape = list(scores.shape) if hasattr(scores, "shape") else type(scores).__name__
        raise ProbeError(
            f"predictor {_predictor_name(predictor)!r} returned scores of shape {shape} for {expected} images; "
            f"expected [{expected}, {len(names)}] (one column per score name)"
        )
    array = scores.detach().float().cpu().numpy()
    bad = ~np.isfinite(array)
    if bad.any():
        column = int(np.nonzero(bad.any(axis=0))[0][0])
        raise ProbeError(
            f"predictor {_predictor_name(predictor)!r} returned NaN or infinite scores for "
            f"{int(bad.any(axis=1).sum())} of {expected} images (first bad score: {names[column]!r}); "
            "nothing was written for this chunk"
        )
    return array


def _resolve_truncation(generator: Generator, config: ProbeConfig) -> tuple[float, int]:
    psi = generator.truncation_psi if config.truncation_psi is None else float(config.truncation_psi)
    layers = generator.truncation_layers if config.truncation_layers is None else int(config.truncation_layers)
    if not 0 <= layers <= generator.num_layers:
        raise ProbeError(f"truncation layers must be in [0, {generator.num_layers}], got {layers}")
    return psi, layers


@torch.inference_mode()
def w_is_shared(generator: Generator) -> bool:
    """Whether the untruncated codes repeat one W over all layers (StyleGAN-like)."""
    z = generator.sample_z(4, seed=12345)
    wp = generator.map(z, truncation_psi=1.0, truncation_layers=0)
    return bool(torch.allclose(wp, wp[:, :1].expand_as(wp), atol=1e-6, rtol=1e-5))


def probe_manifest(generator: Generator, predictor: Predictor, config: ProbeConfig) -> dict[str, Any]:
    psi, layers = _resolve_truncation(generator, config)
    shared = w_is_shared(generator)
    levels = dict(getattr(predictor, "score_levels", {}) or {})
    return {
        "num": int(config.num),
        "seed": int(config.seed),
        "chunk_size": int(config.chunk_size),
        "generator": fingerprint_for(generator),
        "predictor": _predictor_name(predictor),
        "score_names": list(predictor.score_names),
        "score_levels": {n: levels.get(n, "unknown") for n in predictor.score_names},
        "truncation_psi": float(psi),
        "truncation_layers": int(layers),
        "w_shared": shared,
        "store_wp": bool(config.store_wp or not shared),
        "shard": list(config.shard) if config.shard else None,
    }


def check_probe_matches(store: ProbeStore, generator: Generator, predictor: Predictor | None = None) -> None:
    """Raise when the run was made with another generator (or predictor)."""
    own = store.manifest.get("generator") or {}
    other = fingerprint_for(generator)
    for key in ("w_dim", "num_layers", "weights_hash"):
        if own.get(key) != other.get(key):
            raise ProbeError(
                f"{store.root} was sampled from another generator ({key}: {own.get(key)!r} there, "
                f"{other.get(key)!r} here)"
            )
    if predictor is not None:
        if store.manifest.get("predictor") != _predictor_name(predictor) or store.score_names != list(
            predictor.score_names
        ):
            raise ProbeError(
                f"{store.root} was scored by predictor {store.manifest.get('predictor')!r} "
                f"with other score names; this is {_predictor_name(predictor)!r}"
            )


# ----- 1. sample and score -----------------------------------------------------------------
@torch.inference_mode()
def sample_and_score(
    generator: Generator,
    predictor: Predictor,
    out_dir: str | Path,
    config: ProbeConfig,
    progress: bool = True,
) -> ProbeStore:
    """Sample, synthesize and score this shard's chunks into ``out_dir`` (resumable)."""
    from tqdm import tqdm

    if config.num < 1:
        raise ProbeError(f"the number of samples must be >= 1, got {config.num}")
    if config.chunk_size < 1 or config.batch_size < 1:
        raise ProbeError("chunk size and batch size must be >= 1")
    if not predictor.score_names:
        raise ProbeError(f"predictor {_predictor_name(predictor)!r} has no score names")
    predictor.to(generator.device)
    store = ProbeStore.create_or_resume(out_dir, probe_manifest(generator, predictor, config))
    manifest = store.manifest
    psi, trunc_layers = manifest["truncation_psi"], manifest["truncation_layers"]
    names = store.score_names
    todo = store.missing_chunks(config.shard)

    def size(chunk: int) -> int:
        start, stop = store.chunk_range(chunk)
        return stop - start

    total = sum(size(c) for c in store.shard_chunks(config.shard))
    remaining = sum(size(c) for c in todo)
    bar = tqdm(
        total=total,
        initial=total - remaining,
        unit="img",
        desc="sample+score",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for chunk in todo:
            start, stop = store.chunk_range(chunk)
            z_all = generator.sample_z(stop - start, seed=chunk_seed(store.manifest["seed"], chunk))
            parts: dict[str, list[np.ndarray]] = {"z": [], "scores": []}
            if manifest["w_shared"]:
                parts["w"] = []
            if manifest["store_wp"]:
                parts["wp"] = []
            for offset in range(0, stop - start, config.batch_size):
                z = z_all[offset : offset + config.batch_size]
                wp = generator.map(z, truncation_psi=psi, truncation_layers=trunc_layers)
                images = generator.synthesize(wp, truncation_psi=psi)
                scores = _check_scores(predictor.score(images), z.shape[0], names, predictor)
                parts["z"].append(z.cpu().numpy())
                parts["scores"].append(scores)
                if "w" in parts:
                    w = generator.map(z, truncation_psi=1.0, truncation_layers=0)[:, 0]
                    parts["w"].append(w.float().cpu().numpy())
                if "wp" in parts:
                    parts["wp"].append(wp.float().cpu().numpy())
                bar.update(z.shape[0])
            store.write_chunk(chunk, {k: np.concatenate(v) for k, v in parts.items()})
    finally:
        bar.close()
    return store


# ----- 2. boundaries -----------------------------------------------------------------------
def resolve_concepts(names: list[str] | None, available: list[str], limit: int = 64) -> list[str]:
    """Validate requested concept names against the scored ones (all when None)."""
    if not names:
        if len(available) > limit:
            raise ProbeError(
                f"the predictor has {len(available)} scores; choose the concepts to probe with --concepts "
                f"(e.g. {', '.join(available[:5])})"
            )
        return list(available)
    missing = [n for n in names if n not in available]
    if missing:
        raise ProbeError(f"the predictor has no score {missing[0]!r}; it has: {', '.join(available)}")
    return list(dict.fromkeys(names))


def fit_concepts(
    store: ProbeStore,
    concepts: list[str] | None = None,
    chosen: float = DEFAULT_CHOSEN,
    split_ratio: float = DEFAULT_SPLIT,
    space: str = "w",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, ConceptFit]:
    """Fit one boundary per concept from the stored codes and scores.

    ``space``: ``"w"`` (one normal from untruncated W codes) or ``"wp"`` (one per layer,
    from the stored truncated W+ codes; needs a run sampled with ``store_wp``).
    """
    from tqdm import tqdm

    store.require_complete()
    names = resolve_concepts(concepts, store.score_names)
    if space not in ("w", "wp"):
        raise ProbeError(f"space must be 'w' or 'wp', got {space!r}")
    if space == "w" and not store.manifest.get("w_shared", True):
        raise ProbeError(
            "this generator's codes differ per layer even without truncation (no shared W); "
            "fit one normal per layer instead (space 'wp', --space wp)"
        )
    kind = "w" if space == "w" else "wp"
    if not store.has_kind(kind):
        raise ProbeError(f"{store.root} stored no {kind!r} codes; sample again with the per-layer option")
    results: dict[str, ConceptFit] = {}
    for name in tqdm(names, desc="fit boundaries", unit="concept", disable=not progress, dynamic_ncols=True):
        selection = select_extremes(store.score_column(name), chosen, name)
        positive = store.gather(kind, selection.positive)
        negative = store.gather(kind, selection.negative)
        if kind == "w":
            fits = [
                fit_on_sets(
                    positive,
                    negative,
                    split_ratio,
                    seed,
                    name=name,
                    num_total=selection.num_total,
                    dropped_ties=selection.dropped_ties,
                )
            ]
        else:
            fits = [
                fit_on_sets(
                    positive[:, layer],
                    negative[:, layer],
                    split_ratio,
                    seed,
                    name=f"{name} (layer {layer})",
                    num_total=selection.num_total,
                    dropped_ties=selection.dropped_ties,
                )
                for layer in range(positive.shape[1])
            ]
        normal = np.concatenate([f.normal for f in fits], axis=0)
        results[name] = ConceptFit(
            name=name,
            space=space,
            normal=normal,
            accuracy=float(np.mean([f.accuracy for f in fits])),
            fits=fits,
            offset=np.array([f.offset for f in fits]),
        )
    store.write_json(FITS_FILE, {name: fit.to_json() for name, fit in results.items()})
    return results


# ----- 3. re-scoring -----------------------------------------------------------------------
def base_wp_batches(generator: Generator, store: ProbeStore, count: int, batch_size: int) -> Iterator[torch.Tensor]:
    """The first ``count`` stored samples as W+ codes (re-mapped from their stored z)."""
    psi, layers = store.manifest["truncation_psi"], store.manifest["truncation_layers"]
    count = min(count, store.num)
    for start in range(0, count, batch_size):
        z = store.gather("z", np.arange(start, min(start + batch_size, count)))
        with torch.inference_mode():
            yield generator.map(torch.from_numpy(z).to(generator.device), truncation_psi=psi, truncation_layers=layers)


def rescore_concepts(
    generator: Generator,
    predictor: Predictor,
    store: ProbeStore,
    fits: dict[str, ConceptFit],
    num_samples: int = 2000,
    lam: float = 2.0,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, RescoreResult]:
    """Δs per layer and with all layers moved, for every fitted concept (cached per concept)."""
    from tqdm import tqdm

    check_probe_matches(store, generator, predictor)
    if num_samples < 1:
        raise ProbeError(f"re-scoring needs at least one sample, got {num_samples}")
    predictor.to(generator.device)
    cache = store.read_json(RESCORE_FILE) or {}
    count = min(num_samples, store.num)
    settings = {"num_samples": count, "lambda": float(lam)}
    if cache.get("settings") != settings:
        cache = {"settings": settings, "concepts": {}}
    done: dict[str, Any] = cache["concepts"]
    psi, trunc_layers = store.manifest["truncation_psi"], store.manifest["truncation_layers"]
    results: dict[str, RescoreResult] = {}
    for name, fit in fits.items():
        fingerprint = np.round(fit.normal.astype(np.float64), 6).tobytes().hex()[:64]
        cached = done.get(name)
        if cached and cached.get("normal_digest") == fingerprint:
            results[name] = RescoreResult.from_json(cached)
            continue
        strengths = (
            layer_strengths(generator.num_layers, psi, trunc_layers)
            if fit.space == "w"
            else np.ones(generator.num_layers, np.float32)
        )
        with tqdm(total=count, desc=f"re-score {name}", unit="code", disable=not progress, dynamic_ncols=True) as bar:
            result = rescore_concept(
                generator,
                predictor,
                store.score_names.index(name),
                fit.normal,
                lambda: base_wp_batches(generator, store, count, max(batch_size, 1)),
                lam=lam,
                strengths=strengths,
                batch_size=batch_size,
                name=name,
                progress=bar.update,
                truncation_psi=psi,
            )
        results[name] = result
        done[name] = {**result.to_json(), "normal_digest": fingerprint}
        store.write_json(RESCORE_FILE, cache)
    return results


# ----- 4. bundle ---------------------------------------------------------------------------
def suggested_range(store: ProbeStore, fit: ConceptFit, layers: list[int]) -> tuple[float, float]:
    """Symmetric slider range ``(-a, a)``: ``a`` is half the 1st-99th percentile spread of
    the sampled codes' projections on the normal, rounded up to 0.5 (at least 1)."""
    count = min(store.num, RANGE_SAMPLES)
    if fit.space == "w":
        codes = store.gather("w", np.arange(count))
        projections = codes @ fit.normal[0]
    else:
        layer = layers[0]
        projections = store.gather("wp", np.arange(count), layer=layer) @ fit.normal[layer]
    low, high = np.percentile(projections, [1, 99])
    half = max(1.0, math.ceil((high - low) / 2 * 2) / 2)
    return (-half, half)


def concept_level(name: str, store: ProbeStore) -> str:
    level = (store.manifest.get("score_levels") or {}).get(name, "unknown")
    return level if level in LEVELS and level != "unknown" else infer_level(name)


def build_bundle(
    store: ProbeStore,
    fits: dict[str, ConceptFit],
    rescores: dict[str, RescoreResult] | None = None,
    share: float = DEFAULT_SHARE,
) -> BoundaryBundle:
    """Assemble the bundle: layers from Δs (or the level's default), ranges, provenance."""
    fingerprint = dict(store.manifest["generator"])
    num_layers = int(fingerprint["num_layers"])
    rescores = rescores or {}
    concepts: dict[str, Concept] = {}
    for name, fit in fits.items():
        level = concept_level(name, store)
        result = rescores.get(name)
        layers = select_layers(result.delta_s, share) if result is not None else None
        if layers is not None:
            rule = f"smallest contiguous range holding {share:.0%} of the total per-layer Δs"
        else:
            layers = default_layers(level, num_layers)
            rule = f"HiGAN default for level {level!r}" + (
                " (flat Δs profile)" if result is not None else " (not re-scored)"
            )
        concepts[name] = Concept(
            name=name,
            normal=fit.normal,
            layers=layers,
            level=level,
            space=fit.space,
            distance_range=suggested_range(store, fit, layers),
            delta_s=None if result is None else list(result.delta_s),
            delta_s_all=None if result is None else result.delta_s_all,
            accuracy=fit.accuracy,
            num_samples=store.num,
            predictor=store.manifest.get("predictor"),
            extra={
                "sample_counts": fit.fits[0].sample_counts(),
                "layer_rule": rule,
                "layer_spec": format_layer_spec(layers),
                "rescore": None if result is None else {"lambda": result.lam, "num_samples": result.num_samples},
                "truncation": {"psi": store.manifest["truncation_psi"], "layers": store.manifest["truncation_layers"]},
                "svm": fit.fits[0].extra,
                # The plane is normal . w = offset; the editor measures hyperplane distance with it.
                "offset": float(fit.fits[0].offset),
            },
        )
    ranked = sorted(concepts, key=lambda n: -(concepts[n].delta_s_all or 0.0)) if rescores else list(concepts)
    return BoundaryBundle(
        concepts={n: concepts[n] for n in ranked},
        generator_fingerprint=fingerprint,
        source=str(store.root),
        extra={
            "probe": {
                k: store.manifest.get(k) for k in ("num", "seed", "predictor", "truncation_psi", "truncation_layers")
            },
            "layer_share": share,
        },
    )


# ----- 5. what each concept does ------------------------------------------------------------
#: Seeds of the concept x score matrix when none are given (the shipped run uses 200).
DEFAULT_EFFECT_SEEDS = 200
#: Seeds used while choosing layers, holds and ranges (the first of the effect seeds).
DEFAULT_SELECT_SEEDS = 32
#: Codes whose mean score gradients refine the directions (``--gradient-seeds``; 0 = the SVM
#: normals as they are), drawn from seeds GRADIENT_SEED_START on (apart from the effect seeds).
DEFAULT_GRADIENT_SEEDS = 64
GRADIENT_SEED_START = 100_000
#: Unedited samples (seeds from here) against which the realism of edited images is measured
#: (nearest-neighbour ratios recorded with every trimmed range), when the predictor has pooled features.
REALISM_SEED_START, DEFAULT_REALISM_SAMPLES = 200_000, 300


@torch.inference_mode()
def editor_codes(generator: Generator, seeds: list[int]) -> np.ndarray:
    """float32 ``[N, L, D]``: each seed's code as the editor makes it (``sample_z(1, seed)``,
    the generator's default truncation, one seed per call)."""
    out = np.zeros((len(seeds), generator.num_layers, generator.w_dim), dtype=np.float32)
    for row, seed in enumerate(seeds):
        out[row] = generator.map(generator.sample_z(1, int(seed)))[0].float().cpu().numpy()
    return out


def measure_effects(
    generator: Generator,
    predictor: Predictor,
    bundle: BoundaryBundle,
    num_seeds: int = DEFAULT_EFFECT_SEEDS,
    seed_start: int = 0,
    rule: str = "selectivity",
    select_seeds: int = DEFAULT_SELECT_SEEDS,
    batch_size: int = 32,
    progress: bool = True,
    gradient_seeds: int = 0,
    concepts: list[str] | None = None,
    realism_samples: int = DEFAULT_REALISM_SAMPLES,
) -> BoundaryBundle:
    """Measure the concept x score matrix and choose layers / direction / hold / slider range by
    it (:mod:`.effects`); writes them into ``bundle`` and returns it. Side effects count only on
    the scores the predictor reads reliably when it reports held-out metrics. ``gradient_seeds``
    > 0: directions may be refined by the mean score gradients over that many codes
    (:mod:`.refine`); 0 keeps the SVM normals. ``concepts``: measure only these (the others keep
    their stored rows when those were measured on the same seeds). ``realism_samples`` > 0 and a
    predictor with pooled features: the realism of the edited images at every trial range is
    recorded against that many unedited samples (:mod:`~sceneedit.semantics.realism`)."""
    from .effects import apply_measures, measure_concepts, reliable_scores
    from .realism import feature_function

    if num_seeds < 1:
        raise ProbeError(f"the effect matrix needs at least one seed, got {num_seeds}")
    seeds = list(range(seed_start, seed_start + num_seeds))
    predictor.to(generator.device)
    wp = editor_codes(generator, seeds)
    scale = layer_strengths(generator.num_layers, generator.truncation_psi, generator.truncation_layers)
    categories = [
        n for n in predictor.score_names if (getattr(predictor, "score_levels", {}) or {}).get(n) == "objects"
    ]
    say = (lambda m: print(f"effects: {m}", flush=True)) if progress else None
    reliable = reliable_scores(predictor.score_names, getattr(predictor, "metrics", None), categories)
    meter, results = measure_concepts(
        generator,
        predictor,
        bundle,
        wp,
        scale,
        categories,
        rule,
        min(select_seeds, num_seeds),
        batch_size,
        say,
        reliable,
        editor_codes(generator, list(range(GRADIENT_SEED_START, GRADIENT_SEED_START + gradient_seeds)))
        if gradient_seeds > 0
        else None,
        concepts,
        editor_codes(generator, list(range(REALISM_SEED_START, REALISM_SEED_START + realism_samples)))
        if realism_samples > 0 and feature_function(predictor) is not None
        else None,
    )
    bundle = apply_measures(bundle, meter, results, rule, seeds)
    if gradient_seeds > 0:
        bundle.extra["effects"]["gradient_seeds"] = f"{GRADIENT_SEED_START}-{GRADIENT_SEED_START + gradient_seeds - 1}"
    return bundle


def trim_ranges(
    generator: Generator,
    predictor: Predictor,
    bundle: BoundaryBundle,
    num_seeds: int = DEFAULT_EFFECT_SEEDS,
    select_seeds: int = DEFAULT_SELECT_SEEDS,
    realism_samples: int = DEFAULT_REALISM_SAMPLES,
    batch_size: int = 32,
    progress: bool = True,
    concepts: list[str] | None = None,
) -> BoundaryBundle:
    """Trim the slider ends of an already measured ``bundle`` where their effect saturates, keeping
    its directions, layers and holds (:func:`~sceneedit.semantics.effects.trim_shipped_ranges`), and
    store the final rows measured on ``num_seeds`` seeds; returns ``bundle`` (changed in place)."""
    from .effects import EffectMeter, apply_measures, reliable_scores, trim_shipped_ranges
    from .realism import feature_function

    if num_seeds < 1:
        raise ProbeError(f"trimming slider ranges needs at least one seed, got {num_seeds}")
    seeds = list(range(num_seeds))
    predictor.to(generator.device)
    categories = [
        n for n in predictor.score_names if (getattr(predictor, "score_levels", {}) or {}).get(n) == "objects"
    ]
    meter = EffectMeter(
        generator,
        predictor,
        editor_codes(generator, seeds),
        layer_strengths(generator.num_layers, generator.truncation_psi, generator.truncation_layers),
        categories,
        batch_size,
        reliable=reliable_scores(predictor.score_names, getattr(predictor, "metrics", None), categories),
        realism_reference=editor_codes(generator, list(range(REALISM_SEED_START, REALISM_SEED_START + realism_samples)))
        if realism_samples > 1 and feature_function(predictor) is not None
        else None,
    )
    say = (lambda m: print(f"ranges: {m}", flush=True)) if progress else None
    results = trim_shipped_ranges(meter, bundle, min(select_seeds, num_seeds), concepts, say)
    gradient_seeds = ((bundle.extra or {}).get("effects") or {}).get("gradient_seeds")
    bundle = apply_measures(bundle, meter, results, "kept", seeds)
    if gradient_seeds:  # the directions were refined on these codes; trimming keeps them
        bundle.extra["effects"]["gradient_seeds"] = gradient_seeds
    return bundle


# ----- everything --------------------------------------------------------------------------
@dataclass
class ProbeResult:
    store: ProbeStore
    fits: dict[str, ConceptFit]
    rescores: dict[str, RescoreResult]
    bundle: BoundaryBundle


def run_probe(
    generator: Generator,
    predictor: Predictor,
    out_dir: str | Path,
    config: ProbeConfig | None = None,
    concepts: list[str] | None = None,
    chosen: float = DEFAULT_CHOSEN,
    split_ratio: float = DEFAULT_SPLIT,
    space: str = "w",
    rescore_samples: int = 2000,
    lam: float = 2.0,
    share: float = DEFAULT_SHARE,
    rescore_batch_size: int = 64,
    progress: bool = True,
    skip_sampling: bool = False,
) -> ProbeResult:
    """Sample (unless ``skip_sampling``), fit, re-score and build the bundle in ``out_dir``."""
    config = config or ProbeConfig()
    if space == "wp":
        config.store_wp = True
    if skip_sampling:
        store = ProbeStore.open(out_dir)
        check_probe_matches(store, generator, predictor)
    else:
        store = sample_and_score(generator, predictor, out_dir, config, progress)
    names = resolve_concepts(concepts, store.score_names)
    fits = fit_concepts(store, names, chosen, split_ratio, space, config.seed, progress)
    rescores = rescore_concepts(generator, predictor, store, fits, rescore_samples, lam, rescore_batch_size, progress)
    bundle = build_bundle(store, fits, rescores, share)
    return ProbeResult(store, fits, rescores, bundle)


__all__ = [
    "BoundaryError",
    "ConceptFit",
    "ProbeConfig",
    "ProbeError",
    "ProbeResult",
    "StoreError",
    "build_bundle",
    "fit_concepts",
    "rescore_concepts",
    "run_probe",
    "sample_and_score",
]
