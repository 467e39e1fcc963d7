"""One module per CLI command: ``register(subparsers)`` declares its arguments, ``run(args)`` does the work."""
