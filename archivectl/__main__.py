"""archivectl — the operator's command line. `archivectl --help` lists the commands; each lives in a
module of archivectl/commands/ that registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from archivectl import commands
from services.common.settings import ArchiveSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archivectl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{module.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(ArchiveSettings(), args) or 0)


if __name__ == "__main__":
    sys.exit(main())
