"""The inversion's noise phase: per-image noise maps fitted after the code, carried as a generator delta."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import tiny_stylegan

from sceneedit.generators.base import to_uint8_images
from sceneedit.generators.checkpoints import save_generator
from sceneedit.generators.fingerprint import generator_fingerprint
from sceneedit.generators.pggan import PGGANGenerator
from sceneedit.generators.stylegan2 import StyleGAN2Generator
from sceneedit.inversion import (
    DeltaError,
    GeneratorDelta,
    InversionSettings,
    Inverter,
    apply_delta,
    load_inverted_code,
    save_inversion,
)
from sceneedit.inversion.noise import batch_noise, fitted_noise_names, noise_buffers, noise_penalty
from sceneedit.safetensors_metadata import read_json_metadata

FAST = dict(steps=20, lr=0.05, perceptual="ssim", preview_frames=5, noise_steps=0)


def noisy(generator, strength: float = 0.4):
    """``generator`` with its noise strengths set (a fresh StyleGAN starts at zero: its noise is unused)."""
    with torch.no_grad():
        for name in noise_buffers(generator):
            stem = name.rpartition(".")[0]
            for param_name, param in generator.named_parameters():
                if param_name in (f"{stem}.weight", f"{stem}.noise_strength"):
                    param.fill_(strength)
    return generator


def picture(generator, seed: int = 3) -> np.ndarray:
    with torch.no_grad():
        return to_uint8_images(generator.synthesize(generator.map(generator.sample_z(1, seed), truncation_psi=1.0)))[0]


@pytest.fixture(scope="module")
def generator():
    return noisy(tiny_stylegan(w_dim=16, name="tiny0", frozen=True))


@pytest.fixture(scope="module")
def target():
    return picture(noisy(tiny_stylegan(2, w_dim=16, name="tiny2", frozen=True)))


def test_noise_phase_beats_the_code_alone_and_replays_from_its_saved_delta(tmp_path, generator, target):
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    plain = Inverter(generator, InversionSettings(**FAST), encoder=None).invert(target)
    frames = []
    settings = InversionSettings(**{**FAST, "noise_steps": 30, "noise_levels": 1})
    result = Inverter(generator, settings, encoder=None).invert(target, progress=frames.append)
    assert plain.delta is None
    assert result.psnr_db > plain.psnr_db + 0.5 and result.psnr_db > result.code_psnr_db + 0.5
    assert result.delta is not None and result.delta.has_noise and not result.delta.has_weights
    assert result.delta.describe() == "noise maps fitted"
    assert sorted(result.delta.tensors) == fitted_noise_names(generator, 1) and len(result.delta.tensors) == 2
    assert "noise" in {frame.phase for frame in frames}
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())  # the generator is untouched
    # The maps stay noise: unit scale, and a stronger penalty keeps them closer to white noise.
    maps = {n: noise_buffers(generator)[n] + t for n, t in result.delta.tensors.items()}
    assert all(0.7 < float(m.std()) < 1.5 for m in maps.values())
    strict = Inverter(generator, settings.__class__(**{**settings.__dict__, "noise_weight": 1.0}), encoder=None)
    held = {n: noise_buffers(generator)[n] + t for n, t in strict.invert(target).delta.tensors.items()}
    assert float(noise_penalty(held)[0]) < float(noise_penalty(maps)[0]) / 10

    paths = save_inversion(result, tmp_path, "photo")
    assert read_json_metadata(paths["delta"], "sceneedit_delta", DeltaError, "delta")["version"] == 2
    wp, delta = load_inverted_code(paths["code"], generator.num_layers, generator.w_dim)
    with torch.no_grad():
        replay = apply_delta(generator, delta).synthesize(torch.from_numpy(wp)[None])
    assert np.array_equal(to_uint8_images(replay)[0], result.reconstruction)  # bit for bit
    assert np.array_equal(np.asarray(Image.open(paths["reconstruction"])), result.reconstruction)
    # A batch draws each image with its own maps.
    with torch.no_grad():
        from sceneedit.inversion.noise import noise_override, noise_twin

        twin = noise_twin(generator)
        with noise_override(twin, batch_noise(generator, [None, delta])):
            both = twin.synthesize(torch.from_numpy(np.stack([plain.wp, wp])))
    assert np.array_equal(to_uint8_images(both[1:])[0], result.reconstruction)


def test_noise_and_fine_tune_share_one_delta(generator, target):
    settings = InversionSettings(**{**FAST, "noise_steps": 10, "finetune_steps": 10, "finetune_lr": 3e-3})
    result = Inverter(generator, settings, encoder=None).invert(target)
    assert result.delta.has_noise and result.delta.has_weights
    assert result.delta.describe() == "fine-tuned, noise maps fitted"
    with torch.no_grad():
        replay = apply_delta(generator, result.delta).synthesize(torch.from_numpy(result.wp)[None])
    assert np.array_equal(to_uint8_images(replay)[0], result.reconstruction)


def test_delta_files_check_noise_names_and_shapes(tmp_path, generator):
    name = fitted_noise_names(generator, 1)[0]
    size = int(noise_buffers(generator)[name].shape[-1])
    delta = GeneratorDelta({name: torch.full((1, 1, size, size), 0.5)}, generator_fingerprint(generator))
    path = delta.save(tmp_path / "d.delta.safetensors")
    loaded = GeneratorDelta.load(path)
    tuned = apply_delta(generator, loaded)
    assert torch.equal(noise_buffers(tuned)[name], noise_buffers(generator)[name] + 0.5)
    assert not torch.equal(noise_buffers(tuned)[name], noise_buffers(generator)[name])  # the original is kept
    wrong = GeneratorDelta({name: torch.zeros(1, 1, size + 1, size + 1)}, dict(loaded.generator))
    with pytest.raises(DeltaError, match="shape"):
        apply_delta(generator, GeneratorDelta.load(wrong.save(tmp_path / "wrong.delta.safetensors")))
    unknown = GeneratorDelta({"synthesis.nowhere.noise": torch.zeros(1, 1, 4, 4)}, dict(loaded.generator))
    with pytest.raises(DeltaError, match="neither a weight nor a noise map"):
        unknown.check(generator)
    # A weights-only delta keeps format version 1 (what earlier sceneedit reads).
    weights = GeneratorDelta(
        {"synthesis.layer0.epilogue.bias": torch.zeros_like(generator.synthesis.layer0.epilogue.bias)},
        dict(loaded.generator),
    )
    document = read_json_metadata(weights.save(tmp_path / "w.safetensors"), "sceneedit_delta", DeltaError, "delta")
    assert document["version"] == 1 and json.dumps(document)


def test_stylegan2_noise_is_fitted_and_a_generator_without_noise_skips_the_phase(target):
    torch.manual_seed(0)
    stylegan2 = noisy(StyleGAN2Generator(resolution=16, z_dim=8, w_dim=8, mapping_layers=1, fmaps_base=32, fmaps_max=8))
    stylegan2.eval().requires_grad_(False)
    settings = InversionSettings(**{**FAST, "steps": 5, "noise_steps": 10})
    result = Inverter(stylegan2, settings, encoder=None).invert(target)
    assert result.delta is not None and result.psnr_db > result.code_psnr_db
    assert all(name.endswith(".noise") for name in result.delta.tensors)

    torch.manual_seed(0)
    pggan = PGGANGenerator(resolution=16, z_dim=8, fmaps_base=64, fmaps_max=8).eval().requires_grad_(False)
    assert noise_buffers(pggan) == {}
    result = Inverter(pggan, settings, encoder=None).invert(target)
    assert result.delta is None and result.info["noise_steps"] == 0 and result.psnr_db == result.code_psnr_db
    assert result.steps == 5 + 10  # the noise phase's budget went to the code
    # A StyleGAN whose noise strengths are all zero (untrained) has nothing to fit either.
    assert fitted_noise_names(tiny_stylegan(w_dim=16, frozen=True), 2) == []


def test_cli_invert_writes_the_noise_delta_and_export_replays_the_reconstruction(tmp_path, capsys, generator, target):
    from sceneedit.cli import main

    generator_path = save_generator(generator, tmp_path / "tiny.safetensors")
    Image.fromarray(target).save(tmp_path / "photo.png")
    common = ["-g", str(generator_path), "--steps", "5", "--encoder", "none", "--perceptual", "ssim"]
    assert (
        main(["invert", str(tmp_path / "photo.png"), "--out", str(tmp_path / "inv"), "--noise-steps", "10", *common])
        == 0
    )
    out = capsys.readouterr().out
    assert "noise maps fitted; code alone" in out
    assert (tmp_path / "inv" / "photo.delta.safetensors").is_file()
    recipe = tmp_path / "inv" / "photo.recipe.json"
    assert json.loads(recipe.read_text())["base"]["generator_delta"] == "photo.delta.safetensors"
    export = ["export", "-g", str(generator_path), "--recipe", str(recipe), "--timeline"]
    assert main([*export, "--out", str(tmp_path / "exp"), "--formats", "png", "--quiet"]) == 0
    frames = sorted((tmp_path / "exp").rglob("*.png"))
    reconstruction = np.asarray(Image.open(tmp_path / "inv" / "photo.png").convert("RGB"))
    assert frames and np.array_equal(np.asarray(Image.open(frames[-1]).convert("RGB")), reconstruction)
    # --noise-steps 0: the code alone, no delta (a stale one is removed).
    assert (
        main(["invert", str(tmp_path / "photo.png"), "--out", str(tmp_path / "inv"), "--noise-steps", "0", *common])
        == 0
    )
    assert not (tmp_path / "inv" / "photo.delta.safetensors").exists()


def test_invert_help_states_the_settings_defaults(capsys):
    from sceneedit.cli import main

    with pytest.raises(SystemExit):
        main(["invert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = InversionSettings()
    assert f"steps of the code (default {defaults.steps};" in text
    assert f"after the code's (default {defaults.noise_steps};" in text
