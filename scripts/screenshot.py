"""Take a screenshot of the real editor window (run under a display, e.g. Xvfb).

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/screenshot.py docs/screenshot.png

Opens the embedded default model when it is installed, else a random tiny StyleGAN with a
bundle of random directions (the picture then shows the UI, not a meaningful scene). Sets
a few sliders, waits for the render thread to put the frame on the canvas, and saves a
grab of the whole window.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

#: Concept names of the random fallback bundle, one or two per level.
FALLBACK_CONCEPTS = {
    "view": "layout",
    "room_depth": "layout",
    "bed": "objects",
    "lamp": "objects",
    "window": "objects",
    "wood": "attributes",
    "indoor_lighting": "attributes",
    "cluttered_space": "attributes",
    "wall_hue": "color",
    "floor_tone": "color",
}


def random_model():
    import numpy as np
    import torch

    from sceneedit.generators.stylegan import StyleGANGenerator
    from sceneedit.semantics.bundle import fingerprint_for
    from sceneedit.semantics.concepts import BoundaryBundle, Concept

    torch.manual_seed(0)
    generator = (
        StyleGANGenerator(
            resolution=128, z_dim=128, w_dim=128, fmaps_base=2048, fmaps_max=128, name="random-stylegan-128"
        )
        .eval()
        .requires_grad_(False)
    )
    rng = np.random.RandomState(0)
    concepts = {}
    for name, level in FALLBACK_CONCEPTS.items():
        normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
        normal /= np.linalg.norm(normal)
        layers = {
            "layout": [0, 1, 2, 3],
            "objects": [4, 5, 6, 7],
            "attributes": [6, 7, 8, 9, 10],
            "color": [9, 10, 11],
        }[level]
        peak = layers[len(layers) // 2]
        delta = [
            float(np.exp(-0.5 * (layer - peak) ** 2) * rng.uniform(0.4, 1.0)) for layer in range(generator.num_layers)
        ]
        concepts[name] = Concept(
            name,
            normal,
            layers,
            level=level,
            delta_s=delta,
            delta_s_all=float(sum(delta)),
            accuracy=float(rng.uniform(0.8, 0.97)),
        )
    return generator, BoundaryBundle(concepts, fingerprint_for(generator), source="random (screenshot)")


def pump(app, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)


def wait(app, condition, timeout: float = 300.0, what: str = "the editor") -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        time.sleep(0.01)
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--size", default="1600x1000", help="window size WIDTHxHEIGHT (default 1600x1000)")
    parser.add_argument("--seed", type=int, default=7, help="scene seed (default 7)")
    parser.add_argument(
        "--edit",
        action="append",
        default=[],
        metavar="CONCEPT=VALUE",
        help="concept strengths to set (repeatable); default: a few of the bundle's",
    )
    parser.add_argument(
        "--drag",
        action="store_true",
        help="show the drag panel instead: writes OUTPUT with the first-use hint on the canvas, then "
        "OUTPUT_drag.png after a masked drag with a handle, a target and a fixed point",
    )
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from sceneedit.app.main import default_paths
    from sceneedit.app.window import MainWindow
    from sceneedit.editing.session import EditSession

    app = QApplication.instance() or QApplication([sys.argv[0]])
    settings_file = Path(tempfile.mkdtemp(prefix="sceneedit-shot-")) / "settings.ini"
    window = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat))
    window.resize(width, height)
    window.show()

    generator_path, bundle_path = default_paths()
    if generator_path.is_file():
        loaded = []
        window.load_finished.connect(loaded.append)
        window.open_generator(generator_path, bundle_path if bundle_path.exists() else None, seed=args.seed)
        wait(app, lambda: bool(loaded), what="the default model to load")
        if not loaded[0]:
            print("screenshot: the default model failed to load", file=sys.stderr)
            return 1
    else:
        generator, bundle = random_model()
        window.set_session(EditSession(generator, bundle, seed=args.seed), generator_path=None)
    session = window.session
    if session.bundle is not None and len(session.bundle):
        # A few edits, so the docks show moved sliders, a custom layer range and history.
        names = session.bundle.names
        rows = window.concepts_dock.rows
        edits = [(e.split("=")[0], float(e.split("=")[1])) for e in args.edit]
        for name, value in edits or list(zip(names[::3], (1.6, -1.2, 2.0, 0.8), strict=False)):
            rows[name].slider.setValue(value)
        first = rows[names[0]]
        lo, hi = first.range_slider.value()
        if hi - lo >= 1:
            first.range_slider.setValue((lo, hi - 1))
        rows[names[1]].expand_button.setChecked(True)
        rows[names[1]].per_layer_sliders[min(rows[names[1]].per_layer_sliders)].setValue(1.5)
    window.concepts_dock.raise_()
    if args.drag:
        return drag_shots(app, window, args.output)
    wait(app, window.render_idle, what="the render")
    pump(app, 0.5)  # let the layout and paint settle
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(args.output)):
        print(f"screenshot: could not write {args.output}", file=sys.stderr)
        return 1
    print(f"screenshot: wrote {args.output} ({window.width()}x{window.height()}, platform {app.platformName()})")
    window.close()
    return 0


def drag_shots(app, window, output: Path) -> int:
    """The drag panel: the first-use hint, then the points, the mask and a finished masked drag."""
    tool = window.drag_tool
    wait(app, window.render_idle, what="the render")
    tool.mode_action.setChecked(True)
    pump(app, 0.5)
    output.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(output))
    size = int(window.session.generator.resolution)
    c = size / 2
    tool.set_point_kind("mask")
    for y in range(int(c - 10), int(c + 11), 3):
        for x in range(int(c - 12), int(c + 13), 3):
            tool.paint_mask(float(y), float(x))
    tool.set_point_kind("anchor")
    tool.add_point(float(size - 6), 6.0)
    tool.set_point_kind("handle")
    tool.add_point(c, c - 4)
    tool.add_point(c + 2, c + 4)
    tool.run()
    wait(app, lambda: not tool.running, what="the drag")
    wait(app, window.render_idle, what="the render")
    pump(app, 0.5)
    second = output.with_name(output.stem + "_drag.png")
    window.grab().save(str(second))
    print(f"screenshot: wrote {output} (hint) and {second} (after a masked drag)")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
