"""Alert labels → component (DESIGN §3): explicit selectors, default labels, precedence."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tracemalloc
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.core.matching import Matcher, MatchResult, host_part, variants
from correlator.core.topology import Topology
from correlator.core.topology_parse import parse_topology


def topology(components: list[dict[str, object]]) -> Topology:
    return parse_topology(
        {
            "apiVersion": "correlator/v1",
            "name": "matching",
            "components": components,
            "business_services": [{"id": "shop", "depends_on": [components[0]["id"]]}],
            "segments": [{"id": "all", "customers": 10, "uses": ["shop"]}],
        },
        "test",
    )


TOPOLOGY = topology(
    [
        {
            "id": "checkoutservice",
            "aliases": ["checkout-svc"],
            "match": [{"service": "checkoutservice"}, {"pod": "checkoutservice-*"}],
        },
        {"id": "cart"},
        {"id": "redis"},
        {"id": "db-2"},
        {"id": "server"},
        {"id": "node"},
        {"id": "node-exporter"},
        {"id": "kube-node-1"},
        {"id": "10.0.0.5"},
        # `web` comes first in the file, but `api`'s selector has more keys.
        {"id": "web", "match": [{"app": "api"}]},
        {"id": "api", "match": [{"namespace": "prod", "app": "api"}]},
        # Equal key counts: the first in file order wins.
        {"id": "team-x", "match": [{"team": "x"}]},
        {"id": "zone-y", "match": [{"zone": "y"}]},
        {"id": "shards", "match": [{"shard": "s-[0-3]?", "env": "prod"}]},
    ]
)
MATCHER = Matcher(TOPOLOGY)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # each default label, in order
        ({"component": "cart"}, MatchResult("cart", (("component", "cart"),), "label component")),
        ({"service": "cart"}, MatchResult("cart", (("service", "cart"),), "label service")),
        ({"app": "cart"}, MatchResult("cart", (("app", "cart"),), "label app")),
        (
            {"deployment": "cart"},
            MatchResult("cart", (("deployment", "cart"),), "label deployment"),
        ),
        (
            {"pod": "cart-5f9c7d-x2x9q"},
            MatchResult(
                "cart",
                (("pod", "cart-5f9c7d-x2x9q"), ("pod", "cart-5f9c7d"), ("pod", "cart")),
                "label pod",
            ),
        ),
        (
            {"pod": "redis-0"},
            MatchResult("redis", (("pod", "redis-0"), ("pod", "redis")), "label pod"),
        ),
        # a DaemonSet pod: the one-suffix name is tried before the Deployment-style strip
        (
            {"pod": "node-exporter-x7k2p"},
            MatchResult(
                "node-exporter",
                (("pod", "node-exporter-x7k2p"), ("pod", "node-exporter")),
                "label pod",
            ),
        ),
        ({"pod": "redis"}, MatchResult("redis", (("pod", "redis"),), "label pod")),
        ({"job": "redis"}, MatchResult("redis", (("job", "redis"),), "label job")),
        ({"container": "cart"}, MatchResult("cart", (("container", "cart"),), "label container")),
        (
            {"host": "db-2.prod.internal"},
            MatchResult("db-2", (("host", "db-2.prod.internal"), ("host", "db-2")), "label host"),
        ),
        (
            {"instance": "https://server.example.org"},
            MatchResult(
                "server",
                (
                    ("instance", "https://server.example.org"),
                    ("instance", "server.example.org"),
                    ("instance", "server"),
                ),
                "label instance",
            ),
        ),
        (
            {"instance": "db-2.prod.internal:9100"},
            MatchResult(
                "db-2",
                (
                    ("instance", "db-2.prod.internal:9100"),
                    ("instance", "db-2.prod.internal"),
                    ("instance", "db-2"),
                ),
                "label instance",
            ),
        ),
        (
            {"instance": "10.0.0.5:9100"},
            MatchResult(
                "10.0.0.5",
                (("instance", "10.0.0.5:9100"), ("instance", "10.0.0.5")),
                "label instance",
            ),
        ),
        (
            {"node": "kube-node-1"},
            MatchResult("kube-node-1", (("node", "kube-node-1"),), "label node"),
        ),
        # an alias counts like the id
        (
            {"service": "checkout-svc"},
            MatchResult("checkoutservice", (("service", "checkout-svc"),), "label service"),
        ),
        # default order: component before service, pod before host, …
        (
            {"service": "cart", "component": "redis"},
            MatchResult("redis", (("component", "redis"),), "label component"),
        ),
        (
            {"host": "db-2", "pod": "cart-0", "job": "nope"},
            MatchResult("cart", (("pod", "cart-0"), ("pod", "cart")), "label pod"),
        ),
        # explicit selectors beat every default label
        (
            {"component": "cart", "service": "checkoutservice"},
            MatchResult(
                "checkoutservice",
                (("service", "checkoutservice"),),
                "match {service=checkoutservice}",
            ),
        ),
        (
            {"pod": "checkoutservice-7c9f-abcde", "component": "cart"},
            MatchResult(
                "checkoutservice",
                (("pod", "checkoutservice-7c9f-abcde"),),
                "match {pod=checkoutservice-*}",
            ),
        ),
        # the selector with the most keys wins, whatever the file order
        (
            {"app": "api", "namespace": "prod"},
            MatchResult(
                "api", (("namespace", "prod"), ("app", "api")), "match {namespace=prod, app=api}"
            ),
        ),
        (
            {"app": "api", "namespace": "dev"},
            MatchResult("web", (("app", "api"),), "match {app=api}"),
        ),
        # ties go to the first in file order
        (
            {"zone": "y", "team": "x"},
            MatchResult("team-x", (("team", "x"),), "match {team=x}"),
        ),
        # globs: `?` and `[…]`, case-sensitive, every pair required
        (
            {"shard": "s-21", "env": "prod"},
            MatchResult(
                "shards",
                (("shard", "s-21"), ("env", "prod")),
                "match {shard=s-[0-3]?, env=prod}",
            ),
        ),
        ({"shard": "s-41", "env": "prod"}, MatchResult(None, (), "unmapped")),
        ({"shard": "s-21"}, MatchResult(None, (), "unmapped")),
        (
            {"pod": "CheckoutService-1"},
            MatchResult(
                None, (("pod", "CheckoutService-1"), ("pod", "CheckoutService")), "unmapped"
            ),
        ),
        # unmapped: every pair looked at is reported
        (
            {"alertname": "X", "instance": "foo.example:9100", "job": "x"},
            MatchResult(
                None,
                (
                    ("job", "x"),
                    ("instance", "foo.example:9100"),
                    ("instance", "foo.example"),
                    ("instance", "foo"),
                ),
                "unmapped",
            ),
        ),
        # business services are not components
        ({"service": "shop"}, MatchResult(None, (("service", "shop"),), "unmapped")),
        ({}, MatchResult(None, (), "unmapped")),
        # an empty value is no value
        ({"component": "", "app": "cart"}, MatchResult("cart", (("app", "cart"),), "label app")),
    ],
)
def test_match(labels: dict[str, str], expected: MatchResult) -> None:
    assert MATCHER.match(labels) == expected
    assert Matcher(TOPOLOGY, cache_size=0).match(labels) == expected


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://server.example.org", "server.example.org"),
        ("http://user:pw@db-2.prod:5432/metrics?x=1", "db-2.prod"),
        ("localhost:9090", "localhost"),
        ("[2001:db8::1]:9100", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("db-2", "db-2"),
    ],
)
def test_host_part(value: str, host: str) -> None:
    assert host_part(value) == host


def test_variants_of_other_labels_are_the_value_itself() -> None:
    assert variants("job", "cart-5f9c7d-x2x9q") == ("cart-5f9c7d-x2x9q",)
    assert variants("service", "db-2.prod.internal") == ("db-2.prod.internal",)


def test_cache_is_bounded() -> None:
    """Measured from outside: what a matcher keeps after 5,000 distinct label sets is a small
    fraction with a 4-entry cache of what it keeps with a cache large enough for all of them."""

    def retained(cache_size: int) -> int:
        matcher = Matcher(TOPOLOGY, cache_size=cache_size)
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for i in range(5_000):
                assert matcher.match({"pod": f"cart-{i}"}).component == "cart"
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        return sum(stat.size_diff for stat in after.compare_to(before, "filename"))

    assert retained(4) * 10 < retained(65_536)


# A reference implementation of the explicit rule, straight from DESIGN §3, to hold the
# indexed matcher to.
def reference_explicit(topo: Topology, labels: Mapping[str, str]) -> str | None:
    best: tuple[int, str] | None = None
    for node in topo.components:
        for selector in node.match:
            matches = all(k in labels and fnmatch.fnmatchcase(labels[k], g) for k, g in selector)
            if matches and (best is None or len(selector) > best[0]):
                best = (len(selector), node.id)
    return None if best is None else best[1]


_LABEL = st.sampled_from(["a", "b", "c"])
_VALUE = st.sampled_from(["x", "y", "xy", "x1", "yx", "", "x-1"])
_GLOB = st.sampled_from(["x", "y", "x*", "*", "?", "x?", "[xy]*", "*1", "xy"])


@settings(max_examples=60, deadline=None)
@given(
    selectors=st.lists(
        st.lists(st.dictionaries(_LABEL, _GLOB, min_size=1, max_size=3), max_size=3),
        min_size=1,
        max_size=6,
    ),
    label_sets=st.lists(st.dictionaries(_LABEL, _VALUE, max_size=3), min_size=1, max_size=10),
)
def test_explicit_matching_agrees_with_the_reference(
    selectors: list[list[dict[str, str]]], label_sets: list[dict[str, str]]
) -> None:
    topo = topology([{"id": f"c{i}", "match": sel} for i, sel in enumerate(selectors)])
    matcher = Matcher(topo)
    for labels in label_sets:
        result = matcher.match(labels)
        expected = reference_explicit(topo, labels)
        if expected is not None:
            assert result.component == expected
            assert result.rule.startswith("match ")
        else:
            assert not result.rule.startswith("match ")


def test_matching_imports_no_runtime_packages() -> None:
    code = (
        "import sys, correlator.core.matching, correlator.adapters; "
        "bad = [m for m in ('faust', 'aiokafka', 'textual', 'sqlmodel') if m in sys.modules]; "
        "sys.exit(', '.join(bad) or None)"
    )
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (0, "")
