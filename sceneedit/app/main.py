"""``sceneedit`` (no subcommand): open the editor window.

With no options it opens the embedded default generator and its boundary bundle; when
those files are missing the window still opens and says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def default_paths() -> tuple[Path, Path]:
    """Where the embedded default generator and bundle live (they may not exist)."""
    from sceneedit.resources import default_bundle_path, default_generator_path

    return default_generator_path(), default_bundle_path()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sceneedit",
        description="The sceneedit editor: steer a generated scene along semantic boundaries.",
    )
    parser.add_argument(
        "--generator",
        metavar="PATH",
        help="generator checkpoint, or a downloaded registry model's name "
        "(sceneedit models list; opens with its HiGAN boundaries) "
        "(default: the embedded default model)",
    )
    parser.add_argument(
        "--bundle",
        metavar="PATH",
        help="boundary bundle, HiGAN boundary folder or list "
        "(default: the embedded bundle when the default generator is used)",
    )
    parser.add_argument("--device", metavar="D", help="torch device: cpu, cuda, cuda:N or mps (default: automatic)")
    parser.add_argument("--seed", type=int, default=0, help="starting seed (default: 0)")
    parser.add_argument(
        "--quit-after-first-frame",
        action="store_true",
        help="open, show the first frame, print its timing and quit (exit 1 if the model "
        "failed to load): a smoke test for scripts and CI",
    )
    return parser


def missing_default_message(generator: Path, bundle: Path) -> str:
    return (
        "The embedded default model is not installed:\n"
        f"{generator}\n\n"
        "Open a generator with File ▸ Open generator… (Ctrl+O), or start with\n"
        "sceneedit --generator PATH [--bundle PATH]."
    )


def main(argv: list[str] | None = None) -> int:
    """Run the editor; returns the application's exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.device is not None:
        from sceneedit.device import resolve_device
        from sceneedit.errors import SceneeditError

        try:
            resolve_device(args.device)
        except SceneeditError as exc:
            print(f"sceneedit: error: {exc}", file=sys.stderr)
            return 2

    from PySide6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("sceneedit")
    app.setOrganizationName("sceneedit")
    window = MainWindow(device=args.device)
    window.show()
    from .error_dialog import install_excepthook

    install_excepthook(lambda: window if window.isVisible() else None)
    from .qt_check import binding_warning

    warning = binding_warning()
    if warning:
        print(f"sceneedit: warning: {warning}", file=sys.stderr)
        window.statusBar().showMessage(warning)

    if args.quit_after_first_frame:
        _quit_after_first_frame(app, window)
    if args.generator:
        from sceneedit.models import resolve_generator_argument

        generator, bundle = resolve_generator_argument(args.generator, args.bundle)
        window.open_generator(generator, bundle, seed=args.seed)
    else:
        generator_path, bundle_path = default_paths()
        if generator_path.is_file():
            bundle = args.bundle or (bundle_path if bundle_path.exists() else None)
            window.open_generator(generator_path, bundle, seed=args.seed)
        else:
            window.canvas.set_message(missing_default_message(generator_path, bundle_path))
    return int(app.exec())


def _quit_after_first_frame(app, window) -> None:
    """Quit (exit 0) once a frame is on the canvas, or exit 1 when loading fails."""
    import time

    started = time.perf_counter()

    def on_frame(_stamp: int) -> None:
        print(
            f"sceneedit: first frame on the canvas {1000 * (time.perf_counter() - started):.0f} ms after "
            f"the window opened ({window.last_frame_ms:.1f} ms to render)",
            flush=True,
        )
        window.close()
        app.exit(0)

    def on_load(ok: bool) -> None:
        if not ok:
            print("sceneedit: error: the model failed to load (see the window's message)", file=sys.stderr, flush=True)
            window.close()
            app.exit(1)

    window.frame_shown.connect(on_frame)
    window.load_finished.connect(on_load)
