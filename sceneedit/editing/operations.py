"""Every kind of edit step, each in one class: its recipe fields, validation, effect and label.

An operation is stored as a small dict ``{"op": kind, ...fields}`` (what a recipe's
``edits`` hold, less the label). The class registered for ``kind`` in :data:`OPERATIONS`
knows everything about it:

* ``fields``: the fields a recipe step of this kind must have;
* :meth:`Operation.check`: validate and normalize user values against the current
  snapshot and the :class:`~sceneedit.editing.context.EditContext` (raises ``EditError``);
* :meth:`Operation.apply`: the snapshot after the step (pure; inputs already checked);
* :meth:`Operation.label`: the history label; :meth:`Operation.merge_key`: which
  continuous changes (a slider drag) merge into one step;
* :meth:`Operation.to_record` / :meth:`Operation.from_record`: its recipe JSON.

No torch runs here.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..semantics.layers import format_layer_spec
from .context import EditContext, EditError, finite
from .snapshot import NO_DRAG, EditSnapshot
from .state import ConceptSettings

Op = dict[str, Any]


def _signed(value: float) -> str:
    return f"{value:+.2f}"


class Operation:
    """One kind of edit step (see the module docstring)."""

    #: The ``op`` value of this kind.
    kind: ClassVar[str] = ""
    #: Fields a recipe step of this kind must have.
    fields: ClassVar[tuple[str, ...]] = ()
    #: Whether the step names a concept of the bundle.
    uses_concept: ClassVar[bool] = False
    #: Whether the step replaces the base code (such recipes cannot be re-based).
    changes_base: ClassVar[bool] = False
    #: The lowest recipe version that may hold this kind.
    min_version: ClassVar[int] = 1

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        """``op`` validated and normalized (a new dict); raises ``EditError``."""
        return dict(op)

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        """The snapshot after ``op`` (a checked op)."""
        raise NotImplementedError

    def label(self, op: Op) -> str:
        """The history label of ``op``."""
        raise NotImplementedError

    def merge_key(self, op: Op) -> tuple[Any, ...] | None:
        """Continuous changes with equal keys merge into one step (None: never merges)."""
        return None

    def to_record(self, op: Op) -> Op:
        """``op`` as JSON-able recipe fields (``op`` included, label excluded)."""
        return copy.deepcopy(op)

    def from_record(self, record: Op) -> Op:
        """A recipe step's fields (label removed) as an op to :meth:`check`."""
        return dict(record)


class SetSeed(Operation):
    kind = "set_seed"
    fields = ("seed",)
    changes_base = True

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        return {"op": self.kind, "seed": context.check_seed(op["seed"])}

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        return replace(snap, seed=op["seed"], explicit_wp=None, **NO_DRAG)

    def label(self, op: Op) -> str:
        return f"Seed {op['seed']}"

    def merge_key(self, op: Op) -> tuple[Any, ...] | None:
        return (self.kind,)


class SetTruncation(Operation):
    kind = "set_truncation"
    fields = ("psi",)

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        return {"op": self.kind, "psi": finite(op["psi"], "truncation_psi")}

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        return replace(snap, truncation_psi=op["psi"])

    def label(self, op: Op) -> str:
        return f"Truncation {op['psi']:.2f}"

    def merge_key(self, op: Op) -> tuple[Any, ...] | None:
        return (self.kind,)


class SetBaseCode(Operation):
    kind = "set_base_code"
    fields = ("wp",)
    changes_base = True

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        checked: Op = {"op": self.kind, "wp": context.check_wp(op["wp"])}
        if op.get("source"):
            checked["source"] = str(op["source"])
        return checked

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        return replace(snap, seed=None, explicit_wp=op["wp"], **NO_DRAG)

    def label(self, op: Op) -> str:
        return f"Base code: {op['source']}" if op.get("source") else "Base code"

    def to_record(self, op: Op) -> Op:
        return {k: np.asarray(v).tolist() if k == "wp" else copy.deepcopy(v) for k, v in op.items()}

    def from_record(self, record: Op) -> Op:
        return dict(record, wp=np.asarray(record["wp"], dtype=np.float32))


class ResetAll(Operation):
    kind = "reset_all"

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        return replace(snap, concepts={}, jitter=replace(snap.jitter, enabled=False), **NO_DRAG)

    def label(self, op: Op) -> str:
        return "Reset all"


JITTER_FIELDS = ("enabled", "layers", "strength", "seed", "mode")


