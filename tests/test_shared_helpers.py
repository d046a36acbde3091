"""The one home of each small shared helper: layer lists, the seed limit, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sceneedit.files import atomic_copy, atomic_write_json, atomic_write_npy
from sceneedit.seeds import MAX_SEED, parse_seeds
from sceneedit.semantics.layers import format_layer_list, format_layer_spec, layer_runs, parse_layer_spec
from sceneedit.training.gan import image_grid


# ----- layer lists ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layers, spec, text",
    [
        ([0, 1, 2, 5, 7, 8], "0-2,5,7-8", "0–2, 5, 7–8"),
        ([3], "3", "3"),
        ([4, 2, 3, 3], "2-4", "2–4"),
        ([0, 2, 4], "0,2,4", "0, 2, 4"),
        ([], "", "none"),
    ],
)
def test_layer_lists_have_one_spec_and_one_display_form(layers, spec, text):
    assert format_layer_spec(layers) == spec
    assert format_layer_list(layers) == text
    if layers:
        assert parse_layer_spec(spec) == sorted(set(layers))  # the spec reads back


def test_layer_runs_are_inclusive_and_sorted():
    assert layer_runs([9, 1, 2, 3, 7]) == [(1, 3), (7, 7), (9, 9)]


def test_export_jitter_folder_names_use_the_layer_spec():
    from sceneedit.export import ExportError, JitterSequence, parse_layers, safe_name

    assert JitterSequence(layers=(0, 1, 2, 3), seeds=(0,)).default_name == "jitter_gaussian_layers0-3"
    assert safe_name(JitterSequence(layers=(0, 2, 3), seeds=(0,)).default_name) == "jitter_gaussian_layers0_2-3"
    assert parse_layers("1,3-4") == [1, 3, 4]
    with pytest.raises(ExportError, match="bad layer list"):
        parse_layers("3-1")


# ----- seeds ----------------------------------------------------------------------------------
def test_seed_limit_is_what_every_consumer_accepts():
    assert MAX_SEED == 2**31 - 1  # Qt's spin boxes: a signed 32-bit int
    assert parse_seeds(str(MAX_SEED)) == [MAX_SEED]
    with pytest.raises(ValueError, match="out of range"):
        parse_seeds(str(MAX_SEED + 1))
    np.random.RandomState(MAX_SEED)  # numpy's seed -> z mapping takes it


# ----- atomic writes --------------------------------------------------------------------------
def test_atomic_json_and_npy_leave_only_the_final_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [1.5]}, indent=1, sort_keys=True)
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": [1.5], "b": 1}
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"x": float("nan")})
    atomic_write_npy(tmp_path / "code.bin", np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(np.load(tmp_path / "code.bin"), np.arange(6).reshape(2, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "code.bin"]


@pytest.mark.parametrize("link", [False, True])
def test_atomic_copy_replaces_the_target_whole(tmp_path, link):
    source, target = tmp_path / "src.bin", tmp_path / "dst.bin"
    source.write_bytes(b"new contents")
    target.write_bytes(b"old")
    atomic_copy(source, target, link=link)
    assert target.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.bin", "src.bin"]


# ----- contact sheets -------------------------------------------------------------------------
def test_training_sample_grid_is_a_touching_contact_sheet():
    tiles = np.stack([np.full((2, 3, 3), v, np.uint8) for v in (10, 20, 30)])
    grid = image_grid(tiles, columns=2)
    assert grid.shape == (4, 6, 3)
    assert (grid[:2, :3] == 10).all() and (grid[:2, 3:] == 20).all()
    assert (grid[2:, :3] == 30).all() and (grid[2:, 3:] == 0).all()  # a short row is black


def test_thumbnails_fit_large_frames_and_keep_small_ones():
    from sceneedit.imaging import thumbnail

    small = np.zeros((8, 12, 3), np.uint8)
    assert thumbnail(small, 16) is small
    assert thumbnail(np.zeros((300, 600, 3), np.uint8), 256).shape == (128, 256, 3)
