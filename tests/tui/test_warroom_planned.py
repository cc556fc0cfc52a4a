"""Planned work in the war room: planned incidents listed last as a group of their own and
marked, the windows in force or to come on a banner, acknowledgements on the same topic
ignored; and the replay feed carries the windows of its input."""

from __future__ import annotations

from pathlib import Path

from conftest import AppFactory, settle
from warroom_records import NOW, incident, scenario_records, snapshot

from correlator.core.timefmt import MINUTE, format_time
from correlator.records import TOPIC_INCIDENT_ACTIONS, Record
from correlator.replay import replay_records
from correlator.topology_files import load_topology
from tui.screens.main import MainScreen
from tui.state import WarRoomState
from tui.widgets.incident_table import IncidentTable
from tui.widgets.maintenance_banner import MaintenanceBanner

ROOT = Path(__file__).resolve().parents[2]


def window(wid: str, start_min: float, end_min: float, **extra: object) -> Record:
    value = {
        "schema": 1,
        "type": "maintenance",
        "id": wid,
        "components": ["cart-db-2"],
        "match": [{"namespace": "data"}],
        "starts_at": format_time(NOW + int(start_min * MINUTE)),
        "ends_at": format_time(NOW + int(end_min * MINUTE)),
        "reason": "failover test",
        "by": "alice",
        **extra,
    }
    return Record(TOPIC_INCIDENT_ACTIONS, wid, value)


def planned(incident_id: str, **kwargs: object) -> Record:
    snap = snapshot(incident_id, **kwargs)  # type: ignore[arg-type]
    snap["planned"] = True
    return incident(snap)


def test_state_lists_planned_last_and_windows_in_force_or_to_come() -> None:
    state = WarRoomState()
    state.apply_all(
        [
            *scenario_records(),
            planned("inc-planned", severity="SEV1", customers=900000),
            window("mw-now", -10, 20),
            window("mw-later", 60, 120),
            window("mw-over", -60, -5),
            Record(TOPIC_INCIDENT_ACTIONS, "x", {"schema": 1, "type": "ack", "incident": "x"}),
        ],
        NOW,
    )
    assert state.rejected == 0
    ids = [r["id"] for r in state.rows()]
    assert ids[-1] == "inc-planned" and len(ids) == 5  # a SEV1, yet after every unplanned one
    assert [(s, w["id"]) for s, w in state.maintenance_windows(NOW)] == [
        ("active", "mw-now"),
        ("scheduled", "mw-later"),
    ]
    # `correlator maintenance end`: the same id, ending now.
    state.apply(window("mw-now", -10, 0), NOW)
    assert [w["id"] for _, w in state.maintenance_windows(NOW)] == ["mw-later"]


async def test_banner_and_marked_rows(make_app: AppFactory) -> None:
    app, feed = make_app(
        [*scenario_records(), planned("inc-planned", severity="SEV1"), window("mw-1", -10, 20)]
    )
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot, feed)
        assert isinstance(app.screen, MainScreen)
        banner = app.screen.query_one(MaintenanceBanner)
        assert banner.display
        text = banner.render().plain
        assert text.startswith("PLANNED WORK") and "mw-1 cart-db-2 namespace=data" in text
        assert "ends in 20m" in text and "(alice: failover test)" in text
        table = app.screen.query_one(IncidentTable)
        assert [str(r.value) for r in table.rows][-1] == "inc-planned"
        title = table.get_cell("inc-planned", "title")
        assert title.plain.startswith("planned ")
        assert "1 planned work" in str(table.border_title)


async def test_no_banner_without_windows(make_app: AppFactory) -> None:
    app, feed = make_app(scenario_records())
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot, feed)
        assert not app.screen.query_one(MaintenanceBanner).display


def test_replay_records_carry_the_windows_of_the_input(tmp_path: Path) -> None:
    scenario = ROOT / "topologies" / "scenarios" / "acme-shop-cart-shard-down.jsonl"
    line = (
        b'{"schema": 1, "type": "maintenance", "id": "mw-r", "components": ["cart-db-2"],'
        b' "starts_at": "2025-03-14T09:00:00Z", "ends_at": "2025-03-14T11:00:00Z",'
        b' "reason": "r", "by": "b"}\n'
    )
    path = tmp_path / "in.jsonl"
    path.write_bytes(line + scenario.read_bytes())
    records = [
        r for _, r in replay_records(load_topology(ROOT / "topologies/acme-shop.yaml"), [path])
    ]
    assert records[0].topic == TOPIC_INCIDENT_ACTIONS and records[0].key == "mw-r"
    state = WarRoomState()
    state.apply_all(records, None)
    opened = next(r.value for r in records if r.topic == "incident.events")
    assert opened is not None and opened["incident"]["planned"] is True
    assert list(state.windows) == ["mw-r"]
