"""The edit session: the plain (Qt-free) model the editor's widgets bind to.

An :class:`EditSession` holds a generator, an optional boundary bundle, the base code
(a seed mapped with truncation ``psi``, or an explicit ``wp``), each concept's settings
(strength, per-layer strengths, layer range, conditioning), the jitter settings and an
undo history. Every change is an *operation* (a small JSON-able dict) applied to an
immutable snapshot; the history keeps one snapshot per step, and a recipe is the first
snapshot plus the ordered operations, so replaying a recipe reproduces every step.

Listeners (``subscribe``) receive ``callback(event, payload)`` with events:

* ``'base_changed'``    ``{seed, truncation_psi}`` -- the base code changed.
* ``'concept_changed'`` ``{concept}`` -- one concept's settings changed.
* ``'jitter_changed'``  ``{jitter}`` -- the jitter settings changed.
* ``'bundle_changed'``  ``{names}`` -- a new bundle was set (history restarts).
* ``'changed'``         ``{label}`` -- the edited code changed (after the specific events).
* ``'history_changed'`` ``{index, labels}`` -- steps were added, merged, undone or redone.
* ``'drag_changed'``    ``{has_drag}`` -- a drag edit was added, undone or cleared.

Drag edits (:meth:`EditSession.apply_drag`, :meth:`EditSession.drag`) are stored as the
code offset they produced on their layers; the offsets of all drags so far are added to
the (jittered) base code before the concept edits, and cleared by a new seed or base
code and by ``reset_all``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import SceneeditError
from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from ..semantics.concepts import BoundaryBundle
from .codes import code_for_seed
from .manipulation import (
    ConceptEdit,
    ManipulationError,
    check_layers,
    conditional_layer_normals,
    distance_from_hyperplane,
    truncation_strengths,
)
from .recipe import (
    RECIPE_FORMAT,
    RECIPE_VERSION,
    RECIPE_VERSION_DRAG,
    RecipeError,
    bundle_fingerprint,
    check_bundle,
    check_generator,
    validate_recipe,
)
from .recipe import load_recipe as _load_recipe_file
from .recipe import save_recipe as _save_recipe_file
from .state import ConceptSettings, EditState, JitterSettings, default_jitter, edited_wp, kept_wp

Listener = Callable[[str, dict], None]
MAX_SEED = 2**32 - 1


class EditError(SceneeditError, ValueError):
    """A change the session cannot make (unknown concept, bad layer, bad value)."""


@dataclass(frozen=True)
class _Snapshot:
    """Everything the user set, at one point of the history (immutable)."""

    seed: int | None
    truncation_psi: float
    explicit_wp: np.ndarray | None  # float32 [L, D], read-only; set iff seed is None
    concepts: dict[str, ConceptSettings] = field(default_factory=dict)  # non-default only
    jitter: JitterSettings = JitterSettings()
    #: Sum of the drag edits' offsets, float32 [L, D] read-only, or None (no drag).
    drag_offset: np.ndarray | None = None
    #: Masked (spatially blended) drags: the union of their masks [H, W] and the drag
    #: offset of the code kept outside it (see EditState.drag_mask); None without one.
    drag_mask: np.ndarray | None = None
    drag_kept_offset: np.ndarray | None = None

    def same_as(self, other: _Snapshot) -> bool:
        if (self.seed, self.truncation_psi, self.concepts, self.jitter) != (
            other.seed,
            other.truncation_psi,
            other.concepts,
            other.jitter,
        ):
            return False
        if (self.drag_offset is None) != (other.drag_offset is None):
            return False
        if self.drag_offset is not None and not np.array_equal(self.drag_offset, other.drag_offset):
            return False
        for mine, theirs in ((self.drag_mask, other.drag_mask), (self.drag_kept_offset, other.drag_kept_offset)):
            if (mine is None) != (theirs is None) or (mine is not None and not np.array_equal(mine, theirs)):
                return False
        if (self.explicit_wp is None) != (other.explicit_wp is None):
            return False
        return self.explicit_wp is None or np.array_equal(self.explicit_wp, other.explicit_wp)

    def same_base(self, other: _Snapshot) -> bool:
        return replace(self, concepts={}, jitter=JitterSettings(), **_NO_DRAG).same_as(
            replace(other, concepts={}, jitter=JitterSettings(), **_NO_DRAG)
        )


_NO_DRAG = {"drag_offset": None, "drag_mask": None, "drag_kept_offset": None}


@dataclass
class _Step:
    label: str
    op: dict[str, Any] | None  # None for the root step
    snapshot: _Snapshot
    merge_key: tuple | None = None


def concept_intercept(concept) -> float | None:
    """``b`` of the concept's boundary ``n . w + b = 0`` (unit ``n``), or None if unrecorded."""
    extra = concept.extra or {}
    if extra.get("intercept") is not None:
        return float(extra["intercept"])
    if extra.get("offset") is not None:
        return -float(extra["offset"])
    return None


def _finite(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EditError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise EditError(f"{what} must be finite, got {value!r}")
    return number


def _fmt(value: float) -> str:
    return f"{value:+.2f}"


def _layer_text(layers: Sequence[int]) -> str:
    layers = list(layers)
    if layers and layers == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}-{layers[-1]}" if len(layers) > 1 else str(layers[0])
    return ",".join(str(x) for x in layers)


def _offset_entry(offset: np.ndarray) -> dict[str, Any]:
    """``{layers, offset}`` of a full ``[L, D]`` drag offset: its non-zero rows."""
    layers = [i for i in range(offset.shape[0]) if np.any(offset[i])] or [0]
    return {"layers": layers, "offset": np.asarray(offset[layers], dtype=np.float32).tolist()}


