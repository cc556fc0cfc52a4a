"""The `correlator` command line: one subcommand per module in `correlator.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from correlator import __version__
from correlator.errors import CorrelatorError

# Each module defines `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
COMMAND_MODULES = (
    "correlator.commands.topology",
    "correlator.commands.replay",
    "correlator.commands.demo",
    "correlator.commands.broker",
    "correlator.commands.worker",
    "correlator.commands.incidents",
    "correlator.commands.maintenance",
    "correlator.commands.simulate",
    "correlator.commands.generate",
    "correlator.commands.warroom",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="correlator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"correlator {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CorrelatorError as exc:
        print(f"correlator: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
