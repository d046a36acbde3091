"""The generators package has no import circles and registers its readers explicitly.

Every submodule must import cleanly first, in a fresh interpreter, whatever was imported before
it, and leave the same complete registry of architectures and foreign formats behind.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import grimp

import sceneedit.generators as generators_package
from sceneedit.generators.registry import ARCHITECTURES, FOREIGN_FORMATS

REPO = Path(__file__).resolve().parents[1]
SUBMODULES = sorted(f"sceneedit.generators.{m.name}" for m in pkgutil.iter_modules(generators_package.__path__))

# Runs in a fresh interpreter: for each submodule, forget every sceneedit module, import that
# submodule first and then all the others in the given order, and record the registry.
_IMPORT_ALL_ORDERS = r"""
import importlib, json, sys
modules = json.loads(sys.argv[1])
registries = set()
for first in modules:
    for name in [m for m in sys.modules if m == "sceneedit" or m.startswith("sceneedit.")]:
        del sys.modules[name]
    for name in [first, *reversed(modules)]:
        importlib.import_module(name)
    registry = importlib.import_module("sceneedit.generators.registry")
    registries.add((tuple(registry.ARCHITECTURES), tuple(f.name for f in registry.FOREIGN_FORMATS)))
print(json.dumps(sorted(registries)))
"""


def test_every_generators_submodule_imports_first_in_a_fresh_interpreter():
    assert "sceneedit.generators.registry" in SUBMODULES and len(SUBMODULES) > 15
    for order in (SUBMODULES, SUBMODULES[::-1]):
        result = subprocess.run(
            [sys.executable, "-c", _IMPORT_ALL_ORDERS, json.dumps(order)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        registries = json.loads(result.stdout)
        expected = [list(ARCHITECTURES), [f.name for f in FOREIGN_FORMATS]]
        assert registries == [expected], "the registry depends on import order"


def test_no_module_of_the_generators_package_imports_itself_through_others():
    """Static check over every import statement, including those inside functions."""
    graph = grimp.build_graph("sceneedit", cache_dir=None)
    modules = sorted(m for m in graph.modules if m == "sceneedit.generators" or m.startswith("sceneedit.generators."))
    circles = [
        graph.find_shortest_chain(a, b) + graph.find_shortest_chain(b, a)[1:]
        for i, a in enumerate(modules)
        for b in modules[i + 1 :]
        if graph.chain_exists(a, b) and graph.chain_exists(b, a)
    ]
    assert circles == []


def test_registry_lists_every_architecture_and_each_format_once():
    assert set(ARCHITECTURES) == {"stylegan", "stylegan2", "pggan", "biggan"}
    assert all(cls.arch == name for name, cls in ARCHITECTURES.items())
    names = [f.name for f in FOREIGN_FORMATS]
    assert len(names) == len(set(names)) == 10
    assert {f.arch for f in FOREIGN_FORMATS} <= set(ARCHITECTURES)
    # genforce's StyleGAN layout is tried before the StyleGAN2 ones, the TF pickles last.
    assert names[0] == "genforce-stylegan" and names[-3:] == [
        f"nvidia-tf-{a}-pkl" for a in ("pggan", "stylegan", "stylegan2")
    ]
