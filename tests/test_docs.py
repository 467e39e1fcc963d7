"""The README documents every command, option and named query, and its Python example runs as written."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from citygraph.cli import COMMANDS, build_parser
from citygraph.query import list_queries

README = Path(__file__).resolve().parents[1] / "README.md"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("citygraph has no subcommands")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_readme_section(command: str) -> None:
    assert re.search(rf"^### `citygraph {command}\b", README.read_text(encoding="utf-8"), re.MULTILINE), command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_is_documented(command: str) -> None:
    text = README.read_text(encoding="utf-8")
    options = [
        option
        for action in _subparsers()[command]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    missing = [option for option in options if option not in text]
    assert not missing, f"citygraph {command}: undocumented options {missing}"


def test_every_named_query_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [q.name for q in list_queries() if f"`{q.name}`" not in text]
    assert not missing


def test_python_api_example_runs(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "no python block in the Python API section"
    result = subprocess.run([sys.executable, "-c", code.group(1)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "authorities-by-kind" in result.stdout
