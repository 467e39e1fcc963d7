"""Dumps of the graph, their gzip twins and checksums, staged in temporary files and published atomically.

Every RDF dump is built from the N-Triples of the data graph sorted line by line (bytes order), so two runs
on the same input give byte-identical files whatever the store's internal order (oxigraph's in-memory store
lists quads in reverse insertion order, which depends on how the data was loaded). The N-Triples dump is that
text itself, the N-Quads one is the same lines with the graph name added (plus the ontology's), pyoxigraph
writes Turtle from them, and the line-based writer in ``citygraph.jsonld`` writes compact JSON-LD; the CSV
tables are the named queries' results. Nothing is renamed into the output directory until every file has
been written: a failure leaves the previous files untouched.

Speed: above ``PARALLEL_THRESHOLD`` quads (Linux, two cores or more) the CSV tables, the JSON-LD and the
Turtle are written by forked child processes, which read the parent's store and sorted N-Triples
copy-on-write (pyoxigraph holds the GIL, so threads would not run them in parallel), while the parent writes
the N-Triples and N-Quads; the JSON-LD writer counts the VoID figures on its way; the gzip twins (zlib level
``GZIP_LEVEL``) are compressed in threads, as zlib releases the GIL. The bytes are the same either way.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from . import settings
from .errors import CitygraphError, InputError
from .formats import rdf_format
from .namespaces import PREFIXES, rebase_iri

if TYPE_CHECKING:
    import pyoxigraph

    from .catalog import GraphStatistics
    from .load import LoadedGraph

DUMP_STEM = "citygraph-data"
CONTEXT_FILE = "context.jsonld"
CHECKSUMS_FILE = "SHA256SUMS"
RDF_DUMP_FORMATS: tuple[str, ...] = ("jsonld", "ttl", "nt", "nq")  # keys of formats.RDF_FORMATS
EXPORT_CHOICES: tuple[str, ...] = (*RDF_DUMP_FORMATS, "csv", "all")
# zlib level of the .gz twins. Measured on the 1M-triple benchmark graph (N-Triples 160 MB): level 1 takes
# 0.6 s for 7.9 MB, level 6 1.6 s for 6.0 MB, level 9 3x level 6 for ~3 % less. See bench/export_speed.py.
GZIP_LEVEL = 3
PARALLEL_THRESHOLD = 50_000  # quads in the store above which parts of the export run in child processes
_CHUNK = 1 << 22  # bytes handed to zlib at a time


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
    """What an export wrote, in a fixed order (``known_filenames()``, then the checksums)."""

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

    def reserve(self, name: str) -> Path:
        """The temporary file of ``name``, created now if need be (a child process writes it later)."""
        if name not in self._staged:
            fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=f".{name}.", suffix=".tmp")
            os.close(fd)
            self._staged[name] = Path(tmp)
        return self._staged[name]

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """Stage ``name`` and give a binary stream to write it; size and SHA-256 are computed on the way."""
        with open(self.reserve(name), "wb") as raw:
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

    def write_bytes(self, name: str, data: bytes | Sequence[bytes]) -> WrittenFile:
        """Stage ``name`` holding ``data`` (or its chunks, in order), hashed and written a chunk at a time
        (both release the GIL)."""
        chunks = [data] if isinstance(data, bytes) else data
        digest = hashlib.sha256()
        with open(self.reserve(name), "wb") as raw:
            for chunk in chunks:
                raw.write(chunk)
                digest.update(chunk)
            raw.flush()
            os.fsync(raw.fileno())
        self.written[name] = WrittenFile(name, sum(len(c) for c in chunks), digest.hexdigest())
        return self.written[name]

    def write_gzip(self, name: str, data: bytes | Sequence[bytes]) -> WrittenFile:
        """Stage ``name.gz``, a deterministic gzip (no file name, mtime 0) of ``data`` (or its chunks)."""
        chunks = [data] if isinstance(data, bytes) else data

        def produce(out: IO[bytes]) -> None:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=GZIP_LEVEL) as gz:
                for chunk in chunks:
                    view = memoryview(chunk)
                    for start in range(0, len(view), _CHUNK):
                        gz.write(view[start : start + _CHUNK])

        return self.write(name + ".gz", produce)

    @contextmanager
    def gzip_behind(self, name: str, data: bytes) -> Iterator[None]:
        """Stage ``name.gz`` of ``data`` in a thread while the block runs (writing ``name``, say); leaving the
        block waits for it."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            packed = pool.submit(self.write_gzip, name, data)
            yield
            packed.result()

    def adopt(self, written: dict[str, WrittenFile]) -> None:
        """Take over files that a child process wrote into reserved temporary files."""
        self.written.update(written)

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


# ---------------------------------------------------------------- running parts in parallel


