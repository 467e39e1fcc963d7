"""`citygraph link wikidata`: reconcile authorities and communes with Wikidata by SIREN and INSEE code."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import HelpWithExamples

DEFAULT_ENDPOINT = "https://query.wikidata.org/sparql"  # citygraph.link.WIKIDATA_ENDPOINT

EPILOG = """\
examples:
  citygraph link wikidata --dry-run              report only, write nothing
  citygraph link wikidata                        add the confirmed links to the checkout's data/wikidata-links.ttl
  citygraph link wikidata --endpoint http://localhost:7878/query --links-file links.ttl

exit codes: 0 nothing needs review · 1 a conflict, a contradicted candidate or an ambiguous code ·
            2 bad input or an output that cannot be written · 3 the endpoint failed or could not be reached
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "link",
        help="reconcile the graph with Wikidata (SIREN P1616, INSEE code P374)",
        description="Look every intercommunality up on Wikidata by SIREN (P1616) and every commune "
        "(authorities and seat communes) by INSEE code (P374), in batched queries, and report each as "
        "confirmed, missing in our data, conflicting (ours and theirs shown) or not found. Without --dry-run,"
        " the newly confirmed links are added to the links file (data/wikidata-links.ttl of the checkout or "
        "--data-dir: see `citygraph --help`), rewritten atomically; existing links are never dropped. "
        "Exit code 1 when a conflict, a contradicted candidate or an ambiguous code needs review.",
        epilog=EPILOG,
        formatter_class=HelpWithExamples,
    )
    parser.add_argument("target", choices=["wikidata"], help="what to link to")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, metavar="URL",
                        help=f"SPARQL endpoint (default: {DEFAULT_ENDPOINT})")
    parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    parser.add_argument("--batch-size", type=int, default=50, metavar="N",
                        help="codes per query (default: 50)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="time limit per query (default: 60)")
    parser.add_argument("--links-file", type=Path, metavar="PATH",
                        help="links file to read and rewrite (default: data/wikidata-links.ttl of the data in use: the "
                        "checkout, or --data-dir; never the copy installed with the package)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import settings
    from ..errors import EXIT_NONCONFORMANT, EXIT_OK, InputError
    from ..link import read_links, reconcile_with, render, write_links
    from ..load import load_graph
    from .options import check_http_url

    check_http_url("--endpoint", args.endpoint)
    location = settings.data_location()
    bundled_links = settings.bundled_dir("data") / "wikidata-links.ttl"
    links_file: Path = args.links_file or bundled_links
    if not args.dry_run and args.links_file is None and not location.writable:
        raise InputError(
            f"not in a checkout: the data in use is the copy installed with the package ({location.root}), "
            "which the next install replaces; run this inside your checkout, or give --data-dir DIR or "
            "--links-file PATH (or --dry-run)"
        )
    data = [p for p in settings.data_files() if p.resolve() != bundled_links.resolve()]
    if read_links(links_file):  # a links file with no link yet is fine here (load_graph refuses empty files)
        data.append(links_file)
    graph = load_graph(data)
    report = reconcile_with(graph, args.endpoint, batch_size=args.batch_size, timeout=args.timeout)
    print(render(report, base=graph.base), end="")
    if args.dry_run:
        print("dry run: nothing written")
    else:
        added = write_links(links_file, report, base=graph.base)
        print(f"{links_file}: {len(added)} link(s) added")
    return EXIT_NONCONFORMANT if report.needs_review else EXIT_OK
