"""`correlator topology validate|show|publish FILE` and `topology import --from … FILE…`."""

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
    publish = actions.add_parser(
        "publish", help="validate, then publish to the topology topic (workers hot-reload it)"
    )
    publish.add_argument("file")
    from correlator.commands.options import add_cluster_options

    add_cluster_options(publish)
    publish.set_defaults(func=_publish)
    from correlator.commands.topology_import import register_import

    register_import(actions)


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
    lines.append("components (the business services each can affect):")
    for component in components:
        reach = sorted(
            (
                n
                for n in topology.upstream([component.id])
                if topology.nodes[n].role == "business_service"
            ),
            key=topology.order.__getitem__,
        )
        kind = f" ({component.kind})" if component.kind else ""
        lines.append(f"  {component.id}{kind}: {', '.join(reach) or 'nothing (unattached)'}")
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> int:
    topology = load_topology(args.file)
    for warning in topology.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(describe(topology))
    return 0


def _publish(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from correlator.broker import ensure_topics
    from correlator.commands.options import kafka_connection, topic_prefix
    from correlator.errors import BrokerError, CorrelatorError
    from correlator.stream.config import WorkerConfig
    from correlator.stream.topics import topic_specs, topics_for
    from correlator.stream.topology import publish_topology

    config = WorkerConfig(kafka=kafka_connection(args), topic_prefix=topic_prefix(args))
    topology = load_topology(args.file)
    for warning in topology.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    text = Path(args.file).read_text(encoding="utf-8")
    topic = topics_for(config).topology

    async def publish() -> None:
        specs = [s for s in topic_specs(config) if s.name == topic]
        await ensure_topics(config.kafka, specs, timeout=20)
        await asyncio.wait_for(publish_topology(config, topology, text, args.file), 20)

    import logging

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # errors are reported as one line
    try:
        asyncio.run(publish())
    except CorrelatorError:
        raise
    except Exception as exc:
        raise BrokerError(
            f"cannot publish to {config.kafka.describe()}: {exc or type(exc).__name__}"
        ) from None
    print(f"{args.file}: published {topology.name} version {topology.version} to {topic}")
    return 0