class _Part:
    """One part of the export: ``work`` writes ``names`` (staged) and returns a value.

    With ``fork`` it runs in a child process that shares the parent's memory copy-on-write; ``result()``
    collects the child's files and value, or raises the child's error (or says how it died: memory, signal).
    """

    def __init__(self, staging: Staging, names: Sequence[str], work: Callable[[Staging], Any], *,
                 fork: bool) -> None:
        self._staging = staging
        self._names = list(names)
        self._work = work
        self._pid = 0
        self._read_end = -1
        self._value: Any = None
        self._done = False
        for name in self._names:
            staging.reserve(name)
        if not fork:
            self._value = work(staging)
            self._done = True
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: do the work, send back what it wrote, leave at once
            os.close(read_end)
            self._run_child(write_end)
        os.close(write_end)
        self._pid, self._read_end = pid, read_end

    def _run_child(self, write_end: int) -> None:
        status = 0
        try:
            try:
                value = self._work(self._staging)
                payload = pickle.dumps(("ok", {n: self._staging.written[n] for n in self._names}, value))
            except BaseException as exc:  # handed to the parent, which raises it
                payload = pickle.dumps(("error", _portable(exc), None))
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        except BaseException:  # a forked child must never return into the caller: exit, the parent reports
            status = 1
        finally:
            os._exit(status)

    def result(self) -> Any:
        if self._done:
            return self._value
        with os.fdopen(self._read_end, "rb") as source:
            data = source.read()
        _, status = os.waitpid(self._pid, 0)
        self._done = True
        if not data:
            raise CitygraphError(f"the process writing {', '.join(self._names)} stopped ({_describe(status)}): "
                                 "nothing was written")
        outcome, found, value = pickle.loads(data)
        if outcome == "error":
            raise found
        self._staging.adopt(found)
        self._value = value
        return value

    def abandon(self) -> None:
        """Stop the child (after a failure elsewhere): its files are discarded with the staging."""
        if self._done:
            return
        self._done = True
        os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)
        os.close(self._read_end)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an error with the same message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        if isinstance(exc, CitygraphError):
            return CitygraphError(str(exc))
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class _Parts:
    """The parts started by one export; on leaving with an error, the running children are stopped."""

    def __init__(self, staging: Staging, fork: bool) -> None:
        self._staging = staging
        self._fork = fork
        self._parts: list[_Part] = []

    def __enter__(self) -> _Parts:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for part in self._parts:
            part.abandon()

    def start(self, names: Sequence[str], work: Callable[[Staging], Any]) -> _Part:
        part = _Part(self._staging, names, work, fork=self._fork)
        self._parts.append(part)
        return part

    def finish(self) -> None:
        """Wait for every part (their files join the staging); the first failure is raised."""
        for part in self._parts:
            part.result()


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


def _write_turtle(out: IO[bytes], triples: Iterable[pyoxigraph.Quad], base: str) -> None:
    import pyoxigraph

    pyoxigraph.serialize(triples, out, format=pyoxigraph.RdfFormat.TURTLE, prefixes=turtle_prefixes(base))


def _turtle_part(staging: Staging, ntriples: bytes, base: str) -> None:
    """The Turtle dump (and its gzip) of sorted N-Triples, parsed and written by pyoxigraph.

    The parser is lenient (no IRI or language tag validation): its input is oxigraph's own output of terms
    validated when loaded, and it runs twice as fast.
    """
    import pyoxigraph

    quads = pyoxigraph.parse(ntriples, format=pyoxigraph.RdfFormat.N_TRIPLES, lenient=True)
    buffer = io.BytesIO()
    _write_turtle(buffer, quads, base)  # quads of the default graph: what a Turtle writer takes
    name = dump_filename("ttl")
    data = buffer.getvalue()
    del buffer
    with staging.gzip_behind(name, data):
        staging.write_bytes(name, data)


def _jsonld_part(staging: Staging, ntriples: bytes, base: str) -> GraphStatistics:
    """The context file, the JSON-LD dump and its gzip; returns the VoID figures, counted on the way."""
    from . import catalog, jsonld

    staging.write_bytes(CONTEXT_FILE, context_bytes(base))
    buffer = io.BytesIO()
    figures = jsonld.write_ntriples(buffer, jsonld.Context(context_document(base)), io.BytesIO(ntriples))
    name = dump_filename("jsonld")
    data = buffer.getvalue()
    del buffer
    with staging.gzip_behind(name, data):
        staging.write_bytes(name, data)
        statistics = catalog.statistics_of_figures(figures, ntriples)
    return statistics


def _with_graph_name(ntriples: bytes, graph_iri: str) -> bytes:
    """N-Quads of N-Triples: every line's final " .\\n" (a literal never holds a raw newline) gets the graph."""
    return ntriples.replace(b" .\n", b" <" + graph_iri.encode("utf-8") + b"> .\n")


# ---------------------------------------------------------------- CSV tables


