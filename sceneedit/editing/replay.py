"""Recipes -> histories -> render states, without the undoable session.

:func:`replay_recipe` turns a recipe into a :class:`~sceneedit.editing.history.History`
(one step per recorded edit, through each operation's own validation);
:func:`states_for_recipe` builds one render state per step (the exporter's timeline);
:func:`start_edit` gives an :class:`EditRun`, a non-undoable edit that further operations
extend (the exporter's sweeps and jitter series).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..generators.base import Generator
from ..generators.fingerprint import generator_fingerprint
from ..semantics.concepts import BoundaryBundle
from .builder import StateBuilder
from .commands import EditCommands
from .context import EditContext, EditError, finite, validate_bundle
from .history import History, Step
from .manipulation import ManipulationError
from .operations import OPERATIONS, operation
from .recipe import RecipeError, check_bundle, check_generator, validate_recipe
from .snapshot import EditSnapshot
from .state import ConceptSettings, EditState, JitterSettings, default_jitter

#: Exceptions that values of the wrong type in a recipe file raise while replaying.
_REPLAY_ERRORS = (
    EditError,
    ManipulationError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    OverflowError,
    IndexError,
)


def record(history: History, op: dict[str, Any], context: EditContext, label: str | None = None) -> None:
    """Check ``op`` and add it as a step, even when it changes nothing (a recorded step that
    changes nothing, say a reset of an unedited concept, keeps its own frame)."""
    kind = operation(op)
    checked = kind.check(kind.from_record(op), history.current, context)
    step_label = str(label) if label else kind.label(checked)
    if not history.push(checked, step_label, lambda snap: kind.apply(snap, checked, context), kind.merge_key(checked)):
        history.append(Step(step_label, checked, history.current))


def initial_drag(entry: Any, context: EditContext) -> np.ndarray | None:
    """A recipe's ``initial.drag`` (``{layers, offset}``) as a full ``[L, D]`` offset."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or "layers" not in entry or "offset" not in entry:
        raise EditError("initial drag must be an object with 'layers' and 'offset'")
    layers = context.check_layer_list(entry["layers"], "initial drag")
    offset = context.check_offset(layers, entry["offset"], "initial drag")
    total = np.zeros((context.num_layers, context.w_dim), np.float32)
    total[layers] = offset
    total.setflags(write=False)
    return total


def initial_drag_mask(entry: Any, context: EditContext) -> dict[str, Any]:
    """``drag_mask`` / ``drag_kept_offset`` of a recipe's ``initial.drag`` (its optional
    ``mask`` ``[H, W]`` and ``kept`` ``{layers, offset}``); ``{}`` without a mask."""
    if not isinstance(entry, dict) or entry.get("mask") is None:
        return {}
    mask = context.check_mask(entry["mask"], "initial drag:")
    mask.setflags(write=False)
    return {"drag_mask": mask, "drag_kept_offset": initial_drag(entry.get("kept"), context)}


def _root(
    recipe: dict[str, Any], context: EditContext, base_seed: int | None, base_wp: np.ndarray | None
) -> EditSnapshot:
    base = recipe["base"]
    explicit: np.ndarray | None
    if base_wp is not None:
        explicit, seed = context.check_wp(base_wp), None
    elif base_seed is not None:
        explicit, seed = None, context.check_seed(base_seed)
    elif base.get("seed") is not None:
        explicit, seed = None, context.check_seed(base["seed"])
    else:
        explicit, seed = context.check_wp(np.asarray(base["wp"], dtype=np.float32)), None
    initial = recipe["initial"]
    concepts = {}
    for name, data in initial.get("concepts", {}).items():
        context.concept(name)
        concepts[name] = ConceptSettings.from_dict(data)
    jitter = JitterSettings.from_dict(initial["jitter"]) if "jitter" in initial else default_jitter(context.num_layers)
    context.check_layer_list(jitter.layers, "jitter")
    return EditSnapshot(
        seed=seed,
        truncation_psi=finite(base["truncation_psi"], "truncation_psi"),
        explicit_wp=explicit,
        concepts=concepts,
        jitter=jitter,
        drag_offset=initial_drag(initial.get("drag"), context),
        **initial_drag_mask(initial.get("drag"), context),
    )


