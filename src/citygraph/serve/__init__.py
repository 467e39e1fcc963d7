"""`citygraph serve`: the linked-data server (SPARQL 1.1 endpoint, dereferenceable IRIs, pages, downloads).

``app.create_app(config)`` builds the ASGI app; ``state`` holds the shared interfaces (ServeConfig,
QueryBackend, ServerState); ``backend`` runs queries in killable worker processes.
"""
