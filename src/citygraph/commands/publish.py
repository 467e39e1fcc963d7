"""`citygraph publish`: push the ontology and the data to a triple store, then compare the triple counts."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Push the ontology and the data to a triple store through the SPARQL 1.1 Graph Store HTTP Protocol, one named
graph each ({base}graph/ontology and {base}graph/data, or --graph for the data), replacing what was there;
then compare the store's triple counts with the local ones.

Each graph is PUT (N-Triples, its length given) into a new version graph ({graph}/version/{time}-{token})
whose count is checked; then one small SPARQL Update moves the pointers in {base}graph/versions
(dcat:hasCurrentVersion) to every new version at once. Until that switch the versions current before are
served; a failure before it (a short count too) replaces nothing. `serve --store` and `query --endpoint` follow
the pointers. The version the switch replaces stays as the previous one; older ones are deleted (on Oxigraph
while the new versions are uploaded, else after the switch). A publish killed midway leaves the current
version whole; the next publish cleans up.

Endpoints default to Oxigraph's layout (URL/store, URL/query, URL/update). Other stores:
  Fuseki   --store http://host:3030/DS --store-endpoint http://host:3030/DS/data
           --query-endpoint http://host:3030/DS/query --update-endpoint http://host:3030/DS/update
  GraphDB  --store http://host:7200/repositories/REPO --store-endpoint http://host:7200/repositories/REPO/rdf-graphs/service
           --query-endpoint http://host:7200/repositories/REPO
           --update-endpoint http://host:7200/repositories/REPO/statements
  Virtuoso --store http://host:8890 --store-endpoint http://host:8890/sparql-graph-crud-auth
           --query-endpoint http://host:8890/sparql --update-endpoint http://host:8890/sparql-auth
           --auth digest --user U --password-env VAR   (the user needs the SPARQL_UPDATE role)
"""

EPILOG = """\
examples:
  citygraph publish --store http://localhost:7878 --dry-run     what would be sent
  citygraph publish --store http://localhost:7878               Oxigraph (oxigraph serve)
  citygraph publish --store https://store.example.org --user admin --password-env STORE_PASSWORD

exit codes: 0 published and the counts match; 1 the store's counts differ from the local ones (--direct);
            2 bad option or input; 3 the store failed or could not be reached
              (the message says what was and wasn't replaced)
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "publish",
        help="push the ontology and the data to a triple store (Graph Store Protocol) and check the counts",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="data files to publish (default: the graph's data/*.ttl)"
    )
    parser.add_argument(
        "--store", required=True, metavar="URL", help="base URL of the store (e.g. http://localhost:7878)"
    )
    parser.add_argument("--graph", metavar="IRI", help="named graph for the data (default {base}graph/data)")
    parser.add_argument(
        "--store-endpoint", metavar="URL", help="Graph Store Protocol endpoint (default URL/store)"
    )
    parser.add_argument("--query-endpoint", metavar="URL", help="SPARQL query endpoint (default URL/query)")
    parser.add_argument(
        "--update-endpoint",
        metavar="URL",
        help="SPARQL update endpoint for the switch to the new versions (default URL/update; 'none' if there is none)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="PUT straight into the target graphs, without versions and a switch",
    )
    parser.add_argument("--user", metavar="U", help="user name for HTTP authentication")
    parser.add_argument(
        "--auth",
        choices=("basic", "digest"),
        default="basic",
        help="HTTP authentication scheme for --user (default basic; Virtuoso's *-auth endpoints: digest)",
    )
    parser.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    parser.add_argument("--token-env", metavar="VAR", help="environment variable holding a bearer token")
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="seconds per HTTP call (default 300)"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be sent; contact no store")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import EXIT_NONCONFORMANT, EXIT_OK
    from ..load import load_graph
    from ..publish import Credentials, StoreEndpoints, publish
    from .options import check_http_url

    check_http_url("--store", args.store)
    for option, value in (("--store-endpoint", args.store_endpoint), ("--query-endpoint", args.query_endpoint),
                          ("--update-endpoint", args.update_endpoint)):
        if value is not None and value != "none":
            check_http_url(option, value)

    endpoints = StoreEndpoints.derive(
        args.store, store=args.store_endpoint, query=args.query_endpoint, update=args.update_endpoint
    )
    credentials = Credentials.from_env(
        user=args.user, password_env=args.password_env, token_env=args.token_env, scheme=args.auth
    )
    graph = load_graph(args.files or None)
    result = publish(
        graph,
        endpoints,
        credentials=credentials,
        data_target=args.graph,
        direct=args.direct,
        dry_run=args.dry_run,
        progress=False if args.no_progress else None,
        timeout=args.timeout,
    )
    for item in result.graphs:
        if result.dry_run:
            print(
                f"{item.label}: {item.local_count} triples would go to <{item.target}> via {endpoints.store}"
            )
        else:
            state = "ok" if item.matches else "DIFFERENT"
            where = f" (version <{item.version}>)" if item.version else ""
            print(
                f"{item.label}: {item.local_count} triples sent to <{item.target}>{where}, "
                f"{item.remote_count} on the store — {state}"
            )
    for note in result.notes:
        print(f"citygraph publish: {note}", file=sys.stderr)
    if result.differences:
        print(
            f"the store's triple counts differ from the local graph for: "
            f"{', '.join(g.label for g in result.differences)}"
        )
        return EXIT_NONCONFORMANT
    if not result.dry_run:
        print(f"published to {args.store}: the store's counts match the local graph")
    return EXIT_OK
