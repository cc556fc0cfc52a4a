"""`correlator topology-generate --components N [--seed S] [-o FILE]`: a synthetic topology."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from correlator.errors import UsageError
from correlator.synthetic import generate_topology

# libyaml's emitter is ~10x faster on a 10,000-component document; fall back when absent.
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "topology-generate",
        help="write a synthetic topology (layers, fan-in, splits, quorums, cycles)",
        description="Write a synthetic, valid topology v1 document: deterministic for a seed. "
        "YAML by default; JSON when FILE ends in .json.",
    )
    parser.add_argument("--components", type=int, required=True, metavar="N")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument(
        "--services",
        type=int,
        default=None,
        metavar="N",
        help="business services (default: components / 20)",
    )
    parser.add_argument(
        "--segments",
        type=int,
        default=None,
        metavar="N",
        help="segments (default: business services / 5)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here (.yaml, .yml or .json) instead of stdout (YAML)",
    )
    parser.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    if args.components < 1:
        raise UsageError(f"--components must be at least 1, got {args.components}")
    for flag in ("services", "segments"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag} must be at least 1, got {value}")
    output: str | None = args.output
    suffix = Path(output).suffix.lower() if output else ".yaml"
    if suffix not in (".yaml", ".yml", ".json"):
        raise UsageError(f"{output}: unknown extension {suffix or '(none)'}: use .yaml or .json")
    document = generate_topology(
        args.components, seed=args.seed, services=args.services, segments=args.segments
    )
    text = _render(document, as_json=suffix == ".json")
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
    print(
        f"{output}: {args.components} components, {len(document['business_services'])} "
        f"business services, {len(document['segments'])} segments (seed {args.seed})",
        file=sys.stderr,
    )
    return 0


def _render(document: dict[str, Any], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    header = f"# {document['description']}\n"
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body
