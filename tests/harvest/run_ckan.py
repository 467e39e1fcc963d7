"""Read a DCAT catalogue with CKAN's own parser (ckanext-dcat, ``euro_dcat_ap_3`` profile) and print the CKAN
datasets it makes (JSON).

Run with the interpreter of a venv that has ckan and ckanext-dcat (``.venv-ckan``, made by ``.ci/run``)::

    .venv-ckan/bin/python tests/harvest/run_ckan.py URL [--licences LICENCES_JSON]

No CKAN site is needed: the parser is what ckanext-dcat's harvester runs on the fetched catalogue, before CKAN
stores anything. With ``--licences``, CKAN's licence register is loaded from that file (``licenses_group_url``,
as a CKAN site configures it; data.gouv.fr's list has the fields CKAN reads); without it, CKAN's default register
(which has no Etalab entry).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url", help="the catalogue URL (Turtle)")
    parser.add_argument("--licences", help="a licence list to load as CKAN's register (JSON)")
    args = parser.parse_args()

    from ckan.common import config

    if args.licences:
        config["licenses_group_url"] = Path(args.licences).resolve().as_uri()
    from ckanext.dcat.processors import RDFParser

    with urllib.request.urlopen(args.url, timeout=30) as response:  # a loopback URL, from the test
        content_type = response.headers.get("Content-Type", "")
        data = response.read().decode(response.headers.get_content_charset() or "utf-8")
    rdf_parser = RDFParser(profiles=["euro_dcat_ap_3"])
    rdf_parser.parse(data, _format="turtle")
    datasets = list(rdf_parser.datasets())
    json.dump({"content_type": content_type, "datasets": datasets}, sys.stdout, ensure_ascii=False, indent=1,
              default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