class SetJitter(Operation):
    kind = "set_jitter"
    fields = ("changes",)

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        changes = op["changes"]
        if not isinstance(changes, dict):
            raise EditError("set_jitter: 'changes' must be an object")
        changes = dict(changes)
        unknown = set(changes) - set(JITTER_FIELDS)
        if unknown:
            raise EditError(
                f"unknown jitter setting(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(JITTER_FIELDS))}"
            )
        if "layers" in changes:
            changes["layers"] = context.check_layer_list(changes["layers"], "jitter")
        if "seed" in changes:
            changes["seed"] = context.check_seed(changes["seed"])
        if "strength" in changes:
            changes["strength"] = finite(changes["strength"], "jitter strength")
        if "enabled" in changes:
            changes["enabled"] = bool(changes["enabled"])
        if "mode" in changes:
            changes["mode"] = str(changes["mode"])
        try:
            replace(snap.jitter, **changes)
        except (TypeError, ValueError) as exc:
            raise EditError(str(exc)) from None
        return {"op": self.kind, "changes": changes}

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        return replace(snap, jitter=replace(snap.jitter, **op["changes"]))

    def label(self, op: Op) -> str:
        changes = dict(op["changes"])
        parts = []
        if "enabled" in changes:
            parts.append("on" if changes.pop("enabled") else "off")
        for key, value in sorted(changes.items()):
            if key == "layers":
                value = format_layer_spec(value) or "none"
            elif key == "strength":
                value = f"{value:.2f}"
            parts.append(f"{key} {value}")
        return "Jitter " + ", ".join(parts)

    def merge_key(self, op: Op) -> tuple[Any, ...] | None:
        return (self.kind, tuple(sorted(op["changes"])))


def _points(value: Any, key: str) -> list[list[float]]:
    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
        raise EditError(f"drag: '{key}' must be a list of [y, x] pairs")
    return value


class Drag(Operation):
    """A point-and-drag edit, stored as the code offset it produced on its layers."""

    kind = "drag"
    fields = ("layers", "offset", "handles", "targets", "settings")
    min_version = 2

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        layers = context.check_layer_list(op["layers"], "drag")
        context.check_offset(layers, op["offset"], "drag")
        for key in ("handles", "targets", "anchors"):
            if key in op or key != "anchors":
                _points(op[key], key)
        if not isinstance(op["settings"], dict):
            raise EditError("drag: 'settings' must be an object")
        mask = op["settings"].get("mask")
        if mask is not None and op["settings"].get("blend", False):
            context.check_mask(mask, "drag: the settings'")
        return dict(op, layers=layers)

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        shape = (context.num_layers, context.w_dim)
        total = (
            np.zeros(shape, np.float32)
            if snap.drag_offset is None
            else np.array(snap.drag_offset, dtype=np.float32, copy=True)
        )
        total[op["layers"]] += np.asarray(op["offset"], dtype=np.float32)
        total.setflags(write=False)
        return replace(snap, drag_offset=total, **masked_drag_after(snap, op, context))

    def label(self, op: Op) -> str:
        count = len(op["handles"])
        return f"Drag {count} point{'s' if count != 1 else ''}"


def masked_drag_after(snap: EditSnapshot, op: Op, context: EditContext) -> dict[str, Any]:
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
        np.zeros((context.num_layers, context.w_dim), np.float32)
        if snap.drag_kept_offset is None
        else np.array(snap.drag_kept_offset, dtype=np.float32, copy=True)
    )
    kept[op["layers"]] += np.asarray(op["offset"], dtype=np.float32)
    return {"drag_kept_offset": kept}


class ConceptOperation(Operation):
    """A change of one concept's settings (``op["concept"]`` names it)."""

    uses_concept = True

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        context.concept(op["concept"])
        return {"op": self.kind, "concept": op["concept"]}

    def updated(self, current: ConceptSettings, op: Op, context: EditContext) -> ConceptSettings:
        """The concept's settings after ``op``."""
        raise NotImplementedError

    def apply(self, snap: EditSnapshot, op: Op, context: EditContext) -> EditSnapshot:
        name = op["concept"]
        default = context.default_settings(name)
        current = snap.concepts.get(name)
        updated = self.updated(current if current is not None else default, op, context)
        concepts = dict(snap.concepts)
        if updated == default:
            concepts.pop(name, None)
        else:
            concepts[name] = updated
        return replace(snap, concepts=concepts)


