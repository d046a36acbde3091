"""NVIDIA stylegan2-ada-pytorch / stylegan3 ``.pkl`` files, read without running their code.

NVIDIA pickles whole network objects. Each network class is wrapped by
``torch_utils.persistence``, which pickles an object as a call
``_reconstruct_persistent_obj(meta)``; ``meta`` holds the class's *source code*
(``module_src``), its ``class_name`` and the object's ``state`` (its ``__dict__``:
``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``, attributes). NVIDIA's own
loader ``exec``s that source. Ours resolves the global to :func:`_reconstruct_persistent_obj`
below, a stand-in that keeps the state as plain data in a :class:`PersistentObject` and never
looks at the source again. Tensors inside are plain-pickled (``torch._utils._rebuild_tensor_v2``
on storages from ``torch.storage._load_from_bytes``); those resolve to torch's own rebuild
functions with the storage bytes read by ``torch.load(weights_only=True)``. Every other
global is refused by the restricted unpickler.

The ``G_ema`` generator (StyleGAN2, ``training/networks.py``) is then flattened to its
state-dict names and converted to our layout (:mod:`.stylegan2`)::

    mapping.fc{i}.weight / .bias                 -> mapping.dense{i}.fc.weight / .bias
    mapping.w_avg                                -> truncation.w_avg
    synthesis.b4.const [C, 4, 4]                 -> synthesis.early_layer.const [1, C, 4, 4]
    synthesis.b{r}.conv0 / conv1 / torgb         -> synthesis.layer{2b-1} / layer{2b} / output{b}
      .weight [O, I, k, k]                       -> .weight [k, k, I, O]
      .affine.weight / .affine.bias              -> .style.fc.weight / .style.bias (minus 1)
      .noise_const [r, r] / .noise_strength      -> .noise [1, 1, r, r] / .noise_strength

Gain conventions differ: NVIDIA's modulated convs use the raw weight (no ``1/sqrt(fan_in)``;
demodulation cancels it) and its toRGB scales the *styles* by ``1/sqrt(fan_in)``; NVIDIA's
affine bias starts at 1 where genforce adds a constant 1; NVIDIA's upsampling conv is a true
convolution where genforce's TF-order weight is flipped. The conversion accounts for each, so
the same code gives the same image.
"""

from __future__ import annotations

import collections
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import CheckpointError, ForeignFormat
from .safe_unpickle import UnsafePickleError, allow_global
from .state_dicts import find_state_dict, has_keys
from .stylegan2 import build_from_state

PERSISTENCE_MODULE = "torch_utils.persistence"


