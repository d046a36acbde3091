"""A deterministic fuzzer for every file kind sceneedit reads.

For each *kind* a tiny valid base file is built once; mutant ``i`` of a kind is derived from
it by a seeded mutation (bit flips, truncation, insertions, JSON/manifest edits, dtype and
shape edits, NaN/Inf, huge declared sizes, deep nesting, shared-reference fan-outs) and fed
to the same reader the CLI and the editor call. Each mutant runs in a process forked from a
warm parent, with a wall-clock limit, an address-space cap and its peak memory measured, and
ends in exactly one outcome:

* ``accepted``   -- read, and everything it yields is finite (a generator renders finite pixels);
* ``clean``      -- one user error (:func:`sceneedit.errors.is_user_error`) naming the file;
* ``traceback``  -- any other exception, or a user error that does not name the file;
* ``garbage``    -- read, but it yields non-finite values;
* ``hang``       -- past the time limit;  ``memory`` -- past the memory limit;
* ``crash``      -- the process died (signal).

Only the first two are acceptable. Used by ``tests/fuzz/test_fuzz_files.py`` (a few hundred
mutants per kind) and ``scripts/fuzz_files.py`` (the larger run).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import resource
import select
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
from tiny_models import TINY_STYLEGAN as TINY  # noqa: E402
from tiny_models import tiny_stylegan  # noqa: E402

OUTCOMES = ("accepted", "clean", "traceback", "garbage", "hang", "memory", "crash")
GOOD = ("accepted", "clean")
#: Peak memory a mutant may add to the process (MB) and its address-space headroom.
MEMORY_LIMIT_MB = 300
ADDRESS_HEADROOM_MB = 1536
TIME_LIMIT_S = 10.0
MAX_MESSAGE = 2000

NUM_LAYERS, W_DIM = 6, 32  # of the tiny StyleGAN every non-generator kind is read against


# ----- base files ------------------------------------------------------------------------------------
def unit_rows(rows: int, seed: int, dim: int = W_DIM) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def tiny_bundle():
    from sceneedit.semantics.bundle import fingerprint_for
    from sceneedit.semantics.concepts import BoundaryBundle, Concept

    concepts = {
        "view": Concept(
            "view",
            unit_rows(1, 0).astype(np.float32),
            [0, 1],
            level="layout",
            space="w",
            delta_s=[0.3, 0.2, 0.01, 0.0, 0.0, 0.0],
            delta_s_all=0.4,
            accuracy=0.9,
            num_samples=100,
            predictor="world",
        ),
        "wood": Concept("wood", unit_rows(NUM_LAYERS, 1).astype(np.float32), [3, 4, 5], level="attributes", space="wp"),
    }
    return BoundaryBundle(
        concepts=concepts, generator_fingerprint=fingerprint_for(tiny_stylegan(name="tiny", frozen=True)), source="fuzz"
    )


def _save_npy_object(path: Path, value: Any) -> None:
    array = np.empty((), dtype=object)
    array[()] = value
    np.save(path, array, allow_pickle=True)


def build_base(kind: str, folder: Path) -> Path:
    """Write the valid base file (or folder) of ``kind`` into ``folder``; returns its path."""
    from sceneedit.generators import save_generator

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "generator":
        return save_generator(tiny_stylegan(name="tiny", frozen=True), folder / "base.safetensors")
    if kind == "genforce_pth":
        path = folder / "stylegan_base.pth"
        torch.save(dict(tiny_stylegan(name="tiny", frozen=True).state_dict()), path)
        return path
    if kind == "nvidia_pkl":
        from test_stylegan2 import nvidia_state, write_nvidia_pickle

        path = folder / "network-snapshot.pkl"
        write_nvidia_pickle(path, nvidia_state(), "class Generator: pass\n")
        return path
    if kind == "rosinality_pt":
        from test_stylegan2 import W_DIM as ROS_W
        from test_stylegan2 import rosinality_state

        path = folder / "stylegan2-tiny.pt"
        torch.save({"g_ema": rosinality_state(), "latent_avg": torch.randn(ROS_W)}, path)
        return path
    if kind == "biggan_folder":
        from test_biggan import write_biggan

        return write_biggan(folder / "biggan-deep-tiny", legacy=False)
    if kind == "bundle":
        from sceneedit.semantics.bundle import save_bundle

        return save_bundle(tiny_bundle(), folder / "base_bundle.safetensors")
    if kind == "higan_plain_npy":
        path = folder / "wall_boundary.npy"
        np.save(path, unit_rows(NUM_LAYERS, 2)[None])  # HiGAN's layer-wise [1, L, D]
        return path
    if kind == "higan_dict_npy":
        path = folder / "indoor_lighting_boundary.npy"
        _save_npy_object(
            path,
            {
                "boundary": unit_rows(1, 3),
                "meta_data": {"manipulate_layers": "2-4", "type": "attribute", "accuracy": 0.9, "name": "lighting"},
            },
        )
        return path
    if kind == "interfacegan_npy":
        path = folder / "stylegan_smile_w_boundary.npy"
        np.save(path, unit_rows(1, 4).astype(np.float32))
        return path
    if kind == "lxd_npy":
        path = folder / "layerwise_boundary.npy"
        np.save(path, unit_rows(NUM_LAYERS, 5).astype(np.float32))
        return path
    if kind == "recipe":
        from sceneedit.editing.session import EditSession

        session = EditSession(tiny_stylegan(name="tiny", frozen=True), tiny_bundle(), seed=3)
        session.set_strength("wood", 1.5)
        session.set_layers("wood", [2, 3])
        session.set_jitter(enabled=True, layers=[4, 5], strength=0.3)
        path = folder / "base_recipe.json"
        session.save_recipe(path)
        return path
    if kind == "code_npy":
        path = folder / "code.npy"
        np.save(path, np.random.default_rng(6).standard_normal((NUM_LAYERS, W_DIM)).astype(np.float32))
        return path
    if kind == "delta":  # fitted noise maps plus one tuned weight of the tiny generator
        from sceneedit.generators.fingerprint import generator_fingerprint
        from sceneedit.inversion.finetune import GeneratorDelta
        from sceneedit.inversion.noise import noise_buffers

        generator, _ = _context_generator()
        gen = torch.Generator().manual_seed(9)
        tensors = {n: 0.5 * torch.randn(b.shape, generator=gen) for n, b in list(noise_buffers(generator).items())[-2:]}
        name, weight = next((n, w) for n, w in generator.named_parameters() if n.startswith("synthesis."))
        tensors[name] = 0.01 * torch.randn(weight.shape, generator=gen)
        return GeneratorDelta(tensors, generator_fingerprint(generator)).save(folder / "photo.delta.safetensors")
    if kind == "image_png":  # RGBA: the loader composites transparency over white
        from PIL import Image

        path = folder / "photo.png"
        pixels = np.random.default_rng(7).integers(0, 256, (40, 48, 4), dtype=np.uint8)
        Image.fromarray(pixels, "RGBA").save(path)
        return path
    if kind == "image_jpeg":  # grayscale: the loader repeats it onto RGB
        from PIL import Image

        path = folder / "photo.jpg"
        pixels = np.random.default_rng(8).integers(0, 256, (36, 52), dtype=np.uint8)
        Image.fromarray(pixels, "L").save(path, quality=90)
        return path
    raise KeyError(kind)


KINDS = (
    "generator",
    "genforce_pth",
    "nvidia_pkl",
    "rosinality_pt",
    "biggan_folder",
    "bundle",
    "higan_plain_npy",
    "higan_dict_npy",
    "interfacegan_npy",
    "lxd_npy",
    "recipe",
    "code_npy",
    "image_png",
    "image_jpeg",
    "delta",
)


# ----- readers: what the CLI and the editor call ----------------------------------------------------
def _check_generator(generator) -> str:
    from sceneedit.generators.base import GeneratorError, to_uint8_images

    generator.describe()
    w_avg = generator.w_avg
    if w_avg is not None and not bool(torch.isfinite(w_avg).all()):
        return "garbage"
    with torch.inference_mode():
        wp = generator.map(generator.sample_z(1, 0))
        if not bool(torch.isfinite(wp).all()):
            return "garbage"
        image = generator.synthesize(wp)
    try:
        to_uint8_images(image)
    except GeneratorError:
        return "refused-render"  # a clear error at render time, never a black PNG
    return "accepted"


_CONTEXT: dict[str, Any] = {}


def _context_generator():
    if "generator" not in _CONTEXT:
        _CONTEXT["generator"] = tiny_stylegan(name="tiny", frozen=True)
        _CONTEXT["bundle"] = tiny_bundle()
    return _CONTEXT["generator"], _CONTEXT["bundle"]


def read_generator(path: Path) -> str:
    from sceneedit.generators import load_generator

    return _check_generator(load_generator(path, device="cpu"))


def read_bundle(path: Path) -> str:
    from sceneedit.semantics.bundle import check_compatible, load_bundle

    bundle = load_bundle(path)
    generator, _ = _context_generator()
    for concept in bundle:
        if not np.all(np.isfinite(concept.normal)):
            return "garbage"
    try:
        check_compatible(bundle, generator, allow_hash_mismatch=True)
    except ValueError as exc:  # a clean refusal of a bundle for another generator
        if path.name not in str(exc) and "bundle" not in str(exc):
            raise
    return "accepted"


def read_boundary(path: Path) -> str:
    from sceneedit.semantics.importers import import_array

    bundle = import_array(path, num_layers=NUM_LAYERS)
    for concept in bundle:
        if not np.all(np.isfinite(concept.normal)):
            return "garbage"
    return "accepted"


def read_recipe(path: Path) -> str:
    from sceneedit.editing.recipe import load_recipe
    from sceneedit.editing.session import EditSession
    from sceneedit.render import render

    generator, bundle = _context_generator()
    recipe = load_recipe(path)
    session = EditSession.from_recipe(recipe, generator, bundle, source=str(path), allow_hash_mismatch=True)
    result = render(generator, session.state())
    if result.error is not None:
        return "refused-render" if "NaN or infinite" in result.error or "code" in result.error else "garbage"
    return "accepted" if np.all(np.isfinite(result.wp)) else "garbage"


def read_code(path: Path) -> str:
    from sceneedit.commands.synth import load_codes as synth_codes
    from sceneedit.export import load_codes as export_codes

    generator, _ = _context_generator()
    arrays = [export_codes(path, generator), synth_codes(path, generator)[0].numpy()]
    from sceneedit.editing.codes import read_code as editor_code  # the editor's Load code

    try:
        arrays.append(editor_code(path, NUM_LAYERS, W_DIM))
    except ValueError as exc:
        if path.name not in str(exc):
            raise
    return "accepted" if all(np.all(np.isfinite(a)) for a in arrays) else "garbage"


def read_image(path: Path) -> str:
    """What ``sceneedit invert`` and the editor's Open image read first."""
    from sceneedit.inversion.images import load_image_for_inversion

    image = load_image_for_inversion(path, TINY["resolution"])
    ok = image.shape == (TINY["resolution"], TINY["resolution"], 3) and image.dtype == np.uint8
    return "accepted" if ok else "garbage"


