"""Dumps of the graph, their gzip twins and checksums, staged in temporary files and published atomically.

Every RDF dump is built from the N-Triples of the data graph sorted line by line (bytes order), so two runs
on the same input give byte-identical files whatever the store's internal order; pyoxigraph writes N-Triples,
Turtle and N-Quads, the streaming writer in ``citygraph.jsonld`` writes compact JSON-LD. Nothing is renamed
into the output directory until every file has been written: a failure leaves the previous files untouched.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from . import settings
from .errors import InputError
from .formats import rdf_format
from .namespaces import PREFIXES, rebase_iri

if TYPE_CHECKING:
    import pyoxigraph

    from .load import LoadedGraph

DUMP_STEM = "citygraph-data"
CONTEXT_FILE = "context.jsonld"
CHECKSUMS_FILE = "SHA256SUMS"
RDF_DUMP_FORMATS: tuple[str, ...] = ("jsonld", "ttl", "nt", "nq")  # keys of formats.RDF_FORMATS
EXPORT_CHOICES: tuple[str, ...] = (*RDF_DUMP_FORMATS, "csv", "all")
GZIP_LEVEL = 6  # level 9 is 3× slower for ~3 % smaller files at a million triples


@dataclass(frozen=True)
class CsvTable:
    """One CSV table: its file and the named query whose rows it holds."""

    name: str
    query: str

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


CSV_TABLES: tuple[CsvTable, ...] = (
    CsvTable("authorities", "authorities-by-kind"),
    CsvTable("leads", "leads-and-posts"),
    CsvTable("initiatives", "initiatives-by-theme"),
)


@dataclass(frozen=True)
class WrittenFile:
    """A file of the export with what the catalogue and the checksums need."""

    name: str
    size: int
    sha256: str


@dataclass
class ExportReport:
    """What an export wrote, in writing order."""

    out_dir: Path
    files: list[WrittenFile] = field(default_factory=list)

    def get(self, name: str) -> WrittenFile:
        for written in self.files:
            if written.name == name:
                return written
        raise KeyError(name)


def dump_filename(fmt_key: str) -> str:
    return f"{DUMP_STEM}.{rdf_format(fmt_key).extension}"


class _HashingWriter(io.RawIOBase):
    """A binary sink that forwards to a file while counting bytes and computing SHA-256."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self._target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._target.write(view)
        self.digest.update(view)
        self.size += view.nbytes
        return view.nbytes


class Staging:
    """Temporary files in the output directory, renamed over the real names only by ``commit()``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._staged: dict[str, Path] = {}
        self.written: dict[str, WrittenFile] = {}

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """Stage ``name`` and give a binary stream to write it; size and SHA-256 are computed on the way."""
        fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=f".{name}.", suffix=".tmp")
        self._staged[name] = Path(tmp)
        with os.fdopen(fd, "wb") as raw:
            sink = _HashingWriter(raw)
            buffered = io.BufferedWriter(sink, buffer_size=1 << 20)
            yield buffered
            buffered.flush()
            raw.flush()
            os.fsync(raw.fileno())
        self.written[name] = WrittenFile(name, sink.size, sink.digest.hexdigest())

    def write(self, name: str, produce: Callable[[IO[bytes]], None]) -> WrittenFile:
        """Stage ``name``: ``produce`` writes its bytes."""
        with self.open(name) as out:
            produce(out)
        return self.written[name]

    def path(self, name: str) -> Path:
        """Where a staged file is being written (before ``commit``)."""
        return self._staged[name]

    def write_bytes(self, name: str, data: bytes) -> WrittenFile:
        def produce(out: IO[bytes]) -> None:
            out.write(data)

        return self.write(name, produce)

    def write_gzip(self, name: str) -> WrittenFile:
        """Stage ``name.gz``, a deterministic gzip (no file name, mtime 0) of the staged ``name``."""
        source = self._staged[name]

        def produce(out: IO[bytes]) -> None:
            with open(source, "rb") as src, gzip.GzipFile(
                filename="", mode="wb", fileobj=out, mtime=0, compresslevel=GZIP_LEVEL
            ) as gz:
                while chunk := src.read(1 << 20):
                    gz.write(chunk)

        return self.write(name + ".gz", produce)

    def commit(self) -> None:
        """Rename every staged file over its final name (each rename atomic), then forget them."""
        for name, tmp in self._staged.items():
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.out_dir / name)
        self._staged.clear()

    def discard(self) -> None:
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
        self._staged.clear()


# ---------------------------------------------------------------- the RDF dumps


def sorted_ntriples(graph: LoadedGraph, graph_iri: str) -> list[bytes]:
    """The N-Triples lines of one named graph (each ending in a newline), sorted: bytes order groups each
    subject's triples."""
    import pyoxigraph

    name = pyoxigraph.NamedNode(graph_iri)
    payload = graph.store.dump(format=pyoxigraph.RdfFormat.N_TRIPLES, from_graph=name) or b""
    lines = payload.splitlines(keepends=True)
    del payload
    lines.sort()
    return lines


