"""The ``citygraph`` command: parses arguments and calls the modules; nothing else.

Every command module under ``citygraph.commands`` exposes ``register(subparsers)`` and ``run(args) -> int``
and imports its heavy dependencies inside ``run``, so ``citygraph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import EXIT_BAD_INPUT, CitygraphError

# Order here is the order in --help.
COMMANDS = ("validate", "query", "queries", "claims", "export", "build", "link", "serve", "publish")

EPILOG = """\
exit codes:
  0  success
  1  the data does not conform to the shapes (validate), or a check found differences
  2  unusable input: syntax error (file:line:column), missing file, unknown query, bad option
  3  a remote store or SPARQL endpoint failed or could not be reached

examples:
  citygraph validate                      check the bundled graph against the SHACL shapes
  citygraph validate my-data.ttl          check your own files against the bundled ontology and shapes
  citygraph queries                       list the named queries and their parameters
  citygraph query authorities-under-population --param max=250000
  citygraph claims                        the survey's figures beside what the graph derives
  citygraph export --format all --out dist/
  citygraph serve --port 8000

environment:
  CITYGRAPH_BASE   base IRI of every resource (default https://w3id.org/citygraph/)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citygraph",
        description="Publish and check the knowledge graph of French smart cities "
        "(JDN survey, February 2017).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"citygraph {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"citygraph.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        code: int = args.run(args)
    except CitygraphError as exc:
        print(f"citygraph: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("citygraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
