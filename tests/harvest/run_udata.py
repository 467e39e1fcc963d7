"""Harvest a DCAT catalogue with udata's own DCAT backend, as data.gouv.fr does, and print what it saved (JSON).

Run with the interpreter of a venv that has udata and mongomock (``.venv-udata``, made by ``.ci/run``)::

    .venv-udata/bin/python tests/harvest/run_udata.py URL LICENCES_JSON [--runs N]

Nothing of the harvester is replaced but its database: MongoDB is mongomock (in memory), and the settings are
data.gouv.fr's where they matter (French as default language) plus what a harvest of a loopback URL needs
(``URLS_ALLOW_LOCAL``). The licence list is loaded from ``LICENCES_JSON`` (what data.gouv.fr's API serves).
Connections are refused, and reported, to anything but the loopback addresses: the catalogue path must not
reach out (udata dereferences some IRIs by itself, outside its SSRF guard).

Output: one JSON object with a report per run (job status, items, errors, the dataset and data services
saved with the fields data.gouv.fr shows, and the quality udata computes), and the refused connections.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import secrets
import socket
import sys
from typing import Any, ClassVar

REFUSED: list[str] = []


def _loopback_only() -> None:
    """Refuse (and record) every connection to an address that is not loopback."""
    original_connect = socket.socket.connect
    original_getaddrinfo = socket.getaddrinfo

    def is_loopback(host: Any) -> bool:
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return str(host) == "localhost"

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(host):
            REFUSED.append(f"connect {host}")
            raise ConnectionRefusedError(f"harvest sandbox: no connection to {host}")
        return original_connect(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host):
            REFUSED.append(f"resolve {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"harvest sandbox: no name resolution for {host}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo


class Settings:
    """udata's defaults, with data.gouv.fr's language, an in-memory database, no broker, no cache."""

    MONGODB_HOST = "mongodb://localhost/udata"
    SECRET_KEY = API_TOKEN_SECRET = ""  # set in main(), random
    MONGODB_SETTINGS: ClassVar[dict[str, Any]] = {}  # filled in main(): the same database, on mongomock's client
    TESTING = False
    DEFAULT_LANGUAGE = "fr"
    SERVER_NAME = "data.gouv.test"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    CACHE_TYPE = "flask_caching.backends.NullCache"
    CACHE_NO_NULL_WARNING = True
    URLS_ALLOW_LOCAL = True  # the harvest source is a loopback URL
    URLS_RESOLVE_HOSTNAME = False
    DEBUG_TOOLBAR = False
    HARVESTER_BACKENDS: ClassVar[list[str]] = ["dcat"]


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _dataset(dataset: Any) -> dict[str, Any]:
    quality = dataset.quality
    spatial = dataset.spatial
    return {
        "id": str(dataset.id),
        "title": dataset.title,
        "description_length": len(dataset.description or ""),
        "license": dataset.license.id if dataset.license else None,
        "frequency": str(dataset.frequency.id) if dataset.frequency else None,
        "temporal_coverage": None if not dataset.temporal_coverage else {
            "start": _text(dataset.temporal_coverage.start), "end": _text(dataset.temporal_coverage.end)},
        "spatial_geom": spatial.geom if spatial and spatial.geom else None,
        "contact_points": [{"name": c.name, "email": c.email, "contact_form": c.contact_form, "role": c.role}
                           for c in dataset.contact_points],
        "tags": sorted(dataset.tags),
        "remote_url": dataset.harvest.remote_url if dataset.harvest else None,
        "dct_identifier": dataset.harvest.dct_identifier if dataset.harvest else None,
        "uri": dataset.harvest.uri if dataset.harvest else None,
        "quality": {key: value for key, value in quality.items() if isinstance(value, bool | int | float)},
        "resources": [{
            "id": str(r.id), "title": r.title, "url": r.url, "format": r.format, "mime": r.mime,
            "filesize": r.filesize, "description": r.description,
            "checksum": None if not r.checksum else {"type": r.checksum.type, "value": r.checksum.value},
        } for r in dataset.resources],
    }


def _dataservice(service: Any) -> dict[str, Any]:
    return {
        "id": str(service.id),
        "title": service.title,
        "base_api_url": service.base_api_url,
        "machine_documentation_url": getattr(service, "machine_documentation_url", None),
        "technical_documentation_url": getattr(service, "technical_documentation_url", None),
        "license": service.license.id if getattr(service, "license", None) else None,
        "datasets": [str(d.id) for d in service.datasets],
        "remote_id": service.harvest.remote_id if service.harvest else None,
        "uri": service.harvest.uri if service.harvest else None,
        "remote_url": service.harvest.remote_url if service.harvest else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url", help="the catalogue URL to register as the DCAT harvest source")
    parser.add_argument("licences", help="data.gouv.fr's licence list (JSON, as its API serves it)")
    parser.add_argument("--runs", type=int, default=2, help="how many harvests of the same source (default 2)")
    args = parser.parse_args()

    _loopback_only()

    import mongomock
    from udata.app import create_app, standalone

    Settings.SECRET_KEY = Settings.API_TOKEN_SECRET = secrets.token_hex(16)
    Settings.MONGODB_SETTINGS = {"host": Settings.MONGODB_HOST, "mongo_client_class": mongomock.MongoClient}

    app = standalone(create_app(override=Settings))
    with app.app_context():
        from udata.core.dataservices.models import Dataservice
        from udata.core.dataset.models import Dataset, License
        from udata.core.organization.models import Organization
        from udata.harvest import actions
        from udata.harvest.models import HarvestJob, HarvestSource

        with open(args.licences, encoding="utf-8") as handle:
            for entry in json.load(handle):
                License(id=entry["id"], title=entry["title"], url=entry.get("url"),
                        alternate_urls=entry.get("alternate_urls", []),
                        alternate_titles=entry.get("alternate_titles", []),
                        flags=entry.get("flags", []), maintainer=entry.get("maintainer")).save()
        organization = Organization(name="citygraph", description="citygraph publisher").save()
        source = HarvestSource(name="citygraph", url=args.url, backend="dcat", organization=organization).save()

        runs = []
        for _ in range(args.runs):
            actions.run(source)
            job = HarvestJob.objects(source=source).order_by("-created").first()
            runs.append({
                "status": job.status,
                "errors": [e.message for e in job.errors],
                "items": [{"remote_id": item.remote_id, "status": item.status,
                           "errors": [e.message for e in item.errors],
                           "kind": "dataset" if item.dataset else "dataservice" if item.dataservice else None}
                          for item in job.items],
                "datasets": [_dataset(d) for d in Dataset.objects()],
                "dataservices": [_dataservice(s) for s in Dataservice.objects()],
            })
    json.dump({"runs": runs, "refused_connections": REFUSED}, sys.stdout, ensure_ascii=False, indent=1,
              default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