# ----- safe stand-ins for the globals NVIDIA pickles use --------------------------------------
@dataclass(eq=False)
class PersistentObject:
    """What a ``torch_utils.persistence`` object unpickles to here: its class name and state.

    ``state`` is the object's ``__dict__`` as plain data (nested networks are
    :class:`PersistentObject` s too). The pickled source code is never executed; only its
    length is kept, for diagnostics.
    """

    class_name: str
    state: dict[str, Any] = field(repr=False)
    module_src_chars: int = 0

    def child(self, name: str) -> PersistentObject | None:
        modules = self.state.get("_modules") or {}
        value = modules.get(name)
        return value if isinstance(value, PersistentObject) else None


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """Stand-in for ``torch_utils.persistence._reconstruct_persistent_obj``: data only."""
    if not isinstance(meta, dict):
        raise UnsafePickleError(f"persistent object metadata is a {type(meta).__name__}, not a dict")
    if meta.get("type") != "class":
        raise UnsafePickleError(f"persistent object of type {meta.get('type')!r}; only 'class' is known")
    class_name = meta.get("class_name")
    if not isinstance(class_name, str):
        raise UnsafePickleError("persistent object without a class name")
    state = meta.get("state")
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise UnsafePickleError(f"persistent object {class_name!r} has a {type(state).__name__} state")
    source = meta.get("module_src")
    return PersistentObject(class_name, dict(state), len(source) if isinstance(source, str) else 0)


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access): a plain dict."""


def _load_storage_from_bytes(data: Any) -> Any:
    """Stand-in for ``torch.storage._load_from_bytes``: the bytes are a torch file of one storage."""
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError(f"tensor storage given as {type(data).__name__}, not bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notices
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    if not isinstance(storage, torch.TypedStorage):
        raise UnsafePickleError(f"tensor storage bytes hold a {type(storage).__name__}")
    return storage


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list, torch.Size)) or not all(isinstance(v, int) for v in value):
        raise UnsafePickleError(f"tensor {what} is not a tuple of ints")
    return tuple(value)


def _rebuild_tensor(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: checked arguments, no hooks."""
    if not isinstance(storage, torch.TypedStorage):
        raise UnsafePickleError(f"tensor built on a {type(storage).__name__}, not a typed storage")
    if not isinstance(storage_offset, int):
        raise UnsafePickleError("tensor storage offset is not an int")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False, collections.OrderedDict())


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, state: Any = None):
    """Stand-in for ``torch._utils._rebuild_parameter(_with_state)``: the plain tensor."""
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError(f"parameter built on a {type(data).__name__}, not a tensor")
    return data


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    """Stand-in for ``numpy.dtype``: plain numeric dtypes only (a fresh object, as numpy's)."""
    if not isinstance(spec, str):
        raise UnsafePickleError(f"numpy dtype given as {type(spec).__name__}")
    dtype = np.dtype(spec, align=bool(align), copy=True)
    if dtype.hasobject:
        raise UnsafePickleError(f"numpy dtype {spec!r} holds Python objects")
    return dtype


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """Stand-in for ``numpy.core.multiarray.scalar``: a number read from raw bytes."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise UnsafePickleError("numpy scalar is not a plain number")
    if len(data) != dtype.itemsize:
        raise UnsafePickleError(f"numpy scalar has {len(data)} bytes for dtype {dtype}")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """Stand-in for ``numpy.core.multiarray._reconstruct``: an empty plain ndarray to fill."""
    if subtype is not np.ndarray:
        raise UnsafePickleError("numpy array of a subclass")
    return np.ndarray.__new__(np.ndarray, _int_tuple(shape, "shape"), typecode)


for _module, _name, _stand_in in [
    (PERSISTENCE_MODULE, "_reconstruct_persistent_obj", _reconstruct_persistent_obj),
    ("dnnlib.util", "EasyDict", EasyDict),
    ("torch.storage", "_load_from_bytes", _load_storage_from_bytes),
    ("torch._utils", "_rebuild_tensor_v2", _rebuild_tensor),
    ("torch._utils", "_rebuild_parameter", _rebuild_parameter),
    ("torch._utils", "_rebuild_parameter_with_state", _rebuild_parameter),
    ("numpy", "dtype", _numpy_dtype),
    ("numpy", "ndarray", np.ndarray),
    ("numpy.core.multiarray", "scalar", _numpy_scalar),
    ("numpy._core.multiarray", "scalar", _numpy_scalar),
    ("numpy.core.multiarray", "_reconstruct", _numpy_reconstruct),
    ("numpy._core.multiarray", "_reconstruct", _numpy_reconstruct),
]:
    allow_global(_module, _name, _stand_in)


# ----- from persistent objects to a flat state dict ------------------------------------------
def flatten_module(obj: PersistentObject, path: Path, prefix: str = "") -> dict[str, torch.Tensor]:
    """All parameters and buffers under ``obj``, keyed like ``nn.Module.state_dict()``."""
    tensors: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        entries = obj.state.get(group) or {}
        if not isinstance(entries, dict):
            raise CheckpointError(f"{path}: {prefix or 'network'} has a malformed {group} ({type(entries).__name__})")
        for name, tensor in entries.items():
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointError(f"{path}: key {prefix + str(name)!r} is not a tensor ({type(tensor).__name__})")
            tensors[prefix + str(name)] = tensor
    modules = obj.state.get("_modules") or {}
    if not isinstance(modules, dict):
        raise CheckpointError(f"{path}: {prefix or 'network'} has malformed _modules ({type(modules).__name__})")
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise CheckpointError(
                f"{path}: module {prefix + str(name)!r} is a {type(child).__name__}, not a network object"
            )
        tensors.update(flatten_module(child, path, f"{prefix}{name}."))
    return tensors


def _find(obj: PersistentObject, dotted: str) -> PersistentObject | None:
    for name in dotted.split("."):
        found = obj.child(name)
        if found is None:
            return None
        obj = found
    return obj


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return None


def _pickle_options(g_ema: PersistentObject, path: Path) -> dict[str, Any]:
    """Options the tensors cannot tell: ``conv_clamp`` and the mapping's lr multiplier."""
    options: dict[str, Any] = {}
    synthesis = g_ema.child("synthesis")
    if synthesis is not None and synthesis.child("input") is not None:
        raise CheckpointError(
            f"{path}: G_ema is a StyleGAN3 (alias-free) generator; only StyleGAN2 generators are supported"
        )
    first_layer = _find(g_ema, "synthesis.b4.conv1")
    if first_layer is not None:
        clamp = first_layer.state.get("conv_clamp")
        options["conv_clamp"] = _number(clamp)
        activation = first_layer.state.get("activation", "lrelu")
        if activation != "lrelu":
            raise CheckpointError(f"{path}: synthesis layers use activation {activation!r}; only 'lrelu' is supported")
    fc0 = _find(g_ema, "mapping.fc0")
    if fc0 is not None:
        lr_mul = _number(fc0.state.get("bias_gain"))
        if lr_mul is not None and lr_mul > 0:
            options["mapping_lr_mul"] = lr_mul
        activation = fc0.state.get("activation", "lrelu")
        if activation != "lrelu":
            raise CheckpointError(f"{path}: mapping layers use activation {activation!r}; only 'lrelu' is supported")
    for name, block in (synthesis.state.get("_modules") or {}).items() if synthesis else []:
        if isinstance(block, PersistentObject):
            architecture = block.state.get("architecture", "skip")
            if architecture != "skip":
                raise CheckpointError(
                    f"{path}: block synthesis.{name} uses architecture {architecture!r}; only 'skip' "
                    "(StyleGAN2 config F) is supported"
                )
    return options