def replay_recipe(
    recipe: dict[str, Any],
    generator: Generator,
    bundle: BoundaryBundle | None = None,
    *,
    base_seed: int | None = None,
    base_wp: np.ndarray | None = None,
    source: str = "recipe",
    allow_hash_mismatch: bool = False,
) -> tuple[EditContext, History, list[str]]:
    """Replay ``recipe``: its context, its history (every step, the last one current) and the
    bundle check's warnings.

    Refuses (:class:`RecipeError`, naming ``source``) a recipe for another generator or
    bundle, or one whose values do not replay. ``base_seed`` / ``base_wp`` replace the
    recipe's base code (to apply its edits to other scenes); a recipe that changes the base
    code in one of its steps cannot be re-based.
    """
    validate_recipe(recipe, source)
    check_generator(recipe, generator_fingerprint(generator), source)
    check_bundle(recipe, bundle, source)
    layers = recipe["base"].get("truncation_layers", generator.truncation_layers)
    if layers != generator.truncation_layers:
        raise RecipeError(f"{source} truncates {str(layers)[:40]} layers, the generator {generator.truncation_layers}")
    if base_seed is not None or base_wp is not None:
        for i, edit in enumerate(recipe["edits"]):
            if OPERATIONS[edit["op"]].changes_base:
                raise RecipeError(
                    f"{source}: step {i + 1} ({str(edit.get('label', edit['op']))[:60]}) changes the base "
                    f"code, so the recipe cannot be applied to other seeds or codes"
                )
    try:
        warnings = [] if bundle is None else validate_bundle(bundle, generator, allow_hash_mismatch)
        context = EditContext.for_generator(generator, bundle)
        history = History(_root(recipe, context, base_seed, base_wp))
        for edit in recipe["edits"]:
            record(history, {k: v for k, v in edit.items() if k != "label"}, context, edit.get("label"))
    except _REPLAY_ERRORS as exc:
        if isinstance(exc, RecipeError):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        text = " ".join(str(message).split())
        raise RecipeError(f"{source}: cannot be replayed: {text[:300]}") from None
    history.close_merge()
    return context, history, warnings


def states_for_recipe(
    recipe: dict[str, Any],
    generator: Generator,
    bundle: BoundaryBundle | None = None,
    **options: Any,
) -> tuple[list[str], list[EditState]]:
    """The recipe's timeline: ``(labels, states)``, one per step from the start to the last
    edit. ``options``: those of :func:`replay_recipe` (``base_seed``, ``base_wp``, ``source``,
    ``allow_hash_mismatch``)."""
    context, history, _warnings = replay_recipe(recipe, generator, bundle, **options)
    builder = StateBuilder(generator, context)
    return history.labels, [builder.state(step.snapshot) for step in history.steps]


class EditRun(EditCommands):
    """A non-undoable edit for building frames: every command adds a step (no merging, no events).

    ``history``: the step labels; :meth:`state`: the current render state;
    :meth:`timeline_states`: one state per step.
    """

    def __init__(self, generator: Generator, context: EditContext, steps: History) -> None:
        self.generator = generator
        self.context = context
        self.steps = steps
        self.builder = StateBuilder(generator, context)

    def _do(self, op: dict[str, Any], merge: bool = False) -> None:
        kind = operation(op)
        checked = kind.check(op, self.steps.current, self.context)
        self.steps.push(checked, kind.label(checked), lambda snap: kind.apply(snap, checked, self.context))

    @property
    def history(self) -> list[str]:
        return self.steps.labels

    def state(self) -> EditState:
        return self.builder.state(self.steps.current)

    def timeline_states(self) -> list[EditState]:
        return [self.builder.state(step.snapshot) for step in self.steps.steps]


def start_edit(
    generator: Generator,
    bundle: BoundaryBundle | None = None,
    recipe: dict[str, Any] | None = None,
    *,
    base_seed: int | None = None,
    base_wp: np.ndarray | None = None,
    truncation_psi: float | None = None,
    source: str = "recipe",
    allow_hash_mismatch: bool = False,
) -> EditRun:
    """An :class:`EditRun` at ``recipe`` replayed (re-based on ``base_seed`` / ``base_wp``), or at
    the plain base code (``base_wp``, else ``base_seed`` or 0, mapped with ``truncation_psi``,
    the generator's default when None) when there is no recipe."""
    if recipe is not None:
        context, history, _warnings = replay_recipe(
            recipe,
            generator,
            bundle,
            base_seed=base_seed,
            base_wp=base_wp,
            source=source,
            allow_hash_mismatch=allow_hash_mismatch,
        )
        return EditRun(generator, context, history)
    if bundle is not None:
        validate_bundle(bundle, generator, allow_hash_mismatch)
    context = EditContext.for_generator(generator, bundle)
    psi = generator.truncation_psi if truncation_psi is None else finite(truncation_psi, "truncation_psi")
    explicit = None if base_wp is None else context.check_wp(base_wp)
    seed = None if explicit is not None else context.check_seed(base_seed or 0)
    root = EditSnapshot(seed=seed, truncation_psi=psi, explicit_wp=explicit, jitter=default_jitter(context.num_layers))
    return EditRun(generator, context, History(root))
