"""The edit commands shared by the undoable session and the exporter's non-undoable runs.

Each method builds one operation dict (see :mod:`sceneedit.editing.operations`) and hands it to
``_do``, which the class using the mixin implements (check it, apply it, record it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class EditCommands:
    """Setters that turn user actions into operations; ``merge=True`` for continuous changes."""

    def _do(self, op: dict[str, Any], merge: bool = False) -> None:
        raise NotImplementedError

    def set_seed(self, seed: int, merge: bool = False) -> None:
        """Use the mapped code of ``seed`` (0 .. ``sceneedit.seeds.MAX_SEED``) as the base."""
        self._do({"op": "set_seed", "seed": seed}, merge)

    def set_truncation(self, psi: float, merge: bool = False) -> None:
        """Truncation strength for seed-based codes (1 = none). Kept, unused, for explicit codes."""
        self._do({"op": "set_truncation", "psi": psi}, merge)

    def set_base_code(self, wp: np.ndarray, source: str | None = None) -> None:
        """Use an explicit code ``wp`` float ``[L, D]`` as the base (``seed`` becomes None).

        Explicit codes are taken as they are: the truncation-aware step scaling applies
        only to codes mapped from a seed (whose truncation is known). ``source``: where the
        code came from (say, the inverted picture's file name), shown in the history label
        and kept in recipes.
        """
        op: dict[str, Any] = {"op": "set_base_code", "wp": wp}
        if source:
            op["source"] = str(source)
        self._do(op)

    def set_strength(self, name: str, value: float, merge: bool = False) -> None:
        """Set the concept's distance; ``merge=True`` for continuous slider drags."""
        self._do({"op": "set_strength", "concept": name, "value": value}, merge)

    def set_layer_strengths(self, name: str, values: Sequence[float] | None, merge: bool = False) -> None:
        """Enter per-layer mode with ``values`` (one per layer of the range), or leave it (None).

        While per-layer mode is on, these values replace the scalar strength.
        """
        self._do({"op": "set_layer_strengths", "concept": name, "values": values}, merge)

    def set_layers(self, name: str, layers: Sequence[int]) -> None:
        """Manipulate ``name`` on ``layers`` (0-based, in ``[0, L-1]``, at least one).

        Per-layer strengths follow their layers; newly added layers get the scalar strength.
        """
        self._do({"op": "set_layers", "concept": name, "layers": layers})

    def set_conditioning(self, name: str, others: Sequence[str]) -> None:
        """Make ``name``'s normal orthogonal to every concept in ``others`` (any number)."""
        self._do({"op": "set_conditioning", "concept": name, "others": others})

    def reset_concept(self, name: str) -> None:
        """Back to the bundle's defaults for ``name`` (strength 0, its layers, its default hold)."""
        self._do({"op": "reset_concept", "concept": name})

    def reset_all(self) -> None:
        """Every concept back to its defaults, the jitter disabled and drag edits removed (base code kept)."""
        self._do({"op": "reset_all"})

    def set_jitter(self, merge: bool = False, **changes: Any) -> None:
        """Change jitter fields (``enabled``, ``layers``, ``strength``, ``seed``, ``mode``)."""
        self._do({"op": "set_jitter", "changes": changes}, merge)