# ----- conversion of NVIDIA's state-dict names to ours ---------------------------------------
class _Converter:
    """Collects converted tensors, remembers their source keys, tracks what was used."""

    def __init__(self, source: dict[str, Any], path: Path) -> None:
        self.source = source
        self.path = path
        self.used: set[str] = set()
        self.state: dict[str, torch.Tensor] = {}
        self.names: dict[str, str] = {}

    def take(self, key: str, ndim: int | None = None) -> torch.Tensor:
        if key not in self.source:
            raise CheckpointError(f"{self.path}: missing key {key!r}")
        value = self.source[key]
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{self.path}: key {key!r} is not a tensor ({type(value).__name__})")
        if ndim is not None and value.ndim != ndim:
            raise CheckpointError(f"{self.path}: key {key!r} has shape {list(value.shape)}; expected {ndim} dimensions")
        self.used.add(key)
        return value.detach().float()

    def put(self, ours: str, theirs: str, tensor: torch.Tensor) -> None:
        self.state[ours] = tensor.contiguous()
        self.names[ours] = theirs

    def put_style(self, ours: str, weight_key: str, bias_key: str) -> None:
        """Their style affine layer -> our ``{ours}.style`` (``fc.weight``, ``bias``).

        Both reference layouts initialise that bias to 1; ours stores it minus 1 (genforce
        adds the 1 at run time).
        """
        self.put(f"{ours}.style.fc.weight", weight_key, self.take(weight_key))
        self.put(f"{ours}.style.bias", bias_key, self.take(bias_key) - 1.0)

    def put_mapping(self, layer_name: Callable[[int], str]) -> int:
        """Their dense layers ``layer_name(i)`` (``.weight``, ``.bias``; i = 0, 1, ... while
        present) -> our ``mapping.dense{i}``; returns how many. None at all: missing-key error."""
        count = 0
        while f"{layer_name(count)}.weight" in self.source:
            theirs = layer_name(count)
            self.put(f"mapping.dense{count}.fc.weight", f"{theirs}.weight", self.take(f"{theirs}.weight", ndim=2))
            self.put(f"mapping.dense{count}.bias", f"{theirs}.bias", self.take(f"{theirs}.bias"))
            count += 1
        if count == 0:
            self.take(f"{layer_name(0)}.weight")
        return count

    def fir(self, key: str) -> torch.Tensor:
        """NVIDIA's filter (sum 1, applied flipped with gain 4) as our correlation kernel."""
        f = self.take(key)
        if f.ndim == 1:
            f = torch.outer(f, f)
        if f.shape != (4, 4):
            raise CheckpointError(f"{self.path}: key {key!r} has shape {list(f.shape)}; expected a 4-tap filter")
        return (f * 4.0).flip(0, 1).reshape(1, 1, 4, 4)

    def leftovers(self) -> list[str]:
        return [k for k in self.source if k not in self.used]