class EditSession:
    """The editor's model. See the module docstring for events and the recipe format.

    ``generator``: the :class:`Generator` to edit with. ``bundle``: concepts to steer
    (may be None and set later). ``seed``: the base code's seed. ``truncation_psi``: the
    truncation strength (the generator's default when None); truncation applies to the
    generator's default ``truncation_layers``.
    """

    def __init__(
        self,
        generator: Generator,
        bundle: BoundaryBundle | None = None,
        seed: int = 0,
        truncation_psi: float | None = None,
        *,
        allow_hash_mismatch: bool = False,
    ) -> None:
        self.generator = generator
        self.bundle: BoundaryBundle | None = None
        #: Warnings from the last bundle check (e.g. an accepted weights-hash mismatch).
        self.bundle_warnings: list[str] = []
        self._listeners: list[Listener] = []
        self._base_cache: dict[tuple, np.ndarray] = {}
        self._direction_cache: dict[tuple, np.ndarray] = {}
        self._state_cache: dict[int, EditState] = {}
        if bundle is not None:
            self.bundle_warnings = self._validate_bundle(bundle, allow_hash_mismatch)
            self.bundle = bundle
        psi = generator.truncation_psi if truncation_psi is None else _finite(truncation_psi, "truncation_psi")
        root = _Snapshot(
            seed=self._check_seed(seed),
            truncation_psi=psi,
            explicit_wp=None,
            jitter=default_jitter(self.num_layers),
        )
        self._steps: list[_Step] = [_Step("Start", None, root)]
        self._index = 0
        self._merge_open = False

    # ----- shape of the generator ------------------------------------------------------
    @property
    def num_layers(self) -> int:
        """L, the number of layer-wise codes."""
        return int(self.generator.num_layers)

    @property
    def w_dim(self) -> int:
        """D, the size of each layer's code."""
        return int(self.generator.w_dim)

    @property
    def truncation_layers(self) -> int:
        """Leading layers the truncation applies to (the generator's default)."""
        return int(self.generator.truncation_layers)

    # ----- listeners -------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every change; returns an unsubscribe callable."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, events: list[tuple[str, dict]]) -> None:
        # Every listener hears every event even if one raises; the first error is re-raised
        # afterwards (the session itself is already consistent).
        first_error: BaseException | None = None
        for event, payload in events:
            for callback in list(self._listeners):
                try:
                    callback(event, payload)
                except Exception as exc:  # noqa: BLE001 - re-raised below
                    if first_error is None:
                        first_error = exc
        if first_error is not None:
            raise first_error

    # ----- current snapshot ------------------------------------------------------------
    @property
    def _snap(self) -> _Snapshot:
        return self._steps[self._index].snapshot

    # ----- base code -------------------------------------------------------------------
    @property
    def seed(self) -> int | None:
        """The base code's seed; None when the base is an explicit code."""
        return self._snap.seed

    @property
    def truncation_psi(self) -> float:
        return self._snap.truncation_psi

    @property
    def base_wp(self) -> np.ndarray:
        """The starting code, float32 ``[L, D]`` (read-only)."""
        return self._base_for(self._snap)

    def set_seed(self, seed: int, merge: bool = False) -> None:
        """Use the mapped code of ``seed`` (0 .. 2**32-1) as the base."""
        seed = self._check_seed(seed)
        self._change({"op": "set_seed", "seed": seed}, merge, ("set_seed",))

    def set_truncation(self, psi: float, merge: bool = False) -> None:
        """Truncation strength for seed-based codes (1 = none). Kept, unused, for explicit codes."""
        psi = _finite(psi, "truncation_psi")
        self._change({"op": "set_truncation", "psi": psi}, merge, ("set_truncation",))

    def set_base_code(self, wp: np.ndarray, source: str | None = None) -> None:
        """Use an explicit code ``wp`` float ``[L, D]`` as the base (``seed`` becomes None).

        Explicit codes are taken as they are: the truncation-aware step scaling applies
        only to codes the session maps from a seed (whose truncation it knows).
        ``source``: where the code came from (say, the inverted picture's file name), shown in
        the history label and kept in recipes.
        """
        op: dict[str, Any] = {"op": "set_base_code", "wp": self._check_wp(wp)}
        if source:
            op["source"] = str(source)
        self._change(op, False, None)

    # ----- concepts --------------------------------------------------------------------
    def _settings(self, name: str) -> ConceptSettings:
        self._concept(name)
        settings = self._snap.concepts.get(name)
        return settings if settings is not None else self._default_settings(name)

    def _default_settings(self, name: str) -> ConceptSettings:
        """A concept's untouched settings: strength 0, its bundle layers, and the concepts its
        bundle says to hold (``extra['hold']``, the probe's default conditioning) when present."""
        if self.bundle is None or name not in self.bundle:
            return ConceptSettings()
        hold = self.bundle[name].extra.get("hold") or []
        others = tuple(o for o in hold if isinstance(o, str) and o in self.bundle and o != name)
        if others:
            try:
                self._directions(name, others)
            except EditError:
                others = ()
        return ConceptSettings(conditioned_on=others)

    def strength(self, name: str) -> float:
        """The concept's distance (units of the unit normal, offset from the base code)."""
        return self._settings(name).strength

    def set_strength(self, name: str, value: float, merge: bool = False) -> None:
        """Set the concept's distance; ``merge=True`` for continuous slider drags."""
        self._concept(name)
        value = _finite(value, f"strength of {name!r}")
        self._change({"op": "set_strength", "concept": name, "value": value}, merge, ("set_strength", name))

    def layer_strengths(self, name: str) -> list[float] | None:
        """Per-layer distances (one per layer of ``layers(name)``), or None when not in per-layer mode."""
        values = self._settings(name).layer_strengths
        return None if values is None else list(values)

    def set_layer_strengths(self, name: str, values: Sequence[float] | None, merge: bool = False) -> None:
        """Enter per-layer mode with ``values`` (one per layer of the range), or leave it (None).

        While per-layer mode is on, these values replace the scalar :meth:`strength`.
        """
        self._concept(name)
        if values is not None:
            values = [_finite(v, f"layer strength of {name!r}") for v in values]
            expected = len(self.layers(name))
            if len(values) != expected:
                raise EditError(
                    f"concept {name!r}: {len(values)} layer strengths given for its "
                    f"{expected} layers {_layer_text(self.layers(name))}"
                )
        self._change(
            {"op": "set_layer_strengths", "concept": name, "values": values},
            merge,
            ("set_layer_strengths", name),
        )

    def layers(self, name: str) -> list[int]:
        """The concept's layer range (the bundle's layers unless changed)."""
        settings = self._settings(name)
        return list(settings.layers) if settings.layers is not None else list(self._concept(name).layers)

    def set_layers(self, name: str, layers: Sequence[int]) -> None:
        """Manipulate ``name`` on ``layers`` (0-based, in ``[0, L-1]``, at least one).

        Per-layer strengths follow their layers; newly added layers get the scalar strength.
        """
        self._concept(name)
        layer_list = self._check_concept_layers(name, layers)
        self._change({"op": "set_layers", "concept": name, "layers": layer_list}, False, None)

    def conditioned_on(self, name: str) -> list[str]:
        """Concepts whose normals ``name``'s normal is made orthogonal to."""
        return list(self._settings(name).conditioned_on)

    def set_conditioning(self, name: str, others: Sequence[str]) -> None:
        """Make ``name``'s normal orthogonal to every concept in ``others`` (any number)."""
        self._concept(name)
        others = list(dict.fromkeys(str(o) for o in others))
        for other in others:
            self._concept(other)
            if other == name:
                raise EditError(f"concept {name!r} cannot be conditioned on itself")
        self._directions(name, tuple(others))  # refuse a degenerate projection now
        self._change({"op": "set_conditioning", "concept": name, "others": others}, False, None)

    def reset_concept(self, name: str) -> None:
        """Back to the bundle's defaults for ``name`` (strength 0, its layers, its default hold)."""
        self._concept(name)
        self._change({"op": "reset_concept", "concept": name}, False, None)

    def reset_all(self) -> None:
        """Every concept back to its defaults, the jitter disabled and drag edits removed
        (base code kept)."""
        self._change({"op": "reset_all"}, False, None)

    def hyperplane_distance(self, name: str, layer: int | None = None, edited: bool = True) -> float:
        """Signed distance of the code from ``name``'s boundary (InterFaceGAN's measure).

        Measured at ``layer`` (default: the concept's first layer) on the edited code (or
        the base code with ``edited=False``), in units of the unit normal. Uses the
        boundary's position when the bundle records it (``extra['offset']``: the plane
        ``n . w = offset``, as probing writes it; or ``extra['intercept']``: ``n . w + b = 0``);
        otherwise the plane through the origin, i.e. the signed projection ``n . w``.
        """
        concept = self._concept(name)
        layer = self.layers(name)[0] if layer is None else self._check_layer_list([layer], "layer")[0]
        wp = self.current_wp() if edited else self.base_wp
        return float(distance_from_hyperplane(wp, concept.boundary_normal, layer, concept_intercept(concept)))

    def strength_for_distance(self, name: str, target: float, layer: int | None = None) -> float:
        """The strength that puts the code at signed distance ``target`` from the boundary.

        InterFaceGAN's "distance from the hyperplane" mode, converted to this session's
        offsets (pass the result to :meth:`set_strength`). Measured at ``layer`` (default:
        the concept's first layer) on the code without this concept's own edit; accounts
        for the layer's truncation scale and for a conditioned direction's tilt.
        """
        concept = self._concept(name)
        layer = self.layers(name)[0] if layer is None else self._check_layer_list([layer], "layer")[0]
        state = self.state()
        without = replace(state, edits=tuple(e for e in state.edits if e.name != name))
        boundary = concept.boundary_normal
        normal = boundary[0 if boundary.shape[0] == 1 else layer].astype(np.float64)
        start = distance_from_hyperplane(edited_wp(without), boundary, layer, concept_intercept(concept))
        direction = self._directions(name, self._settings(name).conditioned_on)[layer].astype(np.float64)
        per_unit = float(state.layer_scale[layer]) * float(direction @ normal)
        if abs(per_unit) < 1e-6:
            raise EditError(f"concept {name!r}: its edit does not move the code across its boundary at layer {layer}")
        return float((_finite(target, "target distance") - start) / per_unit)

    def edited_concepts(self) -> list[str]:
        """Names of concepts whose settings differ from the defaults, in bundle order."""
        if self.bundle is None:
            return []
        return [n for n in self.bundle.names if n in self._snap.concepts]

    # ----- jitter ----------------------------------------------------------------------
    @property
    def jitter(self) -> JitterSettings:
        return self._snap.jitter

    def set_jitter(self, merge: bool = False, **changes: Any) -> None:
        """Change jitter fields (``enabled``, ``layers``, ``strength``, ``seed``, ``mode``)."""
        allowed = {"enabled", "layers", "strength", "seed", "mode"}
        unknown = set(changes) - allowed
        if unknown:
            raise EditError(
                f"unknown jitter setting(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}"
            )
        if "layers" in changes:
            changes["layers"] = self._check_layer_list(changes["layers"], "jitter")
        if "seed" in changes:
            changes["seed"] = self._check_seed(changes["seed"])
        if "strength" in changes:
            changes["strength"] = _finite(changes["strength"], "jitter strength")
        if "enabled" in changes:
            changes["enabled"] = bool(changes["enabled"])
        if "mode" in changes:
            changes["mode"] = str(changes["mode"])
        try:
            replace(self.jitter, **changes)
        except (TypeError, ValueError) as exc:
            raise EditError(str(exc)) from None
        key = ("set_jitter", tuple(sorted(changes)))
        self._change({"op": "set_jitter", "changes": changes}, merge, key)

    # ----- bundle ----------------------------------------------------------------------
    def set_bundle(self, bundle: BoundaryBundle | None, *, allow_hash_mismatch: bool = False) -> None:
        """Switch to ``bundle`` (validated against the generator), keeping what still applies.

        A bundle made for other weights of the same shape is refused unless
        ``allow_hash_mismatch`` (then :attr:`bundle_warnings` says so).

        Settings of concepts that exist in the new bundle are kept where valid (layers in
        range, per-layer strengths of the right length, non-degenerate conditioning); the
        rest fall back to defaults. The history restarts from this point (its steps name
        concepts of the old bundle).
        """
        warnings = [] if bundle is None else self._validate_bundle(bundle, allow_hash_mismatch)
        self.bundle_warnings = warnings
        old = self._snap
        self.bundle = bundle
        self._direction_cache.clear()
        kept: dict[str, ConceptSettings] = {}
        for name, settings in old.concepts.items():
            if bundle is None or name not in bundle:
                continue
            kept_settings = self._carry_over(name, settings)
            if not kept_settings.is_default:
                kept[name] = kept_settings
        snapshot = replace(old, concepts=kept)
        self._steps = [_Step("Start", None, snapshot)]
        self._index = 0
        self._merge_open = False
        self._state_cache.clear()
        events = [("bundle_changed", {"names": [] if bundle is None else bundle.names})]
        events += [("concept_changed", {"concept": n}) for n in old.concepts if bundle is not None and n in bundle]
        events += [("changed", {"label": "Bundle"}), self._history_event()]
        self._emit(events)

    def _carry_over(self, name: str, settings: ConceptSettings) -> ConceptSettings:
        layers = settings.layers
        if layers is not None:
            try:
                layers = tuple(self._check_concept_layers(name, layers))
            except EditError:
                layers = None
            if layers == tuple(self._concept(name).layers):
                layers = None
        effective = layers if layers is not None else tuple(self._concept(name).layers)
        layer_strengths = settings.layer_strengths
        if layer_strengths is not None and len(layer_strengths) != len(effective):
            layer_strengths = None
        others = tuple(o for o in settings.conditioned_on if o in self.bundle and o != name)
        try:
            self._directions(name, others)
        except (EditError, ManipulationError):
            others = ()
        return ConceptSettings(settings.strength, layer_strengths, layers, others)

    # ----- point-and-drag ---------------------------------------------------------------
    @property
    def has_drag(self) -> bool:
        """Whether the current step holds any drag edit."""
        return self._snap.drag_offset is not None

    @property
    def drag_offset(self) -> np.ndarray | None:
        """Sum of the drag offsets so far, float32 ``[L, D]`` (read-only), or None."""
        return self._snap.drag_offset

    def apply_drag(self, result, handles, targets, settings=None, anchors=()) -> None:
        """Record a finished drag as one undoable step.

        ``result``: a :class:`~sceneedit.editing.drag.DragResult` (its ``wp_start`` must be
        this session's :meth:`current_wp` when the drag began); ``handles`` / ``targets``:
        the user's ``(y, x)`` points; ``settings``: the ``DragSettings`` used; ``anchors``:
        the fixed points, if any. The step stores ``result.wp - result.wp_start`` on
        ``result.layers``.
        """
        from .drag import DragSettings

        settings = settings or DragSettings()
        layers = self._check_layer_list(result.layers, "drag")
        if not layers:
            raise EditError("drag: the result changes no layers")
        offset = np.asarray(result.offset, dtype=np.float32)
        op = {
            "op": "drag",
            "layers": layers,
            "offset": offset.tolist(),
            "handles": [[float(v) for v in p] for p in handles],
            "targets": [[float(v) for v in p] for p in targets],
            "settings": settings.to_dict(),
        }
        if anchors:
            op["anchors"] = [[float(v) for v in p] for p in anchors]
        self._apply_drag_op(op)

    def drag(self, handles, targets, settings=None, callback=None, cancel=None, anchors=()):
        """Run :func:`~sceneedit.editing.drag.run_drag` from the current edited code and
        record it as one step (unless cancelled before any step). ``settings`` None: the
        generator's defaults (:func:`~sceneedit.editing.drag.default_settings`). Returns the
        ``DragResult``.
        """
        from .drag import default_settings, run_drag

        settings = settings or default_settings(self.generator)
        result = run_drag(
            self.generator,
            self.current_wp(),
            handles,
            targets,
            settings,
            callback=callback,
            cancel=cancel,
            anchors=anchors,
            truncation_psi=self.truncation_psi,
            **self.masked_drag_inputs(settings),
        )
        if result.steps_run > 0:
            self.apply_drag(result, handles, targets, settings, anchors)
        return result

    def masked_drag_inputs(self, settings) -> dict[str, Any]:
        """The extra :func:`~sceneedit.editing.drag.run_drag` arguments of a drag with
        ``settings`` from the current step: for a blended masked drag, ``kept_wp`` (the code
        kept outside the masks, float32 ``[L, D]``) and ``blend_mask`` (the union of this
        mask and the earlier masked drags', ``[H, W]``), so the drag sees what the renderer
        will show; ``{}`` otherwise."""
        if settings is None or settings.mask is None or not settings.blend:
            return {}
        snap = self._snap
        mask = np.asarray(settings.mask, dtype=np.float32)
        if snap.drag_mask is not None and snap.drag_mask.shape == mask.shape:
            mask = np.maximum(snap.drag_mask, mask)
        kept = self.state() if snap.drag_mask is not None else None
        kept_code = kept_wp(kept) if kept is not None else self.current_wp()
        return {"kept_wp": kept_code, "blend_mask": mask}

    def _masked_drag_after(self, snap: _Snapshot, op: dict[str, Any]) -> dict[str, Any]:
        """``drag_mask`` / ``drag_kept_offset`` after drag ``op``: a blended masked drag adds
        its mask to the union and leaves the kept code alone; any other drag moves the kept
        code too (it applies everywhere)."""
        settings = op.get("settings") or {}
        mask = settings.get("mask")
        if mask is not None and settings.get("blend", False):
            mask = np.asarray(mask, dtype=np.float32)
            if snap.drag_mask is not None:
                mask = np.maximum(snap.drag_mask, mask) if snap.drag_mask.shape == mask.shape else snap.drag_mask
            kept = snap.drag_kept_offset if snap.drag_mask is not None else snap.drag_offset
            return {"drag_mask": mask, "drag_kept_offset": kept}
        if snap.drag_mask is None:
            return {}
        kept = (
            np.zeros((self.num_layers, self.w_dim), np.float32)
            if snap.drag_kept_offset is None
            else np.array(snap.drag_kept_offset, dtype=np.float32, copy=True)
        )
        kept[op["layers"]] += np.asarray(op["offset"], dtype=np.float32)
        return {"drag_kept_offset": kept}

    def _initial_drag_mask(self, entry: Any) -> dict[str, Any]:
        """``drag_mask`` / ``drag_kept_offset`` of a recipe's ``initial.drag`` (its optional
        ``mask`` ``[H, W]`` and ``kept`` ``{layers, offset}``); ``{}`` without a mask."""
        if not isinstance(entry, dict) or entry.get("mask") is None:
            return {}
        try:
            mask = np.asarray(entry["mask"], dtype=np.float32)
        except (TypeError, ValueError):
            raise EditError("initial drag: 'mask' must be a list of number lists") from None
        size = int(self.generator.resolution)
        if mask.shape != (size, size) or not np.all(np.isfinite(mask)):
            raise EditError(f"initial drag: mask must be {size} x {size} finite numbers")
        mask.setflags(write=False)
        return {"drag_mask": mask, "drag_kept_offset": self._initial_drag(entry.get("kept"))}

    def _initial_drag(self, entry: Any) -> np.ndarray | None:
        """A recipe's ``initial.drag`` (``{layers, offset}``) as a full ``[L, D]`` offset."""
        if entry is None:
            return None
        if not isinstance(entry, dict) or "layers" not in entry or "offset" not in entry:
            raise EditError("initial drag must be an object with 'layers' and 'offset'")
        layers = self._check_layer_list(entry["layers"], "initial drag")
        offset = np.asarray(entry["offset"], dtype=np.float32)
        if offset.shape != (len(layers), self.w_dim) or not np.all(np.isfinite(offset)):
            raise EditError(f"initial drag: offset must be {len(layers)} x {self.w_dim} finite numbers")
        total = np.zeros((self.num_layers, self.w_dim), np.float32)
        total[layers] = offset
        total.setflags(write=False)
        return total

    def _apply_drag_op(self, op: dict[str, Any]) -> None:
        layers = self._check_layer_list(op["layers"], "drag")
        try:
            offset = np.asarray(op["offset"], dtype=np.float32)
        except (TypeError, ValueError):
            raise EditError("drag: 'offset' must be a list of number lists") from None
        if offset.shape != (len(layers), self.w_dim) or not np.all(np.isfinite(offset)):
            raise EditError(
                f"drag: offset must be {len(layers)} x {self.w_dim} finite numbers, got shape {list(offset.shape)}"
            )
        for key in ("handles", "targets", "anchors"):
            if key == "anchors" and key not in op:
                continue
            if not isinstance(op[key], list) or not all(isinstance(p, list) and len(p) == 2 for p in op[key]):
                raise EditError(f"drag: '{key}' must be a list of [y, x] pairs")
        if not isinstance(op["settings"], dict):
            raise EditError("drag: 'settings' must be an object")
        mask = op["settings"].get("mask")
        if mask is not None and op["settings"].get("blend", False):
            try:
                mask = np.asarray(mask, dtype=np.float32)
            except (TypeError, ValueError):
                raise EditError("drag: the settings' 'mask' must be a list of number lists") from None
            size = int(self.generator.resolution)
            if mask.shape != (size, size) or not np.all(np.isfinite(mask)):
                raise EditError(f"drag: the settings' mask must be {size} x {size} finite numbers")
        self._change(dict(op, layers=layers), False, None)

    # ----- history ---------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._steps) - 1

    @property
    def history(self) -> list[str]:
        """Step labels, oldest first; index 0 is the starting point."""
        return [step.label for step in self._steps]

    @property
    def history_index(self) -> int:
        """Index in :attr:`history` of the current step."""
        return self._index

    def undo(self) -> None:
        if self.can_undo:
            self.jump_to(self._index - 1)

    def redo(self) -> None:
        if self.can_redo:
            self.jump_to(self._index + 1)

    def jump_to(self, index: int) -> None:
        """Make step ``index`` of :attr:`history` current (undo or redo several steps)."""
        if not 0 <= index < len(self._steps):
            raise EditError(f"history index {index} out of range 0-{len(self._steps) - 1}")
        self._merge_open = False
        if index == self._index:
            return
        old = self._snap
        self._index = index
        self._emit(self._diff_events(old, self._snap, self._steps[index].label) + [self._history_event()])

    def close_merge(self) -> None:
        """End a continuous change: the next ``merge=True`` change starts a new step.

        Call on slider release so two separate drags of one slider stay two steps.
        """
        self._merge_open = False

    # ----- the edited code -------------------------------------------------------------
    def state(self) -> EditState:
        """An immutable, picklable snapshot of everything ``render`` needs."""
        return self._state_for(self._index)

    def current_wp(self) -> np.ndarray:
        """The edited code, float32 ``[L, D]``."""
        return edited_wp(self.state())

    def timeline_states(self) -> list[EditState]:
        """One :class:`EditState` per history step up to the current one (export timeline)."""
        return [self._state_for(i) for i in range(self._index + 1)]

    # ----- recipes ---------------------------------------------------------------------
    def to_recipe(self) -> dict[str, Any]:
        """The versioned recipe of the history up to the current step (see ``recipe.py``)."""
        root = self._steps[0].snapshot
        base = {
            "seed": root.seed,
            "truncation_psi": root.truncation_psi,
            "truncation_layers": self.truncation_layers,
            "wp": None if root.explicit_wp is None else root.explicit_wp.tolist(),
        }
        edits = []
        has_drag = False
        for step in self._steps[1 : self._index + 1]:
            has_drag = has_drag or step.op["op"] == "drag"
            op = dict(step.op)
            if op["op"] == "set_base_code":
                op["wp"] = np.asarray(op["wp"]).tolist()
            edits.append({"label": step.label, **copy.deepcopy(op)})
        initial = {
            "concepts": {n: s.to_dict() for n, s in root.concepts.items()},
            "jitter": root.jitter.to_dict(),
        }
        if root.drag_offset is not None:
            # Drags made before the history restarted (a new bundle): kept as the start's offset.
            initial["drag"] = _offset_entry(root.drag_offset)
            if root.drag_mask is not None:  # masked drags among them: their mask and the kept code
                initial["drag"]["mask"] = root.drag_mask.tolist()
                kept = root.drag_kept_offset
                initial["drag"]["kept"] = None if kept is None else _offset_entry(kept)
            has_drag = True
        return {
            "format": RECIPE_FORMAT,
            "version": RECIPE_VERSION_DRAG if has_drag else RECIPE_VERSION,
            "generator": generator_fingerprint(self.generator),
            "bundle": {
                "fingerprint": bundle_fingerprint(self.bundle),
                "concepts": [] if self.bundle is None else self.bundle.names,
            },
            "base": base,
            "initial": initial,
            "edits": edits,
        }

    def current_edit_recipe(self) -> dict[str, Any]:
        """A recipe of the edit on screen as a start for other sequences (the exporter's
        "start from the current edit"): the current base (seed, or explicit code) with no
        base-changing step, so it can be re-based on other seeds; then every drag step
        that makes up the current code, in order, with its label; then each edited
        concept's settings and the jitter. Replaying it gives exactly :meth:`current_wp`.
        """
        root = self._steps[0].snapshot
        fresh = EditSession(
            self.generator,
            self.bundle,
            seed=self.seed if self.seed is not None else 0,
            truncation_psi=self.truncation_psi,
            allow_hash_mismatch=True,
        )
        fresh._steps[0].snapshot = replace(
            fresh._snap, seed=self.seed, truncation_psi=self.truncation_psi, explicit_wp=self._snap.explicit_wp
        )
        drags: list[tuple[str, dict[str, Any]]] = []
        masked_start = root.drag_mask is not None  # earlier masked drags: the start keeps them, mask and all
        if root.drag_offset is not None and not masked_start:
            entry = _offset_entry(root.drag_offset)
            drags.append(("Earlier drags", {"op": "drag", **entry, "handles": [], "targets": [], "settings": {}}))
        for step in self._steps[1 : self._index + 1]:
            if step.snapshot.drag_offset is None:
                drags = []  # this step removed the drags made before it (new base, reset all)
                masked_start = False
            elif step.op["op"] == "drag":
                drags.append((step.label, step.op))
        if masked_start:
            fresh._steps[0].snapshot = replace(
                fresh._snap,
                drag_offset=root.drag_offset,
                drag_mask=root.drag_mask,
                drag_kept_offset=root.drag_kept_offset,
            )
        for label, op in drags:
            fresh._replay(copy.deepcopy(op), label)
        for name in self.edited_concepts():
            if self.layers(name) != fresh.layers(name):
                fresh.set_layers(name, self.layers(name))
            if self.conditioned_on(name):
                fresh.set_conditioning(name, self.conditioned_on(name))
            fresh.set_strength(name, self.strength(name))
            if self.layer_strengths(name) is not None:
                fresh.set_layer_strengths(name, self.layer_strengths(name))
        if self.jitter != fresh.jitter:
            fresh.set_jitter(**self.jitter.to_dict())
        if not np.array_equal(fresh.current_wp(), self.current_wp()):
            raise EditError("the current edit cannot be written as a recipe (its replay gives another code)")
        return fresh.to_recipe()

    @classmethod
    def from_recipe(
        cls,
        recipe: dict[str, Any],
        generator: Generator,
        bundle: BoundaryBundle | None = None,
        *,
        base_seed: int | None = None,
        base_wp: np.ndarray | None = None,
        source: str = "recipe",
        allow_hash_mismatch: bool = False,
    ) -> EditSession:
        """Replay ``recipe`` into a fresh session (every step becomes a history step).

        Refuses a recipe for another generator or bundle. ``base_seed`` / ``base_wp``
        replace the recipe's base code (to apply its edits to other scenes); a recipe
        that changes the base code in one of its steps cannot be re-based.
        """
        validate_recipe(recipe, source)
        check_generator(recipe, generator_fingerprint(generator), source)
        check_bundle(recipe, bundle, source)
        base = recipe["base"]
        layers = base.get("truncation_layers", generator.truncation_layers)
        if layers != generator.truncation_layers:
            raise RecipeError(
                f"{source} truncates {str(layers)[:40]} layers, the generator {generator.truncation_layers}"
            )
        if base_seed is not None or base_wp is not None:
            for i, edit in enumerate(recipe["edits"]):
                if edit["op"] in ("set_seed", "set_base_code"):
                    raise RecipeError(
                        f"{source}: step {i + 1} ({str(edit.get('label', edit['op']))[:60]}) changes the base "
                        f"code, so the recipe cannot be applied to other seeds or codes"
                    )
        try:
            session = cls(
                generator,
                bundle,
                seed=0,
                truncation_psi=base["truncation_psi"],
                allow_hash_mismatch=allow_hash_mismatch,
            )
            if base_wp is not None:
                explicit, seed = session._check_wp(base_wp), None
            elif base_seed is not None:
                explicit, seed = None, session._check_seed(base_seed)
            elif base.get("seed") is not None:
                explicit, seed = None, session._check_seed(base["seed"])
            else:
                explicit, seed = session._check_wp(np.asarray(base["wp"], dtype=np.float32)), None
            initial = recipe["initial"]
            concepts = {}
            for name, data in initial.get("concepts", {}).items():
                session._concept(name)
                concepts[name] = ConceptSettings.from_dict(data)
            jitter = JitterSettings.from_dict(initial["jitter"]) if "jitter" in initial else session.jitter
            session._check_layer_list(jitter.layers, "jitter")
            session._steps[0].snapshot = _Snapshot(
                seed=seed,
                truncation_psi=_finite(base["truncation_psi"], "truncation_psi"),
                explicit_wp=explicit,
                concepts=concepts,
                jitter=jitter,
                drag_offset=session._initial_drag(initial.get("drag")),
                **session._initial_drag_mask(initial.get("drag")),
            )
            for edit in recipe["edits"]:
                op = {k: v for k, v in edit.items() if k != "label"}
                session._replay(op, edit.get("label"))
        except (
            EditError,
            ManipulationError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            OverflowError,
            IndexError,
        ) as exc:  # values of the wrong type from the file
            if isinstance(exc, RecipeError):
                raise
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            text = " ".join(str(message).split())
            raise RecipeError(f"{source}: cannot be replayed: {text[:300]}") from None
        return session

    def save_recipe(self, path) -> None:
        """Write :meth:`to_recipe` to ``path`` atomically."""
        _save_recipe_file(self.to_recipe(), path)

    @staticmethod
    def load_recipe(path) -> dict[str, Any]:
        """Read a recipe file (malformed JSON or structure -> :class:`RecipeError`)."""
        return _load_recipe_file(path)

    def _replay(self, op: dict[str, Any], label: str | None) -> None:
        """Apply a recipe operation through the same validation as the public setters."""
        kind = op["op"]
        index_before = self._index
        if kind == "set_seed":
            self.set_seed(op["seed"])
        elif kind == "set_truncation":
            self.set_truncation(op["psi"])
        elif kind == "set_base_code":
            self.set_base_code(np.asarray(op["wp"], dtype=np.float32), op.get("source"))
        elif kind == "set_strength":
            self.set_strength(op["concept"], op["value"])
        elif kind == "set_layer_strengths":
            self.set_layer_strengths(op["concept"], op["values"])
        elif kind == "set_layers":
            self.set_layers(op["concept"], op["layers"])
        elif kind == "set_conditioning":
            self.set_conditioning(op["concept"], op["others"])
        elif kind == "reset_concept":
            self.reset_concept(op["concept"])
        elif kind == "reset_all":
            self.reset_all()
        elif kind == "set_jitter":
            if not isinstance(op["changes"], dict):
                raise EditError("set_jitter: 'changes' must be an object")
            self.set_jitter(**op["changes"])
        elif kind == "drag":
            self._apply_drag_op(op)
        else:  # validate_recipe already refused it
            raise EditError(f"unknown op {kind!r}")
        if self._index == index_before:
            # A recorded step that changes nothing (say, a reset of an unedited concept)
            # still gets its own step, so the timeline keeps one frame per recorded step.
            del self._steps[self._index + 1 :]
            self._steps.append(_Step(str(label or self._label(op)), copy.deepcopy(op), self._snap))
            self._index += 1
        elif label:
            self._steps[self._index].label = str(label)
        self._merge_open = False

    # ----- applying operations ---------------------------------------------------------
    def _change(self, op: dict[str, Any], merge: bool, merge_key: tuple | None) -> None:
        current = self._snap
        new = self._reduce(current, op)
        label = self._label(op)
        top = self._steps[self._index]
        old = current
        if merge and merge_key is not None and self._merge_open and top.merge_key == merge_key and self._index > 0:
            previous = self._steps[self._index - 1].snapshot
            new = self._reduce(previous, op)
            if new.same_as(current):
                return  # a continuing change that changes nothing: no step, no event
            if new.same_as(previous):
                # The drag came back to where it started: the step disappears.
                del self._steps[self._index :]
                self._index -= 1
                merge = False
            else:
                del self._steps[self._index + 1 :]
                self._steps[self._index] = _Step(label, op, new, merge_key)
        else:
            if new.same_as(current):
                return
            del self._steps[self._index + 1 :]
            self._steps.append(_Step(label, op, new, merge_key))
            self._index += 1
        self._merge_open = bool(merge and merge_key is not None)
        self._state_cache = {i: s for i, s in self._state_cache.items() if i < self._index}
        self._emit(self._diff_events(old, self._snap, label) + [self._history_event()])

    def _reduce(self, snap: _Snapshot, op: dict[str, Any]) -> _Snapshot:
        """The snapshot after ``op`` (inputs are already validated by the setters)."""
        kind = op["op"]
        if kind == "set_seed":
            return replace(snap, seed=op["seed"], explicit_wp=None, **_NO_DRAG)
        if kind == "set_truncation":
            return replace(snap, truncation_psi=op["psi"])
        if kind == "set_base_code":
            return replace(snap, seed=None, explicit_wp=op["wp"], **_NO_DRAG)
        if kind == "reset_all":
            return replace(snap, concepts={}, jitter=replace(snap.jitter, enabled=False), **_NO_DRAG)
        if kind == "drag":
            total = (
                np.zeros((self.num_layers, self.w_dim), np.float32)
                if snap.drag_offset is None
                else np.array(snap.drag_offset, dtype=np.float32, copy=True)
            )
            total[op["layers"]] += np.asarray(op["offset"], dtype=np.float32)
            total.setflags(write=False)
            return replace(snap, drag_offset=total, **self._masked_drag_after(snap, op))
        if kind == "set_jitter":
            return replace(snap, jitter=replace(snap.jitter, **op["changes"]))
        name = op["concept"]
        current = snap.concepts.get(name)
        current = current if current is not None else self._default_settings(name)
        if kind == "set_strength":
            updated = replace(current, strength=op["value"])
        elif kind == "set_layer_strengths":
            values = op["values"]
            updated = replace(current, layer_strengths=None if values is None else tuple(values))
        elif kind == "set_layers":
            updated = self._with_layers(name, current, op["layers"])
        elif kind == "set_conditioning":
            updated = replace(current, conditioned_on=tuple(op["others"]))
        elif kind == "reset_concept":
            updated = self._default_settings(name)
        else:
            raise EditError(f"unknown op {kind!r}")
        concepts = dict(snap.concepts)
        if updated == self._default_settings(name):
            concepts.pop(name, None)
        else:
            concepts[name] = updated
        return replace(snap, concepts=concepts)

    def _with_layers(self, name: str, current: ConceptSettings, layers: list[int]) -> ConceptSettings:
        default = list(self._concept(name).layers)
        old_layers = list(current.layers) if current.layers is not None else default
        layer_strengths = current.layer_strengths
        if layer_strengths is not None:
            by_layer = dict(zip(old_layers, layer_strengths, strict=False))
            layer_strengths = tuple(by_layer.get(layer, current.strength) for layer in layers)
        return replace(current, layers=None if layers == default else tuple(layers), layer_strengths=layer_strengths)

    def _label(self, op: dict[str, Any]) -> str:
        kind = op["op"]
        if kind == "set_seed":
            return f"Seed {op['seed']}"
        if kind == "set_truncation":
            return f"Truncation {op['psi']:.2f}"
        if kind == "set_base_code":
            return f"Base code: {op['source']}" if op.get("source") else "Base code"
        if kind == "reset_all":
            return "Reset all"
        if kind == "drag":
            count = len(op["handles"])
            return f"Drag {count} point{'s' if count != 1 else ''}"
        if kind == "set_jitter":
            changes = dict(op["changes"])
            parts = []
            if "enabled" in changes:
                parts.append("on" if changes.pop("enabled") else "off")
            for key, value in sorted(changes.items()):
                if key == "layers":
                    value = _layer_text(value) or "none"
                elif key == "strength":
                    value = f"{value:.2f}"
                parts.append(f"{key} {value}")
            return "Jitter " + ", ".join(parts)
        name = op["concept"]
        if kind == "set_strength":
            return f"{name} {_fmt(op['value'])}"
        if kind == "set_layer_strengths":
            if op["values"] is None:
                return f"{name}: one strength"
            return f"{name} per layer " + " ".join(_fmt(v) for v in op["values"])
        if kind == "set_layers":
            return f"{name} layers {_layer_text(op['layers'])}"
        if kind == "set_conditioning":
            return f"{name} conditioned on {', '.join(op['others']) or 'nothing'}"
        return f"Reset {name}"

    def _diff_events(self, old: _Snapshot, new: _Snapshot, label: str) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        if not old.same_base(new):
            events.append(("base_changed", {"seed": new.seed, "truncation_psi": new.truncation_psi}))
        for name in dict.fromkeys([*old.concepts, *new.concepts]):
            if old.concepts.get(name) != new.concepts.get(name):
                events.append(("concept_changed", {"concept": name}))
        if old.jitter != new.jitter:
            events.append(("jitter_changed", {"jitter": new.jitter}))
        if (old.drag_offset is None) != (new.drag_offset is None) or (
            old.drag_offset is not None and not np.array_equal(old.drag_offset, new.drag_offset)
        ):
            events.append(("drag_changed", {"has_drag": new.drag_offset is not None}))
        events.append(("changed", {"label": label}))
        return events

    def _history_event(self) -> tuple[str, dict]:
        return ("history_changed", {"index": self._index, "labels": self.history})

    # ----- building render states ------------------------------------------------------
    def _base_for(self, snap: _Snapshot) -> np.ndarray:
        if snap.explicit_wp is not None:
            return snap.explicit_wp
        key = (snap.seed, snap.truncation_psi)
        if key not in self._base_cache:
            if len(self._base_cache) > 64:
                self._base_cache.clear()
            wp = code_for_seed(self.generator, snap.seed, snap.truncation_psi)
            wp.setflags(write=False)
            self._base_cache[key] = wp
        return self._base_cache[key]

    def _directions(self, name: str, others: tuple[str, ...]) -> np.ndarray:
        """Unit normals ``[L, D]`` for ``name``, conditioned on ``others``."""
        key = (name, others)
        if key not in self._direction_cache:
            concept = self._concept(name)
            try:
                directions = conditional_layer_normals(
                    concept.normal, [self._concept(o).normal for o in others], self.num_layers
                )
            except ManipulationError as exc:
                who = f"{name!r} conditioned on {', '.join(others)}" if others else repr(name)
                raise EditError(f"concept {who}: {exc}") from None
            directions.setflags(write=False)
            self._direction_cache[key] = directions
        return self._direction_cache[key]

    def _state_for(self, index: int) -> EditState:
        if index in self._state_cache:
            return self._state_cache[index]
        snap = self._steps[index].snapshot
        base = self._base_for(snap)
        if snap.explicit_wp is None:
            scale = truncation_strengths(self.num_layers, snap.truncation_psi, self.truncation_layers)
        else:
            scale = np.ones(self.num_layers, dtype=np.float32)
        edits = []
        if self.bundle is not None:
            for name in self.bundle.names:
                settings = snap.concepts.get(name)
                if settings is None:
                    continue
                layers = list(settings.layers) if settings.layers is not None else list(self.bundle[name].layers)
                if settings.layer_strengths is not None:
                    distances = tuple(settings.layer_strengths)
                else:
                    distances = tuple(settings.strength for _ in layers)
                if not layers or not any(distances):
                    continue
                directions = self._directions(name, settings.conditioned_on)[layers]
                edits.append(ConceptEdit(name, directions, tuple(layers), distances))
        donor = None
        if snap.jitter.active and snap.jitter.mode == "style_mix":
            donor = self._base_for(_Snapshot(snap.jitter.seed, snap.truncation_psi, None))
        state = EditState(
            base_wp=base,
            layer_scale=scale,
            edits=tuple(edits),
            jitter=snap.jitter,
            jitter_donor_wp=donor,
            seed=snap.seed,
            truncation_psi=snap.truncation_psi,
            drag_offset=snap.drag_offset,
            drag_mask=snap.drag_mask,
            drag_kept_offset=snap.drag_kept_offset,
        )
        self._state_cache[index] = state
        return state

    # ----- validation ------------------------------------------------------------------
    def _concept(self, name: str):
        if self.bundle is None:
            raise EditError(f"no boundary bundle is loaded, so there is no concept {name!r}")
        if name not in self.bundle:
            known = ", ".join(self.bundle.names) or "none"
            raise EditError(f"unknown concept {name!r}; this bundle has: {known}")
        return self.bundle[name]

    def _check_seed(self, seed: Any) -> int:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
            raise EditError(f"seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
        return int(seed)

    def _check_wp(self, wp: Any) -> np.ndarray:
        arr = np.asarray(wp)
        expected = (self.num_layers, self.w_dim)
        if arr.shape != expected:
            raise EditError(f"base code must have shape {list(expected)}, got {list(arr.shape)}")
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
            raise EditError("base code must hold finite floating-point numbers")
        out = np.array(arr, dtype=np.float32, copy=True)
        out.setflags(write=False)
        return out

    def _check_layer_list(self, layers: Any, what: str) -> list[int]:
        try:
            return check_layers(list(layers), self.num_layers, what=what)
        except TypeError:
            raise EditError(f"{what}: layers must be a list of integers, got {layers!r}") from None
        except ManipulationError as exc:
            raise EditError(str(exc)) from None

    def _check_concept_layers(self, name: str, layers: Any) -> list[int]:
        layer_list = self._check_layer_list(layers, f"concept {name!r}")
        if not layer_list:
            raise EditError(f"concept {name!r}: choose at least one layer")
        return layer_list

    def _validate_bundle(self, bundle: BoundaryBundle, allow_hash_mismatch: bool = False) -> list[str]:
        """Refuse a bundle that does not fit the generator; return the bundle check's warnings."""
        from ..semantics.bundle import check_compatible

        if not isinstance(bundle, BoundaryBundle):
            raise EditError(f"expected a BoundaryBundle, got {type(bundle).__name__}")
        warnings = check_compatible(bundle, self.generator, allow_hash_mismatch=allow_hash_mismatch)
        for concept in bundle:
            normal = np.asarray(concept.normal)
            if normal.ndim != 2 or normal.shape[0] not in (1, self.num_layers) or normal.shape[1] != self.w_dim:
                raise EditError(
                    f"concept {concept.name!r}: normal of shape {list(normal.shape)} does not fit "
                    f"this generator (expected [1, {self.w_dim}] or [{self.num_layers}, {self.w_dim}])"
                )
            try:
                check_layers(list(concept.layers), self.num_layers, what=f"concept {concept.name!r}")
            except ManipulationError as exc:
                raise EditError(str(exc)) from None
        return warnings
