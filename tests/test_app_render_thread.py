"""The editor's UI thread never runs torch: every map and synthesis happens on the render thread.

A real tiny StyleGAN whose ``map``, ``synthesize`` and ``sample_z`` record the thread that
calls them; the real MainWindow opens it from a file, changes the seed, turns on style-mix
jitter, previews jitter seeds, holds compare and opens a recipe, and no call may come from
the UI thread. Also checks the render thread's cache of mapped codes.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gui_support import WAIT_MS  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from tiny_models import tiny_stylegan  # noqa: E402

from sceneedit.render import render  # noqa: E402
from sceneedit.semantics.bundle import fingerprint_for, save_bundle  # noqa: E402
from sceneedit.semantics.concepts import BoundaryBundle, Concept  # noqa: E402


class ThreadLog:
    """Wraps the generator class's torch entry points to log ``(method, thread)`` of every call."""

    METHODS = ("map", "synthesize", "sample_z")

    def __init__(self, monkeypatch, generator_class) -> None:
        self.calls: list[tuple[str, threading.Thread]] = []
        for name in self.METHODS:
            original = getattr(generator_class, name)

            def logged(generator, *args, _name=name, _original=original, **kwargs):
                self.calls.append((_name, threading.current_thread()))
                return _original(generator, *args, **kwargs)

            monkeypatch.setattr(generator_class, name, logged)

    def on_ui_thread(self) -> list[str]:
        main = threading.main_thread()
        return [name for name, thread in self.calls if thread is main]

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)


def one_concept_bundle(generator) -> BoundaryBundle:
    rng = np.random.RandomState(2)
    normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
    concept = Concept("sky", normal / np.linalg.norm(normal), [0, 1, 2], level="layout")
    return BoundaryBundle({"sky": concept}, fingerprint_for(generator), source="test")


@pytest.fixture
def logged(qtbot, tmp_path, monkeypatch):
    """A window that opened a tiny generator and bundle from files (as File > Open does)."""
    from sceneedit.app.window import MainWindow
    from sceneedit.generators import save_generator
    from sceneedit.generators.stylegan import StyleGANGenerator

    generator = tiny_stylegan(name="tiny", frozen=True)
    gen_path = save_generator(generator, tmp_path / "tiny.safetensors")
    bundle_path = save_bundle(one_concept_bundle(generator), tmp_path / "tiny_bundle.safetensors")
    log = ThreadLog(monkeypatch, StyleGANGenerator)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.load_finished, timeout=WAIT_MS) as blocker:
        window.open_generator(gen_path, bundle_path, seed=3)
    assert blocker.args == [True] and isinstance(window.session.generator, StyleGANGenerator)
    wait_idle(qtbot, window)
    yield window, log
    window.close()


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(window.render_idle, timeout=WAIT_MS)


def canvas_matches_session(window) -> bool:
    result = render(window.session.generator, window.session.state())  # on the test's thread, after the check
    return bool(np.array_equal(window.canvas.image_array(), result.image))


def test_no_torch_on_the_ui_thread(qtbot, logged, tmp_path):
    window, log = logged
    session = window.session
    assert log.count("map") >= 1 and log.count("synthesize") >= 1  # the first frame was rendered
    session.set_seed(11)  # seed change
    wait_idle(qtbot, window)
    window.latent_dock.step_seed(+1)  # the dock's seed buttons
    wait_idle(qtbot, window)
    session.set_jitter(enabled=True, mode="style_mix", layers=[4, 5], strength=0.5, seed=21)  # style-mix jitter
    wait_idle(qtbot, window)
    for seed in (30, 31):  # the jitter dock's animation preview
        window.jitter_dock.preview_seed.emit(seed)
        wait_idle(qtbot, window)
    window.jitter_dock.preview_stopped.emit()
    wait_idle(qtbot, window)
    window.set_comparing(True)  # hold-to-compare shows the unedited scene
    wait_idle(qtbot, window)
    window.set_comparing(False)
    session.set_strength("sky", 1.5)
    wait_idle(qtbot, window)
    path = tmp_path / "edit.json"
    session.save_recipe(path)
    window.open_recipe(path)  # recipe open
    wait_idle(qtbot, window)
    assert window.session is not session and window.session.strength("sky") == 1.5
    assert log.on_ui_thread() == [], f"torch ran on the UI thread: {log.on_ui_thread()}"
    assert canvas_matches_session(window)


def test_the_render_thread_keeps_mapped_codes(qtbot, logged):
    window, log = logged
    window.session.set_seed(7)
    wait_idle(qtbot, window)
    maps = log.count("map")
    window.session.undo()  # back to seed 3, mapped before
    wait_idle(qtbot, window)
    window.session.redo()  # seed 7 again
    wait_idle(qtbot, window)
    assert log.count("map") == maps  # both codes came from the render thread's cache
    assert canvas_matches_session(window)


def test_save_code_resolves_the_code_on_the_render_thread(qtbot, logged, tmp_path):
    window, log = logged
    window.session.set_seed(12)  # a seed no thread has mapped yet
    window.session.set_strength("sky", -1.0)
    path = tmp_path / "code.npy"
    with qtbot.waitSignal(window.latent_dock.code_saved, timeout=WAIT_MS) as blocker:
        window.latent_dock.save_code(path)
    assert blocker.args == [str(path)]
    assert log.on_ui_thread() == [], f"torch ran on the UI thread: {log.on_ui_thread()}"
    saved = np.load(path)
    expected = window.session.current_wp()  # on the test's thread, after the check
    assert saved.dtype == np.float32 and np.array_equal(saved, expected)
