"""Incident semantics through the whole engine (DESIGN §6): grouping, root causes, merge,
reopen, late events, severity, acknowledgements, heartbeats and time."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from correlator.core.alerts import Alert
from correlator.core.engine import Engine, EngineSettings
from correlator.core.incidents import IncidentSettings, StepResult
from correlator.core.snapshot import IncidentSnapshot
from correlator.core.timefmt import MINUTE
from tests.core.helpers import SEC, T0, firing, resolved, topology

SHOP = topology(
    {
        "apiVersion": "correlator/v1",
        "name": "shop",
        "segments": [
            {"id": "shoppers", "customers": 1000, "uses": ["checkout", "browse"]},
            {"id": "partners", "customers": 100, "uses": ["reports"]},
            {"id": "staff", "customers": 10, "uses": ["wiki"]},
        ],
        "business_services": [
            {"id": "checkout", "name": "Checkout", "tier": 1, "depends_on": ["checkoutservice"]},
            {"id": "browse", "tier": 2, "depends_on": ["catalog"]},
            {"id": "reports", "tier": 2, "depends_on": ["reporting"]},
            {"id": "wiki", "tier": 4, "depends_on": ["wiki-app"]},
        ],
        "components": [
            {
                "id": "checkoutservice",
                "depends_on": ["cartservice", {"soft": ["emailservice"]}, "gateway"],
            },
            {"id": "cartservice", "depends_on": [{"split": ["cart-db-1", "cart-db-2"]}]},
            {"id": "cart-db-1", "kind": "database", "owner": "team-data"},
            {"id": "cart-db-2", "kind": "database"},
            {"id": "emailservice"},
            {"id": "catalog", "depends_on": ["catalog-db", "gateway", {"soft": ["search"]}]},
            {"id": "catalog-db"},
            {"id": "gateway"},
            {"id": "search"},
            {"id": "reporting", "depends_on": [{"split": ["rep-a", "rep-b", "rep-c", "rep-d"]}]},
            {"id": "rep-a"},
            {"id": "rep-b"},
            {"id": "rep-c"},
            {"id": "rep-d"},
            {"id": "wiki-app"},
            {"id": "orphan"},
        ],
    }
)


def run(alerts: list[Alert], settings: EngineSettings | None = None) -> tuple[Engine, StepResult]:
    engine = Engine(SHOP, settings)
    out = StepResult()
    for alert in alerts:
        out.extend(engine.ingest(alert))
    return engine, out


def open_incidents(engine: Engine) -> list[IncidentSnapshot]:
    return engine.tracker.open_snapshots()


def types(out: StepResult) -> list[tuple[str, str]]:
    return [(e.type, e.incident.id) for e in out.events]


def test_crash_looping_service_with_soft_warning_is_a_root_cause() -> None:
    engine, _ = run([firing("emailservice", T0, "warning"), firing("checkoutservice", T0 + SEC)])
    [incident] = open_incidents(engine)
    roots = {c.id: c.root_cause for c in incident.components}
    assert roots["checkoutservice"] is True
    assert incident.root_causes[0] == "checkoutservice"
    assert incident.severity == "SEV1"  # tier-1 checkout is down for everyone


def test_service_failing_because_its_database_is_down_is_a_symptom() -> None:
    engine, _ = run(
        [
            firing("cart-db-1", T0),
            firing("cart-db-2", T0 + SEC),
            firing("cartservice", T0 + 2 * SEC),
        ]
    )
    [incident] = open_incidents(engine)
    assert incident.root_causes == ("cart-db-1", "cart-db-2")
    assert {c.id: c.root_cause for c in incident.components} == {
        "cartservice": False,
        "cart-db-1": True,
        "cart-db-2": True,
    }


def test_first_alert_opens_an_incident_with_full_snapshot() -> None:
    _, out = run([firing("cart-db-1", T0, summary="disk full")])
    [event] = out.events
    snap = event.incident
    assert (event.type, event.seq, snap.seq, snap.status) == ("incident.opened", 1, 1, "open")
    assert snap.customers_affected == 500
    assert snap.title == "Checkout partly down — 500 customers affected (root cause: cart-db-1)"
    assert [(s.id, s.state, s.impact) for s in snap.business_services] == [
        ("checkout", "partial", Fraction(1, 2))
    ]
    assert [(s.id, s.affected, s.degraded) for s in snap.segments] == [("shoppers", 500, 0)]
    [component] = snap.components
    assert (component.id, component.kind, component.owner, component.alert_count) == (
        "cart-db-1",
        "database",
        "team-data",
        1,
    )
    assert component.alerts[0].summary == "disk full"
    assert snap.severity == "SEV1"  # 500 of 1,110 customers through a tier-1 service


def test_repeats_of_an_active_alert_change_nothing() -> None:
    engine = Engine(SHOP)
    first = engine.ingest(firing("cart-db-1", T0))
    again = engine.ingest(firing("cart-db-1", T0))
    assert len(first.events) == 1
    assert again.events == [] and again.health == [] and again.summary is None


def test_warning_on_shared_component_does_not_merge_two_incidents() -> None:
    engine, out = run(
        [
            firing("cartservice", T0),  # checkout down
            firing("catalog-db", T0 + SEC),  # browse down: a separate incident
            firing("gateway", T0 + 2 * SEC, "warning"),  # shared by both: degraded-only
        ]
    )
    incidents = open_incidents(engine)
    assert len(incidents) == 2
    assert not [t for t, _ in types(out) if t == "incident.merged"]
    by_root = {i.root_causes[0]: i for i in incidents}
    # the degraded-only problem joins the oldest incident it overlaps, never merging the two
    assert {c.id for c in by_root["cartservice"].components} == {"cartservice", "gateway"}
    assert {c.id for c in by_root["catalog-db"].components} == {"catalog-db"}


def test_new_problem_overlapping_two_incidents_merges_them_into_the_older() -> None:
    engine, out = run(
        [
            firing("cartservice", T0),
            firing("catalog-db", T0 + SEC),
            firing("gateway", T0 + 2 * SEC),  # critical: down-reach overlaps both incidents
        ]
    )
    opened = [i for t, i in types(out) if t == "incident.opened"]
    assert len(opened) == 2
    merged = [e for e in out.events if e.type == "incident.merged"]
    assert [(e.incident.id, e.incident.status, e.incident.merged_into) for e in merged] == [
        (opened[1], "merged", opened[0])
    ]
    [incident] = open_incidents(engine)
    assert incident.id == opened[0]
    assert {c.id for c in incident.components} == {"cartservice", "catalog-db", "gateway"}
    assert engine.tracker.opened_total == 2


def test_reopen_within_window_and_new_incident_after_it() -> None:
    engine, out = run(
        [
            firing("catalog-db", T0),
            resolved("catalog-db", T0 + MINUTE),
            firing("catalog-db", T0 + 5 * MINUTE),  # within the 10 min window
            resolved("catalog-db", T0 + 6 * MINUTE),
            firing("catalog-db", T0 + 20 * MINUTE),  # 14 min after: a new incident
        ]
    )
    seen = types(out)
    first = seen[0][1]
    assert [t for t, _ in seen] == [
        "incident.opened",
        "incident.resolved",
        "incident.reopened",
        "incident.resolved",
        "incident.opened",
    ]
    assert seen[2][1] == first and seen[4][1] != first
    assert [e.seq for e in out.events[:4]] == [1, 2, 3, 4]
    assert engine.tracker.opened_total == 2


def test_late_firing_after_a_resolve_changes_nothing() -> None:
    late = firing("catalog-db", T0)
    engine, out = run(
        [
            firing("catalog-db", T0 + MINUTE),
            resolved("catalog-db", T0 + 2 * MINUTE),
        ]
    )
    after = engine.ingest(late)  # an older firing delivered late
    assert after.events == []
    assert open_incidents(engine) == []
    assert [e.type for e in out.events] == ["incident.opened", "incident.resolved"]


def test_expiry_by_ends_at_resolves_as_if_resolved() -> None:
    alert = firing("catalog-db", T0)
    expiring = Alert(**{**_fields(alert), "ends_at": T0 + 5 * MINUTE})
    engine, _ = run([expiring])
    assert len(open_incidents(engine)) == 1
    out = engine.tick(T0 + 5 * MINUTE)
    assert [e.type for e in out.events] == ["incident.resolved"]
    assert out.events[0].incident.resolved_at == T0 + 5 * MINUTE


def test_resolve_after_holds_the_incident_until_the_deadline() -> None:
    settings = EngineSettings(incidents=IncidentSettings(resolve_after=2 * MINUTE))
    engine, _ = run([firing("catalog-db", T0), resolved("catalog-db", T0 + MINUTE)], settings)
    [pending] = open_incidents(engine)
    assert pending.status == "open" and pending.customers_affected == 0
    assert engine.tick(T0 + 2 * MINUTE).events == []
    out = engine.tick(T0 + 3 * MINUTE)
    assert [(e.type, e.incident.resolved_at) for e in out.events] == [
        ("incident.resolved", T0 + 3 * MINUTE)
    ]


def test_problem_returning_while_pending_keeps_the_incident_open() -> None:
    settings = EngineSettings(incidents=IncidentSettings(resolve_after=2 * MINUTE))
    engine, out = run(
        [
            firing("catalog-db", T0),
            resolved("catalog-db", T0 + MINUTE),
            firing("catalog-db", T0 + 2 * MINUTE),
        ],
        settings,
    )
    assert [e.type for e in out.events] == [
        "incident.opened",
        "incident.updated",
        "incident.updated",
    ]
    assert open_incidents(engine)[0].customers_affected == 1000


def _severity(alerts: list[Alert]) -> str:
    engine, _ = run(alerts)
    [incident] = open_incidents(engine)
    return incident.severity


def test_severity_sev1_when_a_tier1_service_is_down() -> None:
    assert _severity([firing("checkoutservice", T0)]) == "SEV1"


def test_severity_sev1_when_tier12_customers_reach_ten_percent() -> None:
    # browse (tier 2) down for all 1,000 shoppers of 1,110 customers
    assert _severity([firing("catalog-db", T0)]) == "SEV1"


def test_severity_sev2_below_ten_percent_through_tier2() -> None:
    # reports (tier 2) down for a quarter of 100 partners = 25 of 1,110 customers
    assert _severity([firing("rep-a", T0)]) == "SEV2"


def test_severity_sev3_when_only_tier34_services_cut_customers_off() -> None:
    assert _severity([firing("wiki-app", T0)]) == "SEV3"


def test_severity_sev4_when_nobody_is_cut_off() -> None:
    assert _severity([firing("search", T0, "warning")]) == "SEV4"


def test_severity_threshold_is_configurable() -> None:
    settings = EngineSettings(incidents=IncidentSettings(sev1_fraction=Fraction(1, 50)))
    engine, _ = run([firing("rep-a", T0)], settings)  # 25 / 1,110 > 2 %
    assert open_incidents(engine)[0].severity == "SEV1"


def test_peak_figures_survive_recovery_of_part_of_the_incident() -> None:
    engine, _ = run(
        [
            firing("cart-db-1", T0),
            firing("cart-db-2", T0 + SEC),
            resolved("cart-db-2", T0 + MINUTE),
        ]
    )
    [incident] = open_incidents(engine)
    assert (incident.customers_affected, incident.peak_customers_affected) == (500, 1000)
    assert (incident.severity, incident.peak_severity) == ("SEV1", "SEV1")


def test_acknowledgement_is_an_event_and_survives_a_merge() -> None:
    engine, _ = run([firing("cartservice", T0), firing("catalog-db", T0 + SEC)])
    older, younger = sorted(open_incidents(engine), key=lambda i: i.opened_at)
    ack = engine.acknowledge(younger.id, "alice", T0 + 2 * SEC)
    assert [(e.type, e.incident.acknowledged_by) for e in ack.events] == [
        ("incident.acknowledged", "alice")
    ]
    assert engine.acknowledge(younger.id, "bob", T0 + 3 * SEC).events == []  # already acked
    engine.ingest(firing("gateway", T0 + 4 * SEC))  # merges younger into older
    [merged] = open_incidents(engine)
    assert merged.id == older.id
    assert (merged.acknowledged_by, merged.acknowledged_at) == ("alice", T0 + 2 * SEC)


def test_problem_nothing_depends_on_is_unattached_not_an_incident() -> None:
    engine, out = run([firing("orphan", T0)])
    assert out.events == []
    assert engine.tracker.unattached == ("orphan",)
    assert out.summary is not None and out.summary.unattached_problems == ("orphan",)


def test_unmapped_alert_is_counted_and_reported_once() -> None:
    stray = Alert(
        fingerprint="x",
        status="firing",
        severity="critical",
        labels={"alertname": "Weird", "service": "nobody-knows"},
        received_at=T0,
        starts_at=T0,
    )
    engine, out = run([stray, stray])
    assert [u.alert.fingerprint for u in out.unmapped] == ["x"]
    assert ("service", "nobody-knows") in out.unmapped[0].tried
    assert (engine.counts.received, engine.counts.unmapped, engine.counts.mapped) == (2, 2, 0)


def test_watchdog_is_a_heartbeat_and_goes_stale_after_five_minutes() -> None:
    watchdog = Alert(
        fingerprint="wd",
        status="firing",
        severity="info",
        labels={"alertname": "Watchdog", "prometheus": "monitoring/k8s"},
        received_at=T0,
        starts_at=T0,
    )
    engine, out = run([watchdog])
    assert out.unmapped == [] and out.events == []
    assert engine.counts.unmapped == 0 and engine.counts.heartbeats == 1
    assert engine.tick(T0 + 5 * MINUTE).summary is None  # not stale yet
    stale = engine.tick(T0 + 5 * MINUTE + SEC)
    assert stale.summary is not None and stale.summary.stale_sources == ("monitoring/k8s",)


def test_event_time_in_the_future_is_invalid_and_changes_nothing() -> None:
    bad = Alert(
        fingerprint="ahead",
        status="firing",
        severity="critical",
        labels={"component": "catalog-db"},
        received_at=T0,
        starts_at=T0 + 5 * MINUTE + SEC,
    )
    engine, out = run([bad])
    assert out.events == [] and engine.counts.invalid == 1


def test_a_long_firing_alert_resent_with_its_old_start_counts() -> None:
    # Alertmanager re-sends a firing alert every repeat_interval with its original startsAt: a
    # worker that starts days into an outage must still learn of it (DESIGN §4 "Time").
    resent = Alert(
        fingerprint="old",
        status="firing",
        severity="critical",
        labels={"component": "catalog-db"},
        received_at=T0,
        starts_at=T0 - 3 * 24 * 60 * MINUTE,
    )
    engine, out = run([resent])
    assert [e.type for e in out.events] == ["incident.opened"]
    assert (engine.counts.invalid, engine.counts.mapped) == (0, 1)


def test_topology_switch_stamps_the_new_version() -> None:
    engine, _ = run([firing("catalog-db", T0)])
    doc: dict[str, Any] = {
        "apiVersion": "correlator/v1",
        "name": "shop",
        "segments": [{"id": "shoppers", "customers": 2000, "uses": ["browse"]}],
        "business_services": [{"id": "browse", "tier": 2, "depends_on": ["catalog-db"]}],
        "components": [{"id": "catalog-db"}],
    }
    new = topology(doc)
    out = engine.set_topology(new)
    [event] = out.events
    assert event.type == "incident.updated"
    assert (event.incident.topology_version, event.incident.customers_affected) == (
        new.version,
        2000,
    )


def _fields(alert: Alert) -> dict[str, Any]:
    return {f: getattr(alert, f) for f in Alert.__dataclass_fields__}


def test_ended_incidents_are_tombstoned_and_forgotten_after_retention() -> None:
    settings = EngineSettings(incidents=IncidentSettings(retention=60 * MINUTE))
    engine, out = run([firing("catalog-db", T0), resolved("catalog-db", T0 + MINUTE)], settings)
    [incident_id] = {e.incident.id for e in out.events}
    assert engine.tick(T0 + 60 * MINUTE).tombstones == []  # 59 minutes after it resolved
    later = engine.tick(T0 + 61 * MINUTE)
    assert later.tombstones == [incident_id]
    assert incident_id not in engine.tracker.incidents
    assert engine.tracker.opened_total == 1  # history counts survive the tombstone
    from correlator.wire import step_records

    assert [(r.topic, r.key, r.value) for r in step_records(later)] == [
        ("incidents", incident_id, None)
    ]


def test_problems_arriving_in_one_step_group_the_same_whatever_their_order() -> None:
    from correlator.core.health import ComponentHealth
    from correlator.core.incidents import IncidentTracker

    warning = ComponentHealth("cart-db-1", "degraded", 0, 1, 0, (), T0)  # earlier in the file
    critical = ComponentHealth("gateway", "down", 1, 0, 0, (), T0)
    groupings = []
    for batch in ([warning, critical], [critical, warning]):
        tracker = IncidentTracker(SHOP)
        tracker.apply_health(batch, T0)
        groupings.append(
            sorted(sorted(c.id for c in s.components) for s in tracker.open_snapshots())
        )
    assert groupings[0] == groupings[1] == [["cart-db-1", "gateway"]]


def test_the_alert_book_forgets_alerts_resolved_more_than_a_day_ago() -> None:
    engine, _ = run(
        [firing("catalog-db", T0), resolved("catalog-db", T0 + MINUTE), firing("search", T0)]
    )
    assert len(engine.alerts) == 2
    engine.tick(T0 + 24 * 60 * MINUTE)  # exactly a day: still remembered
    assert len(engine.alerts) == 2
    engine.tick(T0 + 26 * 60 * MINUTE)
    assert len(engine.alerts) == 1  # the firing one stays, however old
