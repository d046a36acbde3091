"""Growing a trained generator to twice its resolution (fade-in), starting a run from a
generator file alone, and carrying a run across machines in one small portable file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_models import tiny_stylegan

from sceneedit.cli import main as cli_main
from sceneedit.generators import load_generator
from sceneedit.generators.checkpoints import save_generator
from sceneedit.generators.stylegan import StyleGANGenerator
from sceneedit.training.checkpointing import TrainingCheckpointError, list_checkpoints
from sceneedit.training.gan import GANTrainer
from sceneedit.training.growing import fade_lod, grow_generator
from sceneedit.training.portable import read_portable_checkpoint

ARCH = dict(z_dim=16, w_dim=16, mapping_layers=2, mapping_lr_mul=1.0, fmaps_base=128, fmaps_max=16)
TRAIN_FLAGS = [
    "--batch-size",
    "4",
    "--data",
    "stream",
    "--sample-every",
    "0",
    "--no-progress",
    "--recon-batch",
    "2",
    "--recon-warmup-kimg",
    "0",
    "--recon-feature-weight",
    "0",
    "--d-fmaps-base",
    "128",
    "--d-fmaps-max",
    "16",
    "--threads",
    "1",
    "--log-every",
    "1",
]


def small_generator(resolution: int = 16) -> StyleGANGenerator:
    """A tiny StyleGAN in training mode with a trained-looking ``w_avg``."""
    generator = tiny_stylegan(resolution=resolution, truncation_layers=4, eval_mode=False, **ARCH)
    with torch.no_grad():  # a trained-looking w_avg, so carrying it over is checked
        generator.truncation.w_avg.normal_()
    return generator


def test_grown_generator_starts_as_the_source_upsampled_then_fades_in_the_new_block():
    source = small_generator(16)
    grown = grow_generator(source, 32)
    assert grown.num_layers == source.num_layers + 2 and float(grown.synthesis.lod) == 1.0
    wp = source.map(source.sample_z(2, seed=1))
    wp_grown = torch.cat([wp, wp[:, -1:].expand(-1, 2, -1)], dim=1)
    small = source.synthesize_raw(wp)
    assert torch.allclose(grown.synthesize_raw(wp_grown), F.interpolate(small, scale_factor=2), atol=1e-6)
    assert torch.equal(grown.w_avg, source.w_avg)
    # Halfway through the fade: the mean of the new block's RGB and the old one upsampled.
    grown.synthesis.lod.fill_(0.5)
    result = grown.synthesize_raw(wp_grown, return_features=True)
    new_rgb = grown.synthesis.output3(result.features[-1])
    expected = 0.5 * new_rgb + 0.5 * F.interpolate(small, scale_factor=2)
    assert torch.allclose(result.image, expected, atol=1e-5)
    grown.synthesis.lod.fill_(0.0)
    assert torch.allclose(grown.synthesize_raw(wp_grown), new_rgb, atol=1e-6)
    with pytest.raises(ValueError, match="power of two"):
        grow_generator(source, 24)
    with pytest.raises(ValueError, match="power of two"):
        grow_generator(source, 8)


def test_fade_schedule_runs_from_the_start_lod_to_zero():
    assert fade_lod(1.0, 0, 2.0) == 1.0
    assert fade_lod(1.0, 1000, 2.0) == 0.5
    assert fade_lod(1.0, 5000, 2.0) == 0.0
    assert fade_lod(1.0, 0, 0.0) == 0.0 and fade_lod(0.0, 10, 2.0) == 0.0


@pytest.mark.slow
def test_cli_grows_the_shipped_style_generator_and_carries_the_run_in_a_portable_file(tmp_path, capsys):
    start = save_generator(small_generator(16), tmp_path / "start.safetensors")
    run = tmp_path / "run"
    code = cli_main(
        [
            "train",
            "--run-dir",
            str(run),
            "--init-from",
            str(start),
            "--resolution",
            "32",
            "--fade-kimg",
            "0.016",
            "--iterations",
            "3",
            "--name",
            "grown32",
            *TRAIN_FLAGS,
        ]
    )
    assert code == 0, capsys.readouterr().err
    trainer = GANTrainer.resume(run, log=lambda _m: None)
    assert trainer.G.resolution == 32 and trainer.config.z_dim == 16  # architecture from the file
    assert trainer.fade_start_lod == 1.0
    assert float(trainer.G.synthesis.lod) == pytest.approx(1 - 8 / 16)  # 8 of 16 images faded
    # The carried-over mapping network still matches the start file where training left it.
    trainer.close()

    portable = tmp_path / "ckpt.safetensors"
    assert cli_main(["train", "--run-dir", str(run), "--export-checkpoint", str(portable)]) == 0
    payload = read_portable_checkpoint(portable)
    card = portable.with_suffix(".md").read_text()
    assert "--resume-from" in card and "iteration 3," in card and "lod now 0.250" in card
    assert payload["info"]["iteration"] == 3 and payload["info"]["optimizer"].startswith("exp_avg_sq")
    assert payload["g_opt"] and payload["d_opt"]
    for key, value in trainer.G_ema.state_dict().items():
        assert torch.allclose(payload["G_ema"][key], value, atol=2e-3 * (1 + value.abs().max()))

    run2 = tmp_path / "run2"
    code = cli_main(
        [
            "train",
            "--run-dir",
            str(run2),
            "--resume-from",
            str(portable),
            "--iterations",
            "5",
            "--no-progress",
            "--threads",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    resumed = GANTrainer.resume(run2, log=lambda _m: None)
    assert resumed.iteration == 5 and resumed.images_seen == 20 and resumed.fade_start_lod == 1.0
    assert float(resumed.G.synthesis.lod) == 0.0
    records = [json.loads(line) for line in (run2 / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [4, 5] and all(np.isfinite(r["loss_d"]) for r in records)
    resumed.close()
    exported = tmp_path / "g.safetensors"
    assert cli_main(["train", "--run-dir", str(run2), "--export", str(exported)]) == 0
    assert load_generator(exported).resolution == 32

    # A second start on a run folder that has checkpoints is refused, naming --resume.
    assert cli_main(["train", "--run-dir", str(run2), "--resume-from", str(portable)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_bad_start_files_get_one_clear_error(tmp_path, capsys):
    start = save_generator(small_generator(32), tmp_path / "big.safetensors")
    code = cli_main(
        ["train", "--run-dir", str(tmp_path / "r"), "--init-from", str(start), "--resolution", "16", *TRAIN_FLAGS]
    )
    assert code == 2 and "never shrinks" in capsys.readouterr().err
    code = cli_main(
        [
            "train",
            "--run-dir",
            str(tmp_path / "r2"),
            "--init-from",
            str(start),
            "--resolution",
            "64",
            "--z-dim",
            "20",
            *TRAIN_FLAGS,
        ]
    )
    assert code == 2 and "z_dim" in capsys.readouterr().err
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingCheckpointError, match="junk.safetensors"):
        read_portable_checkpoint(junk)
    assert cli_main(["train", "--run-dir", str(tmp_path / "r3"), "--resume-from", str(junk)]) == 2
    assert "junk.safetensors" in capsys.readouterr().err
    assert not list_checkpoints(tmp_path / "r3")
