"""`citygraph claims`: each figure of the survey beside what the graph derives."""

from __future__ import annotations

import argparse

from .options import HelpWithExamples

EPILOG = """\
examples:
  citygraph claims                     a table, in English
  citygraph claims --lang fr           labels and explanations in French
  citygraph claims --format json --strict

exit codes: 0 whatever the outcomes · 1 with --strict, a claim differs · 2 unusable input
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "claims",
        help="the survey's figures beside what the graph derives",
        description=(
            "Check every survey claim (data/claims.ttl) against the graph: agrees, differs (both "
            "figures and why) or cannot be derived (the survey gives a total but not which "
            "authorities). Exit 0 whatever the outcomes; with --strict, exit 1 if any claim differs."
        ),
        epilog=EPILOG,
        formatter_class=HelpWithExamples,
    )
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table",
                        help="output format (default: table)")
    parser.add_argument(
        "--lang", choices=("en", "fr"), default="en",
        help="language of labels and explanations (default: en, as citygraph validate; outcome keywords "
        "stay in English)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if any claim differs from the graph")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..claims import DIFFERS, check_claims, render_json, render_table, survey_editions
    from ..errors import EXIT_NONCONFORMANT, EXIT_OK
    from ..load import load_graph

    graph = load_graph()
    checks = check_claims(graph, lang=args.lang)
    if args.format == "json":
        sys.stdout.write(render_json(checks) + "\n")
    else:
        sys.stdout.write(render_table(checks, survey_editions(graph), args.lang))
    if args.strict and any(c.outcome == DIFFERS for c in checks):
        return EXIT_NONCONFORMANT
    return EXIT_OK
