"""`citygraph queries`: the named queries, their titles, descriptions and parameters."""

from __future__ import annotations

import argparse

from .options import HelpWithExamples

EPILOG = """\
examples:
  citygraph queries                    names, titles, descriptions and parameters
  citygraph queries --format json      the same for programs
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "queries",
        help="list the named queries and their parameters",
        description="List the named queries (queries/*.rq of the data in use): name, title, description and "
        "parameters.",
        epilog=EPILOG,
        formatter_class=HelpWithExamples,
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..query import list_queries

    queries = list_queries()
    if args.format == "json":
        listing = [
            {
                "name": q.name,
                "title": q.title,
                "description": q.description,
                "parameters": [
                    {
                        "name": p.name,
                        "datatype": p.datatype,
                        "default": p.default,
                        "description": p.description,
                    }
                    for p in q.parameters
                ],
            }
            for q in queries
        ]
        print(json.dumps(listing, ensure_ascii=False, indent=2))
        return 0
    for q in queries:
        print(f"{q.name}  —  {q.title}")
        if q.description:
            print(_wrap(q.description, 4))
        for p in q.parameters:
            default = "required" if p.default is None else f"default {p.default}"
            print(f"    --param {p.name}=<{p.datatype}>  ({default})")
            if p.description:
                print(_wrap(p.description, 8))
        print()
    return 0


def _wrap(text: str, indent: int) -> str:
    import textwrap

    pad = " " * indent
    return textwrap.fill(text, width=100, initial_indent=pad, subsequent_indent=pad, break_on_hyphens=False)
