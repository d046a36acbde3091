"""``sceneedit synth`` / ``sceneedit info`` on a tiny generator, plus seeds and imaging helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from stylegan_reference import genforce_stylegan_state

from sceneedit.cli import main
from sceneedit.generators import load_generator, to_uint8_images
from sceneedit.imaging import load_png, make_contact_sheet, save_png
from sceneedit.seeds import parse_seeds

TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, fmaps_base=128, fmaps_max=32)


@pytest.fixture()
def tiny_file(tiny_stylegan_file):
    return tiny_stylegan_file(dataset="unit-test", eval_mode=False, name="tiny", **TINY)


# ----- seeds -----------------------------------------------------------------------------------
def test_parse_seeds_ranges_and_lists():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds(" 5, 1-2 ,9") == [5, 1, 2, 9]
    assert parse_seeds("7") == [7]


@pytest.mark.parametrize("text", ["", "a", "3-1", "1,,2", "-4", "1-", "2-x", "99999999999"])
def test_parse_seeds_rejects_bad_input(text):
    with pytest.raises(ValueError):
        parse_seeds(text)


# ----- imaging ---------------------------------------------------------------------------------
def test_contact_sheet_layout_and_atomic_png(tmp_path):
    tiles = [np.full((4, 6, 3), value, np.uint8) for value in (10, 20, 30, 40, 50)]
    sheet = make_contact_sheet(tiles, columns=2, padding=1)
    assert sheet.shape == (3 * 5 + 1, 2 * 7 + 1, 3)
    assert (sheet[1:5, 1:7] == 10).all() and (sheet[1:5, 8:14] == 20).all()
    assert (sheet[11:15, 1:7] == 50).all() and (sheet[11:15, 8:14] == 255).all()  # empty cell
    labelled = make_contact_sheet(np.stack(tiles), labels=[str(i) for i in range(5)])
    assert labelled.shape[0] > make_contact_sheet(np.stack(tiles)).shape[0]
    path = save_png(sheet, tmp_path / "deep" / "sheet.png")
    assert np.array_equal(load_png(path), sheet)
    assert sorted(p.name for p in path.parent.iterdir()) == ["sheet.png"]


def test_imaging_rejects_bad_images(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        save_png(np.zeros((4, 4, 3), np.float32), tmp_path / "x.png")
    with pytest.raises(ValueError, match="share one size"):
        make_contact_sheet([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)])
    with pytest.raises(ValueError, match="at least one"):
        make_contact_sheet([])
    assert not (tmp_path / "x.png").exists()


# ----- synth ----------------------------------------------------------------------------------
def test_synth_writes_one_png_per_seed_and_a_sheet(tmp_path, tiny_file, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "synth",
            "--generator",
            str(tiny_file),
            "--seeds",
            "0-2,7",
            "--batch-size",
            "3",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["contact_sheet.png", "seed_0000.png", "seed_0001.png", "seed_0002.png", "seed_0007.png"]
    printed = capsys.readouterr().out
    assert "device: cpu" in printed and "ms/image" in printed

    generator = load_generator(tiny_file, device="cpu")
    expected = to_uint8_images(generator.synthesize(generator.map(generator.sample_z(1, seed=7))))[0]
    assert np.array_equal(load_png(out / "seed_0007.png"), expected)
    assert load_png(out / "contact_sheet.png").shape[1] > 2 * 16


def test_synth_from_z_and_wp_codes(tmp_path, tiny_file):
    generator = load_generator(tiny_file, device="cpu")
    z = generator.sample_z(2, seed=3)
    np.save(tmp_path / "z.npy", z.numpy())
    wp = generator.map(z, truncation_psi=1.0)
    wp[:, 4:] = generator.map(generator.sample_z(2, seed=4))[:, 4:]  # a style mix
    np.save(tmp_path / "wp.npy", wp.numpy().astype(np.float64))

    assert (
        main(
            [
                "synth",
                "-g",
                str(tiny_file),
                "--codes",
                str(tmp_path / "z.npy"),
                "--truncation",
                "1",
                "--out",
                str(tmp_path / "from_z"),
            ]
        )
        == 0
    )
    assert (
        main(["synth", "-g", str(tiny_file), "--codes", str(tmp_path / "wp.npy"), "--out", str(tmp_path / "from_wp")])
        == 0
    )
    from_z = load_png(tmp_path / "from_z" / "code_0001.png")
    from_wp = load_png(tmp_path / "from_wp" / "code_0001.png")
    untruncated = to_uint8_images(generator.synthesize(generator.map(z, truncation_psi=1.0)))[1]
    mixed = to_uint8_images(generator.synthesize(wp))[1]
    assert np.array_equal(from_z, untruncated)
    assert np.array_equal(from_wp, mixed)


def test_synth_reads_a_genforce_pth(tmp_path):
    path = tmp_path / "stylegan_tiny.pth"
    torch.save(genforce_stylegan_state(seed=2, **TINY), path)
    assert main(["synth", "-g", str(path), "--seeds", "1", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "seed_0001.png").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--seeds", "5-2"], "runs backwards"),
        (["--batch-size", "0"], "--batch-size"),
        (["--codes", "MISSING.npy"], "no such codes file"),
        (["--codes", "BAD_SHAPE.npy"], r"shape \[2, 5\] fit neither z \[N, 16\] nor wp \[N, 6, 16\]"),
        (["--codes", "INTS.npy"], "float"),
        (["--seeds", "1", "--codes", "BAD_SHAPE.npy"], "either --seeds or --codes"),
        (["--device", "tpu"], "unknown device"),
    ],
)
def test_synth_bad_input_is_one_clear_line(tmp_path, tiny_file, capsys, arguments, message):
    np.save(tmp_path / "BAD_SHAPE.npy", np.zeros((2, 5), np.float32))
    np.save(tmp_path / "INTS.npy", np.zeros((2, 16), np.int64))
    arguments = [str(tmp_path / a) if a.endswith(".npy") else a for a in arguments]
    code = main(["synth", "-g", str(tiny_file), "--out", str(tmp_path / "o"), *arguments])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("sceneedit synth: error:") and len(err.strip().splitlines()) == 1
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "o").exists()


def test_synth_out_naming_a_file_is_one_clear_line(tmp_path, tiny_file, capsys):
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me")
    assert main(["synth", "-g", str(tiny_file), "--seeds", "0", "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"sceneedit synth: error: --out {taken}: a file has that name; give a folder"
    assert taken.read_text() == "keep me"


def test_contact_sheet_labels_keep_their_last_word_on_small_tiles():
    from PIL import Image, ImageDraw, ImageFont

    tiles = np.zeros((2, 32, 32, 3), np.uint8)
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    assert draw.textlength("seed 10", font=font) > 32 >= draw.textlength("10", font=font)
    sheet = make_contact_sheet(tiles, columns=2, padding=0, labels=["seed 10", "seed 11"])
    strip = sheet[32:, :32]
    expected = Image.new("RGB", (32, strip.shape[0]), (255, 255, 255))
    ImageDraw.Draw(expected).text((1, 0), "10", fill=(0, 0, 0), font=font)
    assert np.array_equal(strip, np.asarray(expected))


def test_synth_refuses_a_generator_that_would_run_code(tmp_path, capsys):
    import os

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch '{marker}'",))

    path = tmp_path / "evil.pth"
    torch.save({"generator": Evil()}, path)
    assert main(["synth", "-g", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()


# ----- info -----------------------------------------------------------------------------------
def test_info_prints_the_description(tiny_file, capsys):
    assert main(["info", str(tiny_file)]) == 0
    out = capsys.readouterr().out
    for expected in [
        "arch",
        "stylegan",
        "resolution",
        "16",
        "num_layers",
        "6",
        "z_dim",
        "w_dim",
        "truncation_psi",
        "0.7",
        "truncation_layers",
        "parameters",
        "unit-test",
    ]:
        assert expected in out


def test_info_json(tmp_path, capsys):
    path = tmp_path / "g.pth"
    torch.save(genforce_stylegan_state(seed=2, **TINY), path)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arch"] == "stylegan" and info["num_layers"] == 6 and info["format"] == "genforce-stylegan"
    assert info["channels"] == [32, 16, 8]


def test_info_on_a_missing_file(tmp_path, capsys):
    assert main(["info", str(tmp_path / "none.safetensors")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_output_piped_into_a_closed_reader_is_not_an_error(tiny_file, capsys, monkeypatch):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["info", str(tiny_file)]) == 141  # like `sceneedit info G | head -1`: 128 + SIGPIPE
    assert capsys.readouterr().err == ""