def _convert_modulated(conv: _Converter, theirs: str, ours: str, up: bool) -> None:
    weight = conv.take(f"{theirs}.weight", ndim=4)  # [O, I, k, k]
    fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
    weight = weight.permute(2, 3, 1, 0) * math.sqrt(fan_in)  # ours is scaled by 1/sqrt(fan_in)
    if up:
        weight = weight.flip(0, 1)
    conv.put(f"{ours}.weight", f"{theirs}.weight", weight)
    conv.put(f"{ours}.bias", f"{theirs}.bias", conv.take(f"{theirs}.bias"))
    conv.put_style(ours, f"{theirs}.affine.weight", f"{theirs}.affine.bias")
    noise = conv.take(f"{theirs}.noise_const", ndim=2)
    conv.put(f"{ours}.noise", f"{theirs}.noise_const", noise.reshape(1, 1, *noise.shape))
    strength = conv.take(f"{theirs}.noise_strength")
    conv.put(
        f"{ours}.noise_strength",
        f"{theirs}.noise_strength",
        strength.reshape(()) if strength.numel() == 1 else strength,
    )
    kernel = conv.fir(f"{theirs}.resample_filter")
    if up:
        conv.put(f"{ours}.filter.kernel", f"{theirs}.resample_filter", kernel)


def _convert_torgb(conv: _Converter, theirs: str, ours: str) -> None:
    weight = conv.take(f"{theirs}.weight", ndim=4)  # [3, C, 1, 1]; NVIDIA scales the styles instead
    conv.put(f"{ours}.weight", f"{theirs}.weight", weight.permute(2, 3, 1, 0))
    conv.put(f"{ours}.bias", f"{theirs}.bias", conv.take(f"{theirs}.bias"))
    conv.put_style(ours, f"{theirs}.affine.weight", f"{theirs}.affine.bias")


def _block_resolutions(source: dict[str, Any], path: Path) -> list[int]:
    found = set()
    for key in source:
        if key.startswith("synthesis.b"):
            head = key[len("synthesis.b") :].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    if 4 not in found:
        raise CheckpointError(f"{path}: missing key 'synthesis.b4.const'")
    resolutions = sorted(found)
    expected = [4 * 2**i for i in range(len(resolutions))]
    if resolutions != expected:
        odd = next(r for r, e in zip(resolutions, expected, strict=True) if r != e)
        raise CheckpointError(
            f"{path}: unexpected key prefix 'synthesis.b{odd}.': blocks must double from 4 px, found {resolutions}"
        )
    return resolutions


