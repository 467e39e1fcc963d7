"""`citygraph serve`: the linked-data server (SPARQL endpoint, IRIs, pages, downloads) on uvicorn."""

from __future__ import annotations

import argparse
import errno
from typing import Any

from ..errors import InputError
from ..serve.state import MAX_DEFAULT_HTTP_WORKERS, default_workers, usable_cores
from .options import HelpWithExamples

EPILOG = """\
examples:
  citygraph serve                                  http://127.0.0.1:8000/ (pages, /sparql, /dumps/)
  citygraph serve --host 0.0.0.0 --port 8080 --base-url https://citygraph.example.org/
  citygraph serve --store http://localhost:7878    on top of a store filled by citygraph publish

exit codes: 0 stopped · 2 bad option, unusable --graph file, unknown --host or a port already in use
"""


def _graph_option(value: str) -> tuple[str, str]:
    iri, sep, path = value.partition("=")
    if not sep or not iri or not path:
        raise argparse.ArgumentTypeError(f"expected IRI=FILE, got {value!r}")
    if not iri.startswith(("http://", "https://", "urn:")):
        raise argparse.ArgumentTypeError(
            f"graph name {iri!r} must be an absolute IRI (http://, https://, urn:)"
        )
    return iri, path


def _positive(kind: type[int] | type[float]):  # type: ignore[no-untyped-def]
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
        return number

    return parse