def _triples(source: bytes | Path) -> Iterator[pyoxigraph.Triple]:
    """Triples of N-Triples bytes or of an N-Triples file, in their order."""
    import pyoxigraph

    fmt = pyoxigraph.RdfFormat.N_TRIPLES
    quads = pyoxigraph.parse(path=source, format=fmt) if isinstance(source, Path) else pyoxigraph.parse(
        source, format=fmt)
    for quad in quads:
        yield quad.triple


def turtle_prefixes(base: str) -> dict[str, str]:
    """Prefixes for the Turtle dump: the vocabularies (moved to ``base`` like the data)."""
    return {k: _rebase_iri(v, base) for k, v in sorted(PREFIXES.items())}


def _rebase_iri(iri: str, base: str) -> str:
    return rebase_iri(iri, base)


def context_document(base: str) -> dict[str, Any]:
    """The project's JSON-LD context, its IRIs moved to ``base`` as ``load`` moves the data's."""
    path = settings.context_file()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the JSON-LD context ({exc})") from None

    def move(value: Any) -> Any:
        if isinstance(value, str):
            return _rebase_iri(value, base)
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    return dict(move(document))


def context_bytes(base: str) -> bytes:
    return (json.dumps(context_document(base), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _write_turtle(out: IO[bytes], triples: Iterable[pyoxigraph.Triple], base: str) -> None:
    import pyoxigraph

    pyoxigraph.serialize(triples, out, format=pyoxigraph.RdfFormat.TURTLE, prefixes=turtle_prefixes(base))


def _write_ttl_and_jsonld(
    staging: Staging, source: bytes | Path, base: str, *, ttl: bool, jsonld: bool
) -> None:
    """Turtle and/or JSON-LD from one pass over the sorted triples (the JSON-LD writer tees them)."""
    from . import jsonld as jsonld_writer

    triples: Iterable[pyoxigraph.Triple] = _triples(source)
    with ExitStack() as stack:
        writer = None
        if jsonld:
            staging.write_bytes(CONTEXT_FILE, context_bytes(base))
            raw = stack.enter_context(staging.open(dump_filename("jsonld")))
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
            stack.callback(text.detach)
            stack.callback(text.flush)
            writer = jsonld_writer.GraphWriter(text, jsonld_writer.Context(context_document(base)))
            triples = writer.tee(triples)
        if ttl:
            with staging.open(dump_filename("ttl")) as out:
                _write_turtle(out, triples, base)
        else:
            for _ in triples:
                pass
        if writer is not None:
            writer.close()


def _as_quads(lines: list[bytes], graph_iri: str) -> Iterator[bytes]:
    suffix = b"<" + graph_iri.encode("utf-8") + b"> .\n"
    for line in lines:
        yield line[:-2] + suffix  # "<s> <p> <o> .\n" -> "<s> <p> <o> <g> .\n"


# ---------------------------------------------------------------- CSV tables


def table_csv(graph: LoadedGraph, table: CsvTable) -> bytes:
    """One table: the rows of its named query as SPARQL 1.1 results CSV (header row, plain values, CRLF)."""
    from .query import run_named_query

    return run_named_query(graph, table.query).to_csv().encode("utf-8")


# ---------------------------------------------------------------- the whole export


def _expand_choice(choice: str) -> tuple[list[str], bool]:
    if choice not in EXPORT_CHOICES:
        raise InputError(f"unknown export format {choice!r} (expected one of {', '.join(EXPORT_CHOICES)})")
    if choice == "all":
        return [*RDF_DUMP_FORMATS, "csv"], True
    return [choice], False


def export(graph: LoadedGraph, out_dir: Path, choice: str = "all") -> ExportReport:
    """Write the dumps for ``choice`` (a format key, ``csv`` or ``all``) into ``out_dir``, atomically.

    ``all`` also writes the catalogue (DCAT, VoID); every run rewrites ``SHA256SUMS`` over the files it
    knows in ``out_dir``.
    """
    kinds, with_catalog = _expand_choice(choice)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the output directory ({exc.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"{out_dir}: the output directory is not writable")
    report = ExportReport(out_dir)
    base = graph.base
    with Staging(out_dir) as staging, ThreadPoolExecutor(max_workers=2) as pool:
        gzip_jobs = []

        def done(name: str) -> None:
            gzip_jobs.append(pool.submit(staging.write_gzip, name))

        rdf_kinds = [k for k in kinds if k in RDF_DUMP_FORMATS]
        data_lines: list[bytes] = []
        if rdf_kinds:
            data_lines = sorted_ntriples(graph, graph.data_graph)
            source: bytes | Path
            if "nt" in rdf_kinds:
                staging.write(dump_filename("nt"), lambda out: out.writelines(data_lines))
                done(dump_filename("nt"))
                source = staging.path(dump_filename("nt"))
            else:
                source = b"".join(data_lines)
            if "ttl" in rdf_kinds or "jsonld" in rdf_kinds:
                _write_ttl_and_jsonld(
                    staging, source, base, ttl="ttl" in rdf_kinds, jsonld="jsonld" in rdf_kinds
                )
                for key in ("ttl", "jsonld"):
                    if key in rdf_kinds:
                        done(dump_filename(key))
            del source
            if "nq" in rdf_kinds:
                ontology_lines = sorted_ntriples(graph, graph.ontology_graph)

                def produce_nq(out: IO[bytes]) -> None:
                    out.writelines(_as_quads(data_lines, graph.data_graph))
                    out.writelines(_as_quads(ontology_lines, graph.ontology_graph))

                staging.write(dump_filename("nq"), produce_nq)
                done(dump_filename("nq"))
        if "csv" in kinds:
            for table in CSV_TABLES:
                staging.write_bytes(table.filename, table_csv(graph, table))
                done(table.filename)
        for job in gzip_jobs:
            job.result()
        if with_catalog:
            from . import catalog

            stats = catalog.statistics_of_ntriples(data_lines)
            description = catalog.describe(graph, staging.written, stats)
            staging.write_bytes(catalog.CATALOG_TTL, description.catalog_turtle)
            staging.write_bytes(catalog.CATALOG_JSONLD, description.catalog_jsonld)
            staging.write_bytes(catalog.VOID_TTL, description.void_turtle)
        staging.write_bytes(CHECKSUMS_FILE, _checksums(out_dir, staging.written))
        report.files = list(staging.written.values())
        staging.commit()
    return report


def known_filenames() -> list[str]:
    """Every file name an export can write (the checksums file aside)."""
    from . import catalog

    names = [CONTEXT_FILE]
    for key in RDF_DUMP_FORMATS:
        names += [dump_filename(key), dump_filename(key) + ".gz"]
    for table in CSV_TABLES:
        names += [table.filename, table.filename + ".gz"]
    names += [catalog.CATALOG_TTL, catalog.CATALOG_JSONLD, catalog.VOID_TTL]
    return names


def _checksums(out_dir: Path, written: dict[str, WrittenFile]) -> bytes:
    """``sha256sum``-style lines for the files staged now and the known files already in ``out_dir``."""
    digests: dict[str, str] = {}
    for name in known_filenames():
        if name in written:
            digests[name] = written[name].sha256
        elif (out_dir / name).is_file():
            digests[name] = _sha256_of(out_dir / name)
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode("ascii")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