def read_delta(path: Path) -> str:
    """What replaying an inverted picture's recipe or code reads beside it: the generator delta."""
    from sceneedit.inversion.finetune import GeneratorDelta, apply_delta

    generator, _ = _context_generator()
    tuned = apply_delta(generator, GeneratorDelta.load(path))
    return _check_generator(tuned)


def _png_with_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG ``data`` with its IHDR declaring ``width`` x ``height`` (CRC fixed, so it parses)."""
    import struct
    import zlib

    start = data.index(b"IHDR")
    ihdr = bytearray(data[start : start + 17])
    ihdr[4:12] = struct.pack(">II", width, height)
    return data[:start] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + data[start + 21 :]


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG ``data`` with its baseline frame header (SOF0) declaring ``width`` x ``height``."""
    import struct

    start = data.index(b"\xff\xc0") + 5
    return data[:start] + struct.pack(">HH", height, width) + data[start + 4 :]


def mutate_image(path: Path, base: Path, rng: random.Random) -> None:
    data = base.read_bytes()
    if rng.random() < 0.3:  # a small file declaring a huge, empty or odd picture
        width, height = rng.choice(
            [
                (0, 40),
                (48, 0),
                (65535, 65535),
                (20000, 20000),
                (12000, 12000),
                (1, 100000),
                (100000, 1),
                (2**31 - 1, 2),
                (4097, 4097),
            ]
        )
        if base.suffix == ".png":
            data = _png_with_size(data, width, height)
        else:
            data = _jpeg_with_size(data, min(width, 65535), min(height, 65535))
    else:
        data = mutate_bytes(data, rng)
    path.write_bytes(data)


