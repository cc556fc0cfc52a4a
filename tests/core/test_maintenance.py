"""Planned work (DESIGN §6): windows cover components by id or selector, an incident whose root
causes are all planned is planned, its customers are counted apart in the summary, and an
unplanned root cause or the window ending makes it unplanned with exactly one update."""

from __future__ import annotations

from correlator.core.engine import Engine
from correlator.core.incidents import StepResult
from correlator.core.maintenance import MaintenanceBook, MaintenanceWindow
from correlator.core.timefmt import MINUTE
from tests.core.helpers import SEC, T0, firing, resolved, topology

SHOP = topology(
    {
        "apiVersion": "correlator/v1",
        "name": "shop",
        "segments": [
            {"id": "shoppers", "customers": 1000, "uses": ["checkout"]},
            {"id": "staff", "customers": 10, "uses": ["wiki"]},
        ],
        "business_services": [
            {"id": "checkout", "tier": 1, "depends_on": ["cartservice", "payments"]},
            {"id": "wiki", "tier": 4, "depends_on": ["wiki-app"]},
        ],
        "components": [
            {"id": "cartservice", "depends_on": [{"split": ["cart-db-1", "cart-db-2"]}]},
            {
                "id": "cart-db-1",
                "kind": "database",
                "owner": "team-data",
                "match": [{"namespace": "data", "statefulset": "cart-db-1"}],
            },
            {"id": "cart-db-2", "kind": "database", "owner": "team-data", "aliases": ["cdb2"]},
            {"id": "payments", "labels": {"tier": "gold"}},
            {"id": "wiki-app"},
        ],
    }
)


def window(
    wid: str = "mw-1",
    components: tuple[str, ...] = ("cart-db-1",),
    match: tuple[tuple[tuple[str, str], ...], ...] = (),
    start: int = T0,
    end: int = T0 + 60 * MINUTE,
) -> MaintenanceWindow:
    return MaintenanceWindow(wid, components, match, start, end, "kernel upgrade", "alice")


def events(result: StepResult) -> list[tuple[str, bool, int]]:
    return [(e.type, e.incident.planned, e.incident.customers_affected) for e in result.events]


def test_a_window_names_components_by_id_alias_or_selector() -> None:
    book = MaintenanceBook(
        [
            window("by-id", ("cart-db-1",)),
            window("by-alias", ("cdb2",)),
            window("by-selector", (), ((("namespace", "data"),),)),
            window("by-owner-and-kind", (), ((("owner", "team-*"), ("kind", "database")),)),
            window("by-label", (), ((("tier", "gold"),),)),
            window("later", ("wiki-app",), start=T0 + MINUTE),
        ]
    )
    at = T0 + SEC
    covering = {c: book.covering(SHOP, c, at) for c in SHOP.nodes if c not in ("checkout", "wiki")}
    assert covering == {
        "cartservice": (),
        "cart-db-1": ("by-id", "by-owner-and-kind", "by-selector"),
        "cart-db-2": ("by-alias", "by-owner-and-kind"),
        "payments": ("by-label",),
        "wiki-app": (),
    }
    assert book.covers(SHOP, "wiki-app", T0 + MINUTE)
    assert not book.covers(SHOP, "cart-db-1", T0 + 60 * MINUTE)  # the end is exclusive
    assert book.next_change(T0 + SEC) == T0 + MINUTE


def test_planned_incident_counts_customers_apart_and_never_unplans_without_cause() -> None:
    engine = Engine(SHOP)
    assert engine.set_maintenance(window()).events == []  # no clock yet: only kept
    out = engine.ingest(firing("cart-db-1", T0 + SEC))
    assert events(out) == [("incident.opened", True, 500)]
    assert out.summary is not None
    assert (out.summary.customers_affected, out.summary.customers_affected_planned) == (500, 500)
    # Repeats and more alerts on the planned component change nothing about it.
    out = engine.ingest(firing("cart-db-1", T0 + 2 * SEC, "warning"))
    assert [e.incident.planned for e in out.events] == [True]
    # It heals inside the window: resolved, still planned (a pager never heard of it).
    out = engine.ingest(resolved("cart-db-1", T0 + 3 * SEC))
    out.extend(engine.ingest(resolved("cart-db-1", T0 + 3 * SEC, "warning")))
    assert events(out)[-1] == ("incident.resolved", True, 0)


def test_an_unplanned_root_cause_joining_makes_it_unplanned_once() -> None:
    engine = Engine(SHOP)
    engine.set_maintenance(window())
    engine.ingest(firing("cart-db-1", T0 + SEC))
    out = engine.ingest(firing("cart-db-2", T0 + 2 * SEC))
    assert events(out) == [("incident.updated", False, 1000)]
    assert out.summary is not None and out.summary.customers_affected_planned == 0


def test_the_window_ending_with_the_problem_still_there_makes_it_unplanned() -> None:
    engine = Engine(SHOP)
    engine.set_maintenance(window(end=T0 + 10 * MINUTE))
    engine.ingest(firing("cart-db-1", T0 + SEC))
    assert engine.tracker.next_maintenance_change() == T0 + 10 * MINUTE
    out = engine.tick(T0 + 10 * MINUTE - 1)
    assert out.events == []
    out = engine.tick(T0 + 10 * MINUTE)
    assert events(out) == [("incident.updated", False, 500)]
    assert engine.tick(T0 + 11 * MINUTE).events == []


def test_ending_a_window_early_and_replay_finishing_past_the_window() -> None:
    engine = Engine(SHOP)
    engine.set_maintenance(window())
    engine.ingest(firing("cart-db-1", T0 + SEC))
    # `correlator maintenance end`: the same window with `ends_at` now.
    out = engine.set_maintenance(window(end=T0 + 5 * SEC))
    assert out.events == []  # the clock is still before the new end
    out = engine.ingest(firing("wiki-app", T0 + 6 * SEC))
    assert sorted(events(out)) == [("incident.opened", False, 10), ("incident.updated", False, 500)]
    # A window declared later that covers an open incident's root causes makes it planned.
    other = Engine(SHOP)
    other.ingest(firing("cart-db-1", T0 + SEC))
    out = other.set_maintenance(window(start=T0, end=T0 + 2 * MINUTE))
    assert events(out) == [("incident.updated", True, 500)]
    # End of input: the replay runs past the window's end, as the stream's ticks would.
    out = other.finish()
    assert events(out) == [("incident.updated", False, 500)]
    assert other.clock == T0 + 2 * MINUTE


def test_planned_is_false_without_windows() -> None:
    engine = Engine(SHOP)
    out = engine.ingest(firing("cart-db-1", T0))
    assert events(out) == [("incident.opened", False, 500)]
    assert engine.tracker.next_maintenance_change() is None