def table_csv(graph: LoadedGraph, table: CsvTable) -> bytes:
    """One table: the rows of its named query as SPARQL 1.1 results CSV (header row, plain values, CRLF)."""
    from .query import run_named_query

    return run_named_query(graph, table.query).to_csv().encode("utf-8")


def _csv_part(staging: Staging, graph: LoadedGraph) -> None:
    for table in CSV_TABLES:
        data = table_csv(graph, table)
        staging.write_bytes(table.filename, data)
        staging.write_gzip(table.filename, data)


# ---------------------------------------------------------------- the whole export


def _expand_choice(choice: str) -> tuple[list[str], bool]:
    if choice not in EXPORT_CHOICES:
        raise InputError(f"unknown export format {choice!r} (expected one of {', '.join(EXPORT_CHOICES)})")
    if choice == "all":
        return [*RDF_DUMP_FORMATS, "csv"], True
    return [choice], False


def _use_processes(graph: LoadedGraph, processes: int | None) -> bool:
    if processes is None:
        processes = 2 if len(graph.store) > PARALLEL_THRESHOLD else 1
    return processes > 1 and hasattr(os, "fork") and (os.cpu_count() or 1) > 1


def export(graph: LoadedGraph, out_dir: Path, choice: str = "all", *, processes: int | None = None) -> ExportReport:
    """Write the dumps for ``choice`` (a format key, ``csv`` or ``all``) into ``out_dir``, atomically.

    ``all`` also writes the catalogue (DCAT, VoID); every run rewrites ``SHA256SUMS`` over the files it
    knows in ``out_dir``. ``processes``: 1 writes everything in this process, 2 or more lets child processes
    write parts (Linux); by default, two above ``PARALLEL_THRESHOLD`` quads. The bytes are the same.
    """
    kinds, with_catalog = _expand_choice(choice)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the output directory ({exc.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"{out_dir}: the output directory is not writable")
    base = graph.base
    fork = _use_processes(graph, processes)
    with Staging(out_dir) as staging, _Parts(staging, fork) as parts:
        if "csv" in kinds:  # needs only the store: started first, it runs while the data is dumped and sorted
            names = [n for t in CSV_TABLES for n in (t.filename, t.filename + ".gz")]
            parts.start(names, lambda st: _csv_part(st, graph))
        statistics: GraphStatistics | None = None  # None: catalog.describe counts with SPARQL
        jsonld_part: _Part | None = None
        rdf_kinds = [k for k in kinds if k in RDF_DUMP_FORMATS]
        if rdf_kinds:
            ntriples = b"".join(sorted_ntriples(graph, graph.data_graph))  # one object: children share it
            if "jsonld" in rdf_kinds:
                name = dump_filename("jsonld")
                jsonld_part = parts.start([CONTEXT_FILE, name, name + ".gz"],
                                          lambda st: _jsonld_part(st, ntriples, base))
            if "ttl" in rdf_kinds:
                name = dump_filename("ttl")
                parts.start([name, name + ".gz"], lambda st: _turtle_part(st, ntriples, base))
            with ThreadPoolExecutor(max_workers=1) as pool:
                packing: list[Future[WrittenFile]] = []
                if "nt" in rdf_kinds:
                    name = dump_filename("nt")
                    packing.append(pool.submit(staging.write_gzip, name, [ntriples]))
                    staging.write_bytes(name, [ntriples])
                if "nq" in rdf_kinds:
                    ontology = b"".join(sorted_ntriples(graph, graph.ontology_graph))
                    nquads = [_with_graph_name(ntriples, graph.data_graph),
                              _with_graph_name(ontology, graph.ontology_graph)]
                    name = dump_filename("nq")
                    packing.append(pool.submit(staging.write_gzip, name, nquads))
                    staging.write_bytes(name, nquads)
                    del nquads
                del ntriples
                for job in packing:
                    job.result()
        parts.finish()
        if jsonld_part is not None:
            statistics = jsonld_part.result()
        if with_catalog:
            from . import catalog

            description = catalog.describe(graph, staging.written, statistics)
            staging.write_bytes(catalog.CATALOG_TTL, description.catalog_turtle)
            staging.write_bytes(catalog.CATALOG_JSONLD, description.catalog_jsonld)
            staging.write_bytes(catalog.CATALOG_UDATA_TTL, description.catalog_udata_turtle)
            staging.write_bytes(catalog.VOID_TTL, description.void_turtle)
        staging.write_bytes(CHECKSUMS_FILE, _checksums(out_dir, staging.written))
        order = {name: index for index, name in enumerate([*known_filenames(), CHECKSUMS_FILE])}
        report = ExportReport(out_dir, sorted(staging.written.values(), key=lambda f: order.get(f.name, -1)))
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
    names += [catalog.CATALOG_TTL, catalog.CATALOG_JSONLD, catalog.CATALOG_UDATA_TTL, catalog.VOID_TTL]
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
