"""Pages for people: home, one page per resource, the ontology, the named queries, the SPARQL editor, errors.

One module per kind of page (``home``, ``resource``, ``ontology``, ``named``, ``sparql_page``), sharing
``site`` (templates, headers, cache, error page), ``labels`` and ``i18n`` (languages; the message tables are
``serve/messages/fr.json`` and ``en.json``). Jinja2 templates (autoescaped) in ``serve/templates/``; static
files (the site's own, YASGUI, the map's base layer; Leaflet from the XStatic packages) through Starlette's
``StaticFiles``. Every page's data comes from the query backend; finished pages are cached (the graph is
immutable) with ETag and Last-Modified. Nothing here is module state: each app builds its own ``Site``.
"""

from __future__ import annotations

from .i18n import Lang, choose_language, t
from .routes import routes
from .site import Site

__all__ = ["Lang", "Site", "choose_language", "routes", "t"]
