"""Prometheus metrics of one worker, served at `GET /metrics` on its web port.

Each app has its own `CollectorRegistry` (tests run several workers in one process, and the
default global registry would mix them). Counters and histograms are updated where the work
happens (ingest, the stages); figures that already live elsewhere — the impact stage's open
incidents and summary, the notifier's delivery counts — are read at scrape time by collectors,
so nothing is copied on the hot path. Consumer lag is measured from the broker per scrape
(the same figures as `GET /health`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from correlator.adapters.decode import Decoded
    from correlator.core.snapshot import ImpactSummary, IncidentSnapshot
    from correlator.notify.consumer import NotifyStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format (`prometheus_client.CONTENT_TYPE_LATEST`)."""

STAGES = ("ingest", "alert_state", "health", "impact")
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
# A stage handles a batch in well under a millisecond to a few hundred ms (a storm step).
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def reason_class(reason: str) -> str:
    """A dead letter's reason, reduced to a small fixed set of label values (a reason itself
    names fields and values, which would make a label of unbounded cardinality)."""
    text = reason.lower()
    if "over the" in text and "limit" in text:
        return "too_large"
    if text.startswith("empty payload"):
        return "empty"
    if text.startswith(("invalid json", "payload is not valid utf-8")):
        return "not_json"
    if text.startswith(("unknown alert format", "a correlator topology", "unknown format name")):
        return "unknown_format"
    if text.startswith("internal error"):
        return "internal_error"
    if any(w in text for w in ("time", "rfc 3339", "epoch", "out of range", "startsat", "endsat")):
        return "invalid_time"
    return "invalid_alert"


