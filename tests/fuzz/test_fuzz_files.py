"""The fuzzing suite in CI: a few hundred seeded mutants of every file kind we read.

Every mutant must be accepted with finite results or refused with one user error naming the
file; never another traceback, a hang past the time limit, or more than the memory limit
(see ``fuzzlib``). ``FUZZ_MUTANTS`` (default 80 per kind) and ``FUZZ_SEED`` (default 0)
scale or vary the run; ``scripts/fuzz_files.py`` is the larger run behind docs/reliability.md.
"""

from __future__ import annotations

import os
import sys

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("the fuzz harness forks children and reads /proc", allow_module_level=True)

import fuzzlib  # noqa: E402

MUTANTS = int(os.environ.get("FUZZ_MUTANTS", "80"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    fuzzlib.warm_up()
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("kind", fuzzlib.KINDS)
@pytest.mark.slow
def test_every_mutant_is_accepted_finite_or_one_clean_error(warm, kind):
    base = fuzzlib.build_base(kind, warm / "base" / kind)
    assert fuzzlib.READERS[kind](base) == "accepted"  # the unmutated base file reads
    results = fuzzlib.run_cases(
        kind, base, list(range(MUTANTS)), warm / "work", seed=SEED, parallel=max(1, min(2, os.cpu_count() or 1))
    )
    bad = [r for r in results if r.outcome not in fuzzlib.GOOD]
    counts = fuzzlib.summarize(results)
    assert len(results) == MUTANTS
    assert not bad, f"{kind}: {counts}\n" + "\n".join(f"mutant {r.index}: {r.outcome}: {r.detail}" for r in bad[:5])
    assert counts["clean"] > 0  # the mutations do reach the readers' checks


def test_hostile_pickles_are_refused_and_never_run_code(tmp_path):
    fuzzlib.warm_up()
    results = fuzzlib.run_hostile(tmp_path)
    assert len(results) >= 20
    assert all(outcome == "clean" for _, outcome, _ in results), [r for r in results if r[1] != "clean"]
