"""Which data the commands use: the checkout being edited (found from the current directory), --data-dir or
CITYGRAPH_DATA, else the copy installed with the package, which is never written.

The decisive test installs the wheel, not editable, into a fresh virtual environment, as the README's quickstart
does with `pip install .`, and checks that an edit in a clone is seen and that a link lands in the clone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
from support import OxigraphServer, cli_error

from citygraph import settings

RunCli = Callable[..., subprocess.CompletedProcess[str]]
PARIS_SIREN = 'cgo:siren "217500016"'


def make_checkout(repo_root: Path, where: Path) -> Path:
    """A copy of the checkout's project files and data (what a clone holds), at ``where``."""
    where.mkdir(parents=True)
    shutil.copy(repo_root / "pyproject.toml", where / "pyproject.toml")
    for part in ("data", "ontology", "queries"):
        shutil.copytree(repo_root / part, where / part)
    return where


def break_paris_siren(checkout: Path) -> None:
    authorities = checkout / "data" / "authorities.ttl"
    text = authorities.read_text(encoding="utf-8")
    assert PARIS_SIREN in text
    authorities.write_text(text.replace(PARIS_SIREN, 'cgo:siren "12"'), encoding="utf-8")


def using_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("citygraph: using ")]
    assert len(lines) == 1, stderr
    return lines[0]


# ---------------------------------------------------------------- resolution (in process)


def test_checkout_is_found_from_the_current_directory_upwards(repo_root: Path, tmp_path: Path) -> None:
    checkout = make_checkout(repo_root, tmp_path / "clone")
    (checkout / "data" / "deep" / "er").mkdir(parents=True)
    for start in (checkout, checkout / "data" / "deep" / "er"):
        location = settings.resolve_location(cwd=start)
        assert (location.root, location.origin) == (checkout.resolve(), settings.CHECKOUT)
    assert settings.find_checkout(tmp_path) is None


def test_a_pyproject_of_another_project_is_not_a_checkout(repo_root: Path, tmp_path: Path) -> None:
    other = make_checkout(repo_root, tmp_path / "other")
    (other / "pyproject.toml").write_text('[project]\nname = "not-citygraph"\n', encoding="utf-8")
    assert settings.find_checkout(other) is None


