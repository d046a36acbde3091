"""Immutable records of an edit: settings, and the snapshot ``render`` consumes.

:class:`EditState` holds everything needed to compute the edited code (numpy arrays and
plain data only), so it pickles, crosses threads safely and has a stable :meth:`key`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, overload

import numpy as np

from .manipulation import ConceptEdit, gaussian_jitter, joint_edit, style_mix

JITTER_MODES = ("gaussian", "style_mix")


@overload
def _frozen(array: np.ndarray) -> np.ndarray: ...
@overload
def _frozen(array: None) -> None: ...
@overload
def _frozen(array: np.ndarray | None) -> np.ndarray | None: ...
def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    """A read-only float32 C-contiguous array; one that already is (and owns its data,
    so nobody can write it through a base) is shared instead of copied."""
    if array is None:
        return None
    if (
        isinstance(array, np.ndarray)
        and array.dtype == np.float32
        and array.flags.c_contiguous
        and not array.flags.writeable
        and array.flags.owndata
    ):
        return array
    out = np.array(array, dtype=np.float32, copy=True, order="C")
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class JitterSettings:
    """A seeded re-sampling of some layers, everything else fixed.

    ``mode``: ``'gaussian'`` adds ``strength * N(0, I)`` (seeded) to ``layers``;
    ``'style_mix'`` blends ``layers`` toward the code of a fresh ``z`` drawn from ``seed``
    by ``min(strength, 1)`` (1 = replace those layers). ``layers``: 0-based indices.
    """

    enabled: bool = False
    layers: list[int] = field(default_factory=list)
    strength: float = 1.0
    seed: int = 0
    mode: str = "gaussian"

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", sorted({int(x) for x in self.layers}))
        object.__setattr__(self, "enabled", bool(self.enabled))
        object.__setattr__(self, "strength", float(self.strength))
        object.__setattr__(self, "seed", int(self.seed))
        if self.mode not in JITTER_MODES:
            raise ValueError(f"unknown jitter mode {self.mode!r}; allowed: {', '.join(JITTER_MODES)}")
        if not np.isfinite(self.strength) or self.strength < 0:
            raise ValueError(f"jitter strength must be a finite number >= 0, got {self.strength}")

    @property
    def active(self) -> bool:
        """Whether the jitter changes anything (enabled, some layers, non-zero strength)."""
        return self.enabled and bool(self.layers) and self.strength > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "layers": list(self.layers),
            "strength": self.strength,
            "seed": self.seed,
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JitterSettings:
        unknown = set(data) - {"enabled", "layers", "strength", "seed", "mode"}
        if unknown:
            raise ValueError(f"unknown jitter settings: {', '.join(sorted(unknown))}")
        return cls(**data)


#: The editor's starting jitter, measured on the default generator (``benchmarks/bench_jitter_defaults.py``,
#: docs/benchmarks.md "Jitter defaults"): the first 40% of the layers (the layout layers) at strength
#: 0.75 varies a scene visibly and keeps it a room; all layers at 1.0 turned scenes into colour blobs.
DEFAULT_JITTER_LAYER_FRACTION = 0.4
DEFAULT_JITTER_STRENGTH = 0.75


def default_jitter(num_layers: int) -> JitterSettings:
    """The starting jitter (off) of a generator with ``num_layers`` layer-wise codes: layers
    ``0 .. round(0.4 * num_layers) - 1`` (at least one), strength :data:`DEFAULT_JITTER_STRENGTH`."""
    count = max(1, round(int(num_layers) * DEFAULT_JITTER_LAYER_FRACTION))
    return JitterSettings(layers=list(range(min(count, int(num_layers)))), strength=DEFAULT_JITTER_STRENGTH)


@dataclass(frozen=True)
class ConceptSettings:
    """What the user set for one concept.

    ``strength``: distance in units of the unit normal (offset from the base code).
    ``layer_strengths``: per-layer mode, one distance per layer of the range (overrides
    ``strength`` while set). ``layers``: the range, None = the bundle's default layers.
    ``conditioned_on``: names of concepts whose normals this one is made orthogonal to.
    """

    strength: float = 0.0
    layer_strengths: tuple[float, ...] | None = None
    layers: tuple[int, ...] | None = None
    conditioned_on: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        return self == ConceptSettings()

    def to_dict(self) -> dict[str, Any]:
        return {
            "strength": self.strength,
            "layer_strengths": None if self.layer_strengths is None else list(self.layer_strengths),
            "layers": None if self.layers is None else list(self.layers),
            "conditioned_on": list(self.conditioned_on),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConceptSettings:
        unknown = set(data) - {"strength", "layer_strengths", "layers", "conditioned_on"}
        if unknown:
            raise ValueError(f"unknown concept settings: {', '.join(sorted(unknown))}")
        ls = data.get("layer_strengths")
        layers = data.get("layers")
        return cls(
            strength=float(data.get("strength", 0.0)),
            layer_strengths=None if ls is None else tuple(float(x) for x in ls),
            layers=None if layers is None else tuple(int(x) for x in layers),
            conditioned_on=tuple(str(x) for x in data.get("conditioned_on", ())),
        )


@dataclass(frozen=True)
class EditState:
    """Everything ``render`` needs, frozen.

    ``base_wp``: float32 ``[L, D]`` starting code (read-only). ``layer_scale``: float32
    ``[L]`` truncation-aware step multipliers. ``edits``: the active concept edits (each
    with its conditioned directions and per-layer distances). ``jitter`` and, for
    style-mix jitter, ``jitter_donor_wp`` ``[L, D]`` (the mapped fresh code).
    ``seed`` / ``truncation_psi`` describe where ``base_wp`` came from (``seed`` None for
    an explicit code). Build these with :class:`~sceneedit.editing.builder.StateBuilder`.
    """

    base_wp: np.ndarray
    layer_scale: np.ndarray
    edits: tuple[ConceptEdit, ...] = ()
    jitter: JitterSettings = JitterSettings()
    jitter_donor_wp: np.ndarray | None = None
    seed: int | None = None
    truncation_psi: float = 1.0
    #: Sum of the drag edits' code offsets, float32 ``[L, D]`` (None = no drag). Added
    #: after the jitter and before the concept edits, so the sliders apply on top.
    drag_offset: np.ndarray | None = None
    #: Masked drags (the spatial blend, :mod:`~sceneedit.editing.spatial_blend`): the union
    #: of their masks, float32 ``[H, W]`` in [0, 1] (1 = may change), or None (no masked
    #: drag). The image is the edited code inside it and the *kept* code outside: this
    #: state with ``drag_offset`` replaced by ``drag_kept_offset`` (the unmasked drags'
    #: sum, None = no offset); see :func:`kept_wp`.
    drag_mask: np.ndarray | None = None
    drag_kept_offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_wp", _frozen(self.base_wp))
        object.__setattr__(self, "drag_offset", _frozen(self.drag_offset))
        object.__setattr__(self, "drag_mask", _frozen(self.drag_mask))
        object.__setattr__(self, "drag_kept_offset", _frozen(self.drag_kept_offset))
        object.__setattr__(self, "layer_scale", _frozen(self.layer_scale))
        object.__setattr__(self, "jitter_donor_wp", _frozen(self.jitter_donor_wp))
        edits = tuple(
            replace(e, directions=_frozen(e.directions)) if e.directions.flags.writeable else e for e in self.edits
        )
        object.__setattr__(self, "edits", edits)
        if self.base_wp.ndim != 2:
            raise ValueError(f"base_wp must be [L, D], got {list(self.base_wp.shape)}")
        if self.layer_scale.shape != (self.base_wp.shape[0],):
            raise ValueError(f"layer_scale must be [{self.base_wp.shape[0]}], got {list(self.layer_scale.shape)}")
        if self.jitter.active and self.jitter.mode == "style_mix":
            if self.jitter_donor_wp is None or self.jitter_donor_wp.shape != self.base_wp.shape:
                raise ValueError("style-mix jitter needs jitter_donor_wp of the base code's shape")
        if self.drag_offset is not None and self.drag_offset.shape != self.base_wp.shape:
            raise ValueError(f"drag_offset must be {list(self.base_wp.shape)}, got {list(self.drag_offset.shape)}")
        if self.drag_mask is not None and self.drag_mask.ndim != 2:
            raise ValueError(f"drag_mask must be [H, W], got {list(self.drag_mask.shape)}")
        if self.drag_kept_offset is not None and self.drag_kept_offset.shape != self.base_wp.shape:
            raise ValueError(
                f"drag_kept_offset must be {list(self.base_wp.shape)}, got {list(self.drag_kept_offset.shape)}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """``(L, D)``."""
        num_layers, dim = self.base_wp.shape
        return int(num_layers), int(dim)

    @cached_property
    def _key(self) -> str:
        digest = hashlib.sha256()

        def add_array(a: np.ndarray | None) -> None:
            if a is None:
                digest.update(b"none")
                return
            digest.update(str(a.shape).encode())
            digest.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())

        add_array(self.base_wp)
        add_array(self.layer_scale)
        for e in self.edits:
            digest.update(json.dumps([e.name, list(e.layers), [repr(d) for d in e.distances]]).encode())
            add_array(e.directions)
        jitter = self.jitter if self.jitter.active else JitterSettings()
        digest.update(json.dumps(jitter.to_dict(), sort_keys=True).encode())
        add_array(self.jitter_donor_wp if self.jitter.active and self.jitter.mode == "style_mix" else None)
        if self.drag_offset is not None:  # left out when absent: keys of drag-free states are unchanged
            digest.update(b"drag")
            add_array(self.drag_offset)
        if self.drag_mask is not None:  # likewise: keys of states without a masked drag are unchanged
            digest.update(b"drag_mask")
            add_array(self.drag_mask)
            add_array(self.drag_kept_offset)
        return digest.hexdigest()

    def key(self) -> str:
        """A stable hex digest of everything that affects the edited code (cache key).

        The provenance fields ``seed`` / ``truncation_psi`` are left out: two states
        with the same arrays render the same image.
        """
        return self._key

    def edited_wp(self) -> np.ndarray:
        """The edited code, float32 ``[L, D]`` (see :func:`edited_wp`)."""
        return edited_wp(self)


def edited_wp(state: EditState) -> np.ndarray:
    """Apply ``state``: jitter on the base code first, then the drag offset, then every
    concept edit.

    Jitter comes first because it produces a new starting scene (new layout, new colors)
    that the concept sliders then steer; a style-mix after the edits would erase the
    edits on its layers. Returns a new float32 ``[L, D]`` array.
    """
    wp = np.array(state.base_wp, dtype=np.float32, copy=True)
    jitter = state.jitter
    if jitter.active:
        if jitter.mode == "gaussian":
            wp = gaussian_jitter(wp, jitter.layers, jitter.strength, jitter.seed, state.layer_scale)
        else:
            donor = state.jitter_donor_wp
            if donor is None:  # EditState refuses this on construction
                raise ValueError("style-mix jitter needs jitter_donor_wp")
            wp = style_mix(wp, donor, jitter.layers, min(jitter.strength, 1.0))
    if state.drag_offset is not None:
        wp = (wp + state.drag_offset).astype(np.float32)
    if state.edits:
        wp = joint_edit(wp, state.edits, state.layer_scale)
    return wp


def kept_wp(state: EditState) -> np.ndarray | None:
    """The code shown outside the masked drags' mask: :func:`edited_wp` of ``state`` with
    ``drag_offset`` replaced by ``drag_kept_offset``; None when ``state`` has no masked drag."""
    if state.drag_mask is None:
        return None
    return edited_wp(replace(state, drag_offset=state.drag_kept_offset, drag_mask=None, drag_kept_offset=None))
