"""The model registry: official scene models under HiGAN's names, verified downloads."""

from .catalog import OFFICIAL_MODELS, ModelEntry, ModelFile
from .download import ChecksumMismatch, DownloadCancelled, DownloadError
from .store import (
    FetchResult,
    RegistryError,
    add_model,
    all_models,
    bundle_path,
    fetch_model,
    find_model,
    is_downloaded,
    model_path,
    models_dir,
    resolve_generator_argument,
)

__all__ = [
    "OFFICIAL_MODELS",
    "ModelEntry",
    "ModelFile",
    "ChecksumMismatch",
    "DownloadCancelled",
    "DownloadError",
    "FetchResult",
    "RegistryError",
    "add_model",
    "all_models",
    "bundle_path",
    "fetch_model",
    "find_model",
    "is_downloaded",
    "model_path",
    "models_dir",
    "resolve_generator_argument",
]
