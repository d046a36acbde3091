"""The edit session's parts: operation registry, history, state builder, recipe replay, events,
and the render thread's resolver. Tiny real StyleGAN (16 px, 32-dim codes)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from tiny_models import tiny_stylegan

from sceneedit.editing.builder import StateBuilder
from sceneedit.editing.context import EditContext, EditError
from sceneedit.editing.events import SessionEvent
from sceneedit.editing.history import History
from sceneedit.editing.operations import OPERATIONS, operation
from sceneedit.editing.recipe import OPERATIONS as RECIPE_FIELDS
from sceneedit.editing.recipe import RecipeError
from sceneedit.editing.replay import start_edit, states_for_recipe
from sceneedit.editing.resolve import RenderSpec, Resolver
from sceneedit.editing.session import EditSession
from sceneedit.editing.snapshot import EditSnapshot
from sceneedit.editing.state import edited_wp
from sceneedit.generators.stylegan import StyleGANGenerator
from sceneedit.semantics.bundle import fingerprint_for
from sceneedit.semantics.concepts import BoundaryBundle, Concept


@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan(name="tiny", frozen=True)


@pytest.fixture(scope="module")
def bundle(generator):
    rng = np.random.RandomState(4)
    concepts = {}
    for name, layers in (("sky", [0, 1, 2]), ("lamp", [3, 4])):
        normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
        concepts[name] = Concept(name, normal / np.linalg.norm(normal), layers, level="layout")
    return BoundaryBundle(concepts, fingerprint_for(generator), source="test")


def edited_session(generator, bundle) -> EditSession:
    session = EditSession(generator, bundle, seed=2)
    session.set_strength("sky", 1.5)
    session.set_layers("lamp", [2, 3, 4])
    session.set_layer_strengths("lamp", [0.5, -1.0, 0.25])
    session.set_conditioning("sky", ["lamp"])
    session.set_jitter(enabled=True, mode="style_mix", layers=[4, 5], strength=0.5, seed=8)
    session.reset_concept("lamp")
    session.set_truncation(0.6)
    return session


def test_every_operation_kind_has_one_class_that_the_recipe_reader_uses():
    assert list(OPERATIONS) == list(RECIPE_FIELDS)
    for kind, op_class in OPERATIONS.items():
        assert op_class.kind == kind and RECIPE_FIELDS[kind] == op_class.fields
    assert [k for k, c in OPERATIONS.items() if c.changes_base] == ["set_seed", "set_base_code"]
    with pytest.raises(EditError, match="unknown op 'paint'"):
        operation({"op": "paint"})


def test_operations_validate_apply_and_label_without_a_session(generator, bundle):
    context = EditContext.for_generator(generator, bundle)
    start = EditSnapshot(seed=1, truncation_psi=0.7)
    kind = OPERATIONS["set_layer_strengths"]
    with pytest.raises(EditError, match="2 layer strengths given for its 3 layers 0-2"):
        kind.check({"op": "set_layer_strengths", "concept": "sky", "values": [1, 2]}, start, context)
    op = kind.check({"op": "set_layer_strengths", "concept": "sky", "values": [1, 2, "3"]}, start, context)
    after = kind.apply(start, op, context)
    assert after.concepts["sky"].layer_strengths == (1.0, 2.0, 3.0) and start.concepts == {}
    assert kind.label(op) == "sky per layer +1.00 +2.00 +3.00"
    with pytest.raises(EditError, match="unknown concept 'sea'"):
        OPERATIONS["set_strength"].check({"op": "set_strength", "concept": "sea", "value": 1}, start, context)
    seed = OPERATIONS["set_seed"]
    assert seed.label(seed.check({"op": "set_seed", "seed": 9}, start, context)) == "Seed 9"


def test_history_merges_a_slider_drag_and_drops_it_when_it_returns(generator, bundle):
    context = EditContext.for_generator(generator, bundle)
    history = History(EditSnapshot(seed=1, truncation_psi=0.7))
    kind = OPERATIONS["set_strength"]

    def push(value, merge=True):
        op = kind.check({"op": "set_strength", "concept": "sky", "value": value}, history.current, context)
        return history.push(op, kind.label(op), lambda s: kind.apply(s, op, context), kind.merge_key(op), merge)

    assert push(0.5) and push(1.0) and push(1.5)
    assert history.labels == ["Start", "sky +1.50"]
    newest = history.steps[-1]
    assert not push(1.5)  # a continuing drag that changes nothing: no step, nothing to tell
    assert history.steps[-1] is newest and history.labels == ["Start", "sky +1.50"]
    history.close_merge()
    assert push(2.0)
    assert len(history.steps) == 3
    assert push(1.5)  # the second drag came back to where it started: its step goes
    assert history.labels == ["Start", "sky +1.50"] and history.index == 1
    assert not push(1.5, merge=False)  # no change, no step
    assert history.jump(0) and history.current.concepts == {}


def test_states_for_recipe_equal_the_sessions_timeline(generator, bundle):
    session = edited_session(generator, bundle)
    labels, states = states_for_recipe(session.to_recipe(), generator, bundle)
    assert labels == session.history
    expected = session.timeline_states()
    assert [s.key() for s in states] == [s.key() for s in expected]
    assert np.array_equal(edited_wp(states[-1]), session.current_wp())
    with pytest.raises(RecipeError, match="step 1 .*changes the base"):
        states_for_recipe(
            EditSession(generator, bundle, seed=1).to_recipe()
            | {"edits": [{"label": "Seed 4", "op": "set_seed", "seed": 4}]},
            generator,
            bundle,
            base_seed=5,
        )


def test_an_edit_run_builds_the_same_states_as_the_session(generator, bundle):
    session = EditSession(generator, bundle, seed=6, truncation_psi=0.8)
    run = start_edit(generator, bundle, base_seed=6, truncation_psi=0.8)
    for target in (session, run):
        target.set_strength("lamp", -2.0)
        target.set_jitter(enabled=True, layers=[1], strength=0.3, seed=2)
    assert run.state().key() == session.state().key()
    assert run.history == session.history
    rebased = start_edit(generator, bundle, session.to_recipe(), base_seed=9)
    assert rebased.state().seed == 9 and rebased.history == session.history


def test_events_are_typed(generator, bundle):
    session = EditSession(generator, bundle, seed=1)
    events = []
    session.subscribe(lambda event, payload: events.append(event))
    session.set_seed(2)
    assert events == [SessionEvent.BASE_CHANGED, SessionEvent.CHANGED, SessionEvent.HISTORY_CHANGED]
    assert all(isinstance(e, SessionEvent) for e in events) and events[0] == "base_changed"


def test_editing_and_replaying_run_no_torch(generator, bundle, monkeypatch):
    calls = []
    for name in ("map", "synthesize", "sample_z"):
        original = getattr(StyleGANGenerator, name)
        monkeypatch.setattr(
            StyleGANGenerator, name, lambda g, *a, _o=original, _n=name, **k: (calls.append(_n), _o(g, *a, **k))[1]
        )
    session = edited_session(generator, bundle)
    session.set_seed(40)
    session.undo()
    replayed = EditSession.from_recipe(session.to_recipe(), generator, bundle)
    recipe = session.current_edit_recipe()
    assert replayed.snapshot().same_as(session.snapshot()) and recipe["base"]["seed"] == 2
    assert calls == []
    session.state()  # building the render state maps the seeds
    assert "map" in calls


def test_the_resolver_maps_once_and_resolves_previews_and_the_unedited_scene(generator, bundle):
    session = edited_session(generator, bundle)
    resolver = Resolver()
    spec = RenderSpec(session.snapshot(), bundle)
    state = resolver.state(generator, spec)
    assert state.key() == session.state().key()
    builder = resolver.builder(generator, bundle)
    assert builder.mapped_code(2, 0.6) is state.base_wp  # cached, not mapped again
    preview = resolver.state(generator, RenderSpec(session.snapshot(), bundle, jitter_seed=30))
    session.set_jitter(seed=30)
    assert preview.key() == session.state().key()
    unedited = resolver.state(generator, RenderSpec(session.snapshot(), bundle, unedited=True))
    assert np.array_equal(edited_wp(unedited), session.base_wp)
    assert resolver.builder(generator, None) is not builder  # another bundle: another builder
    done = []
    thread = threading.Thread(target=lambda: done.append(Resolver().state(generator, spec).key()))
    thread.start()
    thread.join()
    assert done == [state.key()]


def test_the_builder_keeps_a_bounded_cache(generator):
    from sceneedit.editing import builder as builder_module

    builder = StateBuilder(generator)
    first = builder.mapped_code(0, 0.7)
    for seed in range(1, builder_module.MAPPED_CODES_KEPT + 1):
        builder.mapped_code(seed, 0.7)
    again = builder.mapped_code(0, 0.7)
    assert again is not first and np.array_equal(again, first)
