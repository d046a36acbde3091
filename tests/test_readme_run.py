"""Every command block of README.md runs, end to end, as the user would type it.

The README's bash blocks are read line by line; each line must have an entry in ``PLAN`` (a
README command without one fails the suite, and so does a plan entry the README lost). Each
entry says how the line is scaled down for CI (tiny sample counts, tiny training, two torchrun
processes instead of four: appended or replaced flags, never a different command) and checks
what the command promises: files that exist and load, not only an exit code.

The lines run in README order in one working folder holding small files of the same kinds and
names as the README's placeholders (``stylegan_bedroom256_generator.pth`` is a genforce-layout
StyleGAN at 256 px with 512-d codes, tiny channels; ``higan/boundaries/stylegan_bedroom`` holds the
official HiGAN boundary files; ``~/places365`` a Places365 release layout with random weights).
The real entry points run: the ``sceneedit`` console script and ``torchrun``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from model_server import FileServer
from PIL import Image
from stylegan_reference import genforce_stylegan_state
from test_places365 import write_release
from tiny_models import TINY_TRAIN_NETWORK

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HIGAN_BEDROOM = ROOT / "tests" / "fixtures" / "higan-boundaries" / "stylegan_bedroom"
TF_PICKLES = ROOT / "tests" / "fixtures" / "nvidia-tf-pickles"

pytestmark = pytest.mark.slow


def readme_lines() -> list[str]:
    """Each shell command of README's bash blocks (continuations joined, comments and ``&&`` split)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    lines = []
    for block in blocks:
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.split("#", 1)[0].strip()
            lines.extend(" ".join(shlex.split(part)) for part in line.split("&&") if part.strip())
    return lines


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Step:
    """How one README line runs in CI, and what it must have produced."""

    check: Callable[[Path, Result], None] | None = None
    scale: Callable[[list[str]], list[str]] = lambda words: words
    #: Set for a line the suite does not execute itself, with the reason; ``check`` then verifies
    #: the claim of the reason (for example that CI's script runs that very command).
    not_run: str | None = None
    timeout: float = 240.0
    #: How the run differs from the user's (printed with the result).
    note: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


def replace_flag(words: list[str], flag: str, value: str) -> list[str]:
    words = list(words)
    words[words.index(flag) + 1] = value
    return words


PROBE_SCALE = [
    "--chunk-size",
    "16",
    "--batch-size",
    "16",
    "--rescore-samples",
    "2",
    "--k",
    "0.25",
    "--effect-seeds",
    "6",
    "--select-seeds",
    "3",
    "--no-progress",
    "--device",
    "cpu",
]
TINY_TRAIN = [
    *TINY_TRAIN_NETWORK,
    "--recon-batch",
    "2",
    "--recon-warmup-kimg",
    "0",
    "--data",
    "stream",
    "--sample-every",
    "0",
    "--log-every",
    "1",
    "--threads",
    "1",
    "--no-progress",
]


#: Growing the shipped 64 px generator to 128 px: two tiny iterations.
GROW_SCALE = [
    "--batch-size",
    "4",
    "--recon-batch",
    "2",
    "--data",
    "stream",
    "--sample-every",
    "0",
    "--log-every",
    "1",
    "--no-progress",
]


def scaled_probe(words: list[str], num: int = 64) -> list[str]:
    return replace_flag(words, "--num-samples", str(num)) + PROBE_SCALE


def scaled_places365_probe(words: list[str]) -> list[str]:
    # Places365's WideResNet scores 224-px images: fewer samples and moved codes keep it to seconds.
    # No effect matrix here (the world probes below measure one): 224-px scoring of every layer range.
    return replace_flag(replace_flag(scaled_probe(words, num=32), "--rescore-samples", "2"), "--effect-seeds", "0")


def scaled_torchrun(words: list[str]) -> list[str]:
    words = replace_flag(scaled_probe(words), "--nproc_per_node", "2")
    return words[:1] + ["--standalone"] + words[1:]


def scaled_merge(words: list[str]) -> list[str]:
    words = scaled_probe(words)
    start = words.index("--merge") + 1
    return words[:start] + ["runs/s0", "runs/s1"] + words[start + 4 :]


def scaled_invert(words: list[str]) -> list[str]:
    if "--finetune" in words:
        words = replace_flag(words, "--finetune", "5")
    if "--noise-steps" not in words:
        words = words + ["--noise-steps", "5"]
    return words + ["--steps", "5"]