READERS: dict[str, Callable[[Path], str]] = {
    "generator": read_generator,
    "genforce_pth": read_generator,
    "nvidia_pkl": read_generator,
    "rosinality_pt": read_generator,
    "biggan_folder": read_generator,
    "bundle": read_bundle,
    "higan_plain_npy": read_boundary,
    "higan_dict_npy": read_boundary,
    "interfacegan_npy": read_boundary,
    "lxd_npy": read_boundary,
    "recipe": read_recipe,
    "code_npy": read_code,
    "image_png": read_image,
    "image_jpeg": read_image,
    "delta": read_delta,
}


# ----- mutations ---------------------------------------------------------------------------------------
def _deep_json(rng: random.Random) -> str:
    depth = rng.choice([100, 1000, 100_000])
    return "[" * depth + "]" * depth


#: Replacement values for JSON edits: wrong types, extremes, nesting (as JSON text).
JSON_VALUES = [
    "null",
    "true",
    "-1",
    "0",
    "1e308",
    "-1e308",
    "1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 5000,
    '"x"',
    '"' + "a" * 100_000 + '"',
    "[]",
    "{}",
    "[99]",
    '{"a": 1}',
    "1048576",
    "4294967296",
    "[[1, 2], [3]]",
    '"0-50000000"',
    "0.5",
    "[1e308, 1e308]",
]


