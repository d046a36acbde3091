"""``sceneedit convert``: any supported file into our safetensors format, verified."""

from pathlib import Path

import pytest
import torch

from sceneedit.cli import main
from sceneedit.generators import CheckpointError, load_generator, read_metadata
from sceneedit.generators.convert import convert_generator

TF_PGGAN = Path(__file__).parent / "fixtures" / "nvidia-tf-pickles" / "pggan-64-fused.pkl"


def test_convert_cli_writes_an_exact_copy_and_reports_the_difference(tmp_path, capsys):
    out = tmp_path / "pggan.safetensors"
    assert main(["convert", str(TF_PGGAN), str(out), "--codes", "2"]) == 0
    printed = capsys.readouterr().out
    assert "max abs diff 0" in printed and "nvidia-tf-pggan-pkl" in printed
    meta = read_metadata(out)
    assert meta["provenance"]["converted_from"] == TF_PGGAN.name
    assert len(meta["provenance"]["source_sha256"]) == 64
    original, copy = load_generator(TF_PGGAN), load_generator(out)
    z = original.sample_z(2, 5)
    with torch.no_grad():
        assert torch.equal(original.synthesize_raw(original.map(z)), copy.synthesize_raw(copy.map(z)))


def test_convert_over_tolerance_fails_and_leaves_no_file(tmp_path):
    out = tmp_path / "pggan.safetensors"
    with pytest.raises(CheckpointError, match="differ") as info:
        convert_generator(TF_PGGAN, out, codes=1, tolerance=-1.0)
    assert str(out) in str(info.value)
    assert not out.exists()


def test_convert_refuses_other_output_suffixes(tmp_path, capsys):
    assert main(["convert", str(TF_PGGAN), str(tmp_path / "x.pth")]) == 2
    assert "must be a .safetensors file" in capsys.readouterr().err
