"""The predictor interface: images in, named scores out.

A predictor plays the part of the paper's off-the-shelf classifiers. Every score is a
float per image where larger means "more of the concept" (a probability, a regressed
value, an attribute response).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

#: The four abstraction levels of the paper, in order.
LEVELS = ("layout", "objects", "attributes", "color")


@runtime_checkable
class Predictor(Protocol):
    """Scores images.

    ``score_names``: the names of the scores, e.g. ``"bedroom"``, ``"indoor_lighting"``.
    ``score_levels``: name -> one of :data:`LEVELS` (or ``"unknown"``).
    ``score(images)``: ``images [N, 3, H, W]`` float in [-1, 1], any H, W (the predictor
    resizes) -> ``[N, len(score_names)]`` float32 on the images' device.
    """

    name: str
    score_names: list[str]
    score_levels: dict[str, str]

    def score(self, images: torch.Tensor) -> torch.Tensor: ...

    def to(self, device: torch.device | str) -> Predictor: ...
