"""`citygraph export`: the dumps (JSON-LD, Turtle, N-Triples, N-Quads, CSV), checksums, catalogue."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import HelpWithExamples, output_dir

CHOICES = ("jsonld", "ttl", "nt", "nq", "csv", "all")  # citygraph.export.EXPORT_CHOICES, kept import-free

EPILOG = """\
examples:
  citygraph export                         every dump, checksum and the catalogue into dist/
  citygraph export --format jsonld --out site/dumps
  citygraph export my-data.ttl --out /tmp/check

exit codes: 0 written · 2 unusable input, or DIR cannot be written (full disk, read-only): the files already
in DIR are left as they were
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "export",
        help="write the dumps, their checksums and the DCAT/VoID catalogue",
        description="Write the graph as JSON-LD (compacted with the project's context), Turtle, N-Triples, "
        "N-Quads (data and ontology in two named graphs) and CSV tables, a deterministic .gz of each, "
        "SHA256SUMS and, with --format all, the DCAT-AP catalogue (catalog.ttl, catalog.jsonld) and "
        "void.ttl. "
        "Files are staged and renamed into place only when all are written: a failure leaves the old ones.",
        epilog=EPILOG,
        formatter_class=HelpWithExamples,
    )
    parser.add_argument("files", nargs="*", type=Path, metavar="DATA_FILE",
                        help="data files to export instead of the graph's data/ (default: data/*.ttl)")
    parser.add_argument("--format", dest="export_format", choices=CHOICES, default="all",
                        help="what to write (default: all)")
    parser.add_argument("--out", type=output_dir, default=Path("dist"), metavar="DIR",
                        help="output directory (default: dist/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export
    from ..load import load_graph
    from .options import writing_to

    graph = load_graph(args.files or None)
    with writing_to(args.out):
        report = export(graph, args.out, args.export_format)
    width = max(len(f.name) for f in report.files)
    for written in report.files:
        print(f"{written.name:<{width}}  {written.size:>12,d} B  sha256:{written.sha256[:16]}…")
    print(f"{len(report.files)} files written to {report.out_dir}/")
    return 0
