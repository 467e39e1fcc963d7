"""A query worker process: runs SPARQL queries on a read-only store, one at a time, for the HTTP process.

The HTTP process may kill a worker at any moment (time limit, fair sharing) and treats its death (stack
overflow, out of memory) as one failed query: pyoxigraph cannot be interrupted in-process, a process can. At
start the worker moves into its own empty network namespace when the system allows it, so a ``SERVICE``
clause that got past the screen cannot reach any host; it runs at a lower CPU priority than the HTTP process.
Once its graph is loaded it caps its own memory (``RLIMIT_DATA``, ``--memory``: an allocation past it fails and
the worker ends) and, before each query, its CPU time (``RLIMIT_CPU``, ``--cpu`` seconds per query: the kernel
ends a worker the HTTP process failed to stop).

Frames on stdin/stdout: a request is ``u32 length`` + JSON; a reply is ``u32 header length`` + ``u32 body
length`` + JSON header + body. Run as ``python -m citygraph.serve.workers --store DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import struct
import sys
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from ..formats import RDF_ALIASES, RDF_FORMATS, RESULT_MEDIA_TYPES
from ..sparql_json import term_from_json
from . import results
from .errors import HttpProblem

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000

REQUEST_HEADER = struct.Struct(">I")
REPLY_HEADER = struct.Struct(">II")

RDF_MEDIA = {fmt.key: fmt for fmt in RDF_FORMATS}


MEMORY_TITLE = "Query memory limit exceeded"


class Refusal(HttpProblem):
    """A query this worker answers with an HTTP error status (the server's one error type)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(status, detail, title=title)


def isolate_network() -> bool:
    """Enter a new, empty network namespace (no interface up): outgoing connections become impossible."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return any(libc.unshare(flags) == 0 for flags in (CLONE_NEWNET, CLONE_NEWUSER | CLONE_NEWNET))


NICENESS = 10  # workers yield the CPU to the HTTP process: lookups, pages and cached answers stay fast
CODE_ALLOWANCE = 48 << 20  # resident code and stacks beside the data (what RLIMIT_DATA does not count)


def cap_memory(limit: int) -> int:
    """Keep this process's resident memory under ``limit`` bytes: its data memory (heap and anonymous
    mappings) is capped at ``limit`` less :data:`CODE_ALLOWANCE`. Returns the data size now."""
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        data = next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:")), 0)
    data_limit = max(limit - CODE_ALLOWANCE, data + (16 << 20))
    resource.setrlimit(resource.RLIMIT_DATA, (data_limit, data_limit))
    return data


def cap_cpu(seconds: int) -> None:
    """Allow ``seconds`` more CPU time from now (SIGXCPU ends the process past it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


class Engine:
    """The store and the rules for running one request on it."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def query_kwargs(self, request: Mapping[str, Any]) -> dict[str, Any]:
        import pyoxigraph

        kwargs: dict[str, Any] = {"base_iri": request.get("base_iri")}
        default_graphs: Sequence[str] = request.get("default_graphs") or ()
        named_graphs: Sequence[str] = request.get("named_graphs") or ()
        if default_graphs or named_graphs:  # a protocol dataset replaces the query's own and the service's
            kwargs["default_graph"] = [pyoxigraph.NamedNode(g) for g in default_graphs]
            kwargs["named_graphs"] = [pyoxigraph.NamedNode(g) for g in named_graphs]
        elif not request.get("has_dataset_clause"):
            kwargs["use_default_graph_as_union"] = True  # the service's default graph: every graph merged
        bindings = request.get("bindings")
        if bindings:
            kwargs["substitutions"] = {pyoxigraph.Variable(k): term_from_json(v) for k, v in bindings.items()}
        return kwargs

    def run(self, request: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
        import pyoxigraph

        try:
            result = self.store.query(request["query"], **self.query_kwargs(request))
        except SyntaxError as exc:
            raise Refusal(400, "Bad Request: SPARQL syntax error", exc.msg or str(exc)) from None
        except ValueError as exc:  # e.g. an invalid graph IRI
            raise Refusal(400, "Bad Request", str(exc)) from None
        op = request["op"]
        accept: Sequence[str] = request.get("accept") or ()
        max_rows = int(request["max_rows"])
        if isinstance(result, pyoxigraph.QueryBoolean):
            if op == "construct":
                raise Refusal(400, "Bad Request", "expected a CONSTRUCT or DESCRIBE query, got ASK")
            fmt, media = self.pick(accept, results.RESULT_ALIASES, "json", op)
            return {"media_type": media}, results.boolean(fmt, bool(result))
        if isinstance(result, pyoxigraph.QuerySolutions):
            if op == "construct":
                raise Refusal(400, "Bad Request", "expected a CONSTRUCT or DESCRIBE query, got SELECT")
            fmt, media = self.pick(accept, results.RESULT_ALIASES, "json", op)
            variables = [v.value for v in result.variables]
            rows: list[tuple[Any, ...]] = []
            truncated = False
            for solution in result:
                if len(rows) >= max_rows:
                    truncated = True
                    break
                rows.append(tuple(solution))
            return {"media_type": media, "truncated": truncated}, results.solutions(fmt, variables, rows)
        if op == "select":
            raise Refusal(400, "Bad Request", "expected a SELECT or ASK query, got CONSTRUCT or DESCRIBE")
        triples: list[Any] = []
        truncated = False
        for triple in result:
            if len(triples) >= max_rows:
                truncated = True
                break
            triples.append(triple)
        if op == "construct":
            fmt_key, media = "nt", RDF_MEDIA["nt"].media_type
        else:
            fmt_key, media = self.pick(accept, RDF_ALIASES, "ttl", op)
        rdf_fmt = RDF_MEDIA[fmt_key]
        prefixes = None
        if fmt_key == "ttl":
            from ..namespaces import PREFIXES

            prefixes = PREFIXES
        body = (
            pyoxigraph.serialize(
                triples, format=getattr(pyoxigraph.RdfFormat, rdf_fmt.oxigraph_name), prefixes=prefixes
            )
            or b""
        )
        return {"media_type": media, "truncated": truncated}, body

    @staticmethod
    def pick(accept: Sequence[str], table: Mapping[str, str], default: str, op: str) -> tuple[str, str]:
        """The first accepted media type this query form can be written in: (format key, media type)."""
        if op != "execute":
            key = default
        else:
            for media in accept:
                if media in table:
                    key = table[media]
                    break
            else:
                raise Refusal(
                    406,
                    "Not Acceptable",
                    "none of the accepted media types fits this query form; "
                    "offered: " + ", ".join(sorted(set(table))),
                )
        if table is RDF_ALIASES:
            return key, RDF_MEDIA[key].media_type
        return key, RESULT_MEDIA_TYPES[key]


def read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if data is None or len(data) < size:
        return None
    return data


def write_reply(stream: BinaryIO, header: Mapping[str, Any], body: bytes = b"") -> None:
    head = json.dumps(header).encode()
    stream.write(REPLY_HEADER.pack(len(head), len(body)) + head + body)
    stream.flush()


def serve(engine: Engine, stdin: BinaryIO, stdout: BinaryIO, cpu_seconds: int = 0) -> None:
    while True:
        raw = read_exact(stdin, REQUEST_HEADER.size)
        if raw is None:
            return
        payload = read_exact(stdin, REQUEST_HEADER.unpack(raw)[0])
        if payload is None:
            return
        request = json.loads(payload)
        if cpu_seconds:
            cap_cpu(cpu_seconds)
        try:
            header, body = engine.run(request)
            header["ok"] = True
        except MemoryError:
            header, body = {"ok": False, "status": 503, "title": MEMORY_TITLE,
                            "detail": "the query needed more memory than a query worker may use"}, b""
        except Refusal as exc:
            header, body = {"ok": False, "status": exc.status, "title": exc.title, "detail": exc.detail}, b""
        except RuntimeError as exc:  # pyoxigraph's evaluation errors (e.g. a bound variable not projected)
            header, body = (
                {"ok": False, "status": 400, "title": "Bad Request: the query cannot be evaluated",
                 "detail": str(exc)},
                b"",
            )
        except OSError as exc:
            header, body = (
                {
                    "ok": False,
                    "status": 500,
                    "title": "Internal Server Error",
                    "detail": f"the store failed: {exc}",
                },
                b"",
            )
        write_reply(stdout, header, body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="citygraph.serve.workers")
    parser.add_argument("--store", required=True, help="directory of the pyoxigraph store (opened read-only)")
    parser.add_argument("--memory", type=int, default=0, help="data memory cap in bytes, set once loaded (0: none)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU seconds allowed per query (0: no cap)")
    parser.add_argument("--in-memory", action="store_true", help="copy the graph into memory (a small graph)")
    args = parser.parse_args(argv)
    isolated = isolate_network()
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    import pyoxigraph

    store = pyoxigraph.Store.read_only(args.store)
    if args.in_memory:  # lookups run ~5x faster in memory than on the read-only RocksDB store
        on_disk, store = store, pyoxigraph.Store()
        store.bulk_extend(on_disk.quads_for_pattern(None, None, None, None))
        del on_disk
    loaded = cap_memory(args.memory) if args.memory else 0
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the reply channel
    write_reply(stdout, {"ok": True, "ready": True, "isolated": isolated, "pid": os.getpid(), "loaded": loaded})
    serve(Engine(store), sys.stdin.buffer, stdout, args.cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
