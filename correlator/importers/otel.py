"""A tracing backend's service dependency graph → topology components.

Two shapes, told apart per document:

- Jaeger `GET /api/dependencies` — `{"data": [{"parent", "child", "callCount"}, …]}` or the
  bare list (what the Jaeger UI's sample data and `jq .data` give);
- a Prometheus HTTP API response (`/api/v1/query` or `query_range`) for Tempo's / the
  OpenTelemetry Collector's service-graph metric, e.g.
  `sum by (client, server) (increase(traces_service_graph_request_total[7d]))`: series with
  `client` and `server` labels; a vector's value, or a matrix's last value, is the call count.

Each (caller, callee) pair with at least `min_calls` calls (summed over documents and series)
becomes a dependency of the caller; every service named becomes a component. Tempo's virtual
`user` client (`connection_type="virtual_node"`: requests from outside the traced system) is
not a service, and self-calls are no dependency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from correlator.errors import UsageError
from correlator.importers.graph import Document, Imported, add_dependency, node


def import_otel(documents: Sequence[Document], min_calls: float = 1) -> Imported:
    """Build components and dependencies from call counts."""
    result = Imported(origin="otel")
    calls: dict[tuple[str, str], float] = {}
    services: set[str] = set()
    edges_read = 0
    for doc in documents:
        for caller, callee, count in _edges(doc):
            edges_read += 1
            services.update(s for s in (caller, callee) if s is not None)
            if caller is None or callee is None or caller == callee:
                continue
            calls[(caller, callee)] = calls.get((caller, callee), 0) + count
    for service in sorted(services):
        result.components[service] = node(service, kind="service")
    below = 0
    for (caller, callee), count in sorted(calls.items()):
        if count >= min_calls:
            add_dependency(result.components[caller], callee)
        else:
            below += 1
    if below:
        result.unresolved.append(
            f"skipped: {below} call edge{'s' if below > 1 else ''} with fewer than "
            f"{min_calls:g} calls (--min-calls)"
        )
    result.read = f"{edges_read} call-graph edges"
    return result


def _edges(doc: Document) -> list[tuple[str | None, str | None, float]]:
    data = doc.data
    if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
        return _prometheus(doc.source, data)
    if isinstance(data, Mapping) and "data" in data:
        data = data["data"]
    if isinstance(data, list):
        return _jaeger(doc.source, data)
    raise UsageError(
        f"{doc.source}: neither a Jaeger dependencies list ([{{parent, child, callCount}}]) "
        "nor a Prometheus API response"
    )


def _jaeger(source: str, items: list[Any]) -> list[tuple[str | None, str | None, float]]:
    out: list[tuple[str | None, str | None, float]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise UsageError(f"{source}: item {index}: expected {{parent, child, callCount}}")
        parent, child = item.get("parent"), item.get("child")
        if not isinstance(parent, str) or not isinstance(child, str) or not parent or not child:
            raise UsageError(f"{source}: item {index}: parent and child must be service names")
        out.append((parent, child, _number(source, index, item.get("callCount", 1))))
    return out


def _prometheus(
    source: str, response: Mapping[str, Any]
) -> list[tuple[str | None, str | None, float]]:
    if response.get("status") not in (None, "success"):
        raise UsageError(f"{source}: the Prometheus query failed: {response.get('error', '?')}")
    data = response["data"]
    kind = data.get("resultType")
    if kind not in ("vector", "matrix"):
        raise UsageError(
            f"{source}: Prometheus resultType {kind!r}: expected a vector or matrix of series "
            "with client and server labels"
        )
    out: list[tuple[str | None, str | None, float]] = []
    for index, series in enumerate(data.get("result") or []):
        if not isinstance(series, Mapping) or not isinstance(series.get("metric"), Mapping):
            raise UsageError(f"{source}: result {index}: expected {{metric, value}}")
        labels = series["metric"]
        client, server = labels.get("client"), labels.get("server")
        if not isinstance(client, str) or not isinstance(server, str):
            raise UsageError(
                f"{source}: result {index}: series without client and server labels (query "
                "the service-graph metric, e.g. traces_service_graph_request_total)"
            )
        if kind == "vector":
            sample = series.get("value")
        else:
            values = series.get("values") or []
            sample = values[-1] if values else None
        if not isinstance(sample, list) or len(sample) != 2:
            raise UsageError(f"{source}: result {index}: no [timestamp, value] sample")
        count = _number(source, index, sample[1])
        virtual = labels.get("connection_type") == "virtual_node"
        out.append(
            (
                None if virtual and client == "user" else client,
                None if virtual and server == "unknown" else server,
                count,
            )
        )
    return out


def _number(source: str, index: int, value: object) -> float:
    if isinstance(value, bool):
        raise UsageError(f"{source}: item {index}: call count {value!r} is not a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UsageError(f"{source}: item {index}: call count {value!r} is not a number") from None
    if number != number:  # NaN
        return 0.0
    return number
