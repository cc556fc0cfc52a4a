"""The ingest stage's `alerts.keyed` records: alerts split into records under a size bound."""

from __future__ import annotations

import orjson

from correlator.stream.ingest import hop_records


def test_alerts_are_split_into_records_under_the_bound_in_order() -> None:
    alerts = {0: [{"n": i, "text": "x" * 300} for i in range(10)], 1: [{"n": 99}]}
    records = hop_records(alerts, limit=1000)
    assert all(len(value) <= 1000 + 64 for _, value in records)
    decoded = [(p, orjson.loads(v)) for p, v in records]
    assert {d["schema"] for _, d in decoded} == {1}
    rebuilt: dict[int, list[object]] = {}
    for partition, doc in decoded:
        rebuilt.setdefault(partition, []).extend(doc["alerts"])
    assert rebuilt == alerts
    assert len(records) > 2


def test_one_record_per_partition_when_they_fit() -> None:
    alerts = {0: [{"n": 1}], 3: [{"n": 2}, {"n": 3}]}
    assert hop_records(alerts) == [
        (0, orjson.dumps({"schema": 1, "alerts": [{"n": 1}]})),
        (3, orjson.dumps({"schema": 1, "alerts": [{"n": 2}, {"n": 3}]})),
    ]
