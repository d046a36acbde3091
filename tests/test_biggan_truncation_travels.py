"""BigGAN's batch-norm statistics follow the psi a code was mapped with, not the default.

render / synth / the editor session pass the code's psi to ``synthesize``; at psi < 1 the
statistics differ from the default's, so the wrong psi draws different pixels.
"""

import numpy as np
import pytest
from test_biggan import write_biggan

from sceneedit.cli import main
from sceneedit.editing.session import EditSession
from sceneedit.generators import load_generator, to_uint8_images
from sceneedit.render import render, render_batch

PSI = 0.4


@pytest.fixture
def generator(tmp_path):
    g = load_generator(write_biggan(tmp_path / "biggan-deep-tiny"))
    assert g.truncation_psi == 1.0
    return g


def _reference(generator, seed, psi):
    """The reference rule: ``model(psi * z, class, psi)``, i.e. map and synthesize with one psi."""
    wp = generator.map(generator.sample_z(1, seed), truncation_psi=psi)
    return to_uint8_images(generator.synthesize(wp, truncation_psi=psi))[0], wp


def test_render_uses_the_statistics_of_the_codes_psi(generator):
    expected, wp = _reference(generator, 3, PSI)
    wrong = to_uint8_images(generator.synthesize(wp))[0]  # default psi 1's statistics
    assert np.abs(expected.astype(int) - wrong.astype(int)).max() > 0
    session = EditSession(generator, None, seed=3, truncation_psi=PSI)
    result = render(generator, session.state())
    assert result.error is None and np.array_equal(result.image, expected)


def test_render_batch_keeps_each_states_psi(generator):
    states = [
        EditSession(generator, None, seed=s, truncation_psi=p).state()
        for s, p in [(1, PSI), (2, 1.0), (3, 0.7), (4, PSI)]
    ]
    results = render_batch(generator, states, batch_size=4)
    for state, result in zip(states, results, strict=True):
        expected, _ = _reference(generator, state.seed, state.truncation_psi)
        assert np.array_equal(result.image, expected)


def test_synth_cli_passes_the_psi_of_wp_codes(generator, tmp_path):
    from PIL import Image

    expected, wp = _reference(generator, 5, PSI)
    codes = tmp_path / "wp.npy"
    np.save(codes, wp.numpy())
    folder = write_biggan(tmp_path / "cli-biggan")
    assert (
        main(
            [
                "synth",
                "-g",
                str(folder),
                "--codes",
                str(codes),
                "--truncation",
                str(PSI),
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "code_0000.png").convert("RGB")), expected)
    # z codes: map and synthesize share --truncation.
    assert (
        main(
            [
                "synth",
                "-g",
                str(folder),
                "--seeds",
                "5",
                "--truncation",
                str(PSI),
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "z"),
            ]
        )
        == 0
    )
    assert np.array_equal(np.asarray(Image.open(tmp_path / "z" / "seed_0005.png").convert("RGB")), expected)