def test_data_dir_wins_over_the_environment_and_the_checkout(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_checkout(repo_root, tmp_path / "first")
    second = make_checkout(repo_root, tmp_path / "second")
    monkeypatch.setenv(settings.DATA_ENV, str(second))
    assert settings.resolve_location(str(first), cwd=repo_root).root == first.resolve()
    assert settings.resolve_location(cwd=repo_root).origin == settings.DATA_ENV


# ---------------------------------------------------------------- the command line, from a clone


def test_validate_inside_a_clone_sees_the_edit_and_says_so(
    run_cli: RunCli, repo_root: Path, tmp_path: Path
) -> None:
    checkout = make_checkout(repo_root, tmp_path / "clone")
    break_paris_siren(checkout)
    done = run_cli("validate", cwd=checkout / "data")
    assert done.returncode == 1, done.stderr
    assert '"12"' in done.stdout and "authority/paris" in done.stdout
    assert using_line(done.stderr) == f"citygraph: using data in {checkout.resolve()} (checkout)"


def test_data_dir_and_environment_from_outside(run_cli: RunCli, repo_root: Path, tmp_path: Path) -> None:
    checkout = make_checkout(repo_root, tmp_path / "clone")
    break_paris_siren(checkout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args, env, origin in (
        (("--data-dir", str(checkout), "validate"), {}, "--data-dir"),
        (("validate", "--data-dir", str(checkout)), {}, "--data-dir"),
        (("validate",), {settings.DATA_ENV: str(checkout)}, settings.DATA_ENV),
    ):
        done = run_cli(*args, cwd=elsewhere, env=env)
        assert done.returncode == 1, (args, done.stderr)
        assert using_line(done.stderr) == f"citygraph: using data in {checkout.resolve()} ({origin})"


def test_a_data_dir_without_data_is_refused(run_cli: RunCli, repo_root: Path, tmp_path: Path) -> None:
    checkout = make_checkout(repo_root, tmp_path / "clone")
    done = run_cli("--data-dir", str(checkout / "data"), "validate")
    assert done.returncode == 2
    assert "no data/ and no ontology/" in cli_error(done.stderr) and str(checkout.resolve()) in done.stderr
    done = run_cli("validate", env={settings.DATA_ENV: str(tmp_path / "absent")})
    assert done.returncode == 2 and "CITYGRAPH_DATA" in cli_error(done.stderr)


def test_link_inside_a_clone_writes_the_clone_s_links_file(
    run_cli: RunCli, repo_root: Path, tmp_path: Path, wikidata: OxigraphServer
) -> None:
    checkout = make_checkout(repo_root, tmp_path / "clone")
    links = checkout / "data" / "wikidata-links.ttl"
    before = links.read_bytes()
    repo_links_before = (repo_root / "data" / "wikidata-links.ttl").read_bytes()
    done = run_cli("link", "wikidata", "--endpoint", wikidata.query_endpoint, cwd=checkout)
    assert done.returncode == 1, done.stderr  # a conflict needs review; the confirmed links are written
    assert f"{links}: " in done.stdout and " link(s) added" in done.stdout
    assert links.read_bytes() != before
    assert (repo_root / "data" / "wikidata-links.ttl").read_bytes() == repo_links_before


# ---------------------------------------------------------------- the wheel, installed as the quickstart does


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """``bin/`` of a fresh virtual environment holding citygraph's wheel (built once per session), installed
    non-editable; its dependencies come from this environment (a .pth line), so nothing is downloaded."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(out), str(repo_root)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("citygraph-*.whl")
    venv = out / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "_citygraph_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    where = subprocess.run([str(python), "-c", "import citygraph; print(citygraph.__file__)"], check=True,
                           capture_output=True, text=True, cwd=out).stdout.strip()
    assert where.startswith(purelib), f"citygraph imported from {where}, not from the fresh environment"
    assert (Path(purelib) / "citygraph" / "_bundled" / "data" / "authorities.ttl").is_file()
    return venv / "bin"


def run_installed(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (settings.DATA_ENV, "PYTHONPATH")}
    return subprocess.run([str(bin_dir / "citygraph"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


def test_installed_wheel_reads_and_writes_the_clone(
    installed_wheel: Path, repo_root: Path, tmp_path: Path, wikidata: OxigraphServer
) -> None:
    checkout = make_checkout(repo_root, tmp_path / "clone")
    break_paris_siren(checkout)
    done = run_installed(installed_wheel, "validate", cwd=checkout)
    assert done.returncode == 1, done.stdout + done.stderr  # the edit is seen
    assert '"12"' in done.stdout
    assert using_line(done.stderr) == f"citygraph: using data in {checkout.resolve()} (checkout)"

    site_links = next(installed_wheel.parent.glob("lib/python*/site-packages/citygraph/_bundled/data"))
    site_links = site_links / "wikidata-links.ttl"
    site_before = site_links.read_bytes()
    links = checkout / "data" / "wikidata-links.ttl"
    links_before = links.read_bytes()
    done = run_installed(installed_wheel, "link", "wikidata", "--endpoint", wikidata.query_endpoint, cwd=checkout)
    assert done.returncode == 1, done.stderr  # a conflict needs review; the confirmed links are written
    assert f"{links}: " in done.stdout
    assert links.read_bytes() != links_before, "the link did not land in the clone"
    assert site_links.read_bytes() == site_before, "the link went into site-packages"


def test_installed_wheel_outside_a_clone_reads_its_copy_and_never_writes_it(
    installed_wheel: Path, tmp_path: Path
) -> None:
    done = run_installed(installed_wheel, "validate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert using_line(done.stderr).endswith(f"({settings.INSTALLED})")
    done = run_installed(installed_wheel, "link", "wikidata", "--endpoint", "http://127.0.0.1:9/query",
                         cwd=tmp_path)
    assert done.returncode == 2
    assert "not in a checkout" in cli_error(done.stderr) and "--data-dir" in done.stderr