# ----- checks -----------------------------------------------------------------------------------
def inverted(folder: str, delta: bool) -> Callable[[Path, Result], None]:
    def check(work: Path, result: Result) -> None:
        assert result.returncode == 0, result.stderr
        assert "photo.jpg: PSNR" in result.stdout and " s -> " in result.stdout
        out = work / folder
        assert np.load(out / "photo.npy").shape == (10, 256)
        assert Image.open(out / "photo.png").size == (64, 64)
        assert json.loads((out / "photo.recipe.json").read_text())["base"]["wp"]
        assert (out / "photo.delta.safetensors").is_file() == delta

    return check


def ci_script_runs(command: str) -> Callable[[Path, Result], None]:
    def check(_work: Path, _result: Result) -> None:
        script = (ROOT / "scripts" / "test.sh").read_text() + (ROOT / ".ci" / "run").read_text()
        assert command in script, f"CI no longer runs {command!r}"

    return check


def first_frame(_work: Path, result: Result) -> None:
    assert result.returncode == 0, result.stderr
    assert "first frame on the canvas" in result.stdout


def generator_info(_work: Path, result: Result) -> None:
    assert result.returncode == 0, result.stderr
    assert "stylegan" in result.stdout.lower() and "256" in result.stdout and "14" in result.stdout


def synth_samples(work: Path, result: Result) -> None:
    assert result.returncode == 0, result.stderr
    pngs = sorted(p for p in (work / "samples").glob("*.png") if "sheet" not in p.name)
    assert len(pngs) == 16
    image = np.asarray(Image.open(pngs[0]))
    assert image.shape == (256, 256, 3) and image.std() > 0
    assert list((work / "samples").glob("*sheet*.png"))


def higan_bundle(work: Path, result: Result) -> None:
    from sceneedit.semantics.bundle import load_bundle

    assert result.returncode == 0, result.stderr
    bundle = load_bundle(work / "bedroom.safetensors")
    expected = {p.name.removesuffix("_boundary.npy") for p in HIGAN_BEDROOM.glob("*_boundary.npy")}
    assert {c.name for c in bundle} == expected and bundle.generator_fingerprint["num_layers"] == 14


def bundle_listing(_work: Path, result: Result) -> None:
    assert result.returncode == 0, result.stderr
    for concept in (p.name.removesuffix("_boundary.npy") for p in HIGAN_BEDROOM.glob("*_boundary.npy")):
        assert concept in result.stdout


def bundle_with(path: str, concepts: set[str], report: str | None = None) -> Callable[[Path, Result], None]:
    def check(work: Path, result: Result) -> None:
        from sceneedit.semantics.bundle import load_bundle

        assert result.returncode == 0, result.stderr
        bundle = load_bundle(work / path)
        assert concepts <= {c.name for c in bundle}
        for concept in bundle:
            assert np.isfinite(concept.delta_s).all() and concept.layers
        if report:
            assert list((work / report).glob("*.md")) and list((work / report).glob("*.png"))

    return check


def shards(work: Path, result: Result) -> None:
    assert result.returncode == 0, result.stderr + result.stdout
    for rank in (0, 1):
        manifest = json.loads((work / "runs" / f"s{rank}" / "probe.json").read_text())
        assert manifest["num"] == 64 and manifest["shard"] == [rank, 2]
        assert len(list((work / "runs" / f"s{rank}" / "chunks").glob("*.scores.npy"))) == 2


def export_frames(folder: str, seeds: int, frames_per_seed: int) -> Callable[[Path, Result], None]:
    def check(work: Path, result: Result) -> None:
        assert result.returncode == 0, result.stderr
        [manifest_path] = (work / folder).glob("*/manifest.json")
        sequence = manifest_path.parent
        assert json.loads(manifest_path.read_text())["status"] == "complete"
        pngs = list((sequence / "frames").rglob("*.png"))
        assert len(pngs) == seeds * frames_per_seed
        assert len(list(sequence.glob("*.gif"))) == seeds and len(list(sequence.glob("*.mp4"))) == seeds
        assert (sequence / "contact_sheet.png").is_file()
        assert np.asarray(Image.open(pngs[0])).std() > 0

    return check


def trained(iterations: int, run: str = "rooms") -> Callable[[Path, Result], None]:
    def check(work: Path, result: Result) -> None:
        assert result.returncode == 0, result.stderr
        log = (work / "runs" / run / "log.jsonl").read_text().splitlines()
        assert json.loads(log[-1])["iteration"] == iterations

    return check


