"""Interrupted jobs: SIGKILL `export`, `probe` and `train` at several points, rerun, compare.

    nice -n 10 python scripts/interrupted_jobs.py --kills 4 --out runs/interrupted

* export: a sweep (PNG frames, GIF, MP4, contact sheet) of a tiny generator is killed after
  k frames are on disk, rerun with the same command, and every PNG/GIF frame file compared
  byte for byte with an uninterrupted run; no hidden partial file may remain.
* probe: killed after k chunks, rerun; every codes/scores chunk compared byte for byte.
* train: a run with a render worker is killed (SIGKILL); the worker must exit and
  ``--resume`` must be accepted (the lock of a dead trainer is free) and continue.

Prints one line per trial and the totals (docs/reliability.md). Exit status 1 on a failure.
"""

from __future__ import annotations

import argparse
import filecmp
import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "SCENEEDIT_DEVICE": "cpu"}
CLI = [sys.executable, "-m", "sceneedit"]


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if p.is_file()) if folder.exists() else []


def _holds_at_least(folder: Path, pattern: str, count: int) -> bool:
    """Whether ``folder`` holds ``count`` or more files matching ``pattern``."""
    return len(_files(folder, pattern)) >= count


def _kill_when(command: list[str], ready, timeout: float = 300) -> bool:
    """Start ``command``; SIGKILL it once ``ready()`` holds. False if it finished first."""
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                process.kill()
                process.wait()
                return True
            time.sleep(0.02)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _run(command: list[str]) -> None:
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")


def setup(folder: Path) -> tuple[Path, Path, Path]:
    sys.path.insert(0, str(REPO / "tests" / "fuzz"))
    import fuzzlib
    import torch

    from sceneedit.generators import save_generator
    from sceneedit.semantics.bundle import save_bundle
    from sceneedit.semantics.predictors import world

    folder.mkdir(parents=True, exist_ok=True)
    generator = save_generator(fuzzlib.tiny_stylegan(), folder / "tiny.safetensors")
    bundle = save_bundle(fuzzlib.tiny_bundle(), folder / "tiny_bundle.safetensors")
    torch.manual_seed(1)
    predictor = world.save_world_predictor(
        world.WorldPredictor(world.WorldNet(world.WorldNetConfig(input_size=32))), folder / "world.safetensors"
    )
    return generator, bundle, predictor


def export_trials(folder: Path, generator: Path, bundle: Path, kills: int) -> list[tuple[str, bool, str]]:
    def command(out: Path) -> list[str]:
        return CLI + [
            "export",
            "-g",
            str(generator),
            "--bundle",
            str(bundle),
            "--sweep",
            "wood=-3:3",
            "--steps",
            "16",
            "--seeds",
            "0-5",
            "--formats",
            "png,gif,mp4,sheet",
            "--batch-size",
            "4",
            "--out",
            str(out),
            "--quiet",
            "--allow-hash-mismatch",
        ]

    reference = folder / "export_reference"
    _run(command(reference))
    ref_files = {p.relative_to(reference): p for p in _files(reference, "*") if p.suffix in (".png", ".gif")}
    trials = []
    for k in range(kills):
        out = folder / f"export_killed_{k}"
        threshold = 4 + k * 20
        killed = _kill_when(command(out), functools.partial(_holds_at_least, out, "*.png", threshold))
        _run(command(out))
        files = {p.relative_to(out): p for p in _files(out, "*") if p.suffix in (".png", ".gif")}
        same = files.keys() == ref_files.keys() and all(
            filecmp.cmp(files[name], ref_files[name], shallow=False) for name in files
        )
        hidden = [p.name for p in _files(out, ".*") if "partial" in p.name or p.name.endswith(".tmp")]
        mp4 = len(_files(out, "*.mp4")) == len(_files(reference, "*.mp4"))
        ok = same and not hidden and mp4
        trials.append(
            (
                f"export killed after >= {threshold} frames" + ("" if killed else " (finished first)"),
                ok,
                f"{len(files)} PNG/GIF files identical={same}, MP4s={mp4}, hidden partial files={hidden}",
            )
        )
    return trials


