"""archivectl's subcommands. Every module here has `register(subparsers)`; adding a command is adding a
module — the main program discovers them."""
