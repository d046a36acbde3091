"""Regression tests for the holes the fuzzing pass found (issue 10), one or more per defect.

Each test fed the unfixed code the same input and failed: a traceback of the wrong type,
an error that did not name the file, gigabytes of memory, a hang, a black image, or a
file left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_models import TINY_TRAIN_NETWORK, tiny_stylegan

from sceneedit.errors import is_user_error
from sceneedit.generators import load_generator, save_generator
from sceneedit.generators.base import GeneratorError, to_uint8_images
from sceneedit.generators.checkpoints import CheckpointError

REPO = Path(__file__).resolve().parents[1]


def rewrite_safetensors(path: Path, config: dict | None = None, state: dict | None = None) -> None:
    """Rewrite one of our generator files with another JSON config and/or other tensors."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    tensors = load_file(str(path)) if state is None else state
    if config is not None:
        meta = {"sceneedit": json.dumps(config)}
    save_file(tensors, str(path), metadata=meta)


def own_file(tmp_path: Path) -> tuple[Path, dict]:
    path = save_generator(tiny_stylegan(name="tiny", frozen=True), tmp_path / "g.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        config = json.loads(handle.metadata()["sceneedit"])
    return path, config


def assert_clean(exc: BaseException, path: Path, *words: str) -> None:
    assert is_user_error(exc), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert path.name in text, text
    assert len(text) < 2000, len(text)
    for word in words:
        assert word in text, text


def run_python(code: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,
    )


# ----- 1. non-finite weights and black frames ------------------------------------------------------
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_at_load_naming_the_tensor(tmp_path, value):
    path, _ = own_file(tmp_path)
    state = load_file(str(path))
    state["synthesis.layer3.conv.weight"][0, 0, 0, 0] = value
    rewrite_safetensors(path, state=state)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert_clean(info.value, path, "synthesis.layer3.conv.weight", "NaN or infinite")


def test_non_finite_weights_in_a_foreign_file_are_refused(tmp_path):
    state = tiny_stylegan(name="tiny", frozen=True).state_dict()
    state["mapping.dense1.fc.weight"][3, 3] = float("-inf")
    path = tmp_path / "stylegan_bad.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert_clean(info.value, path, "mapping.dense1.fc.weight")


def test_a_non_finite_image_is_an_error_never_black_pixels():
    with pytest.raises(GeneratorError, match="NaN or infinite"):
        to_uint8_images(torch.full((1, 3, 4, 4), float("nan")))


def test_huge_finite_codes_render_an_error_not_a_black_frame():
    from sceneedit.editing.session import EditSession
    from sceneedit.render import render

    generator = tiny_stylegan(name="tiny", frozen=True)
    session = EditSession(generator)
    session.set_base_code(np.full((generator.num_layers, generator.w_dim), 3e38, dtype=np.float32))
    result = render(generator, session.state())
    assert result.image is None and result.error is not None and "NaN or infinite" in result.error


def test_synth_refuses_codes_that_overflow(tmp_path, capsys):
    from sceneedit.cli import main

    gen_path = save_generator(tiny_stylegan(name="tiny", frozen=True), tmp_path / "g.safetensors")
    codes = tmp_path / "huge.npy"
    np.save(codes, np.full((1, 6, 32), 3e38, dtype=np.float32))
    assert main(["synth", "-g", str(gen_path), "--codes", str(codes), "--out", str(tmp_path / "out")]) == 2
    assert "NaN or infinite" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True


# ----- 2. layer ranges are parsed without being materialized ---------------------------------------
def test_a_huge_layer_range_is_refused_quickly_with_a_short_message():
    from sceneedit.semantics.layers import LayerSpecError, parse_layer_spec

    tracemalloc.start()
    try:
        for spec, layers in (
            ("0-50000000", 14),
            ("0-2000000", None),
            ("3-" + "9" * 400, None),
            ("0-" + "9" * 5000, 14),
        ):
            with pytest.raises(LayerSpecError) as info:
                parse_layer_spec(spec, layers)
            assert len(str(info.value)) < 300
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak
    assert parse_layer_spec("12-13,0-2", 14) == [0, 1, 2, 12, 13]


def test_a_higan_boundary_with_a_huge_layer_range_is_a_short_clean_error(tmp_path):
    from sceneedit.semantics.importers import read_boundary_file

    path = tmp_path / "huge_boundary.npy"
    np.save(path, {"boundary": np.ones((1, 32)), "meta_data": {"manipulate_layers": "0-2000000"}}, allow_pickle=True)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            read_boundary_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_clean(info.value, path, "manipulate_layers")
    assert peak < 5_000_000, peak


# ----- 3. tensors are checked before they are materialized -----------------------------------------
def test_a_stride_0_expanded_tensor_is_refused_before_it_is_materialized(tmp_path):
    state = tiny_stylegan(name="tiny", frozen=True).state_dict()
    state["truncation.truncation"] = torch.ones(1, 1, 1).expand(1, 1 << 28, 1 << 4)  # 16 GB if copied
    path = tmp_path / "expanded.pth"
    torch.save(state, path)
    assert path.stat().st_size < 1_000_000
    started = time.perf_counter()
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert time.perf_counter() - started < 10
    assert_clean(info.value, path, "truncation.truncation")


def test_a_sparse_tensor_is_refused_cleanly(tmp_path):
    state = tiny_stylegan(name="tiny", frozen=True).state_dict()
    state["mapping.dense0.fc.weight"] = state["mapping.dense0.fc.weight"].to_sparse()
    path = tmp_path / "sparse.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert_clean(info.value, path, "mapping.dense0.fc.weight", "sparse")


# ----- 4. generator configs are bounded, errors name the file --------------------------------------
@pytest.mark.parametrize(
    "field, value, words",
    [
        ("mapping_layers", 1048576, "mapping_layers"),
        ("z_dim", 10**12, "z_dim"),
        ("truncation_psi", 1e308, "truncation_psi"),
        ("resolution", 12, "resolution"),
        ("w_dim", "32", "w_dim"),
        ("fmaps_base", 10**30, "fmaps_base"),
        ("mapping_lr_mul", float("nan"), "NaN"),
    ],
)
def test_generator_config_fields_are_bounded_before_building(tmp_path, field, value, words):
    path, config = own_file(tmp_path)
    config["kwargs"][field] = value
    text = json.dumps(config)  # NaN goes in as the bare word JSON readers accept
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    save_file(tensors, str(path), metadata={"sceneedit": text})
    started = time.perf_counter()
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert time.perf_counter() - started < 5
    assert_clean(info.value, path, words)


# ----- 5. the .npy unpickler bounds the values it visits -------------------------------------------
def test_a_shared_reference_fan_out_is_refused_quickly(tmp_path):
    from sceneedit.semantics.importers import read_boundary_file

    leaf: object = [1.0] * 8
    for _ in range(12):  # 8**13 paths through 13 small shared lists
        leaf = [leaf] * 8
    array = np.empty((), dtype=object)
    array[()] = {"boundary": np.ones((1, 32)), "meta_data": {"fan": leaf}}
    path = tmp_path / "fan_boundary.npy"
    np.save(path, array, allow_pickle=True)
    assert path.stat().st_size < 10_000
    started = time.perf_counter()
    with pytest.raises(ValueError) as info:
        read_boundary_file(path)
    assert time.perf_counter() - started < 5
    assert_clean(info.value, path)


# ----- 6. malformed JSON -----------------------------------------------------------------------------
def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_generator_metadata_is_a_clean_error(tmp_path):
    path, config = own_file(tmp_path)
    text = json.dumps(config)[:-1] + ', "deep": ' + _deep(100_000) + "}"
    save_file(load_file(str(path)), str(path), metadata={"sceneedit": text})
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert_clean(info.value, path, "nest")


def test_deeply_nested_bundle_manifest_is_a_clean_error(tmp_path):
    from sceneedit.semantics.bundle import BundleError, load_bundle

    path = tmp_path / "deep.safetensors"
    save_file({"a": torch.ones(1, 4)}, str(path), metadata={"sceneedit_bundle": _deep(100_000)})
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert_clean(info.value, path, "nest")


def recipe_for(generator, **changes) -> dict:
    from sceneedit.editing.session import EditSession

    recipe = EditSession(generator, seed=3).to_recipe()
    recipe.update(changes)
    return recipe


def test_deeply_nested_recipe_is_a_clean_error(tmp_path):
    from sceneedit.editing.recipe import RecipeError, load_recipe

    path = tmp_path / "deep.json"
    path.write_text('{"format": "sceneedit-recipe", "x": ' + _deep(100_000) + "}")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert_clean(info.value, path, "nest")


def test_an_unhashable_arch_is_a_clean_error(tmp_path):
    path, config = own_file(tmp_path)
    config["arch"] = [99]
    rewrite_safetensors(path, config=config)
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert_clean(info.value, path, "arch")


@pytest.mark.parametrize(
    "edit",
    [
        {"op": ["set_seed"], "seed": 1},
        {"op": {"a": 1}},
        {"op": "set_seed", "seed": 1e400},
        {"op": "set_seed", "seed": [1]},
        {"op": "set_jitter", "changes": [1, 2]},
        {"op": "set_truncation", "psi": "x"},
        {"op": "set_base_code", "wp": [[1e400]]},
        {"op": "set_base_code", "wp": "abc"},
    ],
)
def test_recipe_edits_of_the_wrong_type_are_one_clean_error(tmp_path, edit):
    from sceneedit.editing.recipe import RecipeError, load_recipe
    from sceneedit.editing.session import EditSession

    generator = tiny_stylegan(name="tiny", frozen=True)
    recipe = recipe_for(generator)
    recipe["edits"].append({"label": "bad", **edit})
    path = tmp_path / "bad_recipe.json"
    path.write_text(json.dumps(recipe))
    with pytest.raises(RecipeError) as info:
        EditSession.from_recipe(load_recipe(path), generator, source=str(path))
    assert_clean(info.value, path)


# ----- 7. malformed .npy headers ----------------------------------------------------------------------
def npy_with_header(header: str, body: bytes = b"\0" * 16) -> bytes:
    raw = header.encode("latin1")
    raw += b" " * (64 - (10 + len(raw) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(raw).to_bytes(2, "little") + raw + body


BAD_HEADERS = [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), '''}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2) ",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, 4000000000), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 8, 32), }",  # declares more than it holds
]


@pytest.mark.parametrize("header", BAD_HEADERS)
def test_malformed_npy_headers_are_clean_errors_everywhere(tmp_path, header):
    from sceneedit.commands.synth import load_codes as synth_codes
    from sceneedit.export import load_codes as export_codes
    from sceneedit.semantics.importers import read_boundary_file
    from sceneedit.semantics.safe_npy import load_npy_array

    path = tmp_path / "bad_boundary.npy"
    path.write_bytes(npy_with_header(header))
    generator = tiny_stylegan(name="tiny", frozen=True)
    readers = [
        read_boundary_file,
        load_npy_array,
        lambda p: export_codes(p, generator),
        lambda p: synth_codes(p, generator),
    ]
    for read in readers:
        with pytest.raises(ValueError) as info:
            read(path)
        assert_clean(info.value, path)


def test_the_editor_load_code_reader_refuses_a_malformed_header(tmp_path):
    pytest.importorskip("PySide6")
    from sceneedit.app.docks.latent import read_code

    path = tmp_path / "code.npy"
    path.write_bytes(npy_with_header(BAD_HEADERS[0]))
    with pytest.raises(ValueError) as info:
        read_code(path, 8, 32)
    assert_clean(info.value, path)


# ----- 8. disk full ---------------------------------------------------------------------------------------
DISK_FULL = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from sceneedit.cli import main
sys.exit(main({argv!r}))
"""


def run_disk_full(argv: list[str], limit: int = 4096) -> subprocess.CompletedProcess:
    return run_python(DISK_FULL.format(limit=limit, argv=argv))


def test_disk_full_during_bundle_import_is_one_clear_line(tmp_path):
    boundary = tmp_path / "sky_boundary.npy"
    np.save(boundary, np.random.default_rng(0).standard_normal((1, 512)))
    out = tmp_path / "b.safetensors"
    done = run_disk_full(["bundle", "import", str(boundary), "--num-layers", "14", "--out", str(out)], limit=1024)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and str(out) in done.stderr and "too large" in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".b.safetensors*"))


@pytest.mark.slow
def test_disk_full_during_synth_is_one_clear_line(tmp_path):
    gen_path = save_generator(tiny_stylegan(name="tiny", frozen=True), tmp_path / "g.safetensors")
    done = run_disk_full(["synth", "-g", str(gen_path), "--seeds", "0-3", "--out", str(tmp_path / "o")], limit=200)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "cannot write" in done.stderr, done.stderr


@pytest.mark.slow
def test_disk_full_during_probe_is_one_clear_line(tmp_path):
    from sceneedit.semantics.predictors import world

    torch.manual_seed(1)
    predictor = world.save_world_predictor(
        world.WorldPredictor(world.WorldNet(world.WorldNetConfig(input_size=32))), tmp_path / "world.safetensors"
    )
    gen_path = save_generator(tiny_stylegan(name="tiny", frozen=True), tmp_path / "g.safetensors")
    done = run_disk_full(
        [
            "probe",
            "--generator",
            str(gen_path),
            "--predictor",
            "world",
            "--predictor-option",
            f"path={predictor}",
            "--num",
            "200",
            "--chunk-size",
            "100",
            "--batch-size",
            "100",
            "--k",
            "60",
            "--no-progress",
            "--device",
            "cpu",
            "--concepts",
            "camera_yaw",
            "--out",
            str(tmp_path / "run"),
        ],
        limit=3000,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "cannot write" in done.stderr, done.stderr
    assert "full" in done.stderr or "too large" in done.stderr, done.stderr


@pytest.mark.slow
def test_disk_full_during_train_export_is_one_clear_line(tmp_path):
    from sceneedit.training.gan import GANTrainer
    from sceneedit.training.gan_config import TrainConfig

    run = tmp_path / "run"
    config = TrainConfig(
        resolution=16,
        z_dim=16,
        w_dim=16,
        mapping_layers=2,
        g_fmaps_base=128,
        g_fmaps_max=16,
        d_fmaps_base=128,
        d_fmaps_max=16,
        batch_size=4,
        data_source="stream",
        sample_every=0,
        progress=False,
        threads=1,
        iterations=1,
        recon_warmup_kimg=0.0,
    )
    GANTrainer(config, run, log=lambda _: None).run()
    code = f"""
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    from sceneedit.training.gan import main
    sys.exit(main(["--run-dir", {str(run)!r}, "--export", {str(tmp_path / "g.safetensors")!r}]))
    """
    done = run_python(code)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "g.safetensors" in done.stderr and "too large" in done.stderr, done.stderr
    assert not list(tmp_path.glob(".g.safetensors*"))


@pytest.mark.slow
def test_disk_full_during_a_torch_checkpoint_write_is_a_clear_error(tmp_path):
    code = f"""
    import resource, signal, torch
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
    from sceneedit.training.checkpointing import save_checkpoint
    try:
        save_checkpoint({str(tmp_path / "run")!r}, 5, {{"iteration": 5, "w": torch.zeros(10000)}})
    except OSError as exc:
        print("CLEAN", exc)
    """
    done = run_python(code)
    assert "CLEAN" in done.stdout and "ckpt-0000005.pt" in done.stdout, done.stdout + done.stderr
    assert not list((tmp_path / "run" / "checkpoints").iterdir())


# ----- 9. workers die with the trainer; a dead trainer's lock is not held --------------------------
TRAIN = [
    *TINY_TRAIN_NETWORK,
    "--sample-every",
    "0",
    "--threads",
    "1",
    "--log-every",
    "1",
    "--no-progress",
]


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.slow
def test_sigkilled_trainer_leaves_no_worker_and_resume_is_accepted(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "sceneedit.training.gan",
        "--run-dir",
        str(run_dir),
        *TRAIN,
        "--data",
        "pool",
        "--pool-size",
        "8",
        "--data-workers",
        "1",
        "--iterations",
        "100000",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    workers: list[int] = []
    try:
        log = run_dir / "log.jsonl"
        deadline = time.monotonic() + 90
        while not (log.exists() and log.read_text().count("\n") >= 1) and time.monotonic() < deadline:
            assert process.poll() is None
            time.sleep(0.1)
        workers = _children_of(process.pid)
        assert workers, "the pooled stream should run a render worker"
        process.kill()
        process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "a render worker outlived its trainer"
    finally:
        for pid in [process.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    from sceneedit.training.gan import _lock_run_dir

    _lock_run_dir(run_dir).close()  # the dead trainer's lock is free


# ----- 10. checkpoint rotation --------------------------------------------------------------------
def test_rotation_keeps_verified_checkpoints_and_cleans_temporaries(tmp_path):
    from sceneedit.training.checkpointing import (
        checkpoint_path,
        list_checkpoints,
        load_latest_checkpoint,
        save_checkpoint,
    )

    run = tmp_path / "run"
    save_checkpoint(run, 1, {"iteration": 1}, keep=2)
    for iteration in (2, 3):  # corrupt, then unverified (killed before the manifest)
        save_checkpoint(run, iteration, {"iteration": iteration}, keep=5)
    path2 = checkpoint_path(run, 2)
    path2.write_bytes(path2.read_bytes()[:-10])
    checkpoint_path(run, 3).with_suffix(".json").unlink()
    leftover = checkpoint_path(run, 4).parent / ".ckpt-0000004.pt.abc123.partial.pt"
    leftover.write_bytes(b"half a checkpoint")
    save_checkpoint(run, 4, {"iteration": 4}, keep=2)
    kept = [i for i, _ in list_checkpoints(run)]
    assert 1 in kept and 4 in kept, kept  # the two verified ones survive
    assert not leftover.exists()
    assert load_latest_checkpoint(run).iteration == 4


# ----- 11. errors name the file ----------------------------------------------------------------------
def test_export_recipe_errors_name_the_recipe_file(tmp_path, capsys):
    from sceneedit.cli import main

    generator = tiny_stylegan(name="tiny", frozen=True)
    gen_path = save_generator(generator, tmp_path / "g.safetensors")
    recipe = recipe_for(generator)
    recipe["edits"].append({"label": "bad", "op": "set_seed", "seed": "x"})
    path = tmp_path / "my_recipe.json"
    path.write_text(json.dumps(recipe))
    code = main(
        [
            "export",
            "-g",
            str(gen_path),
            "--recipe",
            str(path),
            "--timeline",
            "--formats",
            "png",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "my_recipe.json" in err, err


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "sceneedit-recipe", "version": ' + "9" * 5000 + "}",
        '{"format": "sceneedit-recipe", "version": 1, "x": NaN}',
        '{"format": "sceneedit-recipe", "version": 1, "x": -Infinity}',
    ],
)
def test_recipe_number_problems_are_caught_at_load_naming_the_file(tmp_path, text):
    from sceneedit.editing.recipe import RecipeError, load_recipe

    path = tmp_path / "numbers.json"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert_clean(info.value, path)


def test_a_4300_digit_int_in_generator_metadata_names_the_file(tmp_path):
    path, config = own_file(tmp_path)
    text = json.dumps(config)[:-1] + ', "big": ' + "7" * 5000 + "}"
    save_file(load_file(str(path)), str(path), metadata={"sceneedit": text})
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    assert_clean(info.value, path)


# ----- 12. a double Ctrl-C never leaves a hidden partial file ---------------------------------------
@pytest.mark.slow
def test_double_ctrl_c_while_an_mp4_is_written_leaves_no_partial_file(tmp_path):
    code = f"""
    import os, signal
    from pathlib import Path
    import numpy as np
    from sceneedit.export.writers import write_mp4

    def second(signum, frame):
        raise KeyboardInterrupt

    def first(signum, frame):  # like export's handler: the second Ctrl-C arrives at once
        signal.signal(signal.SIGINT, second)
        os.kill(os.getpid(), signal.SIGINT)
        raise KeyboardInterrupt

    class Frames(list):
        def __iter__(self):
            items = list(list.__iter__(self))
            yield from items[:2]
            signal.signal(signal.SIGINT, first)
            os.kill(os.getpid(), signal.SIGINT)
            yield from items[2:]

    frames = Frames(np.full((16, 16, 3), v, np.uint8) for v in range(0, 250, 10))
    write_mp4(frames, Path({str(tmp_path / "clip.mp4")!r}), 8.0)
    """
    done = run_python(code, timeout=60)
    assert "KeyboardInterrupt" in done.stderr, done.stderr
    time.sleep(0.5)  # a still-running encoder would write again
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.iterdir())


def test_a_resumed_probe_removes_the_partial_chunk_a_kill_left(tmp_path):
    from sceneedit.semantics.storage import CHUNK_DIR, ProbeStore

    manifest = {
        "num": 10,
        "chunk_size": 5,
        "seed": 0,
        "generator": {},
        "predictor": "world",
        "score_names": ["a"],
        "truncation_psi": 0.7,
        "truncation_layers": 6,
        "w_shared": True,
        "store_wp": False,
    }
    store = ProbeStore.create_or_resume(tmp_path / "run", manifest)
    leftover = store.root / CHUNK_DIR / ".000000.scores.npy.kn0lbx9t.partial.npy"  # a SIGKILL mid-write
    leftover.write_bytes(b"half a chunk")
    ProbeStore.create_or_resume(tmp_path / "run", manifest)
    assert not leftover.exists()
