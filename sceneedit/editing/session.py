"""The edit session: the plain (Qt-free) model the editor's widgets bind to.

An :class:`EditSession` holds a generator, an optional boundary bundle and an undo
history of immutable :class:`~sceneedit.editing.snapshot.EditSnapshot` s: the base code
(a seed mapped with truncation ``psi``, or an explicit ``wp``), each concept's settings
(strength, per-layer strengths, layer range, conditioning), the jitter settings and the
drag offsets. It is a thin facade over the parts that do the work:

* :mod:`~sceneedit.editing.operations`: every kind of step (fields, validation, effect, label);
* :mod:`~sceneedit.editing.history`: undo/redo and merged slider drags;
* :mod:`~sceneedit.editing.builder`: snapshot -> render state (maps seeds: torch);
* :mod:`~sceneedit.editing.replay`: recipes -> histories.

Changing the edit never runs the generator: :meth:`EditSession.snapshot` is plain data
that the editor's render thread resolves. :meth:`state`, :meth:`base_wp` and
:meth:`current_wp` map seeds and belong on that thread (or in scripts and the exporter).

Listeners (``subscribe``) receive ``callback(event, payload)`` with a
:class:`~sceneedit.editing.events.SessionEvent` (payloads are listed there).

Drag edits (:meth:`EditSession.apply_drag`, :meth:`EditSession.drag`) are stored as the
code offset they produced on their layers; the offsets of all drags so far are added to
the (jittered) base code before the concept edits, and cleared by a new seed or base
code and by ``reset_all``. A masked drag with ``blend`` (``DragSettings.mask``) changes the
image only inside its mask: the snapshot keeps the union of the masks and the code shown
outside them (:mod:`~sceneedit.editing.spatial_blend`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from ..semantics.concepts import BoundaryBundle, Concept
from .builder import StateBuilder
from .commands import EditCommands
from .context import MAX_SEED, EditContext, EditError, finite, validate_bundle
from .events import Emitter, Event, Listener, SessionEvent
from .history import History
from .manipulation import distance_from_hyperplane
from .operations import operation
from .recipe import RECIPE_FORMAT, RECIPE_VERSION, RECIPE_VERSION_DRAG, bundle_fingerprint
from .recipe import load_recipe as _load_recipe_file
from .recipe import save_recipe as _save_recipe_file
from .replay import record, replay_recipe
from .resolve import masked_drag_inputs as _masked_drag_inputs
from .snapshot import NO_DRAG, EditSnapshot, offset_entry
from .state import ConceptSettings, EditState, JitterSettings, default_jitter, edited_wp

__all__ = ["MAX_SEED", "EditError", "EditSession", "Listener", "SessionEvent", "concept_intercept"]


def concept_intercept(concept: Concept) -> float | None:
    """``b`` of the concept's boundary ``n . w + b = 0`` (unit ``n``), or None if unrecorded."""
    extra = concept.extra or {}
    if extra.get("intercept") is not None:
        return float(extra["intercept"])
    if extra.get("offset") is not None:
        return -float(extra["offset"])
    return None


