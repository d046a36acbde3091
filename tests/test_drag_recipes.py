"""Drags in every recipe the session makes: the exporter's "start from the current edit",
saved recipes, and a history restarted by a new bundle. Tiny real StyleGAN, real drags."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sceneedit.editing.drag import DragSettings
from sceneedit.editing.recipe import OPERATIONS
from sceneedit.editing.session import EditSession
from sceneedit.export import ExportJob, JitterSequence, plan_export
from sceneedit.generators.stylegan import StyleGANGenerator
from sceneedit.semantics.bundle import fingerprint_for
from sceneedit.semantics.concepts import BoundaryBundle, Concept

SIZE = 32
QUICK = DragSettings(steps=3, lr=0.02, motion_radius=2, track_radius=3, feature_block=2, layers=4)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return (
        StyleGANGenerator(
            resolution=SIZE, z_dim=32, w_dim=32, mapping_layers=2, fmaps_base=128, fmaps_max=32, name="tiny"
        )
        .eval()
        .requires_grad_(False)
    )


@pytest.fixture(scope="module")
def bundle(generator):
    rng = np.random.RandomState(1)
    concepts = {}
    for name, layers in (("sky", [0, 1, 2]), ("lamp", [3, 4])):
        normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
        concepts[name] = Concept(
            name=name,
            normal=normal / np.linalg.norm(normal),
            layers=layers,
            level="layout",
            distance_range=(-3.0, 3.0),
            delta_s=[0.1] * generator.num_layers,
            delta_s_all=0.1,
        )
    return BoundaryBundle(concepts=concepts, generator_fingerprint=fingerprint_for(generator), source="test")


def drag(session, handle=(16.0, 10.0), target=(16.0, 14.0)):
    session.drag([handle], [target], QUICK)


#: One example of every session step kind (keyed like recipe.OPERATIONS).
EXAMPLES = {
    "set_seed": lambda s: s.set_seed(5),
    "set_truncation": lambda s: s.set_truncation(0.5),
    "set_base_code": lambda s: s.set_base_code(s.current_wp() * 0.9),
    "set_strength": lambda s: s.set_strength("sky", 1.25),
    "set_layer_strengths": lambda s: s.set_layer_strengths("sky", [0.5, -0.25, 1.0]),
    "set_layers": lambda s: s.set_layers("lamp", [2, 3, 5]),
    "set_conditioning": lambda s: (s.set_strength("lamp", 0.75), s.set_conditioning("lamp", ["sky"])),
    "reset_concept": lambda s: (s.set_strength("sky", 2.0), s.reset_concept("sky")),
    "reset_all": lambda s: s.reset_all(),
    "set_jitter": lambda s: s.set_jitter(enabled=True, layers=[6, 7], strength=0.5, seed=9),
    "drag": lambda s: drag(s, (8.0, 20.0), (11.0, 20.0)),
}


def exporter_start(session, generator, bundle):
    """The session the exporter starts from for "This scene" with "start from the current
    edit" (what app/export_dialog.py hands to sceneedit.export)."""
    recipe = session.current_edit_recipe()
    seeds = [session.seed] if session.seed is not None else None
    codes = None if seeds is not None else session.base_wp[None].copy()
    job = ExportJob(
        sequences=[JitterSequence((0,), (0,), strength=0.0)],
        out_dir="unused",
        bundle=bundle,
        recipe=recipe,
        seeds=seeds,
        codes=codes,
        truncation_psi=session.truncation_psi,
    )
    return recipe, job


def test_every_session_step_kind_reaches_the_export_recipe(generator, bundle):
    assert set(EXAMPLES) == set(OPERATIONS), "give every operation kind an example here"
    for kind, example in EXAMPLES.items():
        session = EditSession(generator, bundle, seed=3)
        drag(session)  # a drag before the step
        session.set_strength("lamp", -0.5)
        example(session)
        drag(session, (20.0, 8.0), (20.0, 11.0))  # and one after it
        recipe, job = exporter_start(session, generator, bundle)
        replayed = EditSession.from_recipe(
            recipe,
            generator,
            bundle,
            base_seed=job.seeds[0] if job.seeds else None,
            base_wp=None if job.codes is None else job.codes[0],
        )
        assert np.array_equal(replayed.current_wp(), session.current_wp()), kind
        # The drags that make up the code are there, in order, with their labels.
        kept = [e for e in recipe["edits"] if e["op"] == "drag"]
        expected = [step for step in session.history[1:] if step.startswith("Drag")]
        if kind in ("set_seed", "set_base_code", "reset_all"):
            expected = expected[-1:]  # the step removed the drags before it
        assert [e["label"] for e in kept] == expected, kind
        # The exporter's own plan (the frame of a zero-strength jitter series) is the canvas.
        if kind != "set_jitter":
            (plan,) = plan_export(generator, job)
            from sceneedit.editing.state import edited_wp

            np.testing.assert_allclose(edited_wp(plan.states[0][0]), session.current_wp(), atol=1e-6)


def test_the_export_dialog_uses_the_session_recipe(generator, bundle):
    pytest.importorskip("PySide6")
    from sceneedit.app.export_dialog import current_edit_recipe

    session = EditSession(generator, bundle, seed=3)
    drag(session)
    session.set_strength("sky", 1.0)
    assert current_edit_recipe(session) == session.current_edit_recipe()
    assert [e["op"] for e in current_edit_recipe(session)["edits"]] == ["drag", "set_strength"]


def test_drags_survive_a_history_restart_in_saved_recipes(generator, bundle, tmp_path):
    session = EditSession(generator, None, seed=3)
    drag(session)
    session.set_bundle(bundle)  # the history restarts; the drag is now part of its start
    assert session.history == ["Start"] and session.has_drag
    session.set_strength("sky", 0.5)
    path = tmp_path / "r.json"
    session.save_recipe(path)
    recipe = EditSession.load_recipe(path)
    assert recipe["version"] == 2 and "drag" in recipe["initial"]
    replayed = EditSession.from_recipe(recipe, generator, bundle)
    assert np.array_equal(replayed.current_wp(), session.current_wp())
    exported = EditSession.from_recipe(session.current_edit_recipe(), generator, bundle, base_seed=3)
    assert np.array_equal(exported.current_wp(), session.current_wp())


def test_anchors_are_recorded_with_the_drag(generator, bundle):
    session = EditSession(generator, bundle, seed=3)
    session.drag([(16.0, 10.0)], [(16.0, 14.0)], QUICK, anchors=[(4.0, 4.0)])
    edit = session.to_recipe()["edits"][-1]
    assert edit["anchors"] == [[4.0, 4.0]]
    replayed = EditSession.from_recipe(session.to_recipe(), generator, bundle)
    assert np.array_equal(replayed.current_wp(), session.current_wp())
