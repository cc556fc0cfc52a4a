"""`correlator replay --topology T FILE…` (implemented with the engine)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="run the core over alert files offline")
    parser.add_argument("--topology", required=True)
    parser.add_argument("files", nargs="+")