def check_can_listen(host: str, port: int) -> None:
    """InputError (exit 2) now, rather than uvicorn's traceback after «startup complete», when ``host`` is
    unknown or ``host:port`` is taken. Binds as uvicorn does (SO_REUSEADDR) and lets go at once."""
    import socket

    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = addresses[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InputError(
                    f"cannot listen on {host}:{port}: the port is already in use (another server? choose "
                    "another with --port)"
                ) from None
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
def _memory_size(value: str) -> int:
    """A size in MiB (``512``) or with a unit (``512M``, ``1.5G``): bytes."""
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1 << 20)
    number = text[:-1] if text[-1:] in "KMG" else text
    try:
        size = int(float(number) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M or 2G, got {value!r}") from None
    if size < 64 << 20:
        raise argparse.ArgumentTypeError(f"{value!r}: a query worker needs at least 64M")
    return size


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        help="serve the graph: SPARQL endpoint, dereferenceable IRIs, pages, dumps",
        description="Serve the graph read-only over HTTP: /sparql (SPARQL 1.1 Protocol), /id/… IRIs, pages, "
        "/dumps/. Every query runs in a killable worker process under a time limit and a row cap; SERVICE "
        "and updates are refused.",
        epilog=EPILOG,
        formatter_class=HelpWithExamples,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--base-url", help="public URL of the server, if behind a proxy (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--graph",
        action="append",
        type=_graph_option,
        default=[],
        metavar="IRI=FILE",
        help="also serve FILE (.ttl, .nt, .rdf, .jsonld, …) as the named graph IRI (repeatable)",
    )
    parser.add_argument("--no-bundled", action="store_true", help="do not serve the bundled graph")
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        help="seconds a query may run before it is stopped (default 10)",
    )
    parser.add_argument(
        "--max-rows",
        type=_positive(int),
        default=10_000,
        help="rows (or triples) per result; longer results are cut (default 10000)",
    )
    parser.add_argument(
        "--max-query-bytes",
        type=_positive(int),
        default=256 * 1024,
        help="largest query accepted, in bytes (default 262144)",
    )
    http_default, query_default = default_workers()
    parser.add_argument(
        "--workers",
        type=_positive(int),
        help=f"HTTP worker processes (default: one per core this process may use, at most "
        f"{MAX_DEFAULT_HTTP_WORKERS}: {http_default} here)",
    )
    parser.add_argument(
        "--query-workers",
        type=_positive(int),
        help=f"query processes per HTTP worker, beside the one for the site's own queries (default: the cores "
        f"shared among the HTTP workers, at least 1: {query_default} here)",
    )
    parser.add_argument(
        "--store",
        dest="store_url",
        metavar="URL",
        help="serve from a remote SPARQL store at URL instead of the local graph",
    )
    parser.add_argument(
        "--worker-memory",
        type=_memory_size,
        metavar="SIZE",
        help="memory cap of each query worker (e.g. 512M, 2G); a query past it answers 503 and the worker is "
        "replaced (default: half the available memory shared by all query workers, 256M-2G each)",
    )
    parser.add_argument(
        "--client-budget",
        type=_positive(float),
        default=30.0,
        metavar="SECONDS",
        help="query-worker seconds each client may use per minute; past it, or with a query already running, "
        "a client's protocol queries get 429 + Retry-After (lookups, pages and cached answers still answer; "
        "default 30)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        default="",
        metavar="IPS",
        help="comma-separated proxy addresses whose X-Forwarded-For names the client (\"*\": any); by default "
        "the client is the socket peer",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log each request on stderr (off by default: it costs a tenth of a lookup's time)",
    )
    parser.add_argument("--no-access-log", action="store_true", help=argparse.SUPPRESS)  # the old default's off switch
    parser.set_defaults(run=run)


class _Stopped(Exception):
    """SIGTERM arrived (uvicorn re-raises it once it has shut down)."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; then the temporary store is removed and the exit status is 0."""
    import os
    import secrets
    import shutil
    import signal
    import tempfile
    from pathlib import Path

    import uvicorn

    from .. import settings
    from ..serve.state import CONFIG_ENV, ServeConfig, default_worker_memory

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: expected 1-65535")
    check_can_listen(args.host, args.port)
    if args.store_url:
        from .options import check_http_url

        check_http_url("--store", args.store_url)
    if args.no_bundled and not args.graph and not args.store_url:
        raise InputError("--no-bundled needs at least one --graph IRI=FILE (or --store URL)")
    from ..load import check_has_triples

    for _, path in args.graph:
        check_has_triples(Path(path))  # missing, a directory, unknown format or no triples: exit 2 now
    workers = args.workers or default_workers()[0]
    query_workers = args.query_workers or max(1, usable_cores() // workers)
    workdir = tempfile.mkdtemp(prefix="citygraph-serve-")
    config = ServeConfig(
        host=args.host,
        port=args.port,
        base_url=args.base_url,
        base=settings.base_iri(),
        graphs=tuple((iri, str(Path(path).resolve())) for iri, path in args.graph),
        bundled=not args.no_bundled,
        timeout=args.timeout,
        max_rows=args.max_rows,
        max_query_bytes=args.max_query_bytes,
        workers=workers,
        query_workers=query_workers,
        store_url=args.store_url,
        access_log=args.access_log and not args.no_access_log,
        worker_memory=args.worker_memory or default_worker_memory(workers, query_workers),
        client_budget=args.client_budget,
        forwarded_allow_ips=tuple(ip.strip() for ip in args.forwarded_allow_ips.split(",") if ip.strip()),
        ledger_path=str(Path(workdir) / "clients.ledger"),  # fair sharing across the HTTP workers
        ledger_key=secrets.token_hex(16),
    )
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        if not config.store_url:
            from ..serve.backend import prepare_store

            store = prepare_store(config, Path(workdir) / "store")  # parse errors stop us here, clearly
            config = ServeConfig(**{**config.__dict__, "store_path": str(store)})
        from ..serve.app import data_version

        version, modified = data_version(config)  # once: every HTTP worker gives the same ETags
        config = ServeConfig(**{**config.__dict__, "data_version": version, "data_time": modified})
        os.environ[CONFIG_ENV] = config.to_json()
        try:  # one write() per response (uvicorn's httptools protocol, gathering each turn's writes)
            from ..serve.transport import HttpProtocol

            http: Any = HttpProtocol
        except ImportError:  # no httptools: uvicorn's own choice
            http = "auto"
        uvicorn.run(
            "citygraph.serve.app:app_from_env",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers if config.workers > 1 else None,
            access_log=config.access_log,
            http=http,
            proxy_headers=False,
            server_header=False,
            log_level="info",
            timeout_graceful_shutdown=5,
        )
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
