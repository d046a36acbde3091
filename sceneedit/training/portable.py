"""A training checkpoint small enough to commit: G, G_ema and D in half precision.

A run folder's checkpoints (``checkpoints.py``) are exact and large, and live outside the
repository. To carry a run across machines, the newest one is written as a single
safetensors file::

    G.<key>, G_ema.<key>, D.<key>          weights and buffers, float16 (integers kept)
    g_opt.<i>.exp_avg_sq, d_opt.<i>...     Adam second moments, bfloat16 (when they fit)
    metadata "sceneedit_gan_portable"      JSON: config, iteration, images seen, train time,
                                           hardware, retunes, fade state, Adam steps

Adam's first moments are not stored: with beta1 = 0 (the recipe) they are just the last
gradient and carry no history. Data-stream and RNG states are not stored either: a
continued run draws fresh images and noise (the pool is re-seeded by the iteration).

    sceneedit train --run-dir RUN --export-checkpoint resources/training/grow128_checkpoint.safetensors
    sceneedit train --run-dir NEW_RUN --resume-from resources/training/grow128_checkpoint.safetensors
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import SettingsError
from ..files import atomic_path
from .checkpointing import TrainingCheckpointError

PORTABLE_FORMAT = "sceneedit-gan-portable"
PORTABLE_VERSION = 1
METADATA_KEY = "sceneedit_gan_portable"
#: Default size limit of the file; Adam moments are left out when they would exceed it.
DEFAULT_MAX_BYTES = 15 * 1024 * 1024


def _half(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    tensor = tensor.detach().cpu()
    return tensor.to(dtype).contiguous() if tensor.is_floating_point() else tensor.contiguous()


def _adam_moments(optimizer_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """``{index: exp_avg_sq}`` (bfloat16) and ``{index: step}`` from an Adam ``state_dict``."""
    moments, steps = {}, {}
    for index, state in optimizer_state["state"].items():
        if "exp_avg_sq" in state:
            moments[str(index)] = _half(state["exp_avg_sq"], torch.bfloat16)
            steps[str(index)] = int(float(state.get("step", 0)))
    return moments, steps


def portable_tensors(
    payload: dict[str, Any], with_optimizer: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and metadata of the portable file for a run-folder checkpoint ``payload``."""
    tensors: dict[str, torch.Tensor] = {}
    for net in ("G", "G_ema", "D"):
        for key, value in payload[net].items():
            tensors[f"{net}.{key}"] = _half(value, torch.float16)
    steps: dict[str, dict[str, int]] = {}
    if with_optimizer:
        for name in ("g_opt", "d_opt"):
            moments, steps[name] = _adam_moments(payload[name])
            tensors.update({f"{name}.{i}.exp_avg_sq": t for i, t in moments.items()})
    info = {
        "format": PORTABLE_FORMAT,
        "version": PORTABLE_VERSION,
        "iteration": int(payload["iteration"]),
        "images_seen": int(payload["images_seen"]),
        "train_seconds": float(payload["train_seconds"]),
        "hardware": list(payload.get("hardware", [])),
        "retunes": list(payload.get("retunes", [])),
        "fade_start_lod": float(payload.get("fade_start_lod", 0.0)),
        "config": payload["config"],
        "generator_config": payload["generator_config"],
        "adam_steps": steps,
        "optimizer": "exp_avg_sq bfloat16" if with_optimizer else "none (fresh Adam)",
    }
    return tensors, info


def _nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def write_portable_checkpoint(
    payload: dict[str, Any], path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES, source: str = ""
) -> tuple[Path, dict[str, Any]]:
    """Write ``payload`` (a run-folder checkpoint) to ``path``; returns the path and its metadata.

    Adam moments are dropped when the file would exceed ``max_bytes``; if even the weights do
    not fit, ``ValueError`` says by how much.
    """
    from safetensors.torch import save_file

    tensors, info = portable_tensors(payload, with_optimizer=True)
    if _nbytes(tensors) > max_bytes:
        tensors, info = portable_tensors(payload, with_optimizer=False)
    size = _nbytes(tensors)
    if size > max_bytes:
        raise SettingsError(
            f"{path}: G, G_ema and D in fp16 take {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit"
        )
    info["source"] = source
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(info, sort_keys=True)})
    os.chmod(path, 0o644)
    return path, info


