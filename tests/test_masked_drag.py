"""Masked drags with the spatial feature blend: the outside of the mask keeps the kept
code's pixels, on the canvas, in recipes and in exports. Tiny real StyleGAN, real drags."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_models import tiny_stylegan

from sceneedit.editing.drag import DragSettings, run_drag
from sceneedit.editing.recipe import RecipeError
from sceneedit.editing.session import EditSession
from sceneedit.editing.spatial_blend import (
    BlendError,
    block_modules,
    default_blend_blocks,
    synthesize_masked,
)
from sceneedit.editing.state import kept_wp
from sceneedit.export import ExportJob, JitterSequence, plan_export
from sceneedit.generators.base import to_uint8_images
from sceneedit.render import render, render_batch

SIZE = 16
HANDLE, TARGET = (8.0, 5.0), (8.0, 8.0)


def rectangle(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[y0:y1, x0:x1] = 1.0
    return mask


QUICK = DragSettings(steps=6, lr=0.05, motion_radius=2, track_radius=3, layers=4, mask=rectangle(3, 13, 2, 12))


@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan(name="tiny", frozen=True)


def pixels(generator, session) -> np.ndarray:
    result = render(generator, session.state())
    assert result.error is None, result.error
    return np.asarray(result.image)


def test_the_blend_is_the_edited_code_inside_and_the_kept_code_outside(generator):
    edited = np.asarray(generator.map(generator.sample_z(1, 1))[0])
    kept = np.asarray(generator.map(generator.sample_z(1, 2))[0])
    with torch.no_grad():
        plain = {
            n: to_uint8_images(generator.synthesize(torch.from_numpy(w)[None]))[0]
            for n, w in (("e", edited), ("k", kept))
        }
    everywhere = to_uint8_images(synthesize_masked(generator, edited, kept, np.ones((SIZE, SIZE))))[0]
    nowhere = to_uint8_images(synthesize_masked(generator, edited, kept, np.zeros((SIZE, SIZE))))[0]
    assert np.abs(everywhere.astype(int) - plain["e"]).max() <= 1
    assert np.array_equal(nowhere, plain["k"])
    half = to_uint8_images(synthesize_masked(generator, edited, kept, rectangle(0, SIZE, 0, SIZE // 2)))[0]
    assert np.array_equal(half[:, SIZE // 2 + 1 :], plain["k"][:, SIZE // 2 + 1 :])
    assert not np.array_equal(half[:, : SIZE // 2], plain["k"][:, : SIZE // 2])
    # One module per feature block, and the default blocks reach the output block.
    assert len(block_modules(generator)) == 3
    assert default_blend_blocks([4, 8, 16, 32, 64], 64) == [2, 3, 4]
    with pytest.raises(BlendError, match=r"mask must be \[16, 16\]"):
        synthesize_masked(generator, edited, kept, np.ones((8, 8)))


def test_a_masked_drag_keeps_the_outside_and_replays_bit_exactly(generator):
    session = EditSession(generator, None, seed=3)
    before = pixels(generator, session)
    result = session.drag([HANDLE], [TARGET], QUICK)
    assert result.steps_run > 0
    state = session.state()
    assert state.drag_mask is not None and np.array_equal(kept_wp(state), session.base_wp)
    after = pixels(generator, session)
    outside = QUICK.mask == 0
    assert np.array_equal(after[outside], before[outside])  # the rest is untouched
    assert not np.array_equal(after[~outside], before[~outside])  # the inside moved
    # Saved recipe and the exporter's "start from the current edit": the same pixels.
    for recipe, seed in ((session.to_recipe(), None), (session.current_edit_recipe(), 3)):
        replayed = EditSession.from_recipe(json.loads(json.dumps(recipe)), generator, None, base_seed=seed)
        assert np.array_equal(pixels(generator, replayed), after)
    (batched,) = render_batch(generator, [state])
    assert np.array_equal(batched.image, after)
    # The exporter's plan from "start from the current edit" (a zero-strength jitter frame).
    job = ExportJob(
        sequences=[JitterSequence((0,), (0,), strength=0.0)],
        out_dir="unused",
        bundle=None,
        recipe=session.current_edit_recipe(),
        seeds=[3],
        truncation_psi=session.truncation_psi,
    )
    (plan,) = plan_export(generator, job)
    assert np.array_equal(render(generator, plan.states[0][0]).image, after)
    session.undo()
    assert session.state().drag_mask is None and np.array_equal(pixels(generator, session), before)


def test_masks_add_up_and_an_unmasked_drag_moves_the_kept_code_too(generator):
    session = EditSession(generator, None, seed=4)
    first, second = rectangle(2, 10, 2, 10), rectangle(6, 14, 6, 14)
    session.drag([(5.0, 4.0)], [(5.0, 7.0)], DragSettings(**{**QUICK.to_dict(), "mask": first}))
    session.drag([(10.0, 11.0)], [(12.0, 11.0)], DragSettings(**{**QUICK.to_dict(), "mask": second}))
    state = session.state()
    assert np.array_equal(state.drag_mask, np.maximum(first, second))
    assert state.drag_kept_offset is None  # both drags are masked: outside, the seed's code
    unmasked = DragSettings(**{**QUICK.to_dict(), "mask": None})
    session.drag([(8.0, 8.0)], [(8.0, 10.0)], unmasked)
    state = session.state()
    moved = session.history[-1]
    assert moved.startswith("Drag") and state.drag_kept_offset is not None
    assert np.array_equal(kept_wp(state), session.base_wp + state.drag_kept_offset)


def test_recipes_without_the_blend_and_bad_masks(generator):
    # A recipe written before the blend existed replays as it did (no blend).
    assert DragSettings.from_dict({"mask": np.ones((SIZE, SIZE)).tolist()}).blend is False
    session = EditSession(generator, None, seed=3)
    session.drag([HANDLE], [TARGET], QUICK)
    recipe = session.to_recipe()
    recipe["edits"][-1]["settings"]["mask"] = [[1.0] * 4] * 4
    with pytest.raises(RecipeError, match="mask must be 16 x 16"):
        EditSession.from_recipe(recipe, generator, None)


def test_masked_drags_survive_a_history_restart(generator, tmp_path):
    session = EditSession(generator, None, seed=3)
    session.drag([(8.0, 8.0)], [(8.0, 10.0)], DragSettings(**{**QUICK.to_dict(), "mask": None}))
    session.drag([HANDLE], [TARGET], QUICK)
    after = pixels(generator, session)
    session.set_bundle(None)  # the history restarts; the drags are now part of its start
    assert session.history == ["Start"] and session.state().drag_mask is not None
    path = tmp_path / "r.json"
    session.save_recipe(path)
    for recipe, seed in ((EditSession.load_recipe(path), None), (session.current_edit_recipe(), 3)):
        replayed = EditSession.from_recipe(recipe, generator, None, base_seed=seed)
        assert np.array_equal(pixels(generator, replayed), after)


def test_stylegan2_blends_its_image_too():
    """StyleGAN2's image adds every block's RGB output, so the blended blocks alone would
    leave the coarse blocks' colours of the edited code outside the mask."""
    from sceneedit.editing.spatial_blend import needs_image_blend
    from sceneedit.generators.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    generator = StyleGAN2Generator(resolution=16, z_dim=8, w_dim=8, mapping_layers=1, fmaps_base=32, fmaps_max=8)
    generator = generator.eval().requires_grad_(False)
    assert needs_image_blend(generator) and not needs_image_blend(tiny_stylegan(name="tiny", frozen=True))
    rng = np.random.RandomState(0)
    edited, kept = (rng.standard_normal((generator.num_layers, 8)).astype(np.float32) for _ in range(2))
    with torch.no_grad():
        plain = to_uint8_images(generator.synthesize(torch.from_numpy(kept)[None]))[0]
    half = to_uint8_images(synthesize_masked(generator, edited, kept, rectangle(0, SIZE, 0, SIZE // 2)))[0]
    assert np.array_equal(half[:, SIZE // 2 :], plain[:, SIZE // 2 :])
    assert not np.array_equal(half[:, : SIZE // 2], plain[:, : SIZE // 2])
    result = run_drag(generator, edited, [HANDLE], [TARGET], QUICK)  # a masked drag runs through the blend
    assert result.steps_run > 0
