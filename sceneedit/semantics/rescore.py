"""Re-scoring: how much each layer's code controls a concept (HiGAN's verification step).

For concept ``i`` with unit normal ``n_i`` and layer ``l``: move K' codes by ``lambda``
along ``n_i`` at layer ``l`` only, re-synthesize, re-score, and average the increase::

    Δs(i, l) = mean_k max(F_i(G(wp_k + lambda * s_l * n_i @ layer l)) - F_i(G(wp_k)), 0)

``Δs_all(i)`` moves every layer at once and ranks the concepts. ``s_l`` is HiGAN's
truncation-aware strength (``utils/editor.py::get_layerwise_manipulation_strength``): a
W-space boundary moves layers below ``truncation_layers`` by ``psi`` and the others by 1,
which equals moving the untruncated code by ``lambda`` before truncation. Per-layer
(``wp``) boundaries were fitted on truncated codes and use strength 1.

The unmoved images are re-synthesized in the same batch as the moved ones, so the
difference never mixes two runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..generators.base import Generator
from .predictors.base import Predictor


def layer_strengths(num_layers: int, truncation_psi: float, truncation_layers: int) -> np.ndarray:
    """``[num_layers]``: ``psi`` on the first ``truncation_layers`` layers, 1 elsewhere."""
    strengths = np.ones(num_layers, dtype=np.float32)
    if truncation_layers > 0:
        strengths[: min(truncation_layers, num_layers)] = truncation_psi
    return strengths


@dataclass
class RescoreResult:
    """``delta_s``: per-layer response ``[L]``; ``delta_s_all``: all layers moved."""

    name: str
    delta_s: list[float]
    delta_s_all: float
    num_samples: int
    lam: float

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "delta_s": self.delta_s,
            "delta_s_all": self.delta_s_all,
            "num_samples": self.num_samples,
            "lambda": self.lam,
        }

    @classmethod
    def from_json(cls, data: dict) -> RescoreResult:
        return cls(
            data["name"],
            [float(v) for v in data["delta_s"]],
            float(data["delta_s_all"]),
            int(data["num_samples"]),
            float(data["lambda"]),
        )


def _moves(normal: torch.Tensor, num_layers: int, lam: float, strengths: torch.Tensor) -> torch.Tensor:
    """``[L + 1, L, D]`` offsets: row ``l`` moves layer ``l`` only; row ``L`` moves all."""
    per_layer = normal if normal.shape[0] == num_layers else normal.expand(num_layers, -1)
    step = lam * strengths[:, None] * per_layer  # [L, D]
    moves = torch.zeros(num_layers + 1, num_layers, per_layer.shape[1], device=normal.device)
    index = torch.arange(num_layers, device=normal.device)
    moves[index, index] = step
    moves[num_layers] = step
    return moves


@torch.inference_mode()
def rescore_concept(
    generator: Generator,
    predictor: Predictor,
    score_index: int,
    normal: np.ndarray,
    wp_batches: Callable[[], Iterable[torch.Tensor]],
    lam: float = 2.0,
    strengths: np.ndarray | None = None,
    batch_size: int = 64,
    name: str = "concept",
    progress: Callable[[int], None] | None = None,
    truncation_psi: float | None = None,
) -> RescoreResult:
    """Δs of one concept over the codes yielded by ``wp_batches()``.

    ``normal``: ``[1, D]`` or ``[L, D]`` unit normal(s). ``wp_batches``: a callable returning
    an iterable of ``wp [b, L, D]`` tensors (the base codes, as synthesized for scoring).
    ``batch_size``: images per synthesis call (each code needs ``L + 2`` images).
    ``progress(n)`` is called with the number of codes done after each group.
    ``truncation_psi``: the psi the codes were mapped with (it picks BigGAN's batch-norm statistics).
    """
    num_layers = generator.num_layers
    device = generator.device
    normal_t = torch.as_tensor(np.asarray(normal, dtype=np.float32), device=device)
    if normal_t.ndim != 2 or normal_t.shape[1] != generator.w_dim or normal_t.shape[0] not in (1, num_layers):
        raise ValueError(
            f"{name}: normal has shape {list(normal_t.shape)}, expected [1 or {num_layers}, {generator.w_dim}]"
        )
    if strengths is None:
        strengths = np.ones(num_layers, dtype=np.float32)
    moves = _moves(normal_t, num_layers, lam, torch.as_tensor(np.asarray(strengths, np.float32), device=device))
    variants = num_layers + 2  # base, one per layer, all layers
    codes_per_call = max(1, batch_size // variants)
    totals = torch.zeros(num_layers + 1, dtype=torch.float64)
    count = 0
    for wp in wp_batches():
        wp = wp.to(device=device, dtype=torch.float32)
        for start in range(0, wp.shape[0], codes_per_call):
            base = wp[start : start + codes_per_call]  # [b, L, D]
            b = base.shape[0]
            moved = base[:, None] + moves[None]  # [b, L+1, L, D]
            stacked = torch.cat([base[:, None], moved], dim=1).reshape(b * variants, num_layers, -1)
            images = generator.synthesize(stacked, truncation_psi=truncation_psi)
            scores = predictor.score(images)
            if scores.ndim != 2 or scores.shape[0] != b * variants:
                raise ValueError(
                    f"predictor {getattr(predictor, 'name', '?')} returned scores of shape {list(scores.shape)} "
                    f"for {b * variants} images"
                )
            column = scores[:, score_index].reshape(b, variants).double().cpu()
            if not torch.isfinite(column).all():
                raise ValueError(f"{name}: the predictor returned NaN or infinite scores while re-scoring")
            gain = (column[:, 1:] - column[:, :1]).clamp(min=0)
            totals += gain.sum(dim=0)
            count += b
            if progress is not None:
                progress(b)
    if count == 0:
        raise ValueError(f"{name}: no codes to re-score")
    means = (totals / count).tolist()
    return RescoreResult(
        name=name,
        delta_s=[float(v) for v in means[:num_layers]],
        delta_s_all=float(means[num_layers]),
        num_samples=count,
        lam=float(lam),
    )
