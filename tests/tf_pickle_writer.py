"""Writes pickles in the exact layout of NVIDIA's TensorFlow networks, without TensorFlow.

``Network`` stand-ins are registered under the real module names (``tfutil`` for PGGAN,
``dnnlib.tflib.network`` for StyleGAN / StyleGAN2), so the file names the same globals as
NVIDIA's: NEWOBJ with no arguments, then BUILD with the state dict. numpy arrays and scalars
are written through ``numpy.core.multiarray._reconstruct`` / ``scalar``, as the numpy of the
2018-2020 releases did (numpy 2 itself writes ``numpy._core``). Used by the tests and the
load-time benchmark.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

#: Module name of NVIDIA's network class per family.
PGGAN_MODULE = "tfutil"
DNNLIB_MODULE = "dnnlib.tflib.network"


def network_class(module: str) -> type:
    """A plain class that pickles as ``<module>.Network`` with its ``__dict__`` as state."""
    cls = type("Network", (), {"__module__": module, "__getstate__": lambda self: self.state})
    return cls


class _Net:
    """One network to write: its class module and its state dict."""

    def __init__(self, module: str, state: dict[str, Any]) -> None:
        self.module = module
        self.state = state


def network(
    module: str,
    name: str,
    build_func_name: str,
    variables: dict[str, Any],
    static_kwargs: dict | None = None,
    components: dict[str, _Net] | None = None,
    build_module_src: str = "",
    version: int | None = None,
) -> _Net:
    """A network state as NVIDIA's ``__getstate__`` writes it (PGGAN: version 2, no components)."""
    if version is None:
        version = 2 if module == PGGAN_MODULE else 4
    state: dict[str, Any] = {"version": version, "name": name, "static_kwargs": dict(static_kwargs or {})}
    if version >= 3:
        state["components"] = dict(components or {})
    state["build_module_src"] = build_module_src
    state["build_func_name"] = build_func_name
    state["variables"] = list(variables.items())
    return _Net(module, state)


@contextlib.contextmanager
def _legacy_numpy_names() -> Iterator[dict[str, Any]]:
    """Make ``numpy.core.multiarray._reconstruct`` / ``scalar`` picklable under their old names."""
    fake = types.ModuleType("numpy.core.multiarray")

    def _reconstruct(*args: Any) -> Any:
        raise RuntimeError("never called")

    def scalar(*args: Any) -> Any:
        raise RuntimeError("never called")

    for fn in (_reconstruct, scalar):
        fn.__module__ = fake.__name__
        fn.__qualname__ = fn.__name__
        setattr(fake, fn.__name__, fn)
    saved = sys.modules.get(fake.__name__)
    sys.modules[fake.__name__] = fake
    try:
        yield {"_reconstruct": _reconstruct, "scalar": scalar}
    finally:
        if saved is None:
            sys.modules.pop(fake.__name__, None)
        else:
            sys.modules[fake.__name__] = saved


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BufferedIOBase, legacy: dict[str, Any], classes: dict[str, type]) -> None:
        super().__init__(file, protocol=4)
        self.legacy = legacy
        self.classes = classes

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is np.ndarray:
            state = obj.__reduce__()[2]
            return self.legacy["_reconstruct"], (np.ndarray, (0,), b"b"), state
        if isinstance(obj, np.generic):
            return self.legacy["scalar"], (obj.dtype, obj.tobytes())
        return NotImplemented


def _materialize(obj: Any, classes: dict[str, type]) -> Any:
    """Turn :class:`_Net` s into instances of the ``Network`` classes (NEWOBJ + BUILD state)."""
    if isinstance(obj, _Net):
        instance = classes[obj.module].__new__(classes[obj.module])
        instance.state = _materialize(obj.state, classes)
        return instance
    if isinstance(obj, dict):
        return {k: _materialize(v, classes) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(_materialize(v, classes) for v in obj)
    if isinstance(obj, list):
        return [_materialize(v, classes) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` (a ``(G, D, Gs)`` tuple of :func:`network` s, or one) as NVIDIA's code would."""
    modules = {}
    for name in (PGGAN_MODULE, DNNLIB_MODULE):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            modules[".".join(parts[:i])] = types.ModuleType(".".join(parts[:i]))
    classes = {name: network_class(name) for name in (PGGAN_MODULE, DNNLIB_MODULE)}
    for name, cls in classes.items():
        modules[name].Network = cls
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        with _legacy_numpy_names() as legacy:
            buffer = io.BytesIO()
            _Pickler(buffer, legacy, classes).dump(_materialize(obj, classes))
            return buffer.getvalue()
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def from_loaded(net: Any, build_module_src: str = "") -> _Net:
    """Re-create a :class:`_Net` from one of sceneedit's loaded ``TFNetwork`` stand-ins."""
    components = {k: from_loaded(v, build_module_src) for k, v in net.components.items()}
    variables = {k: (v[()] if v.ndim == 0 else v) for k, v in net.variables.items()}  # 0-d: numpy scalars
    return network(
        net.class_module,
        net.name,
        net.build_func_name,
        variables,
        net.static_kwargs,
        components,
        build_module_src,
        net.version,
    )
