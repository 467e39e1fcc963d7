"""Every error a maintainer can meet on the command line is one exact line with a documented exit code.

Positions are the user's file's own line and column, empty files and directories are named as such, a full disk
or a read-only output loses nothing, a port in use or a malformed URL is exit 2, gzip inputs are read.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import cli_error, free_port

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def fails(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The error line of a command expected to fail with ``code``."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return cli_error(done.stderr)


# ---------------------------------------------------------------- positions in a .rq file


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("not a query\n", "1:1"),  # was 1:48 on an 11-character line: the BASE prologue's width
        ("SELECT * WHERE { ?s ?p ?o } FOO\n", "1:29"),  # was 2:1, the end of the file
        ("SELECT * WHERE { ?s ?p ?o . FOO }\n", "1:29"),
        ("# a comment\nSELECT ?x WHERE { ?x ?p ?o } ORDER BY ?x LIMIT x\n", "2:48"),  # was 3:1
        ("SELECT * WHERE {\n  ?s ?p ?o .\n  ?s FOO\n}\n", "3:6"),  # was 4:2
    ],
)
def test_query_file_errors_point_at_the_file_s_own_line_and_column(
    run_cli: RunCli, tmp_path: Path, text: str, where: str
) -> None:
    query = tmp_path / "col.rq"
    query.write_text(text, encoding="utf-8")
    message = fails(run_cli("query", str(query)))
    assert message.startswith(f"citygraph: error: {query}:{where}: syntax error: "), message


def test_an_empty_query_file_is_no_query_not_a_column_of_the_prologue(run_cli: RunCli, tmp_path: Path) -> None:
    for name, text in (("empty.rq", ""), ("comments.rq", "# title: nothing yet\n\n")):
        query = tmp_path / name
        query.write_text(text, encoding="utf-8")
        message = fails(run_cli("query", str(query)))
        assert message == f"citygraph: error: {query}: syntax error: no query: the text is empty or only comments"


# ---------------------------------------------------------------- RDF files: positions, directories, empty files


def test_rdf_xml_errors_have_line_and_column(run_cli: RunCli, tmp_path: Path) -> None:
    ill_formed = tmp_path / "ill-formed.rdf"
    ill_formed.write_text(
        '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '         xmlns:e="http://example.org/">\n  <rdf:Description rdf:about="http://example.org/x">\n'
        "    <e:q>text</e:r>\n  </rdf:Description>\n</rdf:RDF>\n", encoding="utf-8")
    assert re.match(rf"citygraph: error: {re.escape(str(ill_formed))}:5:\d+: syntax error: ",
                    fails(run_cli("validate", str(ill_formed))))
    bad_iri = tmp_path / "bad-iri.rdf"
    bad_iri.write_text(
        '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="x"/>\n</rdf:RDF>\n', encoding="utf-8")
    message = fails(run_cli("validate", str(bad_iri)))
    assert message.startswith(f"citygraph: error: {bad_iri}:3:3: syntax error: ") and "'x'" in message


def test_a_directory_is_named_as_a_directory(run_cli: RunCli, tmp_path: Path) -> None:
    folder = tmp_path / "my-data"
    folder.mkdir()
    assert fails(run_cli("validate", str(folder))) == (
        f"citygraph: error: {folder}: is a directory, not an RDF file (give the files in it)")


@pytest.mark.parametrize(
    ("name", "text"),
    [("empty.ttl", ""), ("empty.nt", ""), ("blank.nt", "\n  \n"),
     ("prefixes-only.ttl", "@prefix cgo: <https://w3id.org/citygraph/ontology#> .\n# nothing yet\n"),
     ("nothing.jsonld", "{}"), ("empty-list.jsonld", "[]")],
)
def test_a_file_with_no_triples_never_conforms(run_cli: RunCli, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert fails(run_cli("validate", str(path))) == (
        f"citygraph: error: {path}: no triples (the file is empty, or holds only prefixes and comments)")


def test_an_empty_jsonld_file_also_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonld"
    path.write_text("", encoding="utf-8")
    assert fails(run_cli("validate", str(path))).startswith(f"citygraph: error: {path}:")


# ---------------------------------------------------------------- gzip inputs


def test_gzip_dumps_are_read_like_the_plain_files(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert run_cli("export", "--format", "nt", "--out", str(out)).returncode == 0
    plain = run_cli("validate", str(out / "citygraph-data.nt"))
    packed = run_cli("validate", str(out / "citygraph-data.nt.gz"))
    assert plain.returncode == packed.returncode == 0, packed.stderr
    assert packed.stdout.startswith("Conforms")


def test_a_syntax_error_in_a_gzip_file_has_its_line_and_column(run_cli: RunCli, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "bad.ttl.gz"
    path.write_bytes(gzip.compress(b"@prefix e: <http://example.org/> .\ne:a e:b e:c .\ne:a e:b .\n"))
    assert re.match(rf"citygraph: error: {re.escape(str(path))}:3:\d+: syntax error: ",
                    fails(run_cli("validate", str(path))))
    truncated = tmp_path / "truncated.nt.gz"
    truncated.write_bytes(gzip.compress(b"<http://e/a> <http://e/b> <http://e/c> .\n" * 100)[:40])
    assert "not a complete gzip file" in fails(run_cli("validate", str(truncated)))


# ---------------------------------------------------------------- outputs: '', full disk, read-only


def test_build_and_export_refuse_an_empty_out(run_cli: RunCli, tmp_path: Path) -> None:
    for command in ("build", "export"):
        done = run_cli(command, "--out", "", cwd=tmp_path)
        assert done.returncode == 2 and "--out" in done.stderr and "empty" in done.stderr
        assert list(tmp_path.iterdir()) == [], f"{command} --out '' wrote into the current directory"


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only; the test is skipped where mounting is refused)."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def checksums_hold(directory: Path) -> bool:
    for line in (directory / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        if hashlib.sha256((directory / name.lstrip("*")).read_bytes()).hexdigest() != digest:
            return False
    return True


def test_a_full_disk_is_one_line_exit_2_and_loses_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    assert run_cli("build", "--out", str(sample)).returncode == 0
    one_build = sum(path.stat().st_size for path in sample.iterdir())
    room = one_build * 3 // 2 // 1024 + 64  # KiB: room for one build and some slack, not for two
    with small_tmpfs(tmp_path / "disk", f"{room}k") as disk:
        out = disk / "dist"
        assert run_cli("build", "--out", str(out)).returncode == 0
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        for command in ("export", "build"):
            message = fails(run_cli(command, "--out", str(out)))
            assert message == (f"citygraph: error: {out}: cannot write (No space left on device); nothing was "
                               "replaced: the files already there are left as they were")
            assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary file left either
        assert checksums_hold(out)


def test_a_read_only_output_is_one_line_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        (disk / "dist").mkdir()
        if subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only")
        for out in (disk / "dist", disk / "new"):
            message = fails(run_cli("build", "--out", str(out)))
            assert message.startswith(f"citygraph: error: {out}: "), message
            assert "read-only" in message.lower() or "not writable" in message


# ---------------------------------------------------------------- serve: port in use, unknown host


def test_serve_on_a_port_in_use_is_exit_2_before_anything_starts(run_cli: RunCli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port), timeout=60)
    assert fails(done) == (f"citygraph: error: cannot listen on 127.0.0.1:{port}: the port is already in use "
                           "(another server? choose another with --port)")
    assert "startup" not in done.stderr.lower()


def test_serve_on_an_unknown_host_is_exit_2(run_cli: RunCli) -> None:
    host = f"no-such-host-{uuid.uuid4().hex[:8]}.invalid"  # RFC 6761: never resolves
    done = run_cli("serve", "--host", host, "--port", str(free_port()), timeout=60)
    assert fails(done).startswith(f"citygraph: error: --host {host}: unknown host")


# ---------------------------------------------------------------- malformed URLs


@pytest.mark.parametrize(
    "args",
    [
        ("query", "lead-share", "--endpoint", "not-a-url"),
        ("query", "lead-share", "--endpoint", "http://"),
        ("query", "lead-share", "--endpoint", "http://127.0.0.1:99999/query"),
        ("link", "wikidata", "--dry-run", "--endpoint", "ftp://example.org/sparql"),
        ("publish", "--store", "localhost:7878"),
        ("publish", "--store", "http://127.0.0.1:7878", "--query-endpoint", "query"),
        ("serve", "--store", "not-a-url"),
    ],
)
def test_a_malformed_url_is_exit_2(run_cli: RunCli, args: tuple[str, ...]) -> None:
    message = fails(run_cli(*args, timeout=60))
    assert "URL" in message


# ---------------------------------------------------------------- publish says only what it knows


def test_publish_to_an_unreachable_store_does_not_claim_what_it_serves(run_cli: RunCli) -> None:
    done = run_cli("publish", "--store", f"http://127.0.0.1:{free_port()}", "--no-progress")
    message = fails(done, 3)
    assert "Nothing was replaced" in message and "never answered" in message
    assert "still serves the previous" not in message


# ---------------------------------------------------------------- languages


def test_validate_and_claims_default_to_english(run_cli: RunCli, tmp_path: Path, repo_root: Path) -> None:
    broken = repo_root / "tests" / "shapes" / "siren.ttl"
    default = run_cli("validate", "--with-bundled", str(broken))
    english = run_cli("validate", "--with-bundled", str(broken), "--lang", "en")
    assert default.returncode == english.returncode == 1 and default.stdout == english.stdout
    assert run_cli("claims").stdout == run_cli("claims", "--lang", "en").stdout
    assert run_cli("claims").stdout != run_cli("claims", "--lang", "fr").stdout
