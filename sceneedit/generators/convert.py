"""Converting any supported generator file into our own safetensors format, verified.

The converted file is checked by synthesizing the same codes with the original and the
copy and comparing the raw (unclamped where the architecture has it) images.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .base import Generator
from .checkpoints import CheckpointError, load_generator, save_generator

#: Default largest allowed pixel difference (images in [-1, 1] units; the copy is exact).
DEFAULT_TOLERANCE = 1e-5


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert_generator` did. ``max_abs_diff`` is in image units ([-1, 1] scale)."""

    source: str
    output: str
    source_format: str
    arch: str
    resolution: int
    codes: int
    max_abs_diff: float
    tolerance: float
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def render_codes(generator: Generator, codes: int, seed: int) -> torch.Tensor:
    """``[codes, 3, H, W]`` images of ``codes`` seeded samples at the generator's defaults,
    unclamped where the architecture offers ``synthesize_raw``."""
    with torch.no_grad():
        z = generator.sample_z(codes, seed)
        wp = generator.map(z)
        raw = getattr(generator, "synthesize_raw", None)
        return (raw(wp) if raw is not None else generator.synthesize(wp)).detach().float().cpu()


def convert_generator(
    source: str | os.PathLike,
    output: str | os.PathLike,
    arch: str | None = None,
    codes: int = 4,
    seed: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ConversionReport:
    """Write ``source`` (any supported format) as our safetensors file ``output`` and verify it.

    Raises :class:`CheckpointError` (and leaves no output) when the copy's images differ from
    the original's by more than ``tolerance``.
    """
    start = time.perf_counter()
    source, output = Path(source), Path(output)
    if output.suffix != ".safetensors":
        raise CheckpointError(f"{output}: the output must be a .safetensors file")
    if codes < 1:
        raise CheckpointError(f"codes must be >= 1, got {codes}")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise CheckpointError(f"{output}: the output would overwrite the source")
    original = load_generator(source, arch=arch, device="cpu")
    meta = getattr(original, "checkpoint_metadata", None) or {}
    source_format = str(meta.get("format", "sceneedit safetensors"))
    provenance = {
        "converted_from": source.name,
        "source_format": source_format,
        "source_sha256": file_sha256(source) if source.is_file() else None,
    }
    extra = {k: meta[k] for k in ("dataset",) if k in meta}
    save_generator(original, output, provenance=provenance, **extra)
    try:
        copy = load_generator(output, device="cpu")
        expected = render_codes(original, codes, seed)
        got = render_codes(copy, codes, seed)
        diff = float((expected - got).abs().max()) if expected.shape == got.shape else float("inf")
        if not diff <= tolerance:
            raise CheckpointError(
                f"{output}: the converted generator's images differ from {source}'s by {diff:.3g} "
                f"(tolerance {tolerance:g}); the output was removed"
            )
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    return ConversionReport(
        source=str(source),
        output=str(output),
        source_format=source_format,
        arch=original.arch,
        resolution=int(original.resolution),
        codes=codes,
        max_abs_diff=diff,
        tolerance=tolerance,
        seconds=time.perf_counter() - start,
    )
