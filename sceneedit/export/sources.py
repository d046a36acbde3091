"""What each sequence is applied to: seeds, codes from a file, or a recipe's own base code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..generators.base import Generator
from .jobs import ExportError, ExportJob, TimelineSequence


@dataclass
class Source:
    """One row of the export: ``label`` names its frames folder; ``seed`` or ``wp [L, D]`` (or
    neither: the recipe's own base code)."""

    label: str
    seed: int | None
    wp: np.ndarray | None

    @property
    def short(self) -> str:
        """Compact label for contact-sheet tiles: ``s7`` (seed 7), ``c3`` (code 3)."""
        if self.seed is not None:
            return f"s{self.seed}"
        if self.label.startswith("code"):
            return f"c{int(self.label[4:])}"
        return self.label


def job_sources(job: ExportJob, generator: Generator) -> list[Source]:
    """The sources of ``job``, validated (codes of the generator's shape, finite)."""
    if job.seeds is not None and job.codes is not None:
        raise ExportError("give seeds or a codes file, not both")
    if job.seeds is not None:
        if not job.seeds:
            raise ExportError("the seed list is empty")
        return [Source(f"seed{s:04d}", int(s), None) for s in job.seeds]
    if job.codes is not None:
        return _code_sources(job, generator)
    if job.recipe is not None or any(isinstance(spec, TimelineSequence) for spec in job.sequences):
        return [Source("recipe", None, None)]
    raise ExportError("nothing to apply the sequence to: give seeds, a codes file or a recipe")


def _code_sources(job: ExportJob, generator: Generator) -> list[Source]:
    codes = np.asarray(job.codes)
    expected = (generator.num_layers, generator.w_dim)
    where = job.codes_source or "codes"
    if codes.ndim != 3 or tuple(codes.shape[1:]) != expected or codes.shape[0] == 0:
        raise ExportError(
            f"{where}: expected codes of shape [N, {expected[0]}, {expected[1]}], got {list(codes.shape)}"
        )
    if not np.issubdtype(codes.dtype, np.floating) or not np.all(np.isfinite(codes)):
        raise ExportError(f"{where}: codes must be finite floating-point numbers")
    return [Source(f"code{i:04d}", None, codes[i].astype(np.float32)) for i in range(len(codes))]
