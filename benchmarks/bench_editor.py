"""Editor responsiveness: slider-to-canvas latency and the editor's overhead over synthesis.

Drives the real MainWindow offscreen. For each trial it moves one concept slider and waits
until the frame of that state is on the canvas (latency = slider change -> canvas updated);
it then times the raw ``generator.synthesize`` call on the same codes, on the same thread
configuration. A second part does the same for seed changes (new seeds: map + synthesize),
and a third replays a 60 Hz drag and counts the frames rendered.

    python benchmarks/bench_editor.py                      # the embedded default model
    python benchmarks/bench_editor.py --generator G --bundle B
    python benchmarks/bench_editor.py --random 64          # a random StyleGAN at 64 px

Prints a Markdown table (figures in milliseconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def random_model(resolution: int):
    import torch

    from sceneedit.generators.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    generator = (
        StyleGANGenerator(
            resolution=resolution, z_dim=128, w_dim=128, fmaps_base=2048, fmaps_max=128, name=f"random-{resolution}"
        )
        .eval()
        .requires_grad_(False)
    )
    return generator, random_bundle(generator)


def random_bundle(generator):
    """A one-concept bundle of a random direction on every layer of ``generator`` (timing only)."""
    import numpy as np

    from sceneedit.semantics.bundle import fingerprint_for
    from sceneedit.semantics.concepts import BoundaryBundle, Concept

    rng = np.random.RandomState(0)
    normal = rng.standard_normal((1, generator.w_dim)).astype(np.float32)
    normal /= np.linalg.norm(normal)
    concept = Concept("probe", normal, list(range(generator.num_layers)), level="attributes")
    return BoundaryBundle({"probe": concept}, fingerprint_for(generator), source="random")


def load_model(args):
    from sceneedit.app.main import default_paths
    from sceneedit.app.worker import read_bundle_for
    from sceneedit.generators import load_generator

    if args.random:
        return random_model(args.random)
    generator_path, bundle_path = (Path(args.generator), Path(args.bundle)) if args.generator else default_paths()
    if not generator_path.is_file():
        sys.exit(f"bench_editor: {generator_path} not found; pass --generator/--bundle or --random RES")
    generator = load_generator(generator_path, device=args.device)
    if args.bundle == "none":  # e.g. an unfinished model no bundle was probed for: time it with a random direction
        return generator, random_bundle(generator)
    bundle, _ = read_bundle_for(bundle_path, generator)
    return generator, bundle


def wait_for_canvas(app, window, timeout_s: float = 120.0) -> None:
    """Run the event loop until the newest frame is on the canvas.

    Blocks inside Qt's event loop (as the real application idles), not in a Python
    busy-wait that would compete with the render thread for the GIL.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    if window.render_idle():
        return
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    window.render_settled.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    try:
        while not window.render_idle():
            if not timer.isActive():
                raise TimeoutError("no frame within the timeout")
            loop.exec()
    finally:
        window.render_settled.disconnect(loop.quit)
        timer.stop()


def raw_synthesize_ms(app, window, generator, wp) -> float:
    """Time one bare ``generator.synthesize`` of ``wp [L, D]`` on the render thread (the
    thread the editor renders on: thread placement changes CPU timings a lot)."""
    import torch

    codes = torch.from_numpy(wp[None]).to(generator.device)

    def timed() -> None:
        with torch.inference_mode():
            image = generator.synthesize(codes)
            if image.device.type == "cuda":
                torch.cuda.synchronize()

    return run_timed(window, timed)


def raw_seed_ms(app, window, generator, seed: int, psi: float) -> float:
    """Time one bare map of ``seed`` and its synthesis on the render thread."""
    import torch

    def timed() -> None:
        with torch.inference_mode():
            codes = generator.map(generator.sample_z(1, seed), truncation_psi=psi)
            image = generator.synthesize(codes, truncation_psi=psi)
            if image.device.type == "cuda":
                torch.cuda.synchronize()

    return run_timed(window, timed)


