"""No import cycles in citygraph (tools/import_cycles.py), and the checker finds the cycles it should."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "import_cycles.py"


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_cycles", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def package(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` with the given modules (relative path → source)."""
    for name, source in {"__init__.py": "", **files}.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root / "pkg"


def test_citygraph_has_no_import_cycle_even_through_imports_in_functions_or_for_typing(checker: ModuleType) -> None:
    graph = checker.edges(REPO / "src" / "citygraph", frozenset({"eager", "lazy", "typing"}))
    assert "citygraph.validate" in graph["citygraph.commands.validate"]  # the graph is read at all
    assert checker.cycles(graph) == []


def test_cycles_at_import_time_in_functions_and_for_typing_are_told_apart(checker: ModuleType, tmp_path: Path) -> None:
    root = package(tmp_path, {
        "a.py": "from . import b\n",  # a submodule through `from . import`
        "b.py": "from .c import thing\n",
        "c.py": "import pkg.a\nthing = 1\n",  # absolute import closes a → b → c → a
        "d.py": "def f():\n    from .e import x\n",  # lazy: d → e
        "e.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import f\nx = 1\n",
        "sub/__init__.py": "",
        "sub/f.py": "from .. import a\nfrom . import g\n",  # `from ..` names the parent's submodule
        "sub/g.py": "from pkg.sub import f\n",
    })
    eager = checker.edges(root)
    assert eager["pkg.a"] == {"pkg.b"} and eager["pkg.c"] == {"pkg.a"}
    assert eager["pkg.d"] == set() and eager["pkg.e"] == set()
    assert checker.cycles(eager) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.sub.f", "pkg.sub.g"]]
    assert checker.path_around(eager, ["pkg.a", "pkg.b", "pkg.c"]) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    lazy = checker.edges(root, frozenset({"eager", "lazy"}))
    assert lazy["pkg.d"] == {"pkg.e"} and ["pkg.d", "pkg.e"] not in checker.cycles(lazy)
    everything = checker.edges(root, frozenset({"eager", "lazy", "typing"}))
    assert ["pkg.d", "pkg.e"] in checker.cycles(everything)


def test_the_command_exits_1_on_a_cycle_and_0_without(tmp_path: Path) -> None:
    cyclic = package(tmp_path / "one", {"a.py": "from .b import y\nx = 1\n", "b.py": "from .a import x\ny = 2\n"})
    clean = package(tmp_path / "two", {"a.py": "from .b import y\n", "b.py": "y = 2\n"})
    found = subprocess.run([sys.executable, str(TOOL), str(cyclic)], capture_output=True, text=True)
    assert found.returncode == 1 and "cycle (2 modules): pkg.a -> pkg.b -> pkg.a" in found.stdout
    none = subprocess.run([sys.executable, str(TOOL), str(clean)], capture_output=True, text=True)
    assert none.returncode == 0 and "no cycle" in none.stdout
    missing = subprocess.run([sys.executable, str(TOOL), str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode == 2 and "not a package" in missing.stderr
