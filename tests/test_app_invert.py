"""File ▸ Open image / dropping a picture: inversion on the worker thread (offscreen Qt, tiny StyleGAN)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from gui_support import WAIT_MS, open_main_window  # noqa: E402
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from tiny_models import tiny_stylegan  # noqa: E402

from sceneedit.editing.session import EditSession  # noqa: E402
from sceneedit.inversion import InversionSettings  # noqa: E402


@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan(name="tiny", frozen=True)


@pytest.fixture
def window(qtbot, tmp_path, generator, monkeypatch):
    monkeypatch.setattr("sceneedit.app.window.QMessageBox.critical", lambda *a, **k: None)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = open_main_window(qtbot, settings, EditSession(generator, None, seed=3))
    win.invert_tool.settings = InversionSettings(steps=12, lr=0.05, perceptual="ssim", preview_frames=4, noise_steps=0)
    win.invert_tool.encoder = None
    win.show()
    qtbot.waitUntil(win.render_idle, timeout=WAIT_MS)
    yield win
    win.close()


@pytest.fixture
def picture(tmp_path, generator):
    with torch.no_grad():
        image = generator.synthesize(generator.map(generator.sample_z(1, 11), truncation_psi=1.0))
    array = ((image[0].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy()
    path = tmp_path / "photo.png"
    Image.fromarray(array).resize((24, 20)).save(path)  # not square: center-cropped
    return path


def test_open_image_inverts_on_the_worker_and_becomes_the_base_scene(qtbot, window, picture):
    steps_before = len(window.session.history)
    with qtbot.waitSignal(window.invert_tool.inversion_finished, timeout=WAIT_MS) as blocker:
        assert window.invert_tool.invert_path(picture)
        assert window.invert_tool.cancel_action.isEnabled()
    result = blocker.args[0]
    assert result is not None and window.invert_tool.frames_streamed > 0
    assert np.array_equal(window.session.base_wp, result.wp)
    history = window.session.history
    assert len(history) == steps_before + 1 and history[-1] == "Base code: photo.png"
    dock = window.history_dock.list
    assert dock.item(dock.count() - 1).text().endswith("Base code: photo.png")  # History shows it
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
    window.compare_button.pressed.emit()
    assert np.array_equal(window.canvas.image_array(), result.target)  # Compare shows the picture
    window.compare_button.released.emit()
    window.undo_action.trigger()
    assert window.session.seed == 3  # undo goes back to the previous scene


def test_cancel_keeps_the_previous_scene(qtbot, window, picture):
    window.invert_tool.settings = InversionSettings(steps=100000, perceptual="ssim", preview_frames=1000)
    history = list(window.session.history)
    with qtbot.waitSignal(window.invert_tool.inversion_finished, timeout=WAIT_MS) as blocker:
        window.invert_tool.invert_path(picture)
        qtbot.waitUntil(lambda: window.invert_tool.frames_streamed > 0, timeout=WAIT_MS)
        window.invert_tool.cancel_action.trigger()
    assert blocker.args[0] is None
    assert window.session.history == history and window.session.seed == 3
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)


def test_dropping_a_picture_inverts_it_and_a_bad_one_gets_an_error(qtbot, window, picture, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.invert_tool.inversion_finished, timeout=WAIT_MS):
        window.dropEvent(event)
    assert window.session.history[-1] == "Base code: photo.png"
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    history = list(window.session.history)
    with qtbot.waitSignal(window.invert_tool.inversion_finished, timeout=WAIT_MS) as blocker:
        window.open_path(bad)
    assert blocker.args[0] is None and "broken.jpg" in window.invert_tool.last_error
    assert window.session.history == history


def test_fine_tune_moves_to_a_tuned_copy_saves_its_delta_and_can_be_dropped(
    qtbot, window, picture, tmp_path, monkeypatch
):
    window.invert_tool.settings = InversionSettings(
        steps=8, perceptual="ssim", finetune_steps=8, finetune_lr=3e-3, noise_steps=0
    )
    base_generator = window.session.generator
    # Building a tuned copy (torch) must happen on the render thread, after inversion and on recipe open.
    import sceneedit.inversion as inversion
    import sceneedit.inversion.recipes as recipes

    threads = []

    def logged_apply_delta(*args, _original=recipes.apply_delta):
        threads.append(threading.current_thread())
        return _original(*args)

    monkeypatch.setattr(recipes, "apply_delta", logged_apply_delta)
    monkeypatch.setattr(inversion, "apply_delta", logged_apply_delta)
    with qtbot.waitSignal(window.invert_tool.inversion_finished, timeout=WAIT_MS) as blocker:
        window.invert_tool.invert_path(picture)
    result = blocker.args[0]
    assert result.delta is not None and window.session.generator is not base_generator
    assert len(threads) == 1 and threads[0] is not threading.main_thread()  # the tuned copy after inversion
    assert window.invert_tool.drop_finetune_action.isEnabled()
    recipe_path = tmp_path / "edit.json"
    from sceneedit.inversion.recipes import generator_for_recipe, save_recipe_with_delta

    save_recipe_with_delta(window.session.to_recipe(), window.session.generator, recipe_path)
    assert (tmp_path / "edit.delta.safetensors").is_file()
    replayed = generator_for_recipe(EditSession.load_recipe(recipe_path), base_generator, recipe_path)
    replay = EditSession.from_recipe(EditSession.load_recipe(recipe_path), replayed)
    from sceneedit.render import render

    assert np.array_equal(
        render(replay.generator, replay.state()).image, render(window.session.generator, window.session.state()).image
    )
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
    window.invert_tool.drop_finetune_action.trigger()
    assert window.session.generator is base_generator
    assert np.array_equal(window.session.base_wp, result.wp)
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
    # Opening the recipe builds its tuned generator on the render thread, then shows the replayed edit.
    threads.clear()
    with qtbot.waitSignal(window.recipe_opened, timeout=WAIT_MS) as opened:
        window.open_recipe(recipe_path)
    assert opened.args == [str(recipe_path)] and window.session.generator is not base_generator
    assert len(threads) == 1 and threads[0] is not threading.main_thread()  # the tuned copy on recipe open
    assert np.array_equal(
        render(window.session.generator, window.session.state()).image, render(replay.generator, replay.state()).image
    )
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)


def test_fitted_noise_shows_in_the_reconstruction_and_in_edits(qtbot, tmp_path, monkeypatch):
    """A generator whose layers use their noise: the opened picture gets noise maps fitted; the
    canvas then shows the reconstruction drawn with them, and edits render with them too."""
    from test_app import random_bundle
    from test_inversion_noise import noisy

    from sceneedit.inversion import apply_delta
    from sceneedit.render import render

    generator = noisy(tiny_stylegan(name="tiny", frozen=True))
    monkeypatch.setattr("sceneedit.app.window.QMessageBox.critical", lambda *a, **k: None)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = open_main_window(qtbot, settings, EditSession(generator, random_bundle(generator), seed=3))
    window.invert_tool.settings = InversionSettings(steps=6, perceptual="ssim", noise_steps=8, preview_frames=4)
    window.invert_tool.encoder = None
    window.show()
    try:
        qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
        path = tmp_path / "photo.png"
        Image.fromarray(np.asarray(torch.rand(16, 16, 3).mul(255).to(torch.uint8))).save(path)
        with qtbot.waitSignal(window.invert_tool.inversion_finished, timeout=WAIT_MS) as blocker:
            window.invert_tool.invert_path(path)
        result = blocker.args[0]
        assert result.delta is not None and result.delta.describe() == "noise maps fitted"
        assert window.session.generator is not generator and window.session.bundle is not None
        assert "noise maps fitted" in window.statusBar().currentMessage()
        assert window.invert_tool.drop_finetune_action.isEnabled()
        qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
        assert np.array_equal(window.canvas.image_array(), result.reconstruction)  # drawn with the fitted maps
        window.session.set_strength("sky", 2.0)
        qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
        edited = window.canvas.image_array()
        expected = render(apply_delta(generator, result.delta), window.session.state()).image
        assert np.array_equal(edited, expected)
        assert not np.array_equal(edited, render(generator, window.session.state()).image)  # not the own noise
        from sceneedit.inversion.recipes import generator_for_recipe, save_recipe_with_delta

        recipe_path = tmp_path / "edit.json"
        save_recipe_with_delta(window.session.to_recipe(), window.session.generator, recipe_path)
        recipe = EditSession.load_recipe(recipe_path)
        replay = EditSession.from_recipe(
            recipe, generator_for_recipe(recipe, generator, recipe_path), window.session.bundle
        )
        assert np.array_equal(render(replay.generator, replay.state()).image, edited)  # the recipe carries the maps
        window.invert_tool.drop_finetune_action.trigger()
        assert window.session.generator is generator and window.session.strength("sky") == 2.0
        qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)
    finally:
        window.close()
