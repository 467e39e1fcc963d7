"""The ``citygraph`` command: parses arguments and calls the modules; nothing else.

Every command module under ``citygraph.commands`` exposes ``register(subparsers)`` and ``run(args) -> int``
and imports its heavy dependencies inside ``run``, so ``citygraph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import EXIT_BAD_INPUT, CitygraphError

# Order here is the order in --help.
COMMANDS = ("validate", "query", "queries", "claims", "export", "build", "link", "serve", "publish")

EPILOG = """\
which data:
  Inside a checkout (a directory with citygraph's pyproject.toml beside data/ and ontology/, found from the
  current directory upwards) every command reads and writes that checkout's files. --data-dir DIR (or
  CITYGRAPH_DATA=DIR) names another such directory. Elsewhere the copy installed with the package is read,
  and never written. Each command says on stderr which one it uses.

exit codes:
  0  success
  1  the data does not conform to the shapes (validate), or a check found differences
  2  unusable input or output: syntax error (file:line:column), missing or empty file, unknown query, bad
     option or URL, an output that cannot be written (full disk, read-only), a port already in use
  3  a remote store or SPARQL endpoint failed or could not be reached

examples:
  citygraph validate                      check the graph against the SHACL shapes
  citygraph validate my-data.ttl          check your own files against the ontology and shapes
  citygraph --data-dir ~/citygraph validate
  citygraph queries                       list the named queries and their parameters
  citygraph query authorities-under-population --param max=250000
  citygraph claims                        the survey's figures beside what the graph derives
  citygraph export --format all --out dist/
  citygraph serve --port 8000

environment:
  CITYGRAPH_BASE   base IRI of every resource (default https://w3id.org/citygraph/)
  CITYGRAPH_DATA   directory holding data/ and ontology/ (as --data-dir)
"""

def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, accepted before or after the command name."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="read (and write) the data/, ontology/ and queries/ of DIR (default: $CITYGRAPH_DATA, else the "
        "checkout around the current directory, else the copy installed with the package)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citygraph",
        description="Publish and check the knowledge graph of French smart cities "
        "(JDN survey, February 2017).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_dir_option(parser)
    parser.add_argument("--version", action="version", version=f"citygraph {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"citygraph.commands.{name}")
        module.register(subparsers)
        add_data_dir_option(subparsers.choices[name])
    return parser


def _what_is_used(args: argparse.Namespace) -> str:
    """What of the data location a command reads, for the line on stderr."""
    if args.command == "queries" or (args.command == "query" and getattr(args, "endpoint", None)):
        return "the queries"
    if args.command == "serve" and getattr(args, "store_url", None):
        return "the queries"
    if getattr(args, "files", None) and not getattr(args, "with_bundled", False):
        return "the ontology and shapes"
    return "data"


def main(argv: Sequence[str] | None = None) -> int:
    from . import settings

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    data_dir = getattr(args, "data_dir", None)
    environment_before = os.environ.get(settings.DATA_ENV)
    try:
        location = settings.resolve_location(data_dir)
        settings.select_location(location)
        if data_dir is not None:
            os.environ[settings.DATA_ENV] = str(location.root)  # child processes (serve workers) agree
        print(f"citygraph: using {_what_is_used(args)} in {location.describe()}", file=sys.stderr)
        code: int = args.run(args)
    except CitygraphError as exc:
        print(f"citygraph: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("citygraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        from .commands.options import OUTPUT_ERRNOS

        if exc.errno not in OUTPUT_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"citygraph: error: {where}cannot write ({exc.strerror})", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        settings.select_location(None)
        if data_dir is not None:
            if environment_before is None:
                os.environ.pop(settings.DATA_ENV, None)
            else:
                os.environ[settings.DATA_ENV] = environment_before
    return code


if __name__ == "__main__":
    sys.exit(main())