def run_timed(window, function) -> float:
    """Run ``function()`` on the render thread; its wall time in ms."""
    from PySide6.QtCore import QEventLoop

    def timed(_progress) -> float:
        start = time.perf_counter()
        function()
        return (time.perf_counter() - start) * 1e3

    results = []
    loop = QEventLoop()

    def finished(result) -> None:
        results.append(result)
        loop.quit()

    window.worker.task_finished.connect(finished)
    window.worker.request_task("timed", timed)
    while not results:
        loop.exec()
    window.worker.task_finished.disconnect(finished)
    if results[0].error:
        raise RuntimeError(results[0].error)
    return float(results[0].value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator")
    parser.add_argument("--bundle", help="boundary bundle of --generator, or 'none' for one random direction")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--random", type=int, metavar="RES", help="use a random StyleGAN at this resolution")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--drag-events", type=int, default=100)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from sceneedit.app.window import MainWindow
    from sceneedit.device import describe_device
    from sceneedit.editing.session import EditSession

    generator, bundle = load_model(args)
    app = QApplication.instance() or QApplication([])
    settings = QSettings(
        str(Path(os.environ.get("TMPDIR", "/tmp")) / "sceneedit-bench.ini"), QSettings.Format.IniFormat
    )
    window = MainWindow(settings=settings)
    window.resize(1400, 900)
    window.show()
    window.set_session(EditSession(generator, bundle, seed=1))
    wait_for_canvas(app, window)
    name = bundle.names[0]
    row = window.concepts_dock.rows[name]
    lo, hi = row.value_range

    # 1. Per trial: slider -> canvas latency, then the raw synthesize call on the same
    # code (interleaved, so load changes on a shared machine hit both alike).
    latencies, render_ms, raw = [], [], []
    for value in np.linspace(lo, hi, args.trials + 1)[1:]:
        start = time.perf_counter()
        row.slider.setValue(float(value))
        wait_for_canvas(app, window)
        latencies.append((time.perf_counter() - start) * 1e3)
        render_ms.append(window.last_frame_ms)  # render() time measured in the worker
        raw.append(raw_synthesize_ms(app, window, generator, window.session.current_wp()))

    # 2. Per trial: seed change -> canvas latency (a seed never mapped before, so the code is
    # mapped too), then the raw map + synthesize of another fresh seed on the render thread.
    seed_latencies, seed_raw = [], []
    for trial in range(args.trials):
        start = time.perf_counter()
        window.session.set_seed(100_000 + 2 * trial)
        wait_for_canvas(app, window)
        seed_latencies.append((time.perf_counter() - start) * 1e3)
        seed_raw.append(raw_seed_ms(app, window, generator, 100_001 + 2 * trial, window.session.truncation_psi))

    # 3. A drag at 60 Hz: how many frames render, and the lag after the last event.
    frames_before = window.worker.frames_rendered
    row.slider.setSliderDown(True)
    drag_values = np.linspace(hi, lo, args.drag_events)
    tick = 1.0 / 60.0
    next_time = time.perf_counter()
    for value in drag_values:
        row.slider.setValue(float(value))
        next_time += tick
        while time.perf_counter() < next_time:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 2)
            time.sleep(0.001)  # like an idle event loop, leave the GIL to the render thread
    row.slider.setSliderDown(False)
    last_event = time.perf_counter()
    wait_for_canvas(app, window)
    drag_lag = (time.perf_counter() - last_event) * 1e3
    drag_frames = window.worker.frames_rendered - frames_before
    final_ok = np.array_equal(
        window.canvas.image_array(),
        __import__("sceneedit.render", fromlist=["render"]).render(generator, window.session.state()).image,
    )
    window.close()

    overhead = [a - b for a, b in zip(latencies, raw, strict=True)]
    res = int(generator.resolution)
    device = describe_device(generator.device)
    print(
        f"model: {generator.name} {res}x{res}, {generator.num_layers} layers; device {device}; "
        f"torch threads {torch.get_num_threads()}; Qt platform {app.platformName()}"
    )
    print()
    print("| measure | median ms | p95 ms |")
    print("|---|---:|---:|")
    for text, values in (
        (f"slider → canvas latency ({args.trials} changes)", latencies),
        ("raw `synthesize` on the same code", raw),
        ("`render()` as timed in the worker", render_ms),
        ("editor overhead (latency − raw synthesize, per trial)", overhead),
    ):
        print(f"| {text} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} |")
    seed_overhead = [a - b for a, b in zip(seed_latencies, seed_raw, strict=True)]
    for text, values in (
        (f"seed change → canvas latency ({args.trials} new seeds)", seed_latencies),
        ("raw map + `synthesize` of a new seed", seed_raw),
        ("editor overhead on a seed change (per trial)", seed_overhead),
    ):
        print(f"| {text} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} |")
    print()
    print(
        f"drag of {args.drag_events} events at 60 Hz: {drag_frames} frames rendered, "
        f"last frame {drag_lag:.1f} ms after the last event, final canvas == render(final state): {final_ok}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
