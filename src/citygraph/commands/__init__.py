"""One module per CLI command.

Each exposes ``register(subparsers)`` (its arguments) and ``run(args)`` (the work).
"""
