"""GAN training: a few real iterations at 16 px on the real room renderer, resume, checkpoint
fallback, export, and refusal of nonsensical settings."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
import torch
from tiny_models import TINY_TRAIN_NETWORK

from sceneedit.cli import main as cli_main
from sceneedit.generators import load_generator, read_metadata
from sceneedit.training.checkpointing import (
    TrainingCheckpointError,
    list_checkpoints,
    load_latest_checkpoint,
)
from sceneedit.training.data import NoCodesError, PooledStream, RenderedStream, render_rooms
from sceneedit.training.discriminator import ResidualDiscriminator
from sceneedit.training.gan import GANTrainer, export_generator
from sceneedit.training.gan_config import TrainConfig

TINY = dict(
    resolution=16,
    z_dim=16,
    w_dim=16,
    mapping_layers=2,
    g_fmaps_base=128,
    g_fmaps_max=16,
    recon_feature_weight=0.5,
    recon_batch=2,
    recon_warmup_kimg=0.0,
    d_fmaps_base=128,
    d_fmaps_max=16,
    batch_size=4,
    data_source="stream",
    sample_every=0,
    progress=False,
    log_every=1,
    threads=1,
)


def tiny_config(**overrides) -> TrainConfig:
    return TrainConfig(**{**TINY, **overrides})


def quiet(_message: str) -> None:
    pass


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_few_iterations_change_weights_and_stay_finite(tmp_path):
    trainer = GANTrainer(tiny_config(r1_interval=2), tmp_path / "run", log=quiet)
    g0, d0, ema0 = snapshot(trainer.G), snapshot(trainer.D), snapshot(trainer.G_ema)
    w_avg0 = trainer.G.w_avg.clone()
    losses = [trainer.train_step() for _ in range(3)]
    trainer.close()
    assert all(np.isfinite(v) for step in losses for v in step.values())
    assert "r1" in losses[0] and "r1" not in losses[1]  # lazy R1 on iterations 0, 2, ...
    for before, module in ((g0, trainer.G), (d0, trainer.D), (ema0, trainer.G_ema)):
        after = module.state_dict()
        changed = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])]
        assert changed, f"{type(module).__name__}: no weight changed"
        assert all(torch.isfinite(t).all() for t in after.values())
    assert not torch.equal(w_avg0, trainer.G.w_avg)
    assert trainer.iteration == 3 and trainer.images_seen == 12
    images = trainer.G_ema.synthesize(trainer.G_ema.map(trainer.G_ema.sample_z(2)))
    assert images.shape == (2, 3, 16, 16)


def test_run_writes_log_samples_and_checkpoints(tmp_path):
    run_dir = tmp_path / "run"
    trainer = GANTrainer(tiny_config(iterations=4, checkpoint_every=2, sample_every=2), run_dir, log=quiet)
    trainer.run()
    assert [i for i, _ in list_checkpoints(run_dir)] == [4, 2]
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss_g"]) and r["images_per_s"] > 0 for r in records)
    for name in ("iter-0000000.png", "iter-0000002.png", "iter-0000004.png", "latest.png", "reals.png"):
        assert (run_dir / "samples" / name).stat().st_size > 0
    from PIL import Image

    assert Image.open(run_dir / "samples" / "latest.png").size == (8 * 16, 8 * 16)


@pytest.mark.slow
def test_resume_continues_with_identical_state(tmp_path):
    straight = tmp_path / "straight"
    GANTrainer(tiny_config(iterations=4, checkpoint_every=2), straight, log=quiet).run()

    # A run "killed" after its iteration-2 checkpoint: resume must pick up exactly there.
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(straight, resumed_dir)
    for suffix in (".pt", ".json"):
        (resumed_dir / "checkpoints" / f"ckpt-0000004{suffix}").unlink()
    saved = load_latest_checkpoint(resumed_dir).payload
    trainer = GANTrainer.resume(resumed_dir, {"iterations": 4}, log=quiet)
    assert trainer.iteration == 2 and trainer.images_seen == 8
    assert states_equal(snapshot(trainer.G), saved["G"])
    assert states_equal(snapshot(trainer.G_ema), saved["G_ema"])
    assert states_equal(snapshot(trainer.D), saved["D"])
    assert torch.equal(torch.get_rng_state(), saved["rng"]["torch"])
    trainer.run()

    final_straight = load_latest_checkpoint(straight).payload
    final_resumed = load_latest_checkpoint(resumed_dir).payload
    assert final_resumed["iteration"] == 4
    for key in ("G", "G_ema", "D"):
        assert states_equal(final_resumed[key], final_straight[key]), key


def test_corrupt_latest_checkpoint_falls_back_to_previous(tmp_path):
    run_dir = tmp_path / "run"
    GANTrainer(tiny_config(iterations=4, checkpoint_every=2), run_dir, log=quiet).run()
    newest = run_dir / "checkpoints" / "ckpt-0000004.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    newest.write_bytes(bytes(data))

    messages: list[str] = []
    trainer = GANTrainer.resume(run_dir, log=messages.append)
    trainer.close()
    assert trainer.iteration == 2
    assert any("ckpt-0000004.pt" in m and "SHA-256" in m for m in messages), messages

    # A truncated file is rejected as well; with nothing usable left, a clear error.
    older = run_dir / "checkpoints" / "ckpt-0000002.pt"
    older.write_bytes(older.read_bytes()[:100])
    with pytest.raises(TrainingCheckpointError, match="no usable checkpoint"):
        GANTrainer.resume(run_dir, log=quiet)


def test_export_writes_a_loadable_generator(tmp_path):
    run_dir = tmp_path / "run"
    GANTrainer(tiny_config(iterations=2, checkpoint_every=2), run_dir, log=quiet).run()
    out = export_generator(run_dir, tmp_path / "g.safetensors", log=quiet)
    metadata = read_metadata(out)
    assert metadata["arch"] == "stylegan" and metadata["training"]["iterations"] == 2
    assert metadata["training"]["hardware"] and "dataset" in metadata
    generator = load_generator(out, device="cpu")
    saved = load_latest_checkpoint(run_dir).payload["G_ema"]
    assert states_equal(snapshot(generator), saved)
    assert generator.num_layers == 6 and generator.truncation_layers == 6
    images = generator.synthesize(generator.map(generator.sample_z(3, seed=1)))
    assert images.shape == (3, 3, 16, 16) and torch.isfinite(images).all()


def test_cli_trains_resumes_and_exports(tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    common = [
        "train",
        "--run-dir",
        run_dir,
        *TINY_TRAIN_NETWORK,
        "--data",
        "stream",
        "--sample-every",
        "0",
        "--threads",
        "1",
        "--no-progress",
    ]
    assert cli_main(common + ["--iterations", "1"]) == 0
    # Starting again into the same folder without --resume is refused.
    assert cli_main(common + ["--iterations", "2"]) == 2
    assert "--resume" in capsys.readouterr().err
    # Resuming with a different architecture is refused; with run-control changes it works.
    assert cli_main(["train", "--run-dir", run_dir, "--resume", "--z-dim", "32"]) == 2
    assert "differs from the run's saved" in capsys.readouterr().err
    assert cli_main(["train", "--run-dir", run_dir, "--resume", "--iterations", "2", "--no-progress"]) == 0
    assert load_latest_checkpoint(run_dir).iteration == 2
    out = tmp_path / "default.safetensors"
    assert cli_main(["train", "--run-dir", run_dir, "--export", str(out)]) == 0
    assert read_metadata(out)["training"]["iterations"] == 2


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--batch-size", "0"], "batch size must be > 0"),
        (["--batch-size=-3"], "batch size must be > 0"),
        (["--resolution", "48"], "power of two"),
        (["--resolution", "4"], "power of two >= 8"),
        (["--g-lr", "0"], "g lr must be in (0, 1)"),
        (["--d-lr=-1e-3"], "d lr must be in (0, 1)"),
        (["--r1-gamma=-1"], "R1 gamma must be >= 0"),
        (["--style-mixing", "1.5"], "style mixing probability"),
        (["--data", "disk"], "data source must be one of"),
        (["--keep-checkpoints", "1"], "keep at least 2"),
        (["--iterations", "0"], "iterations must be >= 1"),
        (["--recon-weight=-1"], "reconstruction weight must be >= 0"),
        (["--recon-batch=-2"], "reconstruction batch must be >= 0"),
        (["--z-dim", "8"], "z_dim must be >= 14"),
    ],
)
def test_nonsensical_settings_are_refused(tmp_path, capsys, flags, message):
    run_dir = tmp_path / "run"
    assert cli_main(["train", "--run-dir", str(run_dir), "--no-progress"] + flags) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (run_dir / "checkpoints").exists()


def test_resume_without_checkpoints_and_export_without_run_are_clear_errors(tmp_path, capsys):
    assert cli_main(["train", "--run-dir", str(tmp_path / "none"), "--resume"]) == 2
    assert "no checkpoints to resume from" in capsys.readouterr().err
    assert cli_main(["train", "--run-dir", str(tmp_path / "none"), "--export", str(tmp_path / "g.safetensors")]) == 2
    assert "no checkpoints" in capsys.readouterr().err
    assert not (tmp_path / "g.safetensors").exists()


def test_discriminator_handles_any_batch_size():
    disc = ResidualDiscriminator(16, fmaps_base=64, fmaps_max=16)
    for n in (1, 3, 6):
        logits = disc(torch.zeros(n, 3, 16, 16).uniform_(-1, 1))
        assert logits.shape == (n,) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match=r"\[N, 3, 16, 16\]"):
        disc(torch.zeros(2, 3, 32, 32))


def test_pool_is_refreshed_by_a_worker_process():
    stream = PooledStream(render_rooms, 16, pool_size=8, seed=3, workers=1, chunk=8)
    try:
        initial = stream.pool.copy()
        rng = np.random.default_rng(0)
        deadline = time.monotonic() + 60
        while stream.refreshed == 0 and time.monotonic() < deadline:
            batch = stream.next_batch(8, rng)
            assert batch.shape == (8, 16, 16, 3) and batch.dtype == np.uint8
            time.sleep(0.05)
        assert stream.refreshed >= 8
        assert not np.array_equal(initial, stream.pool)
    finally:
        stream.close()
    assert not stream._workers


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_resume_continues(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "sceneedit.training.gan",
        "--run-dir",
        str(run_dir),
        *TINY_TRAIN_NETWORK,
        "--data",
        "stream",
        "--sample-every",
        "0",
        "--threads",
        "1",
        "--log-every",
        "1",
        "--iterations",
        "100000",
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log = run_dir / "log.jsonl"
        deadline = time.monotonic() + 60
        while not (log.exists() and log.read_text().count("\n") >= 2) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 0, output
    assert "SIGTERM" in output
    saved = load_latest_checkpoint(run_dir)
    assert saved.iteration >= 2
    trainer = GANTrainer.resume(run_dir, log=quiet)
    trainer.close()
    assert trainer.iteration == saved.iteration


def test_divergence_stops_without_touching_weights_or_checkpoints(tmp_path):
    from sceneedit.training.gan import NonFiniteLossError

    run_dir = tmp_path / "run"
    trainer = GANTrainer(tiny_config(iterations=4, checkpoint_every=1), run_dir, log=quiet)
    with torch.no_grad():
        trainer.D.out.bias.fill_(float("nan"))
    g_before = {k: p.detach().clone() for k, p in trainer.G.named_parameters()}
    d_before = {k: p.detach().clone() for k, p in trainer.D.named_parameters()}
    with pytest.raises(NonFiniteLossError, match="iteration 0"):
        trainer.run()
    assert all(torch.equal(p, g_before[k]) for k, p in trainer.G.named_parameters())
    assert all(torch.equal(p, d_before[k]) or k == "out.bias" for k, p in trainer.D.named_parameters())
    assert list_checkpoints(run_dir) == []


def test_a_second_trainer_on_the_same_run_folder_is_refused(tmp_path):
    import subprocess
    import sys

    pytest.importorskip("fcntl")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # The lock is a per-process POSIX lock: another process must hold it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
            "fcntl.lockf(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB); f.write('pid 12345'); f.flush(); "
            "print('held', flush=True); time.sleep(120)",
            str(run_dir / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        trainer = GANTrainer(tiny_config(iterations=1), run_dir, log=quiet)
        with pytest.raises(ValueError, match="in use by another training process"):
            trainer.run()
    finally:
        holder.kill()
        holder.wait()
    assert list_checkpoints(run_dir) == []


def test_resume_may_retune_the_loss_but_not_the_architecture(tmp_path):
    run_dir = tmp_path / "run"
    GANTrainer(tiny_config(iterations=1, checkpoint_every=1, r1_gamma=0.1), run_dir, log=quiet).run()
    messages: list[str] = []
    trainer = GANTrainer.resume(run_dir, {"r1_gamma": 1.0, "d_lr": 1e-3}, log=messages.append)
    trainer.close()
    assert trainer.config.r1_gamma == 1.0
    assert [g["lr"] for g in trainer.d_opt.param_groups] == [1e-3]
    assert any("r1_gamma 0.1 -> 1.0" in m for m in messages), messages
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "retuned" and events[-1]["changes"]["d_lr"] == [2e-3, 1e-3]
    assert trainer.retunes == [{"iteration": 1, "changes": {"d_lr": [2e-3, 1e-3], "r1_gamma": [0.1, 1.0]}}]
    trainer.save_checkpoint()
    training = read_metadata(export_generator(run_dir, tmp_path / "g.safetensors", log=quiet))["training"]
    assert training["retunes"] == trainer.retunes
    with pytest.raises(ValueError, match="keeps its architecture"):
        GANTrainer.resume(run_dir, {"w_dim": 32}, log=quiet)


def images_only(seed: int, count: int, resolution: int) -> np.ndarray:
    return render_rooms(seed, count, resolution)[0]


def test_render_rooms_pairs_each_room_with_the_code_of_its_factors():
    from sceneedit.scenes import factors_from_code, render_scene

    images, codes = render_rooms(11, 3, 16)
    again_images, again_codes = render_rooms(11, 3, 16)
    assert images.shape == (3, 16, 16, 3) and codes.shape == (3, 14) and codes.dtype == np.float32
    assert np.array_equal(images, again_images) and np.array_equal(codes, again_codes)
    # The code decides the factors; only placement jitter comes from the detail seed.
    factors = factors_from_code(codes[1], detail_seed=0)
    assert render_scene(factors, resolution=16).shape == (16, 16, 3)
    stream = RenderedStream(render_rooms, 16, seed=1)
    batch, batch_codes = stream.next_pairs(4, np.random.default_rng(0))
    assert batch.shape == (4, 16, 16, 3) and batch_codes.shape == (4, 14)


@pytest.mark.slow
def test_reconstruction_term_pulls_g_to_the_room_of_its_code(tmp_path):
    trainer = GANTrainer(tiny_config(mapping_lr_mul=1.0), tmp_path / "run", log=quiet)
    stats = trainer.train_step()
    assert np.isfinite(stats["recon"]) and trainer.feature_net is not None
    images, codes = render_rooms(5, 2, 16)
    rooms = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    codes = torch.from_numpy(codes).requires_grad_(True)
    torch.manual_seed(0)
    first = trainer.reconstruction_loss(codes, rooms)
    (code_grad,) = torch.autograd.grad(first, codes)
    assert code_grad.abs().sum() > 0  # the code reaches the image through z
    optimizer = torch.optim.Adam(trainer.G.parameters(), lr=3e-3, betas=(0.0, 0.99))
    for _ in range(40):
        optimizer.zero_grad()
        trainer.reconstruction_loss(codes.detach(), rooms).backward()
        optimizer.step()
    torch.manual_seed(0)
    after = trainer.reconstruction_loss(codes.detach(), rooms).item()
    trainer.close()
    assert after < 0.7 * first.item(), (first.item(), after)


def test_plain_gan_needs_no_codes_and_a_paired_run_refuses_a_render_without_them(tmp_path):
    # A plain GAN ignores the warm-up setting: D trains from the first step.
    plain = GANTrainer(
        tiny_config(recon_weight=0.0, recon_warmup_kimg=200.0), tmp_path / "plain", render=images_only, log=quiet
    )
    first = plain.train_step()
    assert plain.feature_net is None and "recon" not in first and first["loss_d"] > 0
    plain.close()
    paired = GANTrainer(tiny_config(), tmp_path / "paired", render=images_only, log=quiet)
    with pytest.raises(NoCodesError, match="returns images only"):
        paired.train_step()
    paired.close()


def test_a_checkpoint_from_before_reconstruction_resumes_as_a_plain_gan(tmp_path):
    from sceneedit.training.gan import merge_resume_config
    from sceneedit.training.gan_config import LEGACY_DEFAULTS

    saved = tiny_config().to_dict()
    for key in LEGACY_DEFAULTS:
        del saved[key]
    config = merge_resume_config(saved, {})
    assert config.recon_weight == 0.0 and config.recon_batch == 0
    assert merge_resume_config(saved, {"recon_weight": 0.5}).recon_weight == 0.5


def test_reconstruction_warmup_trains_g_alone_then_the_gan_starts(tmp_path):
    trainer = GANTrainer(tiny_config(recon_warmup_kimg=0.008), tmp_path / "run", log=quiet)
    d0 = snapshot(trainer.D)
    warm = [trainer.train_step() for _ in range(2)]  # 2 x 4 images = the 8-image warm-up
    assert all(step["loss_d"] == 0.0 and np.isfinite(step["recon"]) for step in warm)
    assert states_equal(d0, trainer.D.state_dict())
    gan = trainer.train_step()
    trainer.close()
    assert gan["loss_d"] > 0 and "recon" in gan and not states_equal(d0, trainer.D.state_dict())