def convert_nvidia_state(source: dict[str, Any], path: Path, **overrides: Any):
    """Our :class:`~.stylegan2.StyleGAN2Generator` from an NVIDIA ``G_ema`` state dict."""

    if any(key.startswith("mapping.embed.") for key in source):
        raise CheckpointError(
            f"{path}: key 'mapping.embed.weight': a class-conditional generator; only unconditional ones are supported"
        )
    if any(key.startswith("synthesis.input.") for key in source):
        raise CheckpointError(
            f"{path}: key 'synthesis.input.weight': a StyleGAN3 generator; only StyleGAN2 is supported"
        )
    conv = _Converter(source, path)
    conv.put_mapping(lambda i: f"mapping.fc{i}")
    conv.put("truncation.w_avg", "mapping.w_avg", conv.take("mapping.w_avg"))

    resolutions = _block_resolutions(source, path)
    upsample_kernel: torch.Tensor | None = None
    for b, res in enumerate(resolutions):
        prefix = f"synthesis.b{res}"
        if b == 0:
            const = conv.take(f"{prefix}.const", ndim=3)
            conv.put("synthesis.early_layer.const", f"{prefix}.const", const.unsqueeze(0))
        else:
            _convert_modulated(conv, f"{prefix}.conv0", f"synthesis.layer{2 * b - 1}", up=True)
        _convert_modulated(conv, f"{prefix}.conv1", f"synthesis.layer{2 * b}", up=False)
        _convert_torgb(conv, f"{prefix}.torgb", f"synthesis.output{b}")
        kernel = conv.fir(f"{prefix}.resample_filter")
        if b == 1:
            upsample_kernel = kernel
            conv.put("synthesis.upsample.kernel", f"{prefix}.resample_filter", kernel)
        elif b > 1 and upsample_kernel is not None and not torch.equal(kernel, upsample_kernel):
            raise CheckpointError(
                f"{path}: key {prefix + '.resample_filter'!r} differs from the other blocks' filters; "
                "one shared upsampling filter is supported"
            )
    leftovers = conv.leftovers()
    if leftovers:
        key = leftovers[0]
        hint = " (a 'resnet' or 'orig' generator? only 'skip', config F, is supported)" if ".skip." in key else ""
        raise CheckpointError(f"{path}: unexpected key {key!r}{hint}; {len(leftovers)} unexpected in all")
    # NVIDIA's generate.py default: no truncation unless asked (psi 1, all layers).
    settings: dict[str, Any] = dict(truncation_psi=1.0, name=path.stem)
    settings.update(overrides)
    return build_from_state(conv.state, path, source_keys=conv.names, source_state=conv.source, **settings)


# ----- the two formats this module reads -----------------------------------------------------
def _g_ema_object(payload: Any) -> PersistentObject | None:
    if isinstance(payload, dict) and isinstance(payload.get("G_ema"), PersistentObject):
        return payload["G_ema"]
    if isinstance(payload, PersistentObject) and payload.class_name == "Generator":
        return payload
    return None


def _detect_pickle(payload: Any) -> bool:
    if _g_ema_object(payload) is not None:
        return True
    return isinstance(payload, dict) and any(isinstance(v, PersistentObject) for v in payload.values())


def _build_from_pickle(payload: Any, path: Path):
    g_ema = _g_ema_object(payload)
    if g_ema is None:
        keys = ", ".join(repr(k) for k in payload) if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: missing key 'G_ema' (the pickle holds {keys})")
    if g_ema.child("synthesis") is None or g_ema.child("mapping") is None:
        raise CheckpointError(f"{path}: G_ema ({g_ema.class_name}) has no 'mapping' and 'synthesis' networks")
    options = _pickle_options(g_ema, path)
    return convert_nvidia_state(flatten_module(g_ema, path), path, **options)


def _nvidia_state(payload: Any) -> dict[str, Any] | None:
    return find_state_dict(
        payload, lambda state: has_keys(state, "synthesis.b4.const", "mapping.fc0.weight"), ("G_ema",)
    )


def _build_from_state_dict(payload: Any, path: Path):
    state = _nvidia_state(payload)
    if state is None:
        raise CheckpointError(f"{path}: missing key 'synthesis.b4.const'")
    return convert_nvidia_state(state, path)


#: The checkpoint layouts this module reads (listed in ``registry``).
FORMATS = (
    ForeignFormat("nvidia-stylegan2-pkl", "stylegan2", _detect_pickle, _build_from_pickle),
    ForeignFormat(
        "nvidia-stylegan2-state-dict", "stylegan2", lambda p: _nvidia_state(p) is not None, _build_from_state_dict
    ),
)
