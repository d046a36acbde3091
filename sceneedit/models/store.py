"""The model registry on disk: the user's cache folder, recorded checksums, user-added models.

Layout under :func:`models_dir` (``$SCENEEDIT_MODELS_DIR``, else platformdirs' user cache
folder ``.../sceneedit/models``)::

    <name>/<file>            a model's file(s), only ever written verified and atomically
    <name>/<file>.part       an interrupted download (resumed next time)
    checksums.json           SHA-256 and size seen first for files without a published checksum
    user_models.json         models added with ``sceneedit models add NAME FILE``

``$SCENEEDIT_MODELS_MIRROR`` (a URL prefix or folder laid out as ``<name>/<file>``) replaces
the published addresses, e.g. for a lab's own mirror.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SceneeditError
from ..files import atomic_path
from .catalog import OFFICIAL_MODELS, ModelEntry, ModelFile
from .download import (
    CancelFn,
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    ProgressFn,
    fetch_to,
    is_url,
    sha256_of,
)

MODELS_DIR_ENV = "SCENEEDIT_MODELS_DIR"
#: A mirror (URL prefix or folder) holding ``<model>/<file>``; when set, it replaces the published addresses.
MIRROR_ENV = "SCENEEDIT_MODELS_MIRROR"
CHECKSUMS_FILE = "checksums.json"
USER_MODELS_FILE = "user_models.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RegistryError(SceneeditError, ValueError):
    """An unknown model name, or a model that cannot be fetched or added."""


def models_dir() -> Path:
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sceneedit")) / "models"


# ----- json records ---------------------------------------------------------------------------
def _read_json(name: str) -> dict[str, Any]:
    path = models_dir() / name
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: unreadable registry record ({exc}); delete it to start afresh") from exc
    return data if isinstance(data, dict) else {}


def _write_json(name: str, data: dict[str, Any]) -> None:
    path = models_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")


def recorded_checksum(model: str, filename: str) -> dict[str, Any] | None:
    return _read_json(CHECKSUMS_FILE).get(f"{model}/{filename}")


def _record_checksum(model: str, filename: str, sha256: str, size: int, source: str) -> None:
    data = _read_json(CHECKSUMS_FILE)
    data[f"{model}/{filename}"] = {
        "sha256": sha256,
        "size": size,
        "source": source,
        "first_seen": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_json(CHECKSUMS_FILE, data)


# ----- lookup ---------------------------------------------------------------------------------
def _user_models() -> list[ModelEntry]:
    entries = []
    for name, record in sorted(_read_json(USER_MODELS_FILE).items()):
        entries.append(
            ModelEntry(
                name=name,
                arch=str(record.get("arch", "")),
                dataset=str(record.get("dataset", "")),
                resolution=int(record.get("resolution", 0)),
                files=(ModelFile(str(record["file"]), (), size=record.get("size"), sha256=record.get("sha256")),),
                note=str(record.get("note", "added by hand")),
                user_added=True,
            )
        )
    return entries


def all_models() -> list[ModelEntry]:
    """The official models, then the user's."""
    return list(OFFICIAL_MODELS) + _user_models()


def find_model(name: str) -> ModelEntry:
    for entry in all_models():
        if name == entry.name or name in entry.aliases:
            return entry
    known = ", ".join(e.name for e in all_models())
    raise RegistryError(f"unknown model {name!r}; known: {known}")


def model_folder(entry: ModelEntry) -> Path:
    return models_dir() / entry.name


def model_path(entry: ModelEntry) -> Path:
    """What ``load_generator`` opens: the model's file, or its folder for multi-file models."""
    folder = model_folder(entry)
    return folder / entry.files[0].name if len(entry.files) == 1 else folder


def is_downloaded(entry: ModelEntry) -> bool:
    folder = model_folder(entry)
    return all((folder / f.name).is_file() for f in entry.files)


def bundle_path(entry: ModelEntry) -> Path | None:
    """The shipped bundle of the model's official HiGAN boundaries, if it has one."""
    if not entry.boundaries:
        return None
    from ..resources import boundaries_dir

    path = boundaries_dir() / "higan" / f"{entry.boundaries}.safetensors"
    return path if path.is_file() else None


def expected_checksum(entry: ModelEntry, file: ModelFile) -> tuple[str | None, int | None, str]:
    """``(sha256, size, origin)``: the published values, else those recorded first, else none."""
    if file.sha256:
        return file.sha256, file.size, "published"
    recorded = recorded_checksum(entry.name, file.name)
    if recorded:
        return recorded.get("sha256"), recorded.get("size"), f"first seen {recorded.get('first_seen', '?')}"
    return None, file.size, "unknown"


# ----- fetching -------------------------------------------------------------------------------
@dataclass
class FetchResult:
    """Where the model is, and warnings for the user (e.g. a checksum recorded on first sight)."""

    entry: ModelEntry
    path: Path
    warnings: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)


