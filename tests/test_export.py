"""Batch export on a tiny real StyleGAN: every format, resume, cancel, bad input."""

import errno
import json
import threading

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image
from tiny_models import tiny_stylegan

import sceneedit.export.writers as export_writers
from sceneedit.cli import main as cli_main
from sceneedit.editing.session import EditSession
from sceneedit.export import (
    ConceptSweep,
    ExportError,
    ExportJob,
    JitterSequence,
    SweepSequence,
    TimelineSequence,
    load_codes,
    run_export,
)
from sceneedit.files import atomic_path
from sceneedit.generators.checkpoints import save_generator
from sceneedit.generators.fingerprint import generator_fingerprint
from sceneedit.render import render
from sceneedit.semantics.bundle import save_bundle
from sceneedit.semantics.concepts import BoundaryBundle, Concept

#: The tiny StyleGAN these tests edit, truncated like the real models.
TRUNCATED = dict(fmaps_max=16, truncation_psi=0.7, truncation_layers=2)

L, D = 6, 32


@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan(**TRUNCATED)


@pytest.fixture(scope="module")
def bundle(generator):
    rng = np.random.RandomState(1)

    def unit():
        v = rng.standard_normal((1, D)).astype(np.float32)
        return v / np.linalg.norm(v)

    return BoundaryBundle(
        {"wall": Concept("wall", unit(), [0, 1]), "lamp": Concept("lamp", unit(), [2, 3, 4])},
        generator_fingerprint=generator_fingerprint(generator),
    )


def sweep_job(out, bundle, **changes):
    job = dict(
        sequences=[SweepSequence((ConceptSweep("wall", -3.0, 3.0),), steps=4)],
        out_dir=out,
        bundle=bundle,
        seeds=[0, 5],
        batch_size=3,
    )
    job.update(changes)
    return ExportJob(**job)


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_export_writes_every_format_and_a_rerun_writes_nothing(generator, bundle, tmp_path):
    calls = []
    report = run_export(generator, sweep_job(tmp_path, bundle), progress=lambda d, t, m: calls.append((d, t)))
    folder = tmp_path / "sweep_wall"
    assert not report.cancelled and report.frames_rendered == 8
    assert calls[-1] == (8, 8)
    for seed in ("seed0000", "seed0005"):
        frames = sorted((folder / "frames" / seed).glob("*.png"))
        assert [f.name for f in frames] == ["000.png", "001.png", "002.png", "003.png"]
        with Image.open(folder / f"{seed}.gif") as gif:
            assert gif.n_frames == 4
        reader = imageio.get_reader(folder / f"{seed}.mp4", format="FFMPEG")
        try:
            assert reader.count_frames() == 4
            assert reader.get_meta_data()["codec"] == "h264"
        finally:
            reader.close()
    with Image.open(folder / "contact_sheet.png") as sheet:
        width, height = sheet.size
    assert width == 4 * (16 + 2) + 2 and height > 2 * 16  # 4 columns = steps, 2 rows = seeds
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["sequence"]["concepts"][0]["values"] == [-3.0, -1.0, 1.0, 3.0]
    listed = {entry["path"] for entry in manifest["files"]}
    assert listed == set(snapshot(folder)) - {"manifest.json"}
    # Frame 0 of seed 5 is the session's render of wall = -3 on seed 5.
    session = EditSession(generator, bundle, seed=5)
    session.set_strength("wall", -3.0)
    expected = render(generator, session.state()).image
    got = np.asarray(Image.open(folder / "frames" / "seed0005" / "000.png").convert("RGB"))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # batched vs single rounding

    before = snapshot(tmp_path)
    again = run_export(generator, sweep_job(tmp_path, bundle))
    assert again.written == [] and again.frames_rendered == 0
    assert snapshot(tmp_path) == before


def test_rerun_resumes_only_missing_outputs(generator, bundle, tmp_path):
    run_export(generator, sweep_job(tmp_path, bundle))
    folder = tmp_path / "sweep_wall"
    (folder / "frames" / "seed0005" / "002.png").unlink()
    (folder / "seed0005.gif").unlink()
    report = run_export(generator, sweep_job(tmp_path, bundle))
    assert report.frames_rendered == 1
    written = {p.relative_to(folder).as_posix() for p in report.written}
    assert written == {"frames/seed0005/002.png", "seed0005.gif", "manifest.json"}


