"""The fetch tuning Faust does not expose (`correlator/stream/faust_kafka.py`): in force on a
running worker's consumer, and a loud error instead of a silent stall when an upgrade removed
the internals it sets."""

from __future__ import annotations

import pytest
from aiokafka.consumer import fetcher
from worker_harness import ACME_TOPOLOGY, make_config, running

from correlator.broker import KafkaBroker
from correlator.stream.app import create_app
from correlator.stream.faust_kafka import (
    FetchTuning,
    TuningError,
    check_tuning_support,
    fetch_tuning,
)


@pytest.mark.kafka
async def test_the_running_consumer_uses_the_configured_fetch_wait(
    kafka_broker: KafkaBroker,
) -> None:
    # Not the default (20 ms): the value comes from the configuration, not from aiokafka.
    config = make_config(kafka_broker.bootstrap, ACME_TOPOLOGY, fetch_wait_ms=37)
    async with running(config) as app:
        assert fetch_tuning(app) == FetchTuning(fetch_max_wait_ms=37, prefetch_backoff_ms=37.0)


def test_the_installed_versions_have_what_the_tuning_needs() -> None:
    check_tuning_support()


def test_a_renamed_internal_stops_the_worker_before_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = fetcher.Fetcher.__init__

    def renamed(self: object, *args: object, **kwargs: object) -> None:  # an "upgrade"
        original(self, *args, **kwargs)

    monkeypatch.setattr(fetcher.Fetcher, "__init__", renamed)
    with pytest.raises(TuningError) as raised:
        check_tuning_support()
    assert str(raised.value) == (
        "aiokafka's Fetcher has no _prefetch_backoff: correlator/stream/faust_kafka.py does not "
        "fit the installed aiokafka/Faust (correlator is tested with aiokafka 0.14.0 and "
        "faust-streaming 0.15.3); without it hops stall or commits skip records"
    )
    config = make_config("127.0.0.1:1", ACME_TOPOLOGY)
    with pytest.raises(TuningError):
        create_app(config)