def portable_card(path: str | os.PathLike, info: dict[str, Any]) -> str:
    """A Markdown note for the portable file ``path``: where the run stands and how to continue it."""
    from .growing import fade_lod

    config = info["config"]
    lod = fade_lod(
        float(info.get("fade_start_lod", 0.0)), int(info["images_seen"]), float(config.get("fade_kimg", 0.0))
    )
    name = Path(path).name
    lines = [
        f"# Training checkpoint `{name}`",
        "",
        f"A GAN training run carried in one file (`sceneedit/training/portable.py`): G, G_ema and D in fp16, "
        f"{'Adam second moments in bf16' if info['optimizer'].startswith('exp_avg_sq') else 'no optimizer state'}. "
        "It is not a finished model: continue it, then export G_ema.",
        "",
        f"- Generator: {config['resolution']} px ({config.get('name')}), z {config['z_dim']}, w {config['w_dim']}, "
        f"fmaps base {config['g_fmaps_base']} / max {config['g_fmaps_max']}.",
        f"- Started from: `{config.get('init_from') or 'random weights'}`"
        + (
            f" (grown; the new block fades in over {config.get('fade_kimg')} kimg, lod now {lod:.3f})"
            if info.get("fade_start_lod")
            else ""
        )
        + ".",
        f"- Progress: iteration {info['iteration']:,}, {info['images_seen']:,} images, "
        f"{info['train_seconds'] / 3600:.2f} h of training steps on {', '.join(info.get('hardware') or ['?'])}.",
        f"- Recipe: batch {config['batch_size']}, lr {config['g_lr']} / {config['d_lr']}, R1 gamma "
        f"{config['r1_gamma']}, paired reconstruction weight {config.get('recon_weight')} "
        f"(feature term {config.get('recon_feature_weight')}: the world predictor in `resources/`, whichever "
        "is shipped when the run continues).",
        f"- Written from `{info.get('source') or '?'}`.",
        "",
        "## Continue",
        "",
        "```",
        f"nice -n 10 sceneedit train --run-dir runs/continued --resume-from {Path(path).as_posix()} --threads 2",
        "# later sessions: sceneedit train --run-dir runs/continued --resume",
        f"sceneedit train --run-dir runs/continued --export-checkpoint {Path(path).as_posix()}   # carry it on",
        "sceneedit train --run-dir runs/continued --export G.safetensors                  # the model",
        "```",
        "",
        "Data and RNG streams start afresh on continuing (the image pool is re-rendered).",
        "",
    ]
    return "\n".join(lines)


def read_portable_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A payload for ``GANTrainer.load_portable``: ``info`` (metadata) and ``G``, ``G_ema``,
    ``D`` state dicts in float32, ``g_opt`` / ``d_opt`` second moments (may be empty).

    One :class:`TrainingCheckpointError` naming the file for anything unreadable.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise TrainingCheckpointError(f"{path}: no such portable checkpoint")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        info = json.loads(metadata[METADATA_KEY])
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors / json raise several types for damaged files
        raise TrainingCheckpointError(f"{path}: not a readable portable training checkpoint ({exc})") from exc
    if info.get("format") != PORTABLE_FORMAT:
        raise TrainingCheckpointError(f"{path}: format {info.get('format')!r}, expected {PORTABLE_FORMAT!r}")
    if int(info.get("version", 0)) > PORTABLE_VERSION:
        raise TrainingCheckpointError(f"{path}: version {info['version']} is newer than this sceneedit")
    payload: dict[str, Any] = {"info": info, "G": {}, "G_ema": {}, "D": {}, "g_opt": {}, "d_opt": {}}
    for key, tensor in tensors.items():
        head, _, rest = key.partition(".")
        if head in ("G", "G_ema", "D"):
            payload[head][rest] = tensor.float() if tensor.is_floating_point() else tensor
        elif head in ("g_opt", "d_opt") and rest.endswith(".exp_avg_sq"):
            payload[head][rest.split(".")[0]] = tensor.float()
        else:
            raise TrainingCheckpointError(f"{path}: unexpected tensor {key!r}")
    if not payload["G"] or not payload["G_ema"] or not payload["D"]:
        raise TrainingCheckpointError(f"{path}: lacks G, G_ema or D weights")
    return payload
