"""EditSession on a tiny real StyleGAN: edits, undo/redo, merging, events, recipes, render."""

import json
import pickle

import numpy as np
import pytest
from tiny_models import tiny_stylegan

from sceneedit.editing.codes import code_for_seed
from sceneedit.editing.recipe import RecipeError, load_recipe
from sceneedit.editing.session import EditError, EditSession
from sceneedit.editing.state import JitterSettings
from sceneedit.generators.fingerprint import generator_fingerprint
from sceneedit.render import render, render_batch
from sceneedit.semantics.concepts import BoundaryBundle, Concept

#: The tiny StyleGAN these tests edit, truncated like the real models.
TRUNCATED = dict(fmaps_max=16, truncation_psi=0.7, truncation_layers=2)

L, D = 6, 32  # a 16 px StyleGAN has 6 layer-wise codes


def unit(rng, rows=1):
    v = rng.standard_normal((rows, D)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_bundle(generator, seed=1, extra=()):
    rng = np.random.RandomState(seed)
    concepts = {
        "wall": Concept("wall", unit(rng), [0, 1], level="layout"),
        "lamp": Concept("lamp", unit(rng), [2, 3, 4], level="objects"),
        "tint": Concept("tint", unit(rng, L), [4, 5], level="color", space="wp"),
    }
    for name in extra:
        concepts[name] = Concept(name, unit(rng), [3])
    return BoundaryBundle(concepts, generator_fingerprint=generator_fingerprint(generator))


@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan(**TRUNCATED)


@pytest.fixture(scope="module")
def bundle(generator):
    return make_bundle(generator)


@pytest.fixture
def session(generator, bundle):
    return EditSession(generator, bundle, seed=3)


def test_base_code_is_the_mapped_seed(session, generator):
    assert session.seed == 3 and session.truncation_psi == pytest.approx(0.7)
    expected = generator.map(generator.sample_z(1, 3), truncation_psi=0.7)[0].detach().numpy()
    assert session.base_wp.shape == (L, D) and session.base_wp.dtype == np.float32
    np.testing.assert_array_equal(session.base_wp, expected)
    np.testing.assert_array_equal(session.current_wp(), session.base_wp)
    assert session.history == ["Start"] and not session.can_undo


def test_strength_changes_only_the_concept_layers_with_truncation_scaling(session, bundle):
    session.set_strength("wall", 2.0)
    wp, base = session.current_wp(), session.base_wp
    for layer in range(2, L):
        assert wp[layer].tobytes() == base[layer].tobytes()
    n = bundle["wall"].normal[0]
    # Layers 0-1 are truncated with psi 0.7: the step is scaled by psi (HiGAN).
    assert float((wp[0] - base[0]) @ n) == pytest.approx(2.0 * 0.7, rel=1e-4)
    session.set_layers("wall", [1, 3])
    wp = session.current_wp()
    assert wp[0].tobytes() == base[0].tobytes()
    assert float((wp[3] - base[3]) @ n) == pytest.approx(2.0, rel=1e-4)


def test_undo_redo_restore_exact_codes(session):
    codes = [session.current_wp()]
    session.set_strength("wall", 1.5)
    codes.append(session.current_wp())
    session.set_layer_strengths("lamp", [0.5, -1.0, 2.0])
    codes.append(session.current_wp())
    session.set_seed(11)
    codes.append(session.current_wp())
    session.set_jitter(enabled=True, layers=[5], strength=0.3, seed=2)
    codes.append(session.current_wp())
    assert session.history_index == 4
    for index in (3, 2, 1, 0):
        session.undo()
        assert session.current_wp().tobytes() == codes[index].tobytes()
    assert not session.can_undo and session.can_redo
    for index in (1, 2, 3, 4):
        session.redo()
        assert session.current_wp().tobytes() == codes[index].tobytes()
    session.jump_to(1)
    assert session.current_wp().tobytes() == codes[1].tobytes()
    # A new change after undo drops the redo tail.
    session.set_strength("tint", 1.0)
    assert session.history_index == 2 and not session.can_redo


def test_slider_drag_merges_into_one_step(session):
    for value in np.linspace(0.1, 2.0, 12):
        session.set_strength("lamp", float(value), merge=True)
    assert session.history == ["Start", "lamp +2.00"]
    session.set_strength("lamp", 2.5, merge=True)  # still the same drag
    assert len(session.history) == 2 and session.strength("lamp") == 2.5
    session.close_merge()  # slider released
    session.set_strength("lamp", 1.0, merge=True)
    assert len(session.history) == 3
    session.set_strength("wall", 1.0, merge=True)  # another concept: a new step
    assert len(session.history) == 4
    session.undo()
    session.undo()
    assert session.strength("lamp") == 2.5
    # A drag that returns to where it started leaves no step behind.
    session.close_merge()
    before = len(session.history[: session.history_index + 1])
    session.set_strength("lamp", 0.3, merge=True)
    session.set_strength("lamp", 2.5, merge=True)
    assert session.history_index + 1 == before


def test_no_op_changes_add_no_step(session):
    session.set_strength("wall", 0.0)
    session.reset_concept("lamp")
    assert session.history == ["Start"]


def test_layer_strengths_follow_layers_and_bad_input_is_refused(session):
    assert session.layers("lamp") == [2, 3, 4] and session.layer_strengths("lamp") is None
    session.set_strength("lamp", 0.25)
    session.set_layer_strengths("lamp", [1.0, 2.0, 3.0])
    session.set_layers("lamp", [3, 4, 5])
    assert session.layer_strengths("lamp") == [2.0, 3.0, 0.25]
    with pytest.raises(EditError, match="2 layer strengths given for its 3 layers"):
        session.set_layer_strengths("lamp", [1.0, 2.0])
    with pytest.raises(EditError, match="layer 6 is out of range"):
        session.set_layers("lamp", [5, 6])
    with pytest.raises(EditError, match="at least one layer"):
        session.set_layers("lamp", [])
    with pytest.raises(EditError, match="unknown concept 'sofa'.*wall, lamp, tint"):
        session.set_strength("sofa", 1.0)
    with pytest.raises(EditError, match="finite"):
        session.set_strength("wall", float("nan"))
    with pytest.raises(EditError, match="seed"):
        session.set_seed(-1)
    with pytest.raises(EditError, match="shape"):
        session.set_base_code(np.zeros((L, D + 1), np.float32))
    with pytest.raises(EditError, match="unknown jitter mode"):
        session.set_jitter(mode="wobble")
    session.set_layer_strengths("lamp", None)
    assert session.layer_strengths("lamp") is None
    session.reset_concept("lamp")
    assert session.layers("lamp") == [2, 3, 4] and session.strength("lamp") == 0.0


def test_conditioning_projects_out_other_normals(generator):
    bundle = make_bundle(generator, extra=("sofa", "rug"))
    session = EditSession(generator, bundle, seed=0)
    session.set_layers("wall", [3])
    session.set_conditioning("wall", ["lamp", "sofa", "rug"])
    session.set_strength("wall", 1.0)
    delta = session.current_wp()[3] - session.base_wp[3]
    for other in ("lamp", "sofa", "rug"):
        assert abs(float(delta @ bundle[other].normal_at(3))) < 1e-5
    assert session.conditioned_on("wall") == ["lamp", "sofa", "rug"]
    with pytest.raises(EditError, match="itself"):
        session.set_conditioning("wall", ["wall"])
    copy = BoundaryBundle(
        {**bundle.concepts, "twin": Concept("twin", bundle["lamp"].normal.copy(), [2])},
        generator_fingerprint=bundle.generator_fingerprint,
    )
    session.set_bundle(copy)
    with pytest.raises(EditError, match="span"):
        session.set_conditioning("twin", ["lamp"])


def test_jitter_reproduces_and_keeps_other_layers(session, generator):
    session.set_strength("wall", 1.0)
    before = session.current_wp()
    session.set_jitter(enabled=True, layers=[2, 3], strength=0.8, seed=5)
    first = session.current_wp()
    assert isinstance(session.jitter, JitterSettings) and session.jitter.layers == [2, 3]
    for layer in (0, 1, 4, 5):
        assert first[layer].tobytes() == before[layer].tobytes()
    assert not np.array_equal(first[2], before[2])
    session.set_jitter(seed=6)
    assert not np.array_equal(session.current_wp()[2], first[2])
    session.set_jitter(seed=5)
    assert session.current_wp().tobytes() == first.tobytes()
    # Style-mix jitter: those layers become the fresh seed's mapped code.
    session.set_jitter(mode="style_mix", strength=1.0, seed=9)
    donor = code_for_seed(generator, 9, 0.7)
    mixed = session.current_wp()
    assert mixed[2:4].tobytes() == donor[2:4].tobytes()
    assert mixed[4:].tobytes() == before[4:].tobytes()
    session.set_jitter(enabled=False)
    assert session.current_wp().tobytes() == before.tobytes()


def test_events_and_unsubscribe(session):
    events = []
    unsubscribe = session.subscribe(lambda event, payload: events.append((event, payload)))
    session.set_strength("wall", 1.0)
    names = [e for e, _ in events]
    assert names == ["concept_changed", "changed", "history_changed"]
    assert events[0][1] == {"concept": "wall"}
    events.clear()
    session.set_seed(8)
    assert [e for e, _ in events][:2] == ["base_changed", "changed"]
    events.clear()
    session.undo()
    assert "base_changed" in [e for e, _ in events]
    unsubscribe()
    events.clear()
    session.set_strength("wall", 2.0)
    assert events == []


def test_state_is_picklable_with_stable_key(session, generator, bundle):
    session.set_strength("lamp", 1.2)
    state = session.state()
    clone = pickle.loads(pickle.dumps(state))
    assert clone.key() == state.key()
    other = EditSession(generator, bundle, seed=3)
    other.set_strength("lamp", 1.2)
    assert other.state().key() == state.key()
    other.set_strength("lamp", 1.3)
    assert other.state().key() != state.key()
    with pytest.raises(ValueError):
        state.base_wp[0, 0] = 1.0  # read-only


def test_set_bundle_keeps_what_still_applies(session, generator):
    session.set_strength("wall", 1.0)
    session.set_strength("lamp", 2.0)
    session.set_layers("lamp", [1, 2])
    rng = np.random.RandomState(7)
    new = BoundaryBundle(
        {"lamp": Concept("lamp", unit(rng), [2, 3]), "door": Concept("door", unit(rng), [0])},
        generator_fingerprint=generator_fingerprint(generator),
    )
    events = []
    session.subscribe(lambda e, p: events.append(e))
    session.set_bundle(new)
    assert events[0] == "bundle_changed" and "history_changed" in events
    assert session.strength("lamp") == 2.0 and session.layers("lamp") == [1, 2]
    assert session.history == ["Start"]
    with pytest.raises(EditError, match="unknown concept 'wall'"):
        session.strength("wall")
    mismatch = make_bundle(tiny_stylegan(5, **TRUNCATED))
    with pytest.raises(ValueError, match="weights"):
        session.set_bundle(mismatch)
    session.set_bundle(mismatch, allow_hash_mismatch=True)
    assert session.bundle is mismatch and session.bundle_warnings


def test_recipe_round_trip_reproduces_pixels(session, generator, bundle, tmp_path):
    session.set_truncation(0.6)
    session.set_strength("wall", 1.5, merge=True)
    session.set_strength("wall", 1.75, merge=True)
    session.set_layers("lamp", [2, 3])
    session.set_layer_strengths("lamp", [0.5, -0.25])
    session.set_conditioning("tint", ["lamp"])
    session.set_strength("tint", -1.0)
    session.set_jitter(enabled=True, layers=[4], strength=0.7, seed=12, mode="style_mix")
    session.reset_concept("wall")
    image = render(generator, session.state())
    assert image.error is None and image.image.shape == (16, 16, 3) and image.image.dtype == np.uint8

    path = tmp_path / "edit.recipe.json"
    session.save_recipe(path)
    recipe = EditSession.load_recipe(path)
    assert recipe["version"] == 1 and recipe["base"]["seed"] == 3
    fresh = EditSession.from_recipe(recipe, tiny_stylegan(**TRUNCATED), bundle)
    assert fresh.history == session.history
    assert fresh.current_wp().tobytes() == session.current_wp().tobytes()
    again = render(fresh.generator, fresh.state())
    assert again.image.tobytes() == image.image.tobytes()
    for a, b in zip(fresh.timeline_states(), session.timeline_states(), strict=True):
        assert a.key() == b.key()


def test_recipe_with_explicit_code_round_trips_exactly(generator, bundle, tmp_path):
    session = EditSession(generator, bundle, seed=0)
    code = np.random.RandomState(3).standard_normal((L, D)).astype(np.float32) / 3
    session.set_base_code(code)
    session.set_strength("lamp", 0.9)
    assert session.seed is None
    path = tmp_path / "explicit.json"
    session.save_recipe(path)
    fresh = EditSession.from_recipe(load_recipe(path), generator, bundle)
    assert fresh.base_wp.tobytes() == code.tobytes()
    assert fresh.current_wp().tobytes() == session.current_wp().tobytes()


def test_recipes_for_another_generator_or_bundle_or_malformed_are_refused(session, generator, bundle, tmp_path):
    session.set_strength("wall", 1.0)
    recipe = session.to_recipe()
    with pytest.raises(RecipeError, match="another generator.*weights_hash"):
        EditSession.from_recipe(recipe, tiny_stylegan(1, **TRUNCATED), bundle)
    with pytest.raises(RecipeError, match="another boundary bundle"):
        EditSession.from_recipe(recipe, generator, make_bundle(generator, seed=2))
    with pytest.raises(RecipeError, match="needs a boundary bundle"):
        EditSession.from_recipe(recipe, generator, None)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "sceneedit-recipe", "version": 1,')
    with pytest.raises(RecipeError, match="malformed JSON at line 1"):
        load_recipe(bad)
    bad.write_text(json.dumps({**recipe, "version": 99}))
    with pytest.raises(RecipeError, match="version 99"):
        load_recipe(bad)
    broken = json.loads(json.dumps(recipe))
    broken["edits"][0]["concept"] = "sofa"
    with pytest.raises(RecipeError, match="unknown concept 'sofa'"):
        EditSession.from_recipe(broken, generator, bundle)
    broken["edits"][0]["op"] = "explode"
    with pytest.raises(RecipeError, match="unknown op 'explode'"):
        EditSession.from_recipe(broken, generator, bundle)


def test_render_reports_failures_instead_of_raising(session, generator):
    good = session.state()
    with pytest.raises(EditError, match="finite"):
        session.set_base_code(np.full((L, D), np.nan, dtype=np.float64))
    wrong = EditSession(tiny_stylegan(w_dim=16, mapping_layers=1, fmaps_max=16, eval_mode=False), None, seed=0).state()
    results = render_batch(generator, [good, wrong, good], batch_size=3)
    assert [r.error is None for r in results] == [True, False, True]
    assert "shape" in results[1].error and results[1].image is None
    assert results[0].image.shape == (16, 16, 3)
    single = render(generator, wrong)
    assert single.error and single.image is None


def test_distance_from_the_hyperplane_and_back(generator):
    bundle = make_bundle(generator)
    bundle["lamp"].extra["offset"] = 0.4  # the plane n . w = 0.4, as probing records it
    session = EditSession(generator, bundle, seed=1)
    n = bundle["lamp"].normal[0]
    base = session.base_wp
    assert session.hyperplane_distance("lamp") == pytest.approx(float(base[2] @ n) - 0.4, abs=1e-5)
    assert session.hyperplane_distance("wall") == pytest.approx(float(base[0] @ bundle["wall"].normal[0]), abs=1e-5)
    session.set_conditioning("lamp", ["wall"])
    for name, target in (("lamp", 1.5), ("wall", -2.0)):  # wall's layers are truncated (psi 0.7)
        session.set_strength(name, session.strength_for_distance(name, target))
        assert session.hyperplane_distance(name) == pytest.approx(target, abs=1e-4)
