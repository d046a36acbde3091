"""Finding a predictor by name: built-ins, installed plug-ins, or a ``module:factory`` path.

A predictor spec is one of:

* a built-in name: ``world`` (the default world's predictor) or ``places365`` (the
  Places365 scene classifier with the SUN-attribute head; needs ``root=DIR`` or file paths);
* the name of an entry point in the group ``sceneedit.predictors`` — a plug-in package
  declares, in its ``pyproject.toml``::

      [project.entry-points."sceneedit.predictors"]
      my_predictor = "my_package.predictors:make_predictor"

* ``module.path:factory`` — any importable callable.

A factory is called with the user's options as keyword arguments (strings from the command
line, e.g. ``--predictor-option root=/data/places365``) plus ``device``, and must return an
object following :class:`~sceneedit.semantics.predictors.base.Predictor`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib import metadata
from typing import Any

import torch

from ...errors import SceneeditError

ENTRY_POINT_GROUP = "sceneedit.predictors"

#: Built-in predictors: name -> "module:factory".
BUILTINS: dict[str, str] = {
    "world": "sceneedit.semantics.predictors.world:load_world_predictor",
    "places365": "sceneedit.semantics.predictors.places365:load_places365",
}


class PredictorSpecError(SceneeditError, ValueError):
    """A predictor spec names nothing loadable, or the object is not a predictor."""


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_predictors() -> list[str]:
    """Built-in names, then installed plug-ins."""
    return list(BUILTINS) + sorted(n for n in _entry_points() if n not in BUILTINS)


def _import_target(target: str, spec: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise PredictorSpecError(f"predictor {spec!r}: expected 'module.path:factory'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise PredictorSpecError(f"predictor {spec!r}: no module named {module_name!r}") from None
        raise
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise PredictorSpecError(f"predictor {spec!r}: module {module_name!r} has no {attribute!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise PredictorSpecError(f"predictor {spec!r}: {target} is not callable")
    return obj


def resolve_factory(spec: str) -> Callable[..., Any]:
    """The factory callable a spec names."""
    if spec in BUILTINS:
        return _import_target(BUILTINS[spec], spec)
    points = _entry_points()
    if spec in points:
        try:
            factory = points[spec].load()
        except Exception as exc:
            raise PredictorSpecError(f"predictor plug-in {spec!r} failed to load: {exc}") from exc
        if not callable(factory):
            raise PredictorSpecError(f"predictor plug-in {spec!r} is not callable")
        return factory
    if ":" in spec:
        return _import_target(spec, spec)
    raise PredictorSpecError(
        f"unknown predictor {spec!r}; available: {', '.join(available_predictors())} (or give 'module.path:factory')"
    )


def check_predictor(predictor: Any, spec: str = "?") -> Any:
    """Raise :class:`PredictorSpecError` unless ``predictor`` follows the Predictor protocol."""
    problems = []
    names = getattr(predictor, "score_names", None)
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        problems.append("score_names must be a non-empty list of strings")
    elif len(set(names)) != len(names):
        problems.append("score_names has duplicates")
    if not isinstance(getattr(predictor, "score_levels", None), dict):
        problems.append("score_levels must be a dict")
    if not callable(getattr(predictor, "score", None)):
        problems.append("it has no score(images) method")
    if not callable(getattr(predictor, "to", None)):
        problems.append("it has no to(device) method")
    if not isinstance(getattr(predictor, "name", None), str):
        problems.append("name must be a string")
    if problems:
        raise PredictorSpecError(f"predictor {spec!r} returned {type(predictor).__name__}: " + "; ".join(problems))
    return predictor


def build_predictor(spec: str, options: dict[str, Any] | None = None, device: str | torch.device | None = None) -> Any:
    """Build the predictor ``spec`` names with ``options`` on ``device`` (checked)."""
    factory = resolve_factory(spec)
    kwargs = dict(options or {})
    try:
        parameters = inspect.signature(factory).parameters
        accepts_device = "device" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    except (TypeError, ValueError):
        accepts_device = True
    if device is not None and accepts_device:
        kwargs.setdefault("device", device)
    try:
        predictor = factory(**kwargs)
    except TypeError as exc:
        raise PredictorSpecError(f"predictor {spec!r}: bad options {sorted(kwargs)} ({exc})") from exc
    check_predictor(predictor, spec)
    if device is not None:
        predictor = predictor.to(device) or predictor
    return predictor


def parse_options(items: list[str] | None) -> dict[str, str]:
    """``['root=/data', 'k=v']`` -> ``{'root': '/data', 'k': 'v'}``."""
    options: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PredictorSpecError(f"predictor option {item!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options
