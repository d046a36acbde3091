"""The model registry: catalog, verified resumable downloads from a local server, the CLI."""

import hashlib
import json
from pathlib import Path

import pytest
from model_server import FileServer

from sceneedit.cli import main
from sceneedit.models import (
    OFFICIAL_MODELS,
    ChecksumMismatch,
    DownloadError,
    RegistryError,
    add_model,
    bundle_path,
    fetch_model,
    find_model,
    is_downloaded,
    model_path,
)
from sceneedit.models.download import fetch_to, part_path

FIXTURES = Path(__file__).parent / "fixtures" / "nvidia-tf-pickles"
PAYLOAD = (FIXTURES / "stylegan2-64.pkl").read_bytes()


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("SCENEEDIT_MODELS_DIR", str(folder))
    return folder


def test_catalog_has_the_papers_scene_models_with_their_boundary_sets():
    names = {entry.name for entry in OFFICIAL_MODELS}
    for name in [
        "pggan_bedroom",
        "stylegan_bedroom",
        "stylegan_livingroom",
        "stylegan_kitchen",
        "stylegan_churchoutdoor",
        "stylegan_tower",
        "stylegan_bridge",
        "stylegan2_church",
        "biggan_deep_128",
        "biggan_deep_256",
        "biggan_deep_512",
    ]:
        assert name in names
    assert find_model("stylegan_church").name == "stylegan_churchoutdoor"
    for entry in OFFICIAL_MODELS:
        assert entry.files and all(f.urls for f in entry.files)
        assert all(f.sha256 is None or len(f.sha256) == 64 for f in entry.files)
        if entry.boundaries:
            assert bundle_path(entry) is not None and bundle_path(entry).stem == entry.boundaries
    with_bundles = {e.boundaries for e in OFFICIAL_MODELS if e.boundaries}
    assert len(with_bundles) == 7


def test_unknown_model_is_named():
    with pytest.raises(RegistryError, match="unknown model 'nope'"):
        find_model("nope")


def test_fetch_from_a_mirror_records_the_first_checksum_and_refuses_another_file(models_dir):
    with FileServer({"/g.pkl": PAYLOAD, "/other.pkl": PAYLOAD[:-1] + b"x"}) as server:
        result = fetch_model("stylegan2_church", source=server.url + "/g.pkl")
        assert result.path == model_path(find_model("stylegan2_church")) and result.path.read_bytes() == PAYLOAD
        assert "no published checksum" in result.warnings[0]
        recorded = json.loads((models_dir / "checksums.json").read_text())
        assert (
            recorded["stylegan2_church/stylegan2-church-config-f.pkl"]["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
        )
        with pytest.raises(ChecksumMismatch, match="does not match"):
            fetch_model("stylegan2_church", source=server.url + "/other.pkl")
    assert result.path.read_bytes() == PAYLOAD  # the verified copy is untouched
    assert not part_path(result.path).exists()


def test_download_resumes_after_a_cut_connection(tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    with FileServer({"/g.pkl": PAYLOAD}) as server:
        server.cut_after["/g.pkl"] = 300_000
        seen = []
        got = fetch_to(
            server.url + "/g.pkl",
            tmp_path / "g.pkl",
            expected_sha256=digest,
            progress=lambda done, total: seen.append((done, total)),
        )
        assert got == digest and (tmp_path / "g.pkl").read_bytes() == PAYLOAD
        assert server.requests == [("/g.pkl", None), ("/g.pkl", "bytes=300000-")]
        assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_interrupted_download_is_kept_and_resumed_by_the_next_fetch(tmp_path):
    with FileServer({"/g.pkl": PAYLOAD}) as server:
        server.cut_after["/g.pkl"] = 100_000
        with pytest.raises(DownloadError, match="interrupted after 100000 bytes"):
            fetch_to(server.url + "/g.pkl", tmp_path / "g.pkl", retries=1)
        assert part_path(tmp_path / "g.pkl").stat().st_size == 100_000 and not (tmp_path / "g.pkl").exists()
        fetch_to(server.url + "/g.pkl", tmp_path / "g.pkl")
        assert server.requests[-1] == ("/g.pkl", "bytes=100000-")
    assert (tmp_path / "g.pkl").read_bytes() == PAYLOAD


def test_wrong_checksum_is_refused_and_nothing_is_kept(tmp_path):
    with FileServer({"/g.pkl": PAYLOAD}) as server:
        with pytest.raises(ChecksumMismatch, match="discarded"):
            fetch_to(server.url + "/g.pkl", tmp_path / "g.pkl", expected_sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_404_is_named_clearly(capsys):
    with FileServer({}) as server:
        url = server.url + "/missing.pkl"
        assert main(["models", "fetch", "stylegan2_church", "--from", url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert url in err and "HTTP 404" in err


def test_cli_fetch_path_list_and_add(tmp_path, capsys):
    with FileServer({"/g.pkl": PAYLOAD}) as server:
        assert main(["models", "fetch", "stylegan2_church", "--from", server.url + "/g.pkl", "--quiet"]) == 0
    out = capsys.readouterr()
    assert "first seen" in out.err
    path = out.out.strip()
    assert main(["models", "path", "stylegan2_church"]) == 0 and capsys.readouterr().out.strip() == path
    assert main(["models", "path", "stylegan_bedroom"]) == 2
    assert "not downloaded" in capsys.readouterr().err
    assert main(["models", "add", "my_pggan", str(FIXTURES / "pggan-64.pkl")]) == 0
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["stylegan2_church"]["downloaded"] and rows["stylegan2_church"]["bundle"].endswith(
        "stylegan2_church.safetensors"
    )
    assert rows["my_pggan"]["downloaded"] and rows["my_pggan"]["arch"] == "pggan" and rows["my_pggan"]["user_added"]
    assert not rows["stylegan_bedroom"]["downloaded"]
    assert is_downloaded(find_model("my_pggan"))


def test_editor_generator_argument_accepts_a_downloaded_registry_name(tmp_path):
    from sceneedit.models import resolve_generator_argument

    with FileServer({"/g.pkl": PAYLOAD}) as server:
        fetch_model("stylegan2_church", source=server.url + "/g.pkl")
    path, bundle = resolve_generator_argument("stylegan2_church")
    assert path == str(model_path(find_model("stylegan2_church"))) and bundle.endswith("stylegan2_church.safetensors")
    assert resolve_generator_argument("stylegan2_church", "mine.safetensors")[1] == "mine.safetensors"
    assert resolve_generator_argument("no/such/file.pkl") == ("no/such/file.pkl", None)
    with pytest.raises(RegistryError, match="not downloaded"):
        resolve_generator_argument("stylegan_bedroom")


def test_add_refuses_a_file_that_is_no_generator(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="junk.pkl"):
        add_model("junk", junk)
    assert not is_downloaded_name("junk")


def is_downloaded_name(name):
    try:
        return is_downloaded(find_model(name))
    except RegistryError:
        return False
