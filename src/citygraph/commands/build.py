"""`citygraph build`: validate, then write every download (the maintainer's one command before publishing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import output_dir

DESCRIPTION = """\
Validate the graph against the SHACL shapes; if it conforms, write every download into DIR: the dumps
(JSON-LD, Turtle, N-Triples, N-Quads, CSV), a .gz of each, SHA256SUMS, the DCAT-AP catalogue and VoID.
If the graph does not conform, the report is printed and nothing is written (exit 1).
"""

EPILOG = """\
examples:
  citygraph build                      the graph (checkout or --data-dir, see citygraph --help) into dist/
  citygraph build --out site/dumps     another directory
  citygraph build my-data.ttl          your own data files (with the ontology and shapes)

exit codes: 0 built · 1 the data does not conform (nothing written) · 2 unusable input, or DIR cannot be
written (full disk, read-only): the files already in DIR are left as they were
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "build",
        help="validate, then write every dump, checksum and the catalogue (validate + export)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", type=Path, metavar="DATA_FILE",
                        help="data files to build instead of the graph's data/ (default: data/*.ttl)")
    parser.add_argument("--out", type=output_dir, default=Path("dist"), metavar="DIR",
                        help="output directory (default: dist/)")
    parser.add_argument("--engine", choices=("auto", "pyshacl", "sparql"), default="auto",
                        help="SHACL engine: auto (default: pyshacl up to 5,000 data triples, sparql above), "
                        "pyshacl or sparql (see citygraph validate --help)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import EXIT_NONCONFORMANT, EXIT_OK
    from ..export import export
    from ..load import load_graph
    from ..validate import validate_graph
    from .options import writing_to

    graph = load_graph(args.files or None)
    report = validate_graph(graph, engine=args.engine)
    if not report.conforms:
        sys.stdout.write(report.to_text())
        print("citygraph: the graph does not conform: nothing was written", file=sys.stderr)
        return EXIT_NONCONFORMANT
    with writing_to(args.out):
        written = export(graph, args.out, "all")
    print(f"validated ({report.engine}): conforms")
    print(f"{len(written.files)} files written to {written.out_dir}/ (see SHA256SUMS)")
    return EXIT_OK