class WorkerMetrics:
    """The metric objects of one worker, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.alerts_received = Counter(
            "correlator_alerts_received",
            "Canonical alerts decoded by ingest, by payload format.",
            ["format"],
            registry=r,
        )
        self.payloads_received = Counter(
            "correlator_payloads_received",
            "Raw records read from alerts.raw by ingest.",
            registry=r,
        )
        self.dead_letters = Counter(
            "correlator_dead_letters",
            "Records sent to alerts.dlq, by reason class.",
            ["reason"],
            registry=r,
        )
        self.unmapped = Counter(
            "correlator_alerts_unmapped",
            "Alerts about no known component (a topology gap), each reported once while it fires.",
            registry=r,
        )
        self.stage_seconds = Histogram(
            "correlator_stage_processing_seconds",
            "Time one stage takes to process one input batch, sends and acknowledgements included.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.impact_seconds = Histogram(
            "correlator_impact_evaluation_seconds",
            "Time the impact stage's core takes to evaluate one batch of impact.input.",
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "correlator_consumer_lag",
            "Records behind per stage: end offset minus committed offset of its input topic "
            "(whole consumer group), measured at scrape time.",
            ["stage"],
            registry=r,
        )
        self.broker_up = Gauge(
            "correlator_broker_up",
            "1 when the broker answered the lag measurement of this scrape, else 0.",
            registry=r,
        )
        for stage in STAGES:  # every series exists from the start, so rate() sees the first one
            self.stage_seconds.labels(stage)
        self._impact = _ImpactCollector()
        self._notify = _NotifyCollector()
        r.register(self._impact)
        r.register(self._notify)

    # -- sources read at scrape time ---------------------------------------------------------

    def watch_impact(
        self, source: Callable[[], tuple[list[IncidentSnapshot], ImpactSummary | None] | None]
    ) -> None:
        """`source()` gives the impact stage's open snapshots and summary, or None on a worker
        that does not hold `impact.input` now."""
        self._impact.source = source

    def watch_notify(self, stats: NotifyStats) -> None:
        self._notify.stats = stats

    # -- updates from the stages -------------------------------------------------------------

    def observe_decoded(self, decoded: Decoded) -> None:
        self.payloads_received.inc()
        if decoded.alerts:
            self.alerts_received.labels(decoded.format or "unknown").inc(len(decoded.alerts))
        for letter in decoded.dead_letters:
            self.dead_letters.labels(reason_class(letter.reason)).inc()

    def set_lags(self, stages: dict[str, dict[str, Any]] | None) -> None:
        if stages is None:
            self.broker_up.set(0)
            self.consumer_lag.clear()  # no figure rather than a stale one
            return
        self.broker_up.set(1)
        for stage, figures in stages.items():
            self.consumer_lag.labels(stage).set(figures["lag"])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _ImpactCollector(Collector):
    """Open incidents by severity and the global figures, read from the impact stage."""

    def __init__(self) -> None:
        self.source: (
            Callable[[], tuple[list[IncidentSnapshot], ImpactSummary | None] | None] | None
        ) = None

    def collect(self) -> Iterable[Metric]:
        held = GaugeMetricFamily(
            "correlator_impact_active",
            "1 on the worker whose impact stage holds impact.input (the figures below are its).",
        )
        incidents = GaugeMetricFamily(
            "correlator_open_incidents",
            "Open incidents by severity and whether they are planned work.",
            labels=["severity", "planned"],
        )
        figures = {
            name: GaugeMetricFamily(f"correlator_{name}", text)
            for name, text in (
                ("customers_total", "Customers in the topology's segments."),
                ("customers_affected", "Customers cut off now (each counted once)."),
                (
                    "customers_affected_planned",
                    "Of the customers affected, those cut off by planned incidents only.",
                ),
                ("customers_degraded", "Customers degraded but not cut off."),
                ("unattached_problems", "Problems no business service depends on."),
                ("stale_sources", "Heartbeat sources silent for too long."),
            )
        }
        got = self.source() if self.source is not None else None
        held.add_metric([], 0 if got is None else 1)
        if got is not None:
            snapshots, summary = got
            counts = {(s, p): 0 for s in SEVERITIES for p in ("false", "true")}
            for snap in snapshots:
                key = (snap.severity, "true" if snap.planned else "false")
                counts[key] = counts.get(key, 0) + 1
            for (severity, planned), n in sorted(counts.items()):
                incidents.add_metric([severity, planned], n)
            if summary is not None:
                values = {
                    "customers_total": summary.customers_total,
                    "customers_affected": summary.customers_affected,
                    "customers_affected_planned": summary.customers_affected_planned,
                    "customers_degraded": summary.customers_degraded,
                    "unattached_problems": len(summary.unattached_problems),
                    "stale_sources": len(summary.stale_sources),
                }
                for name, value in values.items():
                    figures[name].add_metric([], value)
        yield held
        yield incidents
        yield from figures.values()


class _NotifyCollector(Collector):
    """The notifier's delivery counts (`--notify`), per webhook. A webhook is labelled by its
    position and scheme://host only: a Slack webhook's path is its secret."""

    def __init__(self) -> None:
        self.stats: NotifyStats | None = None

    def collect(self) -> Iterator[Metric]:
        posts = CounterMetricFamily(
            "correlator_notifications",
            "Webhook posts by outcome: delivered (2xx) or failed (given up after retries).",
            labels=["webhook", "outcome"],
        )
        retries = CounterMetricFamily(
            "correlator_notification_retries", "Webhook posts retried.", labels=["webhook"]
        )
        events = CounterMetricFamily(
            "correlator_notification_events",
            "Incident events read by the notifier, by what it did: notified or skipped "
            "(policy: severity, planned work, repeats) or invalid.",
            labels=["decision"],
        )
        stats = self.stats
        if stats is not None:
            for i, (url, delivery) in enumerate(stats.urls.items()):
                name = webhook_label(i, url)
                posts.add_metric([name, "delivered"], delivery.delivered)
                posts.add_metric([name, "failed"], delivery.failed)
                retries.add_metric([name], delivery.retries)
            events.add_metric(["notified"], stats.notified)
            events.add_metric(["skipped"], stats.events - stats.notified)
            events.add_metric(["invalid"], stats.invalid)
        yield posts
        yield retries
        yield events


def webhook_label(index: int, url: str) -> str:
    """`<position> <scheme>://<host[:port]>`: enough to tell the webhooks apart, no secret."""
    parts = urlsplit(url)
    return f"{index} {parts.scheme}://{parts.netloc.rpartition('@')[2]}"