def portable_checkpoint(work: Path, result: Result) -> None:
    from safetensors import safe_open

    assert result.returncode == 0, result.stderr
    with safe_open(str(work / "grow128.safetensors"), "pt") as handle:
        keys = list(handle.keys())
    assert any(k.startswith("G_ema.") for k in keys) and any(k.startswith("D.") for k in keys)


def exported_generator(work: Path, result: Result) -> None:
    from sceneedit.generators import load_generator

    assert result.returncode == 0, result.stderr
    generator = load_generator(work / "rooms.safetensors", device="cpu")
    assert generator.resolution == 16


def write_places365_release(root: Path) -> None:
    """The Places365 release layout with random weights whose batch norms pass activations through
    unchanged, so that the attribute scores vary from image to image as a trained network's do."""
    write_release(root)
    path = root / "wideresnet18_places365.pth.tar"
    checkpoint = torch.load(path, weights_only=True)
    for key, value in checkpoint["state_dict"].items():
        if ".bn" in key or "downsample.1" in key or key.startswith("module.bn1"):
            value.fill_({"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0}[key.rsplit(".", 1)[1]])
    torch.save(checkpoint, path)


def models_listed(_work: Path, result: Result) -> None:
    assert result.returncode == 0, result.stderr
    for name in ("pggan_bedroom", "stylegan_bedroom", "stylegan2_church", "biggan_deep_256"):
        assert name in result.stdout


def model_in_cache(name: str, fixture: str) -> Callable[[Path, Result], None]:
    def check(work: Path, result: Result) -> None:
        assert result.returncode == 0, result.stderr
        path = Path(result.stdout.strip().splitlines()[-1])
        assert path.is_file() and path.is_relative_to(work / "home")
        assert path.read_bytes() == (TF_PICKLES / fixture).read_bytes()

    return check


def converted(work: Path, result: Result) -> None:
    from sceneedit.generators import load_generator

    assert result.returncode == 0, result.stderr
    original = load_generator(work / "karras2019stylegan-bedrooms-256x256.pkl", device="cpu")
    copy = load_generator(work / "stylegan_bedroom.safetensors", device="cpu")
    wp = original.map(torch.randn(2, original.z_dim, generator=torch.Generator().manual_seed(5)))
    assert torch.allclose(original.synthesize(wp), copy.synthesize(wp), atol=1e-5)


#: The official models' published addresses are outside CI's reach: ``models fetch`` runs as
#: written against a mirror on 127.0.0.1 ($SCENEEDIT_MODELS_MIRROR, documented in the README),
#: serving NVIDIA-written TF pickles (small, random weights) under the official file names.
MIRRORED = "the official address is outside CI's reach; the same command downloads from a mirror on 127.0.0.1"

PLAN: dict[str, Step] = {
    "pip install torch==2.13.0": Step(
        not_run="installs into the environment under test; scripts/test.sh runs it before this suite",
        check=ci_script_runs("pip install -q torch==2.13.0"),
    ),
    "pip install -e .": Step(
        not_run="installs into the environment under test; scripts/test.sh runs it before this suite",
        check=ci_script_runs('pip install -q -e ".[test]"'),
    ),
    "sceneedit": Step(first_frame, lambda w: w + ["--quit-after-first-frame"]),
    "bash scripts/test.sh": Step(
        not_run="this is the suite itself; .ci/run runs it", check=ci_script_runs("bash scripts/test.sh")
    ),
    "sceneedit train --run-dir runs/rooms --minutes 60": Step(
        trained(2), lambda w: w + TINY_TRAIN + ["--iterations", "2"]
    ),
    "sceneedit train --run-dir runs/rooms --resume --minutes 60": Step(
        trained(3), lambda w: w + ["--iterations", "3", "--log-every", "1", "--no-progress"]
    ),
    "sceneedit train --run-dir runs/rooms --export rooms.safetensors": Step(exported_generator),
    "sceneedit --generator rooms.safetensors --quit-after-first-frame": Step(first_frame),
    "sceneedit train --run-dir runs/grow --init-from resources/default_generator.safetensors --resolution 128 "
    "--fade-kimg 20": Step(trained(2, "grow"), lambda w: w + GROW_SCALE + ["--iterations", "2"]),
    "sceneedit train --run-dir runs/grow --export-checkpoint grow128.safetensors": Step(portable_checkpoint),
    "sceneedit train --run-dir runs/moved --resume-from grow128.safetensors": Step(
        trained(3, "moved"), lambda w: w + ["--iterations", "3", "--log-every", "1", "--no-progress"]
    ),
    "sceneedit info stylegan_bedroom256_generator.pth": Step(generator_info),
    "sceneedit synth -g stylegan_bedroom256_generator.pth --seeds 0-15 --out samples/": Step(synth_samples),
    "sceneedit bundle import higan/boundaries/stylegan_bedroom --generator stylegan_bedroom256_generator.pth "
    "--out bedroom.safetensors": Step(higan_bundle),
    "sceneedit bundle info bedroom.safetensors": Step(bundle_listing),
    "sceneedit --generator stylegan_bedroom256_generator.pth --bundle bedroom.safetensors": Step(
        first_frame, lambda w: w + ["--quit-after-first-frame"]
    ),
    "sceneedit models list": Step(models_listed),
    "sceneedit models fetch stylegan2_church": Step(
        model_in_cache("stylegan2_church", "stylegan2-64.pkl"), note=MIRRORED
    ),
    "sceneedit models fetch stylegan_bedroom --from ~/Downloads/karras2019stylegan-bedrooms-256x256.pkl": Step(
        model_in_cache("stylegan_bedroom", "stylegan-64.pkl")
    ),
    "sceneedit --generator stylegan2_church": Step(first_frame, lambda w: w + ["--quit-after-first-frame"]),
    "sceneedit convert karras2019stylegan-bedrooms-256x256.pkl stylegan_bedroom.safetensors": Step(converted),
    "sceneedit probe -g G.pth --predictor places365 --predictor-option root=~/places365 --concepts "
    "indoor_lighting natural_light --num-samples 20000 --out runs/probe --bundle G_places365.safetensors "
    "--report docs/probe": Step(
        bundle_with("G_places365.safetensors", {"indoor_lighting", "natural_light"}, report="docs/probe"),
        scaled_places365_probe,
    ),
    "torchrun --nproc_per_node 4 -m sceneedit probe -g G.pth --num-samples 500000 --shard auto "
    "--out runs/s{rank}": Step(shards, scaled_torchrun),
    "sceneedit probe -g G.pth --num-samples 500000 --merge runs/s0 runs/s1 runs/s2 runs/s3 --out runs/all "
    "--bundle G_bundle.safetensors": Step(
        bundle_with("G_bundle.safetensors", {"camera_yaw", "bedroom", "indoor_lighting"}), scaled_merge
    ),
    "sceneedit bundle merge G_bundle.safetensors G_places365.safetensors --replace --out G_all.safetensors": Step(
        bundle_with("G_all.safetensors", {"camera_yaw", "bedroom", "indoor_lighting", "natural_light"})
    ),
    "sceneedit bundle report G_all.safetensors --out docs/G_all": Step(
        bundle_with("G_all.safetensors", set(), report="docs/G_all")
    ),
    "sceneedit export --sweep indoor_lighting=-3:3 --steps 9 --seeds 0-7 --out out/lighting": Step(
        export_frames("out/lighting", seeds=8, frames_per_seed=9)
    ),
    "sceneedit export --recipe my_edit.json --timeline --seeds 0-3 --out out/timeline": Step(
        export_frames("out/timeline", seeds=4, frames_per_seed=3)
    ),
    "sceneedit export --jitter-layers 0-3 --jitter-seeds 0-15 --seeds 5 --out out/layouts": Step(
        export_frames("out/layouts", seeds=1, frames_per_seed=16)
    ),
    "sceneedit invert photo.jpg --out inverted/": Step(
        inverted("inverted", delta=True), scaled_invert, note="5 code and 5 noise steps instead of the defaults"
    ),
    "sceneedit invert photo.jpg --noise-steps 0 --out plain/": Step(
        inverted("plain", delta=False), scaled_invert, note="5 code steps"
    ),
    "sceneedit export --recipe inverted/photo.recipe.json --sweep indoor_lighting=-2.5:2.5 --out out/photo": Step(
        export_frames("out/photo", seeds=1, frames_per_seed=3), lambda w: w + ["--steps", "3"]
    ),
    "sceneedit invert photo.jpg --finetune 300 --out tuned/": Step(
        inverted("tuned", delta=True), scaled_invert, note="5 code, 5 noise and 5 fine-tune steps"
    ),
}


def test_every_readme_command_has_a_plan_and_every_plan_a_readme_command():
    lines = readme_lines()
    assert [line for line in lines if line not in PLAN] == [], "README commands without a test in PLAN"
    assert [line for line in PLAN if line not in lines] == [], "PLAN entries no longer in the README"


@pytest.fixture(scope="module")
def mirror():
    """The official StyleGAN2 church file name, served over HTTP on 127.0.0.1."""
    body = (TF_PICKLES / "stylegan2-64.pkl").read_bytes()
    with FileServer({"/stylegan2_church/stylegan2-church-config-f.pkl": body}) as server:
        yield server.url


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A user's folder with small files of the kinds and names the README's placeholders have."""
    from sceneedit.editing.recipe import save_recipe
    from sceneedit.editing.session import EditSession
    from sceneedit.generators import load_generator
    from sceneedit.resources import default_bundle_path, default_generator_path
    from sceneedit.semantics.bundle import load_bundle

    work = tmp_path_factory.mktemp("readme")
    (work / "home").mkdir()
    (work / "resources").symlink_to(ROOT / "resources")  # README lines that name the checkout's files
    torch.save(
        genforce_stylegan_state(
            seed=3, resolution=256, z_dim=512, w_dim=512, mapping_layers=2, fmaps_base=2048, fmaps_max=16
        ),
        work / "stylegan_bedroom256_generator.pth",
    )
    # G.pth: the shipped default generator in genforce's .pth layout (a room generator, so that the
    # predictors' concepts vary over a few dozen samples). genforce's mapping layers run at a 0.01
    # learning-rate multiplier, ours at 1: the stored mapping weights and biases scale by 100.
    default_generator = load_generator(default_generator_path(), device="cpu")
    state = {
        key: value * 100 if key.startswith("mapping.dense") else value
        for key, value in default_generator.state_dict().items()
    }
    torch.save(state, work / "G.pth")
    shutil.copytree(HIGAN_BEDROOM, work / "higan" / "boundaries" / "stylegan_bedroom")
    write_places365_release(work / "home" / "places365")
    (work / "home" / "Downloads").mkdir()
    shutil.copy(TF_PICKLES / "stylegan-64.pkl", work / "home" / "Downloads" / "karras2019stylegan-bedrooms-256x256.pkl")
    shutil.copy(TF_PICKLES / "stylegan-64.pkl", work / "karras2019stylegan-bedrooms-256x256.pkl")
    # The recipe a user saves from the editor (File > Save recipe): a seed and two concept moves.
    session = EditSession(default_generator, load_bundle(default_bundle_path()), seed=3)
    session.set_strength("indoor_lighting", 2.0)
    session.set_strength("wall_hue", -1.5)
    save_recipe(session.to_recipe(), work / "my_edit.json")
    # A picture of one's own: a rendered room, not square, as a JPEG.
    from sceneedit.scenes import render_batch

    rooms, _ = render_batch(1, seed=77, resolution=96)
    Image.fromarray(rooms[0][:, 8:88]).save(work / "photo.jpg", quality=92)
    return work


def run_line(line: str, step: Step, work: Path, mirror_url: str) -> Result:
    home = str(work / "home")
    words = [home + w[1:] if w.startswith("~/") else w for w in step.scale(line.split())]  # as the shell does
    # The console scripts pip installed beside this Python (pyenv's shims may not know them yet).
    program = shutil.which(words[0], path=sysconfig.get_path("scripts")) or shutil.which(words[0])
    assert program, f"{words[0]} is not installed: the README's command cannot run"
    env = {
        **os.environ,
        "HOME": home,
        "XDG_CONFIG_HOME": str(work / "home" / ".config"),
        "XDG_CACHE_HOME": str(work / "home" / ".cache"),
        "QT_QPA_PLATFORM": "offscreen",
        "SCENEEDIT_DEVICE": "cpu",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "SCENEEDIT_MODELS_MIRROR": mirror_url,
        **step.extra_env,
    }
    completed = subprocess.run(
        [program, *words[1:]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=step.timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.mark.parametrize("line", readme_lines(), ids=lambda line: line[:70])
def test_readme_command_runs(line, workdir, mirror):
    step = PLAN.get(line)
    assert step is not None, f"no plan for README command {line!r}"
    if step.not_run:
        step.check(workdir, Result(0, "", ""))
        print(f"not run here ({step.not_run}): {line}", file=sys.stderr)
        return
    result = run_line(line, step, workdir, mirror)
    assert step.check is not None
    step.check(workdir, result)
    if step.note:
        print(f"ran with a difference ({step.note}): {line}", file=sys.stderr)
