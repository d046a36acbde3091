"""Where the shipped resources (default generator, predictors, model cards) live.

``resources/`` sits at the top of the repository, next to the ``sceneedit`` package. The
environment variable ``SCENEEDIT_RESOURCES`` points somewhere else (an installed copy, a test
folder); it wins when set.
"""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES_ENV_VAR = "SCENEEDIT_RESOURCES"


def _repo_folder(env_var: str, name: str) -> Path:
    """``$env_var`` if set (``~`` expanded), else the folder ``name`` at the top of the repository."""
    override = os.environ.get(env_var)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / name


def resources_dir() -> Path:
    """The resources folder: ``$SCENEEDIT_RESOURCES`` if set, else ``<repo>/resources``."""
    return _repo_folder(RESOURCES_ENV_VAR, "resources")


def resource_path(name: str) -> Path:
    """Path of the resource ``name`` (e.g. ``"world_predictor.safetensors"``); it may not exist yet.

    ``name`` must be a plain relative path inside the resources folder.
    """
    relative = Path(name)
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"resource name must be a relative path inside the resources folder, got {name!r}")
    return resources_dir() / relative


BOUNDARIES_ENV_VAR = "SCENEEDIT_BOUNDARIES"
DEFAULT_GENERATOR_NAME = "default_generator.safetensors"
DEFAULT_BUNDLE_NAME = "default.safetensors"


def boundaries_dir() -> Path:
    """The shipped bundles folder: ``$SCENEEDIT_BOUNDARIES`` if set, else ``<repo>/boundaries``."""
    return _repo_folder(BOUNDARIES_ENV_VAR, "boundaries")


def default_generator_path() -> Path:
    """The embedded default generator (it may be absent in a bare checkout)."""
    return resource_path(DEFAULT_GENERATOR_NAME)


def default_bundle_path() -> Path:
    """The boundary bundle probed from the embedded default generator."""
    return boundaries_dir() / DEFAULT_BUNDLE_NAME
