"""`citygraph query NAME|FILE.rq`: run a named query on the bundled graph or on a remote SPARQL endpoint."""

from __future__ import annotations

import argparse

from .options import HelpWithExamples

FORMATS = ("table", "csv", "tsv", "json")

EPILOG = """\
examples:
  citygraph query lead-share
  citygraph query authorities-under-population --param max=250000 --param basis=seat --format csv
  citygraph query my-query.rq                          a .rq file of your own
  citygraph query lead-share --endpoint http://localhost:7878/query

exit codes: 0 · 2 unknown query or parameter, bad value, syntax error (file:line:column), bad URL ·
            3 the endpoint failed or could not be reached
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "query",
        help="run a named query (or a .rq file)",
        description=(
            "Run a named query (see `citygraph queries`) or a .rq file on the bundled graph, or on a "
            "remote SPARQL endpoint with --endpoint. Parameters are bound as typed RDF terms, never "
            "pasted into the query."
        ),
        epilog=EPILOG,
        formatter_class=HelpWithExamples,
    )
    parser.add_argument("query", metavar="NAME|FILE.rq", help="a named query, or a path to a .rq file")
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind a parameter (repeatable); see `citygraph queries` for each query's parameters",
    )
    parser.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default="table",
        help="table (aligned text, default), csv, tsv or json (SPARQL 1.1 results formats)",
    )
    parser.add_argument(
        "--endpoint", metavar="URL", help="run on this SPARQL endpoint (http:// or https://) instead of the "
        "local graph (default: the local graph)"
    )
    parser.add_argument(
        "--graph",
        metavar="IRI",
        default=None,
        help="with --endpoint: the named graph to query as default graph (sent as default-graph-uri); "
        "default the data graph IRI (BASE/graph/data, where `citygraph publish` puts the data); "
        "'' sends none",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --endpoint: give up after this many seconds (default 30)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..errors import InputError
    from ..query import get_query, parse_param_assignments, run_named_query, run_remote_query

    named = get_query(args.query)
    params = parse_param_assignments(args.param)
    if args.endpoint is not None:
        from .options import check_http_url

        check_http_url("--endpoint", args.endpoint)
        graph = "" if args.graph is None else (args.graph or None)
        result = run_remote_query(args.endpoint, named, params, args.timeout, graph=graph)
    else:
        if args.graph is not None:
            raise InputError("--graph only applies with --endpoint")
        from ..load import load_graph

        result = run_named_query(load_graph(), named, params)
    if args.format == "table":
        sys.stdout.write(result.to_table())
        if result.boolean is None:
            print(f"({len(result)} row{'s' if len(result) != 1 else ''})", file=sys.stderr)
    elif args.format == "csv":
        sys.stdout.write(result.to_csv())
    elif args.format == "tsv":
        sys.stdout.write(result.to_tsv())
    else:
        sys.stdout.write(result.to_json() + "\n")
    return 0