class SetStrength(ConceptOperation):
    kind = "set_strength"
    fields = ("concept", "value")

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        checked = super().check(op, snap, context)
        checked["value"] = finite(op["value"], f"strength of {op['concept']!r}")
        return checked

    def updated(self, current: ConceptSettings, op: Op, context: EditContext) -> ConceptSettings:
        return replace(current, strength=op["value"])

    def label(self, op: Op) -> str:
        return f"{op['concept']} {_signed(op['value'])}"

    def merge_key(self, op: Op) -> tuple[Any, ...] | None:
        return (self.kind, op["concept"])


class SetLayerStrengths(ConceptOperation):
    kind = "set_layer_strengths"
    fields = ("concept", "values")

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        checked = super().check(op, snap, context)
        name, values = op["concept"], op["values"]
        if values is not None:
            values = [finite(v, f"layer strength of {name!r}") for v in values]
            layers = context.layers(snap.concepts, name)
            if len(values) != len(layers):
                raise EditError(
                    f"concept {name!r}: {len(values)} layer strengths given for its "
                    f"{len(layers)} layers {format_layer_spec(layers)}"
                )
        checked["values"] = values
        return checked

    def updated(self, current: ConceptSettings, op: Op, context: EditContext) -> ConceptSettings:
        values = op["values"]
        return replace(current, layer_strengths=None if values is None else tuple(values))

    def label(self, op: Op) -> str:
        if op["values"] is None:
            return f"{op['concept']}: one strength"
        return f"{op['concept']} per layer " + " ".join(_signed(v) for v in op["values"])

    def merge_key(self, op: Op) -> tuple[Any, ...] | None:
        return (self.kind, op["concept"])


class SetLayers(ConceptOperation):
    """A new layer range; per-layer strengths follow their layers, new layers get the scalar strength."""

    kind = "set_layers"
    fields = ("concept", "layers")

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        checked = super().check(op, snap, context)
        checked["layers"] = context.check_concept_layers(op["concept"], op["layers"])
        return checked

    def updated(self, current: ConceptSettings, op: Op, context: EditContext) -> ConceptSettings:
        layers = list(op["layers"])
        default = list(context.concept(op["concept"]).layers)
        old_layers = list(current.layers) if current.layers is not None else default
        layer_strengths = current.layer_strengths
        if layer_strengths is not None:
            by_layer = dict(zip(old_layers, layer_strengths, strict=False))
            layer_strengths = tuple(by_layer.get(layer, current.strength) for layer in layers)
        return replace(current, layers=None if layers == default else tuple(layers), layer_strengths=layer_strengths)

    def label(self, op: Op) -> str:
        return f"{op['concept']} layers {format_layer_spec(op['layers'])}"


class SetConditioning(ConceptOperation):
    kind = "set_conditioning"
    fields = ("concept", "others")

    def check(self, op: Op, snap: EditSnapshot, context: EditContext) -> Op:
        checked = super().check(op, snap, context)
        name = op["concept"]
        others = list(dict.fromkeys(str(o) for o in op["others"]))
        for other in others:
            context.concept(other)
            if other == name:
                raise EditError(f"concept {name!r} cannot be conditioned on itself")
        context.directions(name, tuple(others))  # refuse a degenerate projection now
        checked["others"] = others
        return checked

    def updated(self, current: ConceptSettings, op: Op, context: EditContext) -> ConceptSettings:
        return replace(current, conditioned_on=tuple(op["others"]))

    def label(self, op: Op) -> str:
        return f"{op['concept']} conditioned on {', '.join(op['others']) or 'nothing'}"


class ResetConcept(ConceptOperation):
    kind = "reset_concept"
    fields = ("concept",)

    def updated(self, current: ConceptSettings, op: Op, context: EditContext) -> ConceptSettings:
        return context.default_settings(op["concept"])

    def label(self, op: Op) -> str:
        return f"Reset {op['concept']}"


#: Every operation kind, by its ``op`` value, in recipe order.
OPERATIONS: dict[str, Operation] = {
    cls.kind: cls()
    for cls in (
        SetSeed,
        SetTruncation,
        SetBaseCode,
        SetStrength,
        SetLayerStrengths,
        SetLayers,
        SetConditioning,
        ResetConcept,
        ResetAll,
        SetJitter,
        Drag,
    )
}


def operation(op: Op) -> Operation:
    """The :class:`Operation` of ``op`` (by ``op["op"]``), else ``EditError``."""
    kind = op.get("op")
    if not isinstance(kind, str) or kind not in OPERATIONS:
        raise EditError(f"unknown op {kind!r}; allowed: {', '.join(OPERATIONS)}")
    return OPERATIONS[kind]
