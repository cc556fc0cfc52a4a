"""An input whose outputs are sent without waiting (`send_then`) is acknowledged only once
they are: its offset may not be committed before its outputs are in the log.

Faust's own `Message` counts the references; the producer is a stand-in whose
acknowledgements the test gives (the real broker's are in the stream tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types.tuples import TP, ConsumerMessage, Message

from correlator.stream.config import WorkerConfig
from correlator.stream.context import CurrentTopology, StageContext
from correlator.stream.ordering import Held, send_then
from correlator.stream.topics import topics_for
from correlator.topology_files import parse_topology_text


@dataclass
class _Consumer:
    acked: list[int] = field(default_factory=list)

    def ack(self, message: Message) -> bool:
        self.acked.append(message.offset)
        return True


@dataclass
class _Event:
    message: Message
    consumer: _Consumer

    def ack(self) -> bool:
        return self.message.ack(self.consumer)


@dataclass
class _Producer:
    pending: list[asyncio.Future[None]] = field(default_factory=list)

    async def send(self, *args: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future


@dataclass
class _App:
    producer: _Producer


def _event(offset: int, consumer: _Consumer) -> _Event:
    message = ConsumerMessage("t", 0, offset, 0.0, 0, None, None, b"{}", None, tp=TP("t", 0))
    message.incref()  # the agent's own reference, dropped when it moves on
    return _Event(message, consumer)


_TOPOLOGY = """
apiVersion: correlator/v1
name: tiny
components: [{id: db, kind: database}]
"""


def _context(producer: _Producer) -> StageContext:
    config = WorkerConfig()
    current = CurrentTopology(parse_topology_text(_TOPOLOGY, "tiny"), _TOPOLOGY)
    return StageContext(config, topics_for(config), current, _App(producer))


async def _flush() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_an_input_is_acknowledged_only_after_its_outputs() -> None:
    consumer, producer = _Consumer(), _Producer()
    ctx = _context(producer)
    event = _event(7, consumer)
    await send_then(ctx, [("out", None, b"mark", 0)], [], Held(event))
    event.ack()  # the agent moves on to the next input
    await _flush()
    assert consumer.acked == []  # the mark is not acknowledged by the broker yet
    producer.pending[0].set_result(None)
    await _flush()
    assert consumer.acked == [7]


async def test_inputs_it_released_wait_for_its_outputs_too() -> None:
    consumer, producer = _Consumer(), _Producer()
    ctx = _context(producer)
    earlier = _event(3, consumer)
    waiting = Held(earlier, waiting=1)
    waiting.keep()  # an earlier input still waited for its turn after its own batch
    earlier.ack()
    event = _event(4, consumer)
    await send_then(ctx, [("out", None, b"mark", 0)], [(None, waiting)], Held(event))
    event.ack()
    await _flush()
    assert consumer.acked == []
    producer.pending[0].set_result(None)
    await _flush()
    assert sorted(consumer.acked) == [3, 4]


async def test_nothing_to_send_acknowledges_at_once() -> None:
    consumer, producer = _Consumer(), _Producer()
    event = _event(9, consumer)
    await send_then(_context(producer), [], [], Held(event))
    event.ack()
    assert consumer.acked == [9]


async def test_a_failed_send_leaves_the_input_unacknowledged_and_is_raised_next() -> None:
    consumer, producer = _Consumer(), _Producer()
    ctx = _context(producer)
    event = _event(5, consumer)
    await send_then(ctx, [("out", None, b"mark", 0)], [], Held(event))
    event.ack()
    producer.pending[0].set_exception(ConnectionError("broker away"))
    await _flush()
    assert consumer.acked == []
    with pytest.raises(ConnectionError):
        await ctx.send([("out", None, b"next", 0)])
