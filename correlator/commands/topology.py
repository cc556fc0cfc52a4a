"""`correlator topology validate|show FILE`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from correlator.core.topology import Topology
from correlator.topology_files import load_topology


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("topology", help="validate, explain or publish a topology")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    validate = actions.add_parser("validate", help="check a topology file (exit 0, or 2 + reason)")
    validate.add_argument("file")
    validate.set_defaults(func=_validate)
    show = actions.add_parser("show", help="node counts, cycles, what each service depends on")
    show.add_argument("file")
    show.set_defaults(func=_show)


def _validate(args: argparse.Namespace) -> int:
    topology = load_topology(args.file)
    for warning in topology.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: ok — {topology.name} version {topology.version}")
    return 0


def describe(topology: Topology) -> str:
    """The text `topology show` prints."""
    components = list(topology.components)
    services = list(topology.business_services)
    lines = [
        f"topology {topology.name} (version {topology.version})",
        f"  {len(components)} components, {len(services)} business services, "
        f"{len(topology.segments)} segments, {topology.customers_total:,} customers",
        f"  divisions: {len(topology.divisions)}"
        + "".join(f"\n    {d.id}: {len(d.parts)} parts" for d in topology.divisions.values()),
        f"  cycles: {len(topology.cycles)}",
    ]
    lines.extend(f"    {' -> '.join(cycle)}" for cycle in topology.cycles)
    lines.append("business services:")
    for service in services:
        needs = sorted(
            n for n in topology.closure(service.id) if topology.nodes[n].role == "component"
        )
        users = [s.id for s in topology.segments if service.id in s.uses]
        lines.append(
            f"  {service.id} (tier {service.tier}, used by {', '.join(users) or 'no segment'})"
        )
        lines.append(f"    depends on {len(needs)} components: {', '.join(needs)}")
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> int:
    topology = load_topology(args.file)
    for warning in topology.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(describe(topology))
    return 0
