"""`citygraph validate`: check the bundled graph, or your files, against the bundled ontology and shapes."""

from __future__ import annotations

import argparse
import sys

from ..errors import EXIT_NONCONFORMANT, EXIT_OK

DESCRIPTION = """\
Check RDF data against the citygraph SHACL shapes (ontology/shapes.ttl) and report every problem,
grouped by resource: the rule's message, the property, the offending value and the file:line where the
resource is defined.

With no FILE, the graph's data/*.ttl is checked (the checkout's, or --data-dir's: see citygraph --help).
Given FILEs replace that data (the ontology and shapes are always used); add --with-bundled to check them
together with it, e.g. for a file that adds resources pointing at the graph's kinds, themes and sources.
An empty file, or one with only prefixes and comments, is refused (exit 2): it would conform vacuously."""

EPILOG = """\
examples:
  citygraph validate                          the graph (data/*.ttl)
  citygraph validate my-data.ttl              your own file(s), alone
  citygraph validate dump.nt.gz               gzip-compressed files are read as they are
  citygraph validate --with-bundled extra.ttl your file added to the graph
  citygraph validate --lang fr                messages in French
  citygraph validate --format json            machine-readable results
  citygraph validate --format turtle          a W3C sh:ValidationReport graph

exit codes:
  0  the data conforms to the shapes
  1  the data does not conform (the report lists the violations)
  2  unusable input: syntax error (file:line:column), missing, empty or no-triple file, a directory,
     unknown format or engine
"""

FORMATS = ("text", "json", "turtle")
LANGUAGES = ("en", "fr")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "validate",
        help="check the graph (or your files) against the SHACL shapes",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="RDF files to check (.ttl, .nt, .nq, .trig, .jsonld, .rdf, each optionally .gz); default: the "
        "graph's data/*.ttl",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument(
        "--lang", choices=LANGUAGES, default="en", help="language of the messages (default: en)"
    )
    # No `choices`: listing the engines would import citygraph.validate and slow down --help; an unknown
    # engine is refused by validate_graph (exit 2) with the list of available ones.
    parser.add_argument(
        "--engine",
        metavar="NAME",
        default="auto",
        help="SHACL engine: auto (default: pyshacl up to 5,000 data triples, sparql above); pyshacl (the "
        "reference); sparql (the shapes compiled to SPARQL, same results, fast on large graphs)",
    )
    parser.add_argument(
        "--with-bundled",
        action="store_true",
        help="check FILEs together with the graph's data/*.ttl instead of alone",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import settings
    from ..load import load_graph
    from ..validate import validate_graph

    data = list(args.files)
    if data and args.with_bundled:
        data = [*map(str, settings.data_files()), *data]
    graph = load_graph(data or None)
    report = validate_graph(graph, engine=args.engine)
    if args.format == "json":
        output = report.to_json()
    elif args.format == "turtle":
        output = report.to_turtle()
    else:
        output = report.to_text(args.lang)
    sys.stdout.write(output)
    return EXIT_OK if report.conforms else EXIT_NONCONFORMANT