def _json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths.extend(_json_paths(item, prefix + (key,)))
    elif isinstance(value, list):
        for i, item in enumerate(value[:8]):
            paths.extend(_json_paths(item, prefix + (i,)))
    return paths


def mutate_json_text(text: str, rng: random.Random) -> str:
    """A structural edit of a JSON document: replace, delete or add a value somewhere."""
    doc = json.loads(text)
    paths = [p for p in _json_paths(doc) if p]
    marker = '"__FUZZ__"'
    op = rng.random()
    if not paths or op < 0.1:
        return _deep_json(rng) if rng.random() < 0.5 else rng.choice(JSON_VALUES)
    path = rng.choice(paths)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if op < 0.25 and isinstance(parent, dict):
        del parent[path[-1]]
        return json.dumps(doc)
    if op < 0.35 and isinstance(parent, list):
        parent.append(parent[path[-1]])
        return json.dumps(doc)
    parent[path[-1]] = "__FUZZ__"
    replacement = _deep_json(rng) if rng.random() < 0.1 else rng.choice(JSON_VALUES)
    return json.dumps(doc).replace(marker, replacement, 1)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """A generic byte-level mutation: bit flips, truncation, insertion, deletion, overwrite."""
    data = bytearray(data)
    op = rng.randrange(6)
    if op == 0 or len(data) < 4:
        for _ in range(rng.choice([1, 1, 2, 4, 8, 32])):
            if data:
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        data = data[: rng.randrange(len(data))]
    elif op == 2:
        i = rng.randrange(len(data))
        data[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 16, 256])))
    elif op == 3:
        i = rng.randrange(len(data))
        del data[i : i + rng.choice([1, 8, 64, 1024])]
    elif op == 4:
        i = rng.randrange(len(data))
        n = rng.choice([4, 8, 16])
        data[i : i + n] = rng.choice([b"\xff", b"\x00", b"\x7f"]) * n
    else:
        i = rng.randrange(len(data))
        data[i:i] = data[max(0, i - 64) : i]
    return bytes(data)


