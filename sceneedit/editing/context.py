"""What edit operations check against: the generator's code shape and the boundary bundle.

An :class:`EditContext` validates user values (seeds, codes, layer lists, concept names)
and computes each concept's (conditioned) unit directions, cached. It runs no torch, so the
UI thread may use it freely.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import SceneeditError
from ..seeds import MAX_SEED
from ..semantics.concepts import BoundaryBundle, Concept
from .manipulation import ManipulationError, check_layers, conditional_layer_normals
from .state import ConceptSettings

__all__ = ["MAX_SEED", "EditContext", "EditError", "finite", "validate_bundle"]


class EditError(SceneeditError, ValueError):
    """A change the session cannot make (unknown concept, bad layer, bad value)."""


def finite(value: Any, what: str) -> float:
    """``value`` as a finite float, else :class:`EditError` naming ``what``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EditError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise EditError(f"{what} must be finite, got {value!r}")
    return number


class EditContext:
    """The code shape ``[num_layers, w_dim]``, the truncation layers, the image size (``resolution``
    pixels square, None when unknown) and the bundle edits refer to."""

    def __init__(
        self,
        num_layers: int,
        w_dim: int,
        truncation_layers: int,
        bundle: BoundaryBundle | None = None,
        resolution: int | None = None,
    ) -> None:
        self.num_layers = int(num_layers)
        self.w_dim = int(w_dim)
        self.truncation_layers = int(truncation_layers)
        self.bundle = bundle
        self.resolution = None if resolution is None else int(resolution)
        self._directions: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    @classmethod
    def for_generator(cls, generator: Any, bundle: BoundaryBundle | None = None) -> EditContext:
        """The context of ``generator`` (any object with ``num_layers``, ``w_dim``, ``truncation_layers``
        and, optionally, ``resolution``)."""
        resolution = getattr(generator, "resolution", None)
        return cls(generator.num_layers, generator.w_dim, generator.truncation_layers, bundle, resolution)

    # ----- concepts --------------------------------------------------------------------
    def concept(self, name: str) -> Concept:
        """The bundle's concept ``name``, else :class:`EditError`."""
        if self.bundle is None:
            raise EditError(f"no boundary bundle is loaded, so there is no concept {name!r}")
        if name not in self.bundle:
            known = ", ".join(self.bundle.names) or "none"
            raise EditError(f"unknown concept {name!r}; this bundle has: {known}")
        return self.bundle[name]

    def directions(self, name: str, others: tuple[str, ...]) -> np.ndarray:
        """Unit normals float32 ``[L, D]`` (read-only) for ``name``, conditioned on ``others``."""
        key = (name, tuple(others))
        if key not in self._directions:
            concept = self.concept(name)
            try:
                directions = conditional_layer_normals(
                    concept.normal, [self.concept(o).normal for o in others], self.num_layers
                )
            except ManipulationError as exc:
                who = f"{name!r} conditioned on {', '.join(others)}" if others else repr(name)
                raise EditError(f"concept {who}: {exc}") from None
            directions.setflags(write=False)
            self._directions[key] = directions
        return self._directions[key]

    def default_settings(self, name: str) -> ConceptSettings:
        """A concept's untouched settings: strength 0, its bundle layers, and the concepts its
        bundle says to hold (``extra['hold']``, the probe's default conditioning) when present."""
        if self.bundle is None or name not in self.bundle:
            return ConceptSettings()
        hold = self.bundle[name].extra.get("hold") or []
        others = tuple(o for o in hold if isinstance(o, str) and o in self.bundle and o != name)
        if others:
            try:
                self.directions(name, others)
            except EditError:
                others = ()
        return ConceptSettings(conditioned_on=others)

    def settings(self, concepts: dict[str, ConceptSettings], name: str) -> ConceptSettings:
        """``name``'s settings in ``concepts`` (a snapshot's), or its defaults."""
        settings = concepts.get(name)
        return settings if settings is not None else self.default_settings(name)

    def layers(self, concepts: dict[str, ConceptSettings], name: str) -> list[int]:
        """``name``'s layer range in ``concepts`` (the bundle's layers unless changed)."""
        settings = self.settings(concepts, name)
        return list(settings.layers) if settings.layers is not None else list(self.concept(name).layers)

    def carry_over(self, name: str, settings: ConceptSettings) -> ConceptSettings:
        """``settings`` made with another bundle, kept where they are still valid in this one."""
        layers = settings.layers
        if layers is not None:
            try:
                layers = tuple(self.check_concept_layers(name, layers))
            except EditError:
                layers = None
            if layers == tuple(self.concept(name).layers):
                layers = None
        effective = layers if layers is not None else tuple(self.concept(name).layers)
        layer_strengths = settings.layer_strengths
        if layer_strengths is not None and len(layer_strengths) != len(effective):
            layer_strengths = None
        bundle = self.bundle
        others = tuple(o for o in settings.conditioned_on if bundle is not None and o in bundle and o != name)
        try:
            self.directions(name, others)
        except (EditError, ManipulationError):
            others = ()
        return ConceptSettings(settings.strength, layer_strengths, layers, others)

    # ----- values ----------------------------------------------------------------------
    def check_seed(self, seed: Any) -> int:
        """A seed in ``[0, MAX_SEED]``."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
            raise EditError(f"seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
        return int(seed)

    def check_wp(self, wp: Any) -> np.ndarray:
        """A read-only float32 copy of a ``[L, D]`` code of finite floats."""
        arr = np.asarray(wp)
        expected = (self.num_layers, self.w_dim)
        if arr.shape != expected:
            raise EditError(f"base code must have shape {list(expected)}, got {list(arr.shape)}")
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
            raise EditError("base code must hold finite floating-point numbers")
        out = np.array(arr, dtype=np.float32, copy=True)
        out.setflags(write=False)
        return out

    def check_layer_list(self, layers: Any, what: str) -> list[int]:
        """Sorted unique layer indices in ``[0, L-1]`` (may be empty)."""
        try:
            return check_layers(list(layers), self.num_layers, what=what)
        except TypeError:
            raise EditError(f"{what}: layers must be a list of integers, got {layers!r}") from None
        except ManipulationError as exc:
            raise EditError(str(exc)) from None

    def check_concept_layers(self, name: str, layers: Any) -> list[int]:
        """A concept's layer range: at least one valid layer."""
        layer_list = self.check_layer_list(layers, f"concept {name!r}")
        if not layer_list:
            raise EditError(f"concept {name!r}: choose at least one layer")
        return layer_list

    def check_mask(self, mask: Any, what: str) -> np.ndarray:
        """A drag mask: float32 ``[resolution, resolution]`` of finite numbers (a new array);
        ``what`` starts the error message (``"initial drag:"``)."""
        try:
            array = np.asarray(mask, dtype=np.float32)
        except (TypeError, ValueError):
            raise EditError(f"{what} 'mask' must be a list of number lists") from None
        size = self.resolution
        if (size is not None and array.shape != (size, size)) or array.ndim != 2 or not np.all(np.isfinite(array)):
            raise EditError(f"{what} mask must be {size} x {size} finite numbers")
        return array

    def check_offset(self, layers: list[int], offset: Any, what: str) -> np.ndarray:
        """A drag offset float32 ``[len(layers), D]`` of finite numbers."""
        try:
            array = np.asarray(offset, dtype=np.float32)
        except (TypeError, ValueError):
            raise EditError(f"{what}: 'offset' must be a list of number lists") from None
        if array.shape != (len(layers), self.w_dim) or not np.all(np.isfinite(array)):
            raise EditError(
                f"{what}: offset must be {len(layers)} x {self.w_dim} finite numbers, got shape {list(array.shape)}"
            )
        return array


def validate_bundle(bundle: Any, generator: Any, allow_hash_mismatch: bool = False) -> list[str]:
    """Refuse a bundle that does not fit ``generator`` (:class:`EditError` or the bundle check's
    error); return the bundle check's warnings (e.g. an accepted weights-hash mismatch)."""
    from ..semantics.bundle import check_compatible

    if not isinstance(bundle, BoundaryBundle):
        raise EditError(f"expected a BoundaryBundle, got {type(bundle).__name__}")
    warnings = check_compatible(bundle, generator, allow_hash_mismatch=allow_hash_mismatch)
    num_layers, w_dim = int(generator.num_layers), int(generator.w_dim)
    for concept in bundle:
        normal = np.asarray(concept.normal)
        if normal.ndim != 2 or normal.shape[0] not in (1, num_layers) or normal.shape[1] != w_dim:
            raise EditError(
                f"concept {concept.name!r}: normal of shape {list(normal.shape)} does not fit "
                f"this generator (expected [1, {w_dim}] or [{num_layers}, {w_dim}])"
            )
        try:
            check_layers(list(concept.layers), num_layers, what=f"concept {concept.name!r}")
        except ManipulationError as exc:
            raise EditError(str(exc)) from None
    return list(warnings)