def test_cancel_stops_cleanly_and_rerun_completes(generator, bundle, tmp_path):
    stop = threading.Event()

    def progress(done, total, message):
        if done >= 3:
            stop.set()

    report = run_export(generator, sweep_job(tmp_path, bundle), progress=progress, cancel=stop)
    folder = tmp_path / "sweep_wall"
    assert report.cancelled and report.frames_rendered == 3
    assert json.loads((folder / "manifest.json").read_text())["status"] == "in_progress"
    assert not list(tmp_path.rglob("*.partial*"))
    assert len(list(folder.rglob("*.png"))) == 3
    resumed = run_export(generator, sweep_job(tmp_path, bundle))
    assert resumed.frames_rendered == 5 and not resumed.cancelled
    assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"


def test_jitter_series_and_recipe_timeline(generator, bundle, tmp_path):
    session = EditSession(generator, bundle, seed=2)
    session.set_strength("wall", 1.0)
    session.set_strength("lamp", -2.0)
    session.set_jitter(enabled=True, layers=[5], strength=0.5, seed=1)
    recipe = session.to_recipe()
    job = ExportJob(
        sequences=[TimelineSequence(recipe), JitterSequence(layers=(0, 1), seeds=(0, 1, 2), strength=1.0)],
        out_dir=tmp_path,
        bundle=bundle,
        formats=("png", "gif"),
    )
    report = run_export(generator, job)
    # No seeds: the timeline recipe's own base; frames = its steps (start included).
    timeline = tmp_path / "timeline"
    assert len(list((timeline / "frames" / "recipe").glob("*.png"))) == 4
    last = np.asarray(Image.open(timeline / "frames" / "recipe" / "003.png").convert("RGB"))
    assert (
        last.tobytes() == render(generator, session.state()).image.tobytes()
        or np.abs(last.astype(int) - render(generator, session.state()).image.astype(int)).max() <= 1
    )
    jitter = tmp_path / "jitter_gaussian_layers0-1"
    assert len(list((jitter / "frames" / "recipe").glob("*.png"))) == 3
    assert not (jitter / "recipe.mp4").exists()  # not asked for
    assert report.frames_rendered == 7
    # The same timeline applied to other seeds.
    job2 = ExportJob(
        sequences=[TimelineSequence(recipe, name="tl")], out_dir=tmp_path, bundle=bundle, seeds=[7, 8], formats=("png",)
    )
    run_export(generator, job2)
    assert len(list((tmp_path / "tl" / "frames" / "seed0008").glob("*.png"))) == 4


def test_codes_file_as_sources(generator, bundle, tmp_path):
    codes = np.random.RandomState(0).standard_normal((2, L, D)).astype(np.float32) * 0.3
    path = tmp_path / "codes.npy"
    np.save(path, codes)
    loaded = load_codes(path, generator)
    assert loaded.shape == (2, L, D)
    report = run_export(
        generator,
        sweep_job(tmp_path / "out", bundle, seeds=None, codes=loaded, codes_source=str(path), formats=("png",)),
    )
    assert report.frames_rendered == 8
    assert (tmp_path / "out" / "sweep_wall" / "frames" / "code0001" / "003.png").is_file()
    np.save(path, codes[:, :3])
    with pytest.raises(ExportError, match=r"expected codes of shape \[N, 6, 32\]"):
        load_codes(path, generator)
    # an empty file, a text file: one clear line each (numpy's own errors differ in type)
    path.write_bytes(b"")
    with pytest.raises(ExportError, match=r"codes.npy: not a readable .npy file \(the file is empty\)"):
        load_codes(path, generator)
    path.write_text("0.1 0.2\n")
    with pytest.raises(ExportError, match=r"codes.npy: not a readable .npy file \(no .npy array header\)$"):
        load_codes(path, generator)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"sequences": [SweepSequence((ConceptSweep("sofa", 0, 1),))]}, "unknown concept 'sofa'"),
        ({"sequences": [SweepSequence((ConceptSweep("wall", 0, 1, (4, 9)),))]}, "layer 9 is out of range"),
        ({"sequences": [JitterSequence(layers=(7,), seeds=(0,))]}, "layer 7 is out of range"),
        ({"formats": ("png", "webm")}, "unknown output format"),
        ({"seeds": []}, "seed list is empty"),
        ({"sequences": [SweepSequence((ConceptSweep("wall", 0, 1),), steps=0)]}, "steps"),
    ],
)
def test_bad_input_is_refused_before_writing(generator, bundle, tmp_path, changes, message):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=message):
        run_export(generator, sweep_job(out, bundle, **changes))
    assert not out.exists()