def _sources(entry: ModelEntry, file: ModelFile, source: str | None) -> list[str]:
    if source is None:
        mirror = os.environ.get(MIRROR_ENV)
        if mirror:
            if is_url(mirror):
                return [f"{mirror.rstrip('/')}/{entry.name}/{file.name}"]
            return [str(Path(mirror).expanduser() / entry.name / file.name)]
        if not file.urls:
            raise RegistryError(f"{entry.name}: no download address is known; use --from URL_OR_FILE")
        return list(file.urls)
    if len(entry.files) == 1:
        return [source]
    if is_url(source):
        return [source.rstrip("/") + "/" + file.name]
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise RegistryError(
            f"{source}: {entry.name} has {len(entry.files)} files; give the folder holding "
            f"{', '.join(f.name for f in entry.files)}"
        )
    return [str(folder / file.name)]


def fetch_model(
    name: str,
    source: str | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    file_started: Any = None,
) -> FetchResult:
    """Download (or copy from ``source``: a URL, a file, or for multi-file models a folder or
    URL prefix) every file of model ``name`` into the cache, verified; returns where it is.

    Files already present are kept. ``file_started(filename, index, count)`` is called before
    each transfer. Raises :class:`~.download.DownloadError` or :class:`RegistryError`.
    """
    entry = find_model(name)
    folder = model_folder(entry)
    result = FetchResult(entry, model_path(entry))
    for index, file in enumerate(entry.files):
        dest = folder / file.name
        if dest.is_file() and source is None:
            continue
        sha256, size, origin = expected_checksum(entry, file)
        if file_started is not None:
            file_started(file.name, index, len(entry.files))
        errors = []
        for address in _sources(entry, file, source):
            try:
                digest = fetch_to(address, dest, sha256, size, progress, cancelled)
            except (DownloadCancelled, ChecksumMismatch):
                raise
            except DownloadError as exc:
                errors.append(str(exc))
                continue
            result.downloaded.append(file.name)
            if sha256 is None:
                _record_checksum(entry.name, file.name, digest, dest.stat().st_size, address)
                result.warnings.append(
                    f"{entry.name}/{file.name}: no published checksum; recorded SHA-256 {digest} as first "
                    "seen; later copies must match it"
                )
            break
        else:
            raise DownloadError(
                "; ".join(errors)
                if len(errors) == 1
                else f"{entry.name}/{file.name}: every address failed: " + " | ".join(errors)
            )
    return result


def add_model(name: str, file: str | os.PathLike, progress: ProgressFn | None = None) -> FetchResult:
    """Put the file ``file`` into the registry under ``name``.

    For an official model (or alias) this is ``fetch_model(name, source=file)``. A new name is
    checked to be a loadable generator, copied into the cache (verified) and recorded.
    """
    try:
        find_model(name)
    except RegistryError:
        pass
    else:
        return fetch_model(name, source=str(file), progress=progress)
    if not _NAME.match(name):
        raise RegistryError(f"model name {name!r}: use letters, digits, '_', '-' or '.' (at most 64)")
    path = Path(file).expanduser()
    from ..generators import load_generator

    generator = load_generator(path, device="cpu")
    entry = ModelEntry(
        name=name,
        arch=generator.arch,
        dataset="",
        resolution=int(generator.resolution),
        files=(ModelFile(path.name if path.is_file() else path.name + ".safetensors", ()),),
        user_added=True,
    )
    dest = model_folder(entry) / entry.files[0].name
    if path.is_file():
        digest = fetch_to(str(path), dest, progress=progress)
    else:  # a folder (BigGAN): keep it as one of our files
        from ..generators import save_generator

        save_generator(generator, dest)
        digest = sha256_of(dest)
    records = _read_json(USER_MODELS_FILE)
    records[name] = {
        "arch": entry.arch,
        "resolution": entry.resolution,
        "file": entry.files[0].name,
        "sha256": digest,
        "size": dest.stat().st_size,
        "source": str(path),
    }
    _write_json(USER_MODELS_FILE, records)
    return FetchResult(find_model(name), dest, downloaded=[entry.files[0].name])


def resolve_generator_argument(text: str, bundle: str | None = None) -> tuple[str, str | None]:
    """``(path, bundle)`` for a ``--generator`` argument: an existing path as given, else a
    downloaded registry model's file with (unless ``bundle`` is given) its HiGAN bundle.

    Anything else is returned unchanged (loading then names the missing file).
    """
    if Path(text).expanduser().exists():
        return text, bundle
    try:
        entry = find_model(text)
    except RegistryError:
        return text, bundle
    if not is_downloaded(entry):
        raise RegistryError(f"{entry.name} is not downloaded; run: sceneedit models fetch {entry.name}")
    shipped = bundle_path(entry)
    return str(model_path(entry)), bundle if bundle is not None else (str(shipped) if shipped else None)
