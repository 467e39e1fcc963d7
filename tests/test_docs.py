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


CI_RUN = README.parent / ".ci" / "run"
_SHELL_CONTROL = re.compile(r"^(set |cd |if |then\b|else\b|elif |fi\b|export |#|\S+\(\)|\{|\})")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command: str) -> None:
    text = _subparsers()[command].format_help()
    examples = text.partition("\nexamples:\n")[2]
    assert re.search(rf"^  citygraph (--\S+ \S+ )?{command}\b", examples, re.MULTILINE), (
        f"citygraph {command} --help has no 'examples:' section with a `citygraph {command} …` line")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_default_is_stated_in_the_help(command: str) -> None:
    unstated = []
    for action in _subparsers()[command]._actions:
        default = action.default
        if not action.option_strings or action.help in (None, argparse.SUPPRESS):
            continue
        if default in (None, False, [], argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
            continue
        if "default" not in action.help.lower():
            unstated.append(action.option_strings[-1])
    assert not unstated, f"citygraph {command}: options whose default --help does not state: {unstated}"


def test_validate_and_claims_default_to_the_same_language() -> None:
    def lang_default(command: str) -> str:
        (action,) = [a for a in _subparsers()[command]._actions if "--lang" in a.option_strings]
        assert f"default: {action.default}" in action.help
        return str(action.default)

    assert lang_default("validate") == lang_default("claims")


def ci_run_commands() -> list[str]:
    """The commands .ci/run runs, in order (shell control lines, comments and redirections left out)."""
    commands = []
    for raw in CI_RUN.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or _SHELL_CONTROL.match(line):
            continue
        line = re.sub(r"\s*(?:\d?>>?\s*\S+|\d?>&\d)", "", line).strip()
        commands.append(line)
    return commands


def test_readme_describes_every_step_of_ci_run_in_order() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- ci-steps.*?-->(.*?)<!-- /ci-steps -->", text, re.DOTALL)
    assert block, "README: no <!-- ci-steps --> block describing .ci/run"
    # a command: a program run from the venv, or a word followed by arguments (`chromium` alone is a name)
    described = [c for c in re.findall(r"`([^`]+)`", block.group(1)) if re.match(r"\.venv/bin/|[\w.-]+ ", c)]
    assert described == ci_run_commands(), (
        "README's description of .ci/run (its <!-- ci-steps --> block) differs from what .ci/run runs")


def test_readme_counts_the_named_queries_right() -> None:
    text = README.read_text(encoding="utf-8")
    count = len(list_queries())
    wrong = [m.group(0) for m in re.finditer(r"\b(\d+) named quer", text) if int(m.group(1)) != count]
    assert not wrong, f"README says {wrong}; there are {count} named queries"