def _safetensors_parts(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _safetensors_join(header: dict | str, body: bytes) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def mutate_safetensors(data: bytes, rng: random.Random) -> bytes:
    """Header-aware edits: dtype, shape (huge too), offsets, metadata JSON, NaN/Inf data."""
    header, body = _safetensors_parts(data)
    names = [k for k in header if k != "__metadata__"]
    op = rng.randrange(7)
    name = rng.choice(names)
    info = header[name]
    if op == 0:
        info["dtype"] = rng.choice(["F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "C64", "XX"])
    elif op == 1:
        shape = list(info["shape"])
        choice = rng.randrange(4)
        if choice == 0 and shape:
            shape[rng.randrange(len(shape))] = rng.choice([0, 1, 2**31, 2**62, 10**12])
        elif choice == 1:
            shape.append(rng.choice([1, 2, 2**40]))
        elif choice == 2 and shape:
            shape.pop()
        else:
            shape = [rng.choice([1, 3, 2**33])] * rng.randrange(1, 6)
        info["shape"] = shape
    elif op == 2:
        lo, hi = info["data_offsets"]
        info["data_offsets"] = rng.choice([[lo, hi + 4], [lo + 4, hi], [0, 2**62], [hi, lo], [lo, lo]])
    elif op in (3, 4) and "__metadata__" in header:
        meta = header["__metadata__"]
        key = rng.choice(list(meta))
        try:
            meta[key] = mutate_json_text(meta[key], rng)
        except (ValueError, RecursionError):
            meta[key] = _deep_json(rng)
    else:  # NaN / Inf / huge finite values into a float tensor's bytes
        floats = [k for k in names if header[k]["dtype"] == "F32"]
        if floats:
            lo, hi = header[rng.choice(floats)]["data_offsets"]
            body = bytearray(body)
            value = rng.choice([float("nan"), float("inf"), float("-inf"), 3e38, 1e30])
            for _ in range(rng.choice([1, 4])):
                if hi - lo >= 4:
                    i = lo + 4 * rng.randrange((hi - lo) // 4)
                    body[i : i + 4] = struct.pack("<f", value)
            body = bytes(body)
    return _safetensors_join(header, body)


def _mutate_state_dict(state: dict, rng: random.Random) -> dict:
    """Structured edits of a loaded torch state (or wrapper): NaN/Inf, shapes, dtypes, layouts."""
    holder = state
    for key in ("g_ema", "generator_smooth", "generator"):
        if isinstance(state.get(key), dict):
            holder = state[key]
    tensors = [k for k, v in holder.items() if isinstance(v, torch.Tensor)]
    key = rng.choice(tensors)
    tensor = holder[key]
    op = rng.randrange(10)
    if op == 0 and tensor.is_floating_point() and tensor.numel():
        tensor = tensor.clone()
        tensor.view(-1)[rng.randrange(tensor.numel())] = rng.choice([float("nan"), float("inf"), -float("inf"), 3e38])
    elif op == 1:
        tensor = torch.ones(1).expand(rng.choice([1 << 20, 1 << 28, 1 << 34]))
    elif op == 2:
        shape = list(tensor.shape) or [1]
        shape[rng.randrange(len(shape))] += rng.choice([-1, 1, 7])
        tensor = torch.zeros([max(s, 0) for s in shape])
    elif op == 3:
        tensor = tensor.to(rng.choice([torch.int64, torch.bool, torch.float16, torch.complex64, torch.uint8]))
    elif op == 4 and tensor.ndim >= 1:
        tensor = tensor.to_sparse()
    elif op == 5:
        del holder[key]
        return state
    elif op == 6:
        holder[key + rng.choice([".x", "_extra"])] = tensor
    elif op == 7:
        tensor = rng.choice([[1, 2, 3], "text", 7, None, {"nested": {"deeper": [1]}}])
    elif op == 8:
        tensor = tensor.reshape(-1) if tensor.ndim > 1 else tensor.reshape(1, -1)
    else:
        tensor = tensor.t() if tensor.ndim == 2 else tensor.flip(0) if tensor.ndim else tensor
    holder[key] = tensor
    return state


def mutate_torch_file(path: Path, base: Path, rng: random.Random) -> None:
    if rng.random() < 0.45:
        path.write_bytes(mutate_bytes(base.read_bytes(), rng))
        return
    state = torch.load(base, map_location="cpu", weights_only=True)
    torch.save(_mutate_state_dict(state, rng), path)


def mutate_nvidia(path: Path, base: Path, rng: random.Random) -> None:
    if rng.random() < 0.6:
        path.write_bytes(mutate_bytes(base.read_bytes(), rng))
        return
    from test_stylegan2 import nvidia_state, write_nvidia_pickle

    flat = _mutate_state_dict(dict(nvidia_state()), rng)
    flat = {
        k: v
        for k, v in flat.items()  # the writer copies tensors: no huge expanded views
        if isinstance(v, torch.Tensor) and v.layout == torch.strided and v.numel() < 1 << 20
    }
    try:
        write_nvidia_pickle(path, flat, "class Generator: pass\n")
    except Exception:  # the writer itself needs some keys: fall back to a byte mutation
        path.write_bytes(mutate_bytes(base.read_bytes(), rng))


def _npy_bytes(header: str, body: bytes) -> bytes:
    raw = header.encode("latin1")
    raw += b" " * (-(10 + len(raw) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + body


NPY_HEADERS = [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), '''}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2) ",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000, 4000000000), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 32), }",
    "{'descr': 'O', 'fortran_order': False, 'shape': (), }",
    "{'descr': '<U10', 'fortran_order': False, 'shape': (6, 32), }",
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
    "{'descr': '<f4', 'fortran_order': True, 'shape': (32, 6), }",
    "{'descr': '<c8', 'fortran_order': False, 'shape': (6, 32), }",
    "{'descr': '<f2', 'fortran_order': False, 'shape': (6, 32), }",
    "{'descr': '|b1', 'fortran_order': False, 'shape': (6, 32), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 32, 1, 1), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 200 + ")" * 200 + ", }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 32), 'extra': __import__('os').system('true')}",
    "{'descr': '>f4', 'fortran_order': False, 'shape': (6, 32), }",
]


def _fan_out(rng: random.Random) -> Any:
    leaf: Any = [1.0] * 8
    for _ in range(rng.choice([6, 12, 20])):
        leaf = [leaf] * 8
    return leaf


def mutate_npy(path: Path, base: Path, rng: random.Random, kind: str) -> None:
    data = base.read_bytes()
    op = rng.random()
    if op < 0.35:
        path.write_bytes(mutate_bytes(data, rng))
        return
    if op < 0.55:
        from sceneedit.semantics.safe_npy import load_npy_array, load_npy_untrusted

        value = load_npy_untrusted(base) if kind == "higan_dict_npy" else load_npy_array(base)
        body = np.asarray(value if isinstance(value, np.ndarray) else np.zeros((6, 32), np.float32))
        path.write_bytes(_npy_bytes(rng.choice(NPY_HEADERS), body.tobytes()))
        return
    rng_np = np.random.default_rng(rng.randrange(2**32))
    if kind == "higan_dict_npy" and op < 0.85:
        value = {"boundary": unit_rows(1, 3), "meta_data": {"manipulate_layers": "2-4", "type": "attribute"}}
        target = rng.choice(["boundary", "meta", "meta", "top"])
        replacement = rng.choice(
            [
                None,
                "0-50000000",
                "0-" + "9" * 5000,
                "3-" + "9" * 400,
                [1, 2, 99],
                [[1]],
                1e308,
                float("nan"),
                "six",
                {"a": {"b": {}}},
                _fan_out(rng),
                np.full((1, 32), np.nan),
                np.zeros((0, 32)),
                np.zeros((1, 31)),
                np.ones((3, 7, 32)),
                np.array(["x"] * 32),
                "x" * 100_000,
                np.full((1, 32), 1e308),
                np.zeros((1, 32)),
            ]
        )
        if target == "boundary":
            value["boundary"] = replacement
        elif target == "meta":
            value["meta_data"][rng.choice(["manipulate_layers", "type", "name", "deep"])] = replacement
        else:
            value = rng.choice(
                [
                    {"meta_data": {}},
                    [1, 2],
                    "boundary",
                    {"boundary": value, "meta_data": [1]},
                    {"boundary": unit_rows(1, 3), "meta_data": _fan_out(rng)},
                ]
            )
        _save_npy_object(path, value)
        return
    array = unit_rows(1, 3) if kind == "higan_dict_npy" else np.load(base, allow_pickle=False)
    choice = rng.randrange(8)
    if choice == 0:
        array = array.copy()
        array.flat[rng.randrange(array.size)] = rng.choice([np.nan, np.inf, -np.inf])
    elif choice == 1:
        array = array.astype(rng.choice([np.float16, np.float64, np.int32, np.uint8, np.bool_, np.complex64]))
    elif choice == 2:
        array = array.reshape(-1)[: rng.randrange(1, array.size)]
    elif choice == 3:
        array = np.zeros(rng.choice([(0, 32), (1, 0), (NUM_LAYERS + 1, W_DIM), (2, NUM_LAYERS, W_DIM), (1, 1, 1, 32)]))
    elif choice == 4:
        array = array * rng.choice([0.0, 1e30, 3e38, -1e-40])
    elif choice == 5:
        array = rng_np.standard_normal(array.shape[::-1])
    elif choice == 6:
        array = np.asfortranarray(rng_np.standard_normal(array.shape))
    else:
        array = np.full(array.shape, 1e308)
    np.save(path, array)


def mutate_recipe(path: Path, base: Path, rng: random.Random) -> None:
    text = base.read_text()
    if rng.random() < 0.25:
        path.write_bytes(mutate_bytes(text.encode(), rng))
        return
    path.write_text(mutate_json_text(text, rng))


def mutate_biggan(folder: Path, base: Path, rng: random.Random) -> None:
    import shutil

    shutil.copytree(base, folder)
    if rng.random() < 0.5:
        config = folder / "config.json"
        text = config.read_text()
        config.write_text(
            mutate_json_text(text, rng) if rng.random() < 0.8 else mutate_bytes(text.encode(), rng).decode("latin1")
        )
    else:
        mutate_torch_file(folder / "pytorch_model.bin", base / "pytorch_model.bin", rng)


def make_mutant(kind: str, base: Path, work: Path, seed: int, index: int) -> Path:
    """Write mutant ``index`` of ``kind`` (deterministic in ``seed`` and ``index``) into ``work``."""
    rng = random.Random(f"{kind}/{seed}/{index}")
    path = work / base.name
    if kind == "biggan_folder":
        mutate_biggan(path, base, rng)
    elif kind in ("generator", "bundle", "delta"):
        data = base.read_bytes()
        path.write_bytes(mutate_safetensors(data, rng) if rng.random() < 0.65 else mutate_bytes(data, rng))
    elif kind in ("genforce_pth", "rosinality_pt"):
        mutate_torch_file(path, base, rng)
    elif kind == "nvidia_pkl":
        mutate_nvidia(path, base, rng)
    elif kind in ("higan_plain_npy", "higan_dict_npy", "interfacegan_npy", "lxd_npy", "code_npy"):
        mutate_npy(path, base, rng, kind)
    elif kind == "recipe":
        mutate_recipe(path, base, rng)
    elif kind in ("image_png", "image_jpeg"):
        mutate_image(path, base, rng)
    else:
        raise KeyError(kind)
    return path


# ----- running one case in a child process ---------------------------------------------------------------
@dataclass
class Result:
    kind: str
    index: int
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    peak_mb: float = 0.0


def classify(exc: BaseException, path: Path) -> tuple[str, str]:
    from sceneedit.errors import is_user_error

    text = str(exc)
    short = f"{type(exc).__name__}: {' '.join(text.split())[:300]}"
    if is_user_error(exc) and path.name in text and len(text) <= MAX_MESSAGE:
        if any(word in text for word in ("can't allocate", "DefaultCPUAllocator", "MemoryError")):
            return "memory", short
        return "clean", short
    frames = traceback.format_tb(exc.__traceback__)[-3:]
    return "traceback", short + "\n" + "".join(frames)


def _child(kind: str, base: Path, work: Path, seed: int, index: int, write_fd: int) -> None:
    import warnings

    warnings.simplefilter("ignore")  # overflow warnings of mutated numbers: outcomes say what matters
    outcome, detail = "crash", ""
    start_rss = _status_mb("VmRSS")
    try:
        vm = _vm_size()
        limit = vm + ADDRESS_HEADROOM_MB * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        path = make_mutant(kind, base, work, seed, index)
        try:
            outcome = READERS[kind](path)
            if outcome == "refused-render":
                outcome, detail = "clean", "refused at render: NaN or infinite pixels"
        except BaseException as exc:  # noqa: BLE001 - classifying every outcome is the point
            outcome, detail = classify(exc, path)
    except BaseException as exc:  # noqa: BLE001 - the mutant could not even be written
        outcome, detail = "mutator-error", f"{type(exc).__name__}: {exc}"
    peak = _status_mb("VmHWM") - start_rss
    os.write(write_fd, json.dumps({"outcome": outcome, "detail": detail[:4000], "peak_mb": peak}).encode())
    os._exit(0)


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak resident memory) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def warm_up(kinds: tuple[str, ...] = KINDS) -> None:
    """Import everything the readers use, so forked children start warm and small."""
    import sceneedit.commands.synth  # noqa: F401
    import sceneedit.editing.session  # noqa: F401
    import sceneedit.export  # noqa: F401
    import sceneedit.generators  # noqa: F401
    import sceneedit.render  # noqa: F401
    import sceneedit.semantics.importers  # noqa: F401

    try:
        import sceneedit.app.docks.latent  # noqa: F401
    except ImportError:
        pass
    import tempfile

    torch.set_num_threads(1)
    _context_generator()
    # The first load imports more of torch (seconds): pay it here, once, not in every child.
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("generator", "genforce_pth"):
            read_generator(build_base(kind, Path(folder) / kind))


def run_cases(
    kind: str,
    base: Path,
    indices: list[int],
    work_root: Path,
    seed: int = 0,
    parallel: int = 2,
    time_limit: float = TIME_LIMIT_S,
    memory_limit_mb: float = MEMORY_LIMIT_MB,
) -> list[Result]:
    """Run mutants ``indices`` of ``kind`` (``parallel`` at a time), each in a forked child."""
    import shutil

    results: list[Result] = []
    pending = list(indices)
    running: dict[int, tuple[int, int, float, Path]] = {}  # pid -> (index, read_fd, start, work)
    while pending or running:
        while pending and len(running) < parallel:
            index = pending.pop(0)
            work = work_root / f"{kind}-{index}"
            shutil.rmtree(work, ignore_errors=True)  # left by an interrupted earlier run
            work.mkdir(parents=True, exist_ok=True)
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(kind, base, work, seed, index, write_fd)
            os.close(write_fd)
            running[pid] = (index, read_fd, time.monotonic(), work)
        time.sleep(0.002)
        for pid, (index, read_fd, start, work) in list(running.items()):
            done_pid, status, _usage = os.wait4(pid, os.WNOHANG)
            elapsed = time.monotonic() - start
            if done_pid == 0:
                if elapsed > time_limit:
                    os.kill(pid, signal.SIGKILL)
                    os.wait4(pid, 0)
                    results.append(Result(kind, index, "hang", f"over {time_limit:.0f} s", elapsed))
                    _finish(running, pid, read_fd, work, shutil)
                continue
            payload = b""
            while select.select([read_fd], [], [], 0)[0]:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                payload += chunk
            peak = 0.0
            if payload:
                message = json.loads(payload)
                outcome, detail, peak = message["outcome"], message["detail"], message["peak_mb"]
            else:
                outcome, detail = "crash", f"exit status {status}"
            if outcome in GOOD and peak > memory_limit_mb:
                outcome, detail = "memory", f"peak {peak:.0f} MB over the limit; {detail}"
            results.append(Result(kind, index, outcome, detail, elapsed, max(peak, 0.0)))
            _finish(running, pid, read_fd, work, shutil)
    return sorted(results, key=lambda r: r.index)


def _finish(running, pid, read_fd, work, shutil) -> None:
    os.close(read_fd)
    shutil.rmtree(work, ignore_errors=True)
    del running[pid]


def summarize(results: list[Result]) -> dict[str, int]:
    counts = {outcome: 0 for outcome in OUTCOMES}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return counts


# ----- hostile pickles -------------------------------------------------------------------------------------
def hostile_files(folder: Path, marker: Path) -> list[tuple[str, Path, str]]:
    """``(name, path, reader kind)`` of files that try to run code (touching ``marker``)."""
    folder.mkdir(parents=True, exist_ok=True)
    command = f"touch {marker}"
    files: list[tuple[str, Path, str]] = []

    class Run:
        def __init__(self, func, *args):
            self.func, self.args = func, args

        def __reduce__(self):
            return self.func, self.args

    payloads = {
        "os_system": Run(os.system, command),
        "subprocess": Run(__import__("subprocess").call, ["touch", str(marker)]),
        "builtins_eval": Run(eval, f"__import__('os').system({command!r})"),
        "builtins_exec": Run(exec, f"import os; os.system({command!r})"),
        "nested_in_state_dict": {"synthesis.layer0.const": Run(os.system, command)},
        "builtins_import": Run(__import__, "os"),
    }
    for name, payload in payloads.items():
        for suffix, kind in ((".pkl", "generator"), (".pth", "generator")):
            path = folder / f"{name}{suffix}"
            if suffix == ".pkl":
                path.write_bytes(pickle.dumps(payload, protocol=2))
            else:
                buffer = io.BytesIO()
                try:
                    torch.save(payload, buffer)
                except Exception:
                    continue
                path.write_bytes(buffer.getvalue())
            files.append((f"{name}{suffix}", path, kind))
        path = folder / f"{name}_boundary.npy"
        array = np.empty((), dtype=object)
        array[()] = payload
        with path.open("wb") as handle:
            np.lib.format.write_array(handle, array, allow_pickle=True)
        files.append((f"{name} (.npy)", path, "higan_dict_npy"))
    # Raw opcode pickles: GLOBAL + REDUCE, INST, persistent ids, protocol 0 text.
    raw = {
        "opcode_global_reduce": b"cos\nsystem\n(V" + command.encode() + b"\ntR.",
        "opcode_inst": b"(V" + command.encode() + b"\nios\nsystem\n.",
        "opcode_persid": b"P0\n.",
        "opcode_stack_global": b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c"
        + bytes([len(command)])
        + command.encode()
        + b"\x85R.",
    }
    for name, data in raw.items():
        path = folder / f"{name}.pkl"
        path.write_bytes(data)
        files.append((name, path, "generator"))
        npy = folder / f"{name}_boundary.npy"
        header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
        npy.write_bytes(_npy_bytes(header, data))
        files.append((f"{name} (.npy)", npy, "higan_dict_npy"))
    return files


def run_hostile(folder: Path) -> list[tuple[str, str, str]]:
    """Read every hostile file; returns ``(name, outcome, detail)``. The marker must never appear."""
    marker = folder / "EXECUTED"
    results = []
    for name, path, kind in hostile_files(folder / "files", marker):
        try:
            outcome = READERS[kind](path)
            detail = "accepted!"
        except BaseException as exc:  # noqa: BLE001
            outcome, detail = classify(exc, path)
        if marker.exists():
            outcome, detail = "EXECUTED", "the file ran code"
            marker.unlink()
        results.append((name, outcome, detail))
    return results
