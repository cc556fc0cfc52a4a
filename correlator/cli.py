"""The `correlator` command line: one subcommand per module in `correlator.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from correlator import __version__
from correlator.errors import CorrelatorError

# Each module defines `register(subparsers)`, which adds its parser and sets `func(args) -> int`;
# keyed by the command it adds.
COMMANDS = {
    "topology": "correlator.commands.topology",
    "replay": "correlator.commands.replay",
    "demo": "correlator.commands.demo",
    "broker": "correlator.commands.broker",
    "worker": "correlator.commands.worker",
    "incidents": "correlator.commands.incidents",
    "maintenance": "correlator.commands.maintenance",
    "simulate": "correlator.commands.simulate",
    "topology-generate": "correlator.commands.generate",
    "warroom": "correlator.commands.warroom",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or only command `only` (its module alone is imported: the
    others bring the war room's and the history's libraries, a third of a second)."""
    parser = _Parser(prog="correlator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"correlator {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for command, name in COMMANDS.items():
        if only is None or command == only:
            importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # `correlator replay …` needs only replay's parser; anything else (help, a typo) all.
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(words)
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
