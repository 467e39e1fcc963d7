"""`citygraph build`: validate first, then write every download; a non-conforming graph writes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from citygraph.settings import data_files


def test_build_writes_every_download_with_checksums(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    result = run_cli("build", "--out", str(out))
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    for expected in ("citygraph-data.jsonld", "citygraph-data.ttl", "citygraph-data.nt", "citygraph-data.nq",
                     "catalog.ttl", "void.ttl", "SHA256SUMS", "authorities.csv"):
        assert expected in names
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((out / name.lstrip("*")).read_bytes()).hexdigest() == digest


def test_build_refuses_nonconforming_data_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ttl"
    text = "\n".join(p.read_text(encoding="utf-8") for p in data_files() if p.name == "authorities.ttl")
    broken.write_text(text.replace('cgo:siren "244900015"', 'cgo:siren "24490001X"'), encoding="utf-8")
    out = tmp_path / "dist"
    result = run_cli("build", str(broken), "--out", str(out))
    assert result.returncode == 1
    assert "24490001X" in result.stdout
    assert not out.exists() or not any(out.iterdir())
