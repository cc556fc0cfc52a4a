"""OTel import: the Jaeger UI's sample dependency graph (verbatim) and a Tempo service-graph
Prometheus response (constructed in the documented shape: see fixtures/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from correlator.errors import UsageError
from correlator.importers import Document, import_otel
from correlator.importers.sources import read_documents

FIXTURES = Path(__file__).parent / "fixtures" / "otel"
JAEGER = FIXTURES / "jaeger-ui-small.json"
TEMPO = FIXTURES / "tempo-service-graph.json"


def _deps(components: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {k: v["depends_on"] for k, v in components.items() if "depends_on" in v}


def test_jaeger_dependencies_with_a_call_threshold() -> None:
    imported = import_otel(read_documents([JAEGER]))
    assert sorted(imported.components) == [f"Service{i}" for i in range(1, 9)]
    assert _deps(imported.components) == {
        "Service1": ["Service2", "Service3", "Service5"],
        "Service2": ["Service4"],
        "Service3": ["Service7"],
        "Service6": ["Service1"],
        "Service8": ["Service6"],
    }
    # Service1 -> Service5 carries 8,560 calls; every other edge more than 30,000.
    quiet = import_otel(read_documents([JAEGER]), min_calls=10_000)
    assert _deps(quiet.components)["Service1"] == ["Service2", "Service3"]
    assert quiet.unresolved == ["skipped: 1 call edge with fewer than 10000 calls (--min-calls)"]


def test_jaeger_query_service_envelope_reads_the_same() -> None:
    items = json.loads(JAEGER.read_text())
    envelope = {"data": items, "total": len(items), "limit": 0, "offset": 0, "errors": None}
    assert (
        import_otel([Document("api.json", envelope)]).components
        == import_otel(read_documents([JAEGER])).components
    )


def test_tempo_service_graph_vector() -> None:
    imported = import_otel(read_documents([TEMPO]), min_calls=10)
    # Tempo's virtual `user` client (requests from outside the traces) is not a service.
    assert "user" not in imported.components
    assert _deps(imported.components) == {
        "cartservice": ["redis-cart"],
        "checkoutservice": ["paymentservice"],
        "frontend": ["cartservice", "productcatalogservice"],  # adservice: 9 calls < 10
    }
    assert "adservice" in imported.components


def test_prometheus_matrix_uses_the_last_sample_and_sums_series() -> None:
    response = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"client": "a", "server": "b", "instance": "1"},
                    "values": [[1, "2"], [2, "4"]],
                },
                {
                    "metric": {"client": "a", "server": "b", "instance": "2"},
                    "values": [[1, "1"], [2, "2"]],
                },
            ],
        },
    }
    assert _deps(import_otel([Document("m.json", response)], min_calls=6).components) == {
        "a": ["b"]
    }
    assert _deps(import_otel([Document("m.json", response)], min_calls=7).components) == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "Deployment"}, "neither a Jaeger dependencies list"),
        ([{"parent": "a"}], "item 0: parent and child must be service names"),
        ([{"parent": "a", "child": "b", "callCount": "many"}], "call count 'many' is not a number"),
        ({"status": "error", "error": "bad_data", "data": {}}, "the Prometheus query failed"),
        (
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {"job": "x"}, "value": [1, "1"]}],
                },
            },
            "series without client and server labels",
        ),
    ],
)
def test_bad_input_is_one_clear_error(data: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        import_otel([Document("in.json", data)])
