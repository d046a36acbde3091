"""GAN inversion core: picture loading, the optimization, pivotal tuning, encoder training, CLI."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import tiny_stylegan

from sceneedit.generators.checkpoints import save_generator
from sceneedit.inversion import (
    GeneratorDelta,
    ImageLoadError,
    InversionCancelled,
    InversionSettings,
    Inverter,
    apply_delta,
    load_encoder,
    load_image_for_inversion,
    load_inverted_code,
    save_inversion,
)
from sceneedit.inversion.encoder import EncoderError
from sceneedit.inversion.finetune import DeltaError
from sceneedit.inversion.losses import MultiScaleSSIMLoss, psnr
from sceneedit.inversion.optimize import cosine_second_half
from sceneedit.inversion.prior import prior_for
from sceneedit.inversion.train import EncoderTrainingConfig, fit_linear_encoder, train_encoder


def sample_image(generator, seed: int = 3) -> np.ndarray:
    with torch.no_grad():
        image = generator.synthesize(generator.map(generator.sample_z(1, seed), truncation_psi=1.0))
    return ((image[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


FAST = dict(steps=25, lr=0.05, perceptual="ssim", preview_frames=5, noise_steps=0)


# ----- loading pictures -------------------------------------------------------------------
def test_center_crop_and_resize(tmp_path):
    # 30 x 10: the middle 10 x 10 square is blue; the side bands (red, green) are cropped away.
    array = np.zeros((10, 30, 3), np.uint8)
    array[:, :10] = (255, 0, 0)
    array[:, 10:20] = (0, 0, 255)
    array[:, 20:] = (0, 255, 0)
    Image.fromarray(array).save(tmp_path / "wide.png")
    out = load_image_for_inversion(tmp_path / "wide.png", 8)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    assert np.abs(out[2:6, 2:6].astype(int) - (0, 0, 255)).max() <= 2


def test_grayscale_alpha_and_16_bit_are_converted(tmp_path):
    gray = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (16, 1))
    Image.fromarray(gray, mode="L").save(tmp_path / "gray.png")
    out = load_image_for_inversion(tmp_path / "gray.png", 16)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    rgba = np.zeros((16, 16, 4), np.uint8)  # fully transparent black -> white
    rgba[:8, :, :] = (10, 20, 30, 255)  # top half opaque
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    out = load_image_for_inversion(tmp_path / "alpha.png", 16)
    assert (out[12:] == 255).all() and np.abs(out[:6].astype(int) - (10, 20, 30)).max() <= 1
    deep = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 256
    Image.fromarray(deep).save(tmp_path / "deep.png")
    out = load_image_for_inversion(tmp_path / "deep.png", 16)
    assert out[0, 0, 0] < out[-1, -1, 0]


def _png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 7)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("case", ["empty", "text", "huge", "truncated", "missing", "folder"])
def test_bad_pictures_get_one_clear_error(tmp_path, case):
    path = tmp_path / f"{case}.png"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("not a picture")
    elif case == "huge":
        _png_header_only(path, 20000, 20000)  # a 20,000 x 20,000 header: refused before decoding
    elif case == "truncated":
        Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 90).save(tmp_path / "full.jpg")
        path = tmp_path / "truncated.jpg"
        path.write_bytes((tmp_path / "full.jpg").read_bytes()[:200])
    elif case == "folder":
        path.mkdir()
    with pytest.raises(ImageLoadError) as info:
        load_image_for_inversion(path, 16)
    assert str(path) in str(info.value)


# ----- losses and prior ---------------------------------------------------------------------
def test_ms_ssim_is_zero_for_identical_images_and_grows_with_noise():
    loss = MultiScaleSSIMLoss()
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    assert loss(image, image).abs().max() < 1e-4
    small = loss(image + 0.05 * torch.randn_like(image), image)
    large = loss(image + 0.5 * torch.randn_like(image), image)
    assert (small > 0).all() and (large > small).all()


def test_prior_penalty_is_small_for_mapped_codes_and_large_off_domain():
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    prior = prior_for(generator)
    codes = generator.map(generator.sample_z(64, 123), truncation_psi=1.0)
    far = codes + 3.0 * torch.randn_like(codes)
    assert prior.penalty(codes).mean() < 0.3 < prior.penalty(far).mean()


def test_prior_parts_add_up_and_the_spread_is_zero_for_one_code_on_every_layer():
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    prior = prior_for(generator)
    codes = generator.map(generator.sample_z(8, 5), truncation_psi=1.0)  # the same w on every layer
    outside, spread = prior.penalty_parts(codes)
    assert torch.allclose(outside + spread, prior.penalty(codes))
    assert spread.abs().max() < 1e-6
    mixed = codes.clone()
    mixed[:, 1:] = generator.map(generator.sample_z(8, 6), truncation_psi=1.0)[:, 1:]
    assert (prior.penalty_parts(mixed)[1] > 0.1).all()


def test_spread_weight_defaults_to_the_prior_weight_and_is_validated():
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    image = torch.zeros(1, 3, 16, 16)
    mixed = generator.map(generator.sample_z(1, 1), truncation_psi=1.0)
    mixed[:, 1:] = generator.map(generator.sample_z(1, 2), truncation_psi=1.0)[:, 1:]
    base = dict(perceptual="none", prior_weight=1.0)
    same = Inverter(generator, InversionSettings(**base), encoder=None).loss(mixed, image)[0]
    explicit = Inverter(generator, InversionSettings(**base, spread_weight=1.0), encoder=None).loss(mixed, image)[0]
    without = Inverter(generator, InversionSettings(**base, spread_weight=0.0), encoder=None).loss(mixed, image)[0]
    assert torch.allclose(same, explicit)
    assert (without < same).all()
    with pytest.raises(ValueError, match="spread_weight"):
        InversionSettings(spread_weight=-1.0)


def test_regularizer_schedule_scales_only_the_regularizers():
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    image = torch.zeros(1, 3, 16, 16)
    far = generator.map(generator.sample_z(1, 1), truncation_psi=1.0) + 3.0
    inverter = Inverter(generator, InversionSettings(perceptual="none", prior_weight=1.0), encoder=None)
    plain = Inverter(generator, InversionSettings(perceptual="none", prior_weight=0.0), encoder=None)
    assert torch.allclose(inverter.loss(far, image, regularizer_scale=0.0)[0], plain.loss(far, image)[0])
    half = inverter.loss(far, image, regularizer_scale=0.5)[0] - plain.loss(far, image)[0]
    full = inverter.loss(far, image)[0] - plain.loss(far, image)[0]
    assert torch.allclose(2 * half, full, rtol=1e-4)
    factors = [cosine_second_half(step, 10) for step in range(11)]
    assert factors[:5] == [1.0] * 5 and factors[-1] < 1e-6
    assert all(a >= b for a, b in zip(factors, factors[1:], strict=False))


# ----- inversion --------------------------------------------------------------------------
def test_inversion_improves_on_the_start_reports_progress_and_writes_files(tmp_path):
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    image = sample_image(generator)
    frames = []
    inverter = Inverter(generator, InversionSettings(**FAST), encoder=None)
    start = generator.synthesize(inverter.prior.mean[None])
    start_psnr = float(psnr(start, torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1)[0])
    result = inverter.invert(image, progress=frames.append)
    assert result.wp.shape == (generator.num_layers, generator.w_dim) and result.wp.dtype == np.float32
    assert result.reconstruction.shape == (16, 16, 3)
    assert result.psnr_db > start_psnr + 1.0
    assert result.delta is None and result.perceptual == "ssim"
    assert frames and frames[-1].phase == "code" and frames[-1].step == FAST["steps"]
    paths = save_inversion(result, tmp_path, "room")
    wp, delta = load_inverted_code(paths["code"], generator.num_layers, generator.w_dim)
    assert np.array_equal(wp, result.wp) and delta is None


def test_cancel_stops_the_inversion():
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(InversionCancelled):
        Inverter(generator, InversionSettings(**FAST), encoder=None).invert(sample_image(generator), cancel=cancel)
    assert not any(p.requires_grad for p in generator.parameters())  # left as it was


def test_pivotal_tuning_beats_the_code_alone_and_is_an_undoable_delta(tmp_path):
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    other = tiny_stylegan(1, w_dim=16, name="tiny1", frozen=True)
    image = sample_image(other)  # another generator's picture: the code alone fits it poorly
    settings = InversionSettings(**{**FAST, "finetune_steps": 30, "finetune_lr": 3e-3})
    result = Inverter(generator, settings, encoder=None).invert(image)
    assert result.delta is not None and result.psnr_db > result.code_psnr_db + 0.5
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())  # untouched
    paths = save_inversion(result, tmp_path, "photo")
    wp, delta = load_inverted_code(paths["code"], generator.num_layers, generator.w_dim)
    tuned = apply_delta(generator, delta)
    with torch.no_grad():
        replay = tuned.synthesize(torch.from_numpy(wp)[None])
    target = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert abs(float(psnr(replay, target)[0]) - result.psnr_db) < 0.05
    with pytest.raises(DeltaError):
        apply_delta(other, delta)
    with pytest.raises(DeltaError):
        GeneratorDelta.load(paths["code"])


# ----- encoder ---------------------------------------------------------------------------------
def test_encoder_training_resumes_and_the_file_refuses_another_generator(tmp_path):
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    config = EncoderTrainingConfig(steps=6, batch_size=4, perceptual="ssim", checkpoint_every=3, log_every=3)
    lines = []
    train_encoder(
        generator, tmp_path / "run", EncoderTrainingConfig(**{**config.__dict__, "steps": 3}), log=lines.append
    )
    out = train_encoder(generator, tmp_path / "run", config, log=lines.append)
    assert any("resumed at step 3" in line for line in lines)
    encoder = load_encoder(out, generator)
    wp = encoder(torch.zeros(2, 3, 16, 16))
    assert wp.shape == (2, generator.num_layers, generator.w_dim)
    with pytest.raises(EncoderError):
        load_encoder(out, tiny_stylegan(1, w_dim=16, name="tiny1", frozen=True))
    result = Inverter(generator, InversionSettings(**{**FAST, "steps": 0}), encoder=encoder).invert(
        sample_image(generator)
    )
    assert result.encoder_used


def test_linear_encoder_fit_resumes_and_reads_codes_back_better_than_the_mean(tmp_path):
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    lines = []
    fit_linear_encoder(generator, tmp_path / "lin", samples=256, chunk=128, thumb=8, log=lines.append)
    assert any("256/256" in line for line in lines)
    # A second call with more samples resumes from the stored statistics.
    out = fit_linear_encoder(generator, tmp_path / "lin", samples=512, chunk=128, thumb=8, log=lines.append)
    assert any("resumed at 256 samples" in line for line in lines)
    encoder = load_encoder(out, generator)
    assert encoder.config.kind == "linear"
    with torch.no_grad():
        wp = generator.map(generator.sample_z(64, 999), truncation_psi=1.0)
        images = generator.synthesize(wp)
        error = ((encoder(images) - wp) / encoder.w_std).square().mean()
        baseline = ((encoder.w_mean - wp) / encoder.w_std).square().mean()
    assert error < 0.8 * baseline


# ----- command line ------------------------------------------------------------------------
def test_cli_invert_writes_code_reconstruction_and_a_line_per_image(tmp_path, capsys):
    from sceneedit.cli import main

    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    generator_path = save_generator(generator, tmp_path / "tiny.safetensors")
    Image.fromarray(sample_image(generator)).resize((40, 30)).save(tmp_path / "a.jpg")
    Image.fromarray(sample_image(generator, 5)).convert("L").save(tmp_path / "b.png")
    code = main(
        [
            "invert",
            str(tmp_path / "a.jpg"),
            str(tmp_path / "b.png"),
            "-g",
            str(generator_path),
            "--out",
            str(tmp_path / "out"),
            "--steps",
            "5",
            "--encoder",
            "none",
            "--perceptual",
            "ssim",
            "--prior-weight",
            "0.01",
            "--noise-steps",
            "0",
        ]
    )
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "PSNR" in line]
    assert len(lines) == 2 and all(" s -> " in line for line in lines)
    for stem in ("a", "b"):
        assert np.load(tmp_path / "out" / f"{stem}.npy").shape == (generator.num_layers, generator.w_dim)
        assert Image.open(tmp_path / "out" / f"{stem}.png").size == (16, 16)
    (tmp_path / "bad.png").write_bytes(b"")
    assert main(["invert", str(tmp_path / "bad.png"), "-g", str(generator_path), "--out", str(tmp_path / "o2")]) == 2
    assert "bad.png: the file is empty" in capsys.readouterr().err
    negative = ["invert", str(tmp_path / "a.jpg"), "-g", str(generator_path), "--out", str(tmp_path / "o3")]
    assert main([*negative, "--prior-weight", "-1"]) == 2
    assert "prior_weight" in capsys.readouterr().err


def test_cli_recipe_from_a_fine_tuned_inversion_replays_in_export(tmp_path, capsys):
    from sceneedit.cli import main
    from sceneedit.editing.session import EditSession
    from sceneedit.render import render

    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    generator_path = save_generator(generator, tmp_path / "tiny.safetensors")
    Image.fromarray(sample_image(tiny_stylegan(2, w_dim=16, name="tiny2", frozen=True))).save(tmp_path / "photo.png")
    assert (
        main(
            [
                "invert",
                str(tmp_path / "photo.png"),
                "-g",
                str(generator_path),
                "--out",
                str(tmp_path / "inv"),
                "--steps",
                "5",
                "--finetune",
                "10",
                "--noise-steps",
                "0",
                "--encoder",
                "none",
                "--perceptual",
                "ssim",
            ]
        )
        == 0
    )
    recipe_path = tmp_path / "inv" / "photo.recipe.json"
    assert (tmp_path / "inv" / "photo.delta.safetensors").is_file()
    assert (
        main(
            [
                "export",
                "-g",
                str(generator_path),
                "--recipe",
                str(recipe_path),
                "--timeline",
                "--out",
                str(tmp_path / "exp"),
                "--formats",
                "png",
                "--quiet",
            ]
        )
        == 0
    )
    frames = sorted((tmp_path / "exp").rglob("*.png"))
    assert frames
    wp, delta = load_inverted_code(tmp_path / "inv" / "photo.npy", generator.num_layers, generator.w_dim)
    tuned = apply_delta(generator, delta)
    expected = render(tuned, EditSession.from_recipe(EditSession.load_recipe(recipe_path), tuned).state()).image
    assert np.array_equal(np.asarray(Image.open(frames[-1]).convert("RGB")), expected)
    untuned = render(generator, EditSession.from_recipe(EditSession.load_recipe(recipe_path), generator).state()).image
    assert not np.array_equal(untuned, expected)  # the delta was applied


def test_world_feature_loss_never_reuses_another_targets_features():
    from sceneedit.inversion.losses import WorldFeatureLoss
    from sceneedit.semantics.predictors.world import load_world_predictor

    loss = WorldFeatureLoss(load_world_predictor())
    torch.manual_seed(0)
    for _ in range(10):  # each target is freed before the next: the same address comes back often
        target = torch.rand(1, 3, 64, 64) * 2 - 1
        assert float(loss(target.clone(), target)[0]) < 1e-8
        del target


def test_a_batch_inverts_like_one_by_one():
    generator = tiny_stylegan(w_dim=16, name="tiny0", frozen=True)
    images = [sample_image(generator, seed) for seed in (3, 4, 5)]
    inverter = Inverter(generator, InversionSettings(**{**FAST, "steps": 10}), encoder=None)
    batch = inverter.invert_batch(images)
    for image, together in zip(images, batch, strict=True):
        alone = inverter.invert(image)
        assert np.allclose(alone.wp, together.wp, atol=1e-4)
        assert abs(alone.psnr_db - together.psnr_db) < 0.05