def probe_trials(folder: Path, generator: Path, predictor: Path, kills: int) -> list[tuple[str, bool, str]]:
    def command(out: Path) -> list[str]:
        return CLI + [
            "probe",
            "--generator",
            str(generator),
            "--predictor",
            "world",
            "--predictor-option",
            f"path={predictor}",
            "--num",
            "1200",
            "--chunk-size",
            "100",
            "--batch-size",
            "50",
            "--k",
            "200",
            "--rescore-samples",
            "8",
            "--no-progress",
            "--device",
            "cpu",
            "--concepts",
            "camera_yaw",
            "bedroom",
            "--out",
            str(out),
        ]

    reference = folder / "probe_reference"
    _run(command(reference))
    ref_chunks = {p.relative_to(reference): p for p in _files(reference, "*.npy")}
    trials = []
    for k in range(kills):
        out = folder / f"probe_killed_{k}"
        threshold = 1 + 3 * k
        killed = _kill_when(command(out), functools.partial(_holds_at_least, out, "*.npy", threshold))
        _run(command(out))
        chunks = {p.relative_to(out): p for p in _files(out, "*.npy")}
        same = chunks.keys() == ref_chunks.keys() and all(
            filecmp.cmp(chunks[name], ref_chunks[name], shallow=False) for name in chunks
        )
        hidden = [p.name for p in _files(out, ".*") if "partial" in p.name]
        trials.append(
            (
                f"probe killed after >= {threshold} chunk files" + ("" if killed else " (finished first)"),
                same and not hidden,
                f"{len(chunks)} .npy files identical={same}, hidden partial files={hidden}",
            )
        )
    return trials


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def train_trials(folder: Path, kills: int) -> list[tuple[str, bool, str]]:
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_models import TINY_TRAIN_NETWORK  # the test suite's tiny network: trains in seconds

    base = [
        *TINY_TRAIN_NETWORK,
        "--sample-every",
        "0",
        "--threads",
        "1",
        "--log-every",
        "1",
        "--no-progress",
        "--data",
        "pool",
        "--pool-size",
        "8",
        "--data-workers",
        "1",
        "--checkpoint-every",
        "2",
    ]
    trials = []
    for k in range(kills):
        run = folder / f"train_{k}"
        command = [
            sys.executable,
            "-m",
            "sceneedit.training.gan",
            "--run-dir",
            str(run),
            *base,
            "--iterations",
            "100000",
        ]
        process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = run / "log.jsonl"
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().count("\n") >= 3 + k) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(process.pid)
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        orphans = [w for w in workers if _alive(w)]
        for w in orphans:
            os.kill(w, signal.SIGKILL)
        resume = subprocess.run(
            [
                sys.executable,
                "-m",
                "sceneedit.training.gan",
                "--run-dir",
                str(run),
                "--resume",
                "--iterations",
                "8",
                "--no-progress",
            ],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        ok = not orphans and bool(workers) and resume.returncode == 0
        trials.append(
            (
                f"train SIGKILLed after {3 + k} logged iterations",
                ok,
                f"workers {len(workers)}, orphans {len(orphans)}, resume exit {resume.returncode}"
                + ("" if resume.returncode == 0 else f": {resume.stderr.strip()[-200:]}"),
            )
        )
    return trials


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=4, help="kill points per job (default 4)")
    parser.add_argument("--out", type=Path, default=Path("runs/interrupted"))
    parser.add_argument("--jobs", default="export,probe,train")
    args = parser.parse_args()
    generator, bundle, predictor = setup(args.out)
    trials = []
    jobs = args.jobs.split(",")
    if "export" in jobs:
        trials += export_trials(args.out, generator, bundle, args.kills)
    if "probe" in jobs:
        trials += probe_trials(args.out, generator, predictor, args.kills)
    if "train" in jobs:
        trials += train_trials(args.out, args.kills)
    for name, ok, detail in trials:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
    failed = sum(not ok for _, ok, _ in trials)
    print(f"{len(trials)} interrupted jobs, {len(trials) - failed} resumed correctly, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
