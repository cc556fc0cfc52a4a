"""The command line's parser: built whole for help and errors, or for one command only."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from correlator.cli import COMMANDS, build_parser


def _has(parser: argparse.ArgumentParser, command: str) -> bool:
    """Whether `parser` knows `command` (its help exits 0; an unknown command exits 2)."""
    quiet = redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO())
    with pytest.raises(SystemExit) as exit_, quiet[0], quiet[1]:
        parser.parse_args([command, "--help"])
    return exit_.value.code == 0


def test_the_whole_parser_has_every_command() -> None:
    parser = build_parser()
    assert all(_has(parser, c) for c in COMMANDS)
    assert not _has(parser, "no-such-command")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_module_adds_the_command_it_is_filed_under(command: str) -> None:
    parser = build_parser(command)
    assert [c for c in COMMANDS if _has(parser, c)] == [command]


def test_one_command_parses_as_with_the_whole_parser() -> None:
    argv = ["replay", "--topology", "t.yaml", "--summary", "alerts.jsonl"]
    whole, alone = build_parser().parse_args(argv), build_parser("replay").parse_args(argv)
    assert {k: v for k, v in vars(whole).items() if k != "func"} == {
        k: v for k, v in vars(alone).items() if k != "func"
    }


def test_replay_does_not_load_the_war_room_or_the_history() -> None:
    code = (
        "import sys\n"
        "from correlator.cli import main\n"
        "try:\n"
        "    main(['replay', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('textual', 'sqlmodel') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_an_unknown_command_is_one_line_and_status_2() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "correlator", "replya"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "invalid choice: 'replya'" in out.stderr