class EditSession(EditCommands):
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
        #: Warnings from the last bundle check (e.g. an accepted weights-hash mismatch).
        self.bundle_warnings: list[str] = []
        if bundle is not None:
            self.bundle_warnings = validate_bundle(bundle, generator, allow_hash_mismatch)
        self._context = EditContext.for_generator(generator, bundle)
        self._builder = StateBuilder(generator, self._context)
        self._events = Emitter()
        psi = generator.truncation_psi if truncation_psi is None else finite(truncation_psi, "truncation_psi")
        root = EditSnapshot(
            seed=self._context.check_seed(seed),
            truncation_psi=psi,
            jitter=default_jitter(self.num_layers),
        )
        self._history = History(root)

    @classmethod
    def _from_parts(
        cls, generator: Generator, context: EditContext, history: History, warnings: list[str]
    ) -> EditSession:
        session = cls.__new__(cls)
        session.generator = generator
        session.bundle_warnings = warnings
        session._context = context
        session._builder = StateBuilder(generator, context)
        session._events = Emitter()
        session._history = history
        return session

    # ----- shape of the generator ------------------------------------------------------
    @property
    def bundle(self) -> BoundaryBundle | None:
        """The boundary bundle (None: no concepts)."""
        return self._context.bundle

    @property
    def num_layers(self) -> int:
        """L, the number of layer-wise codes."""
        return self._context.num_layers

    @property
    def w_dim(self) -> int:
        """D, the size of each layer's code."""
        return self._context.w_dim

    @property
    def truncation_layers(self) -> int:
        """Leading layers the truncation applies to (the generator's default)."""
        return self._context.truncation_layers

    # ----- listeners -------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every change; returns an unsubscribe callable."""
        return self._events.subscribe(callback)

    # ----- current snapshot ------------------------------------------------------------
    @property
    def _snap(self) -> EditSnapshot:
        return self._history.current

    def snapshot(self) -> EditSnapshot:
        """What the user set at the current step: plain, immutable data (no torch, no mapped code)."""
        return self._history.current

    # ----- base code -------------------------------------------------------------------
    @property
    def seed(self) -> int | None:
        """The base code's seed; None when the base is an explicit code."""
        return self._snap.seed

    @property
    def truncation_psi(self) -> float:
        return self._snap.truncation_psi

    @property
    def explicit_wp(self) -> np.ndarray | None:
        """The explicit base code float32 ``[L, D]`` (read-only), or None for a seed's code."""
        return self._snap.explicit_wp

    @property
    def base_wp(self) -> np.ndarray:
        """The starting code, float32 ``[L, D]`` (read-only). Maps the seed: torch."""
        return self._builder.base_code(self._snap)

    # ----- concepts --------------------------------------------------------------------
    def _settings(self, name: str) -> ConceptSettings:
        self._context.concept(name)
        return self._context.settings(self._snap.concepts, name)

    def strength(self, name: str) -> float:
        """The concept's distance (units of the unit normal, offset from the base code)."""
        return self._settings(name).strength

    def layer_strengths(self, name: str) -> list[float] | None:
        """Per-layer distances (one per layer of ``layers(name)``), or None when not in per-layer mode."""
        values = self._settings(name).layer_strengths
        return None if values is None else list(values)

    def layers(self, name: str) -> list[int]:
        """The concept's layer range (the bundle's layers unless changed)."""
        self._context.concept(name)
        return self._context.layers(self._snap.concepts, name)

    def conditioned_on(self, name: str) -> list[str]:
        """Concepts whose normals ``name``'s normal is made orthogonal to."""
        return list(self._settings(name).conditioned_on)

    def hyperplane_distance(self, name: str, layer: int | None = None, edited: bool = True) -> float:
        """Signed distance of the code from ``name``'s boundary (InterFaceGAN's measure).

        Measured at ``layer`` (default: the concept's first layer) on the edited code (or
        the base code with ``edited=False``), in units of the unit normal. Uses the
        boundary's position when the bundle records it (``extra['offset']``: the plane
        ``n . w = offset``, as probing writes it; or ``extra['intercept']``: ``n . w + b = 0``);
        otherwise the plane through the origin, i.e. the signed projection ``n . w``.
        """
        concept = self._context.concept(name)
        layer = self.layers(name)[0] if layer is None else self._context.check_layer_list([layer], "layer")[0]
        wp = self.current_wp() if edited else self.base_wp
        return float(distance_from_hyperplane(wp, concept.boundary_normal, layer, concept_intercept(concept)))

    def strength_for_distance(self, name: str, target: float, layer: int | None = None) -> float:
        """The strength that puts the code at signed distance ``target`` from the boundary.

        InterFaceGAN's "distance from the hyperplane" mode, converted to this session's
        offsets (pass the result to :meth:`set_strength`). Measured at ``layer`` (default:
        the concept's first layer) on the code without this concept's own edit; accounts
        for the layer's truncation scale and for a conditioned direction's tilt.
        """
        concept = self._context.concept(name)
        layer = self.layers(name)[0] if layer is None else self._context.check_layer_list([layer], "layer")[0]
        state = self.state()
        without = replace(state, edits=tuple(e for e in state.edits if e.name != name))
        boundary = concept.boundary_normal
        normal = boundary[0 if boundary.shape[0] == 1 else layer].astype(np.float64)
        start = distance_from_hyperplane(edited_wp(without), boundary, layer, concept_intercept(concept))
        direction = self._context.directions(name, self._settings(name).conditioned_on)[layer].astype(np.float64)
        per_unit = float(state.layer_scale[layer]) * float(direction @ normal)
        if abs(per_unit) < 1e-6:
            raise EditError(f"concept {name!r}: its edit does not move the code across its boundary at layer {layer}")
        return float((finite(target, "target distance") - start) / per_unit)

    def edited_concepts(self) -> list[str]:
        """Names of concepts whose settings differ from the defaults, in bundle order."""
        if self.bundle is None:
            return []
        return [n for n in self.bundle.names if n in self._snap.concepts]

    # ----- jitter ----------------------------------------------------------------------
    @property
    def jitter(self) -> JitterSettings:
        return self._snap.jitter

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
        warnings = [] if bundle is None else validate_bundle(bundle, self.generator, allow_hash_mismatch)
        self.bundle_warnings = warnings
        old = self._snap
        self._context = EditContext.for_generator(self.generator, bundle)
        self._builder = StateBuilder(self.generator, self._context)
        kept: dict[str, ConceptSettings] = {}
        for name, settings in old.concepts.items():
            if bundle is None or name not in bundle:
                continue
            kept_settings = self._context.carry_over(name, settings)
            if not kept_settings.is_default:
                kept[name] = kept_settings
        self._history.restart(replace(old, concepts=kept))
        events: list[Event] = [(SessionEvent.BUNDLE_CHANGED, {"names": [] if bundle is None else bundle.names})]
        events += [
            (SessionEvent.CONCEPT_CHANGED, {"concept": n}) for n in old.concepts if bundle is not None and n in bundle
        ]
        events += [(SessionEvent.CHANGED, {"label": "Bundle"}), self._history_event()]
        self._events.emit(events)

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
        layers = self._context.check_layer_list(result.layers, "drag")
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
        self._do(op)

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
        mask and the earlier masked drags', ``[H, W]``); ``{}`` otherwise. Maps the seed
        (torch); the editor calls :func:`~sceneedit.editing.resolve.masked_drag_inputs` with
        the state its render thread resolved."""
        if settings is None or settings.mask is None or not settings.blend:
            return {}
        return _masked_drag_inputs(settings, self.state())

    # ----- applying operations ---------------------------------------------------------
    def _do(self, op: dict[str, Any], merge: bool = False) -> None:
        """Check ``op``, record it (merging continuous changes) and tell the listeners."""
        kind = operation(op)
        context = self._context
        checked = kind.check(op, self._snap, context)
        old = self._snap
        label = kind.label(checked)
        if self._history.push(
            checked, label, lambda snap: kind.apply(snap, checked, context), kind.merge_key(checked), merge
        ):
            self._events.emit(self._diff_events(old, self._snap, label) + [self._history_event()])

    def _diff_events(self, old: EditSnapshot, new: EditSnapshot, label: str) -> list[Event]:
        events: list[Event] = []
        if not old.same_base(new):
            events.append((SessionEvent.BASE_CHANGED, {"seed": new.seed, "truncation_psi": new.truncation_psi}))
        for name in dict.fromkeys([*old.concepts, *new.concepts]):
            if old.concepts.get(name) != new.concepts.get(name):
                events.append((SessionEvent.CONCEPT_CHANGED, {"concept": name}))
        if old.jitter != new.jitter:
            events.append((SessionEvent.JITTER_CHANGED, {"jitter": new.jitter}))
        if old.drag_changed(new):
            events.append((SessionEvent.DRAG_CHANGED, {"has_drag": new.drag_offset is not None}))
        events.append((SessionEvent.CHANGED, {"label": label}))
        return events

    def _history_event(self) -> Event:
        return (SessionEvent.HISTORY_CHANGED, {"index": self.history_index, "labels": self.history})

    # ----- history ---------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    @property
    def history(self) -> list[str]:
        """Step labels, oldest first; index 0 is the starting point."""
        return self._history.labels

    @property
    def history_index(self) -> int:
        """Index in :attr:`history` of the current step."""
        return self._history.index

    def undo(self) -> None:
        if self.can_undo:
            self.jump_to(self.history_index - 1)

    def redo(self) -> None:
        if self.can_redo:
            self.jump_to(self.history_index + 1)

    def jump_to(self, index: int) -> None:
        """Make step ``index`` of :attr:`history` current (undo or redo several steps)."""
        old = self._snap
        try:
            moved = self._history.jump(index)
        except IndexError as exc:
            raise EditError(str(exc)) from None
        if moved:
            label = self._history.steps[index].label
            self._events.emit(self._diff_events(old, self._snap, label) + [self._history_event()])

    def close_merge(self) -> None:
        """End a continuous change: the next ``merge=True`` change starts a new step.

        Call on slider release so two separate drags of one slider stay two steps.
        """
        self._history.close_merge()

    # ----- the edited code (maps seeds: torch) -----------------------------------------
    def state(self) -> EditState:
        """An immutable, picklable snapshot of everything ``render`` needs."""
        return self._builder.state(self._snap)

    def current_wp(self) -> np.ndarray:
        """The edited code, float32 ``[L, D]``."""
        return edited_wp(self.state())

    def timeline_states(self) -> list[EditState]:
        """One :class:`EditState` per history step up to the current one (export timeline)."""
        return [self._builder.state(step.snapshot) for step in self._history.steps[: self.history_index + 1]]

    # ----- recipes ---------------------------------------------------------------------
    def to_recipe(self) -> dict[str, Any]:
        """The versioned recipe of the history up to the current step (see ``recipe.py``)."""
        root = self._history.root
        base = {
            "seed": root.seed,
            "truncation_psi": root.truncation_psi,
            "truncation_layers": self.truncation_layers,
            "wp": None if root.explicit_wp is None else root.explicit_wp.tolist(),
        }
        edits = []
        version = RECIPE_VERSION
        for step in self._history.done():
            assert step.op is not None
            kind = operation(step.op)
            version = max(version, kind.min_version)
            edits.append({"label": step.label, **kind.to_record(step.op)})
        initial: dict[str, Any] = {
            "concepts": {n: s.to_dict() for n, s in root.concepts.items()},
            "jitter": root.jitter.to_dict(),
        }
        if root.drag_offset is not None:
            # Drags made before the history restarted (a new bundle): kept as the start's offset.
            initial["drag"] = offset_entry(root.drag_offset)
            if root.drag_mask is not None:  # masked drags among them: their mask and the kept code
                initial["drag"]["mask"] = root.drag_mask.tolist()
                kept = root.drag_kept_offset
                initial["drag"]["kept"] = None if kept is None else offset_entry(kept)
            version = max(version, RECIPE_VERSION_DRAG)
        return {
            "format": RECIPE_FORMAT,
            "version": version,
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
        concept's settings and the jitter. Replaying it gives exactly :meth:`current_wp`
        (checked on the snapshots, so no torch runs).
        """
        snap = self._snap
        root = self._history.root
        start = replace(snap, concepts={}, jitter=default_jitter(self.num_layers), **NO_DRAG)
        drags: list[tuple[str, dict[str, Any]]] = []
        masked_start = root.drag_mask is not None  # earlier masked drags: the start keeps them, mask and all
        if root.drag_offset is not None and not masked_start:
            entry = offset_entry(root.drag_offset)
            drags.append(("Earlier drags", {"op": "drag", **entry, "handles": [], "targets": [], "settings": {}}))
        for step in self._history.done():
            assert step.op is not None
            if step.snapshot.drag_offset is None:
                drags = []  # this step removed the drags made before it (new base, reset all)
                masked_start = False
            elif step.op["op"] == "drag":
                drags.append((step.label, step.op))
        if masked_start:
            start = replace(
                start,
                drag_offset=root.drag_offset,
                drag_mask=root.drag_mask,
                drag_kept_offset=root.drag_kept_offset,
            )
        fresh = EditSession._from_parts(self.generator, self._context, History(start), [])
        for label, op in drags:
            record(fresh._history, copy.deepcopy(op), self._context, label)
        for name in self.edited_concepts():
            if self.layers(name) != fresh.layers(name):
                fresh.set_layers(name, self.layers(name))
            if self.conditioned_on(name) != fresh.conditioned_on(name):
                fresh.set_conditioning(name, self.conditioned_on(name))
            fresh.set_strength(name, self.strength(name))
            if self.layer_strengths(name) is not None:
                fresh.set_layer_strengths(name, self.layer_strengths(name))
        if self.jitter != fresh.jitter:
            fresh.set_jitter(**self.jitter.to_dict())
        if not fresh._snap.same_as(snap):
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
        that changes the base code in one of its steps cannot be re-based. No torch runs.
        """
        context, history, warnings = replay_recipe(
            recipe,
            generator,
            bundle,
            base_seed=base_seed,
            base_wp=base_wp,
            source=source,
            allow_hash_mismatch=allow_hash_mismatch,
        )
        return cls._from_parts(generator, context, history, warnings)

    def save_recipe(self, path) -> None:
        """Write :meth:`to_recipe` to ``path`` atomically."""
        _save_recipe_file(self.to_recipe(), path)

    @staticmethod
    def load_recipe(path) -> dict[str, Any]:
        """Read a recipe file (malformed JSON or structure -> :class:`RecipeError`)."""
        return _load_recipe_file(path)