def test_recipe_for_another_generator_is_refused(generator, bundle, tmp_path):
    other = tiny_stylegan(3, **TRUNCATED)
    recipe = EditSession(other, None, seed=0).to_recipe()
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="another generator"):
        run_export(generator, sweep_job(out, bundle, recipe=recipe))
    with pytest.raises(ExportError, match="another generator"):
        run_export(generator, ExportJob(sequences=[TimelineSequence(recipe)], out_dir=out, bundle=bundle))
    assert not out.exists()


def test_unwritable_folder_and_foreign_or_different_exports(generator, bundle, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="cannot write to output folder"):
        run_export(generator, sweep_job(blocker / "out", bundle))
    run_export(generator, sweep_job(tmp_path, bundle, formats=("png",)))
    different = sweep_job(tmp_path, bundle, formats=("png",), seeds=[1])
    with pytest.raises(ExportError, match=r"already holds a different export.*\(--overwrite;"):
        run_export(generator, different)
    different.overwrite = True
    run_export(generator, different)
    assert sorted(p.name for p in (tmp_path / "sweep_wall" / "frames").iterdir()) == ["seed0001"]
    foreign = tmp_path / "mine" / "sweep_wall"
    foreign.mkdir(parents=True)
    (foreign / "thesis.txt").write_text("precious")
    with pytest.raises(ExportError, match="not a sceneedit export"):
        run_export(generator, sweep_job(tmp_path / "mine", bundle, overwrite=True))
    assert (foreign / "thesis.txt").read_text() == "precious"


def test_full_disk_leaves_no_partial_file(generator, bundle, tmp_path, monkeypatch):
    def failing_mp4(frames, path, fps):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_writers, "write_mp4", failing_mp4)
    with pytest.raises(ExportError, match="No space left on device"):
        run_export(generator, sweep_job(tmp_path, bundle))
    folder = tmp_path / "sweep_wall"
    assert not list(folder.glob("*.mp4")) and not list(tmp_path.rglob("*.partial*"))
    # The first seed's frames (and its GIF) were finished before the MP4 failed: kept.
    assert len(list((folder / "frames" / "seed0000").glob("*.png"))) == 4
    assert (folder / "seed0000.gif").is_file()


def test_cli_export_runs_and_resumes(generator, bundle, tmp_path, capsys):
    gen_path, bundle_path = tmp_path / "g.safetensors", tmp_path / "b.safetensors"
    save_generator(generator, gen_path)
    save_bundle(bundle, bundle_path)
    args = [
        "export",
        "--generator",
        str(gen_path),
        "--bundle",
        str(bundle_path),
        "--sweep",
        "lamp=-2:2@2-3",
        "--steps",
        "3",
        "--seeds",
        "4",
        "--formats",
        "png,gif,sheet",
        "--out",
        str(tmp_path / "cli"),
        "--quiet",
    ]
    assert cli_main(args) == 0
    assert len(list((tmp_path / "cli" / "sweep_lamp" / "frames" / "seed0004").glob("*.png"))) == 3
    assert cli_main(args) == 0
    assert "0 files written" in capsys.readouterr().out
    assert cli_main(args[:-3] + ["--sweep", "nope=0:1", "--out", str(tmp_path / "cli2")]) == 2
    err = capsys.readouterr().err  # no --quiet: still no empty progress bar before the error
    assert err.startswith("sceneedit export: error: unknown concept 'nope'") and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert (
        cli_main(
            [
                "export",
                "--generator",
                str(gen_path),
                "--recipe",
                str(bad),
                "--timeline",
                "--out",
                str(tmp_path / "cli3"),
            ]
        )
        == 2
    )
    assert "malformed JSON" in capsys.readouterr().err
    assert not (tmp_path / "cli2").exists() and not (tmp_path / "cli3").exists()
