"""NVIDIA's TensorFlow network pickles, read as plain data (no TensorFlow, no code run).

The TF releases of PGGAN (``karras2018iclr-lsun-*.pkl``), StyleGAN (``karras2019stylegan-*.pkl``)
and StyleGAN2 (``stylegan2-*-config-*.pkl``) pickle a tuple ``(G, D, Gs)`` of ``Network``
objects: ``tfutil.Network`` (PGGAN, state version 2) or ``dnnlib.tflib.network.Network``
(StyleGAN v3, StyleGAN2 v4). Each is written by NEWOBJ with no arguments, then BUILD with a
state dict::

    version, name, static_kwargs, build_func_name, build_module_src,
    variables  [(name, numpy array or numpy scalar), ...],
    components {name: Network}               (version >= 3)

NVIDIA's ``__setstate__`` imports ``build_module_src`` (the whole networks source) and
rebuilds a TF graph. Ours, :class:`TFNetwork`, keeps only the names, kwargs and variables
as numpy data and drops the source text unread (its length is kept for diagnostics). The
numpy globals (``numpy.core.multiarray._reconstruct`` / ``scalar``) resolve to the checked
stand-ins in :mod:`.nvidia_pickle`, which work under numpy 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import nvidia_pickle  # noqa: F401  (registers the numpy stand-ins)
from .base import CheckpointError
from .safe_unpickle import UnsafePickleError, allow_global

#: The modules NVIDIA's network class lived in, per release family.
NETWORK_CLASS_MODULES = ("tfutil", "dnnlib.tflib.network")
KNOWN_STATE_VERSIONS = (2, 3, 4)


class TFNetwork:
    """Inert stand-in for NVIDIA's TF ``Network``: data only.

    ``variables`` maps TF variable names (relative to the network's scope, e.g.
    ``"4x4/Conv/weight"``) to float numpy arrays (0-d for scalars such as ``lod``);
    ``components`` holds sub-networks (StyleGAN ``mapping`` / ``synthesis``).
    """

    class_module: str = ""
    # Defaults for an object unpickled without a state (NEWOBJ only); BUILD replaces them.
    version: int = 0
    name: str = ""
    build_func_name: str = ""
    static_kwargs: dict[str, Any] = {}
    variables: dict[str, np.ndarray] = {}
    components: dict[str, TFNetwork] = {}
    module_src_chars: int = 0

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafePickleError(f"TF network state is a {type(state).__name__}, not a dict")
        version = state.get("version")
        if version is None and "build_func_spec" in state:
            raise UnsafePickleError(
                "a Theano-era PGGAN network state (build_func_spec / param_values), not a TensorFlow "
                "one; load it once with NVIDIA's TF code and save it again, or use the TF release"
            )
        if version not in KNOWN_STATE_VERSIONS:
            raise UnsafePickleError(f"TF network state version {version!r}; known: {list(KNOWN_STATE_VERSIONS)}")
        self.version = int(version)
        self.name = _text(state.get("name"), "name")
        self.build_func_name = _text(state.get("build_func_name"), "build_func_name")
        kwargs = state.get("static_kwargs") or {}
        if not isinstance(kwargs, dict):
            raise UnsafePickleError(f"static_kwargs of {self.name!r} is a {type(kwargs).__name__}")
        self.static_kwargs = {str(k): v for k, v in kwargs.items()}
        source = state.get("build_module_src")
        self.module_src_chars = len(source) if isinstance(source, str) else 0  # never executed
        self.variables = {}
        for entry in state.get("variables") or []:
            if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
                raise UnsafePickleError(f"a variable of {self.name!r} is not a (name, value) pair")
            name, value = entry
            array = np.asarray(value)
            if array.dtype.hasobject or array.dtype.kind not in "fiub":
                raise UnsafePickleError(f"variable {name!r} of {self.name!r} is not numeric ({array.dtype})")
            self.variables[name] = array
        components = state.get("components") or {}
        if not isinstance(components, dict):
            raise UnsafePickleError(f"components of {self.name!r} is a {type(components).__name__}")
        for key, value in components.items():
            if not isinstance(value, TFNetwork):
                raise UnsafePickleError(f"component {key!r} of {self.name!r} is a {type(value).__name__}")
        self.components = {str(k): v for k, v in components.items()}

    def __repr__(self) -> str:
        return (
            f"TFNetwork({self.name!r}, {self.build_func_name!r}, {len(self.variables)} variables, "
            f"components={sorted(self.components)})"
        )

    def is_discriminator(self) -> bool:
        return self.build_func_name.startswith("D_")


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise UnsafePickleError(f"TF network {what} is a {type(value).__name__}, not text")
    return value


def _stand_in_for(module: str) -> type:
    return type("Network", (TFNetwork,), {"class_module": module, "__module__": __name__})


for _module in NETWORK_CLASS_MODULES:
    allow_global(_module, "Network", _stand_in_for(_module))


def tf_networks(payload: Any) -> list[TFNetwork] | None:
    """The networks of a TF pickle payload (a ``Network`` or a tuple/list of them), else None."""
    if isinstance(payload, TFNetwork):
        return [payload]
    if isinstance(payload, (tuple, list)) and payload and all(isinstance(n, TFNetwork) for n in payload):
        return list(payload)
    return None


def pick_generator(networks: list[TFNetwork], path: Path) -> TFNetwork:
    """``Gs`` (the averaged generator NVIDIA samples with), else the one generator in the file."""
    if len(networks) == 3:
        return networks[2]  # (G, D, Gs): the training snapshot / release layout
    generators = [n for n in networks if not n.is_discriminator()]
    named = [n for n in generators if n.name == "Gs"]
    if named:
        return named[0]
    if len(generators) == 1:
        return generators[0]
    described = ", ".join(f"{n.name!r} ({n.build_func_name})" for n in networks)
    if not generators:
        raise CheckpointError(
            f"{path}: the TF pickle holds only discriminator networks ({described}); a generator (Gs) is needed"
        )
    raise CheckpointError(f"{path}: the TF pickle holds several generators ({described}) and none named 'Gs'")
