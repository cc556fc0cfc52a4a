"""Webhook ingress: alert sources POST their payloads to the worker, which writes them to
`alerts.raw` as envelopes, `GET /health` for probes and `GET /metrics` for Prometheus.

Faust web views on the worker's web server (on when `--web-port` is given). A body is checked
at the door — token, size, JSON — and a bad one is answered with a 4xx and its reason, so the
sender sees the problem; nothing of it reaches Kafka. An accepted body is answered 202 only
after the broker acknowledged its envelope. Decoding into alerts is the ingest stage's job.

Push-back instead of buffering: while the broker does not acknowledge (an outage) the ingress
answers 503 with `Retry-After` at once, letting one request at a time probe the broker; and it
holds at most `ingress_max_requests` requests and `ingress_max_bytes` bytes of bodies at once
(an overload), answering 503 beyond that. Alertmanager and most senders retry 5xx. A record the
producer could not deliver in time is failed by the producer itself before the 503 is sent, so
a refused body does not show up in Kafka later (the one exception: a request the broker wrote
but whose acknowledgement was lost with the connection).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from typing import Any, cast

import orjson
from aiohttp import web as aiohttp_web
from faust import web
from mode import Service

from correlator.adapters import FORMATS
from correlator.stream.context import StageContext, log
from correlator.stream.ingest import IngestService
from correlator.stream.kafka_io import new_producer
from correlator.stream.metrics import CONTENT_TYPE
from correlator.stream.topics import raw_max_message_bytes
from correlator.wire import raw_envelope

SEND_TIMEOUT = 5.0
"""Longest wait for the broker's acknowledgement of one envelope before answering 503: also the
producer's request timeout, after which it fails (drops) the record itself."""
RETRY_AFTER_DOWN = "5"
"""`Retry-After` while the broker does not acknowledge."""
RETRY_AFTER_BUSY = "1"
"""`Retry-After` when the ingress holds as many requests or bytes as it may."""
HEALTH_TIMEOUT = 2.0
"""Longest wait for the metadata request (and the lag figures) of `GET /health`."""


class Rejected(Exception):
    """A request refused at the door: the status, its one-line reason, extra headers."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def check_token(expected: str | None, authorization: str | None) -> None:
    """Raise `Rejected(401)` unless `Authorization: Bearer <expected>` was sent (or no token
    is configured). The comparison takes the same time however much of the token matches."""
    if expected is None:
        return
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Rejected(
            401, "a bearer token is required", {"WWW-Authenticate": 'Bearer realm="correlator"'}
        )
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Rejected(
            401,
            "invalid bearer token",
            {"WWW-Authenticate": 'Bearer realm="correlator", error="invalid_token"'},
        )


def check_json(body: bytes) -> None:
    """Raise `Rejected(400)` unless `body` is one JSON value."""
    if not body.strip():
        raise Rejected(400, "empty body: expected a JSON alert payload")
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejected(400, f"body is not valid JSON: {exc}") from None


async def read_body(request: aiohttp_web.Request, limit: int) -> bytes:
    """The request body, or `Rejected(413)` as soon as it is known to exceed `limit` bytes:
    from Content-Length before reading, else while reading (chunked uploads)."""
    too_big = Rejected(413, f"body larger than the limit of {limit} bytes")
    length = request.content_length
    if length is not None and length > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)


@dataclass(slots=True)
class Admission:
    """What the ingress holds now, against its limits, and whether the broker acknowledges.

    A request is counted from its arrival (`enter`/`leave`) and its body's bytes from when its
    size is known (Content-Length, else the bytes read) until the broker answered
    (`reserve`/`release`); past either limit it is refused with 503 at once. While the broker
    is marked unavailable one request at a time (the probe) may try to send (`begin_send`);
    every other one is refused at once, so an outage costs the senders one round trip, not a
    timeout each, and no pile of records waits in the producer.
    """

    max_requests: int
    max_bytes: int
    requests: int = 0
    bytes: int = 0
    unavailable_since: float | None = None
    probing: bool = False
    refused_busy: int = 0
    refused_down: int = 0

    def enter(self) -> None:
        if self.requests >= self.max_requests:
            self.refused_busy += 1
            raise Rejected(
                503,
                f"the ingress is at its limit of {self.max_requests} requests in flight",
                {"Retry-After": RETRY_AFTER_BUSY},
            )
        self.requests += 1

    def leave(self) -> None:
        self.requests -= 1

    def reserve(self, size: int) -> None:
        # One body is always let in, however large (it is within max_payload_bytes).
        if self.bytes > 0 and self.bytes + size > self.max_bytes:
            self.refused_busy += 1
            raise Rejected(
                503,
                f"the ingress is at its limit of {self.max_bytes} bytes in flight",
                {"Retry-After": RETRY_AFTER_BUSY},
            )
        self.bytes += size

    def release(self, size: int) -> None:
        self.bytes -= size

    def begin_send(self) -> bool:
        """May this request send now? True when it is the probe of an unavailable broker."""
        if self.unavailable_since is None:
            return False
        if self.probing:
            self.refused_down += 1
            raise Rejected(
                503, "Kafka is not acknowledging writes", {"Retry-After": RETRY_AFTER_DOWN}
            )
        self.probing = True
        return True

    def end_send(self, probe: bool, delivered: bool, now: float) -> None:
        if probe:
            self.probing = False
        if delivered:
            self.unavailable_since = None
        elif self.unavailable_since is None:
            self.unavailable_since = now

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepting": self.unavailable_since is None,
            "in_flight": {"requests": self.requests, "bytes": self.bytes},
            "limits": {"requests": self.max_requests, "bytes": self.max_bytes},
            "refused": {"busy": self.refused_busy, "broker_unavailable": self.refused_down},
        }


class StageLags:
    """Consumer lag per stage, from the broker: for each stage's consumer group, the end offset
    minus the committed offset summed over every partition of its input topic — all workers
    together, not only this one. Committed offsets trail processing by up to a commit interval
    (Faust commits every few seconds), so a small lag can be work already done."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self._admin: Any = None
        self._consumer: Any = None

    def stages(self) -> list[tuple[str, str, str]]:
        """(stage, consumer group, input topic) of every stage this worker runs."""
        config, topics = self.ctx.config, self.ctx.topics
        out = [
            ("ingest", f"{config.app_id}-ingest", topics.raw),
            ("alert_state", config.app_id, topics.keyed),
            ("health", config.app_id, topics.transitions),
            ("impact", config.app_id, topics.impact_input),
        ]
        if config.db_url is not None:
            out.append(("store", f"{config.app_id}-store", topics.events))
        return out

    async def _clients(self) -> tuple[Any, Any]:
        kafka = self.ctx.config.kafka
        if self._admin is None:
            admin = kafka.admin(request_timeout_ms=int(HEALTH_TIMEOUT * 1000))
            await admin.start()
            self._admin = admin
        if self._consumer is None:
            consumer = kafka.consumer(
                enable_auto_commit=False, request_timeout_ms=int(HEALTH_TIMEOUT * 1000)
            )
            await consumer.start()
            self._consumer = consumer
        return self._admin, self._consumer

    async def measure(self) -> dict[str, dict[str, Any]]:
        """{stage: {"group", "topic", "lag"}}; raises when the broker does not answer."""
        from aiokafka import TopicPartition

        try:
            admin, consumer = await self._clients()
            stages = self.stages()
            tps: dict[str, list[Any]] = {}
            for _, _, topic in stages:
                partitions = consumer.partitions_for_topic(topic)
                if partitions is None:
                    await consumer._client.force_metadata_update()
                    partitions = consumer.partitions_for_topic(topic) or set()
                tps[topic] = [TopicPartition(topic, p) for p in sorted(partitions)]
            every = [tp for group in tps.values() for tp in group]
            ends = await consumer.end_offsets(every)
            starts = await consumer.beginning_offsets(every)
            committed: dict[str, dict[Any, Any]] = {}
            out: dict[str, dict[str, Any]] = {}
            for stage, group, topic in stages:
                if group not in committed:
                    committed[group] = await admin.list_consumer_group_offsets(group)
                lag = 0
                for tp in tps[topic]:
                    done = committed[group].get(tp)
                    position = done.offset if done is not None and done.offset >= 0 else starts[tp]
                    lag += max(ends[tp] - position, 0)
                out[stage] = {"group": group, "topic": topic, "lag": lag}
            return out
        except Exception:
            await self.close()  # new clients next time: the broker may have come back
            raise

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        for client, stop in ((admin, "close"), (consumer, "stop")):
            if client is not None:
                try:
                    await asyncio.wait_for(getattr(client, stop)(), HEALTH_TIMEOUT)
                except Exception as exc:
                    log.debug("health: closing a client failed: %r", exc)


class Ingress(Service):
    """The ingress's Kafka side: one producer for the envelopes and for the health probe."""

    def __init__(self, ctx: StageContext, ingest: IngestService, **kwargs: Any) -> None:
        self.ctx = ctx
        self.ingest = ingest
        self._producer: Any = None
        self._lags: StageLags | None = None
        config = ctx.config
        self.admission = Admission(config.ingress_max_requests, config.ingress_max_bytes)
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        config = self.ctx.config
        self._producer = new_producer(
            config,
            acks="all",
            linger_ms=1,
            # Room for the largest accepted body plus its envelope, as `alerts.raw` allows.
            max_request_size=raw_max_message_bytes(config),
            compression_type="gzip",
            # A record not acknowledged in time is failed by the producer (not kept for a later
            # retry): what was answered 503 is not written behind the sender's back.
            request_timeout_ms=int(SEND_TIMEOUT * 1000),
        )
        await self._producer.start()
        self._lags = StageLags(self.ctx)

    async def on_stop(self) -> None:
        if self._lags is not None:
            await self._lags.close()
        if self._producer is not None:
            await self._producer.stop()

    async def accept(
        self, request: Any, fmt: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Handle one `POST /ingest[/{format}]`: (status, JSON body, headers)."""
        admission = self.admission
        try:
            check_token(self.ctx.config.ingest_token, request.headers.get("Authorization"))
            if fmt is not None and fmt not in FORMATS:
                raise Rejected(404, f"unknown format {fmt!r}: one of {', '.join(sorted(FORMATS))}")
            admission.enter()
            held = 0
            try:
                length = request.content_length
                if length is not None and length <= self.ctx.config.max_payload_bytes:
                    admission.reserve(length)
                    held = length
                body = await read_body(request, self.ctx.config.max_payload_bytes)
                if held == 0:
                    admission.reserve(len(body))
                    held = len(body)
                check_json(body)
                await self._send(raw_envelope(body, time.time_ns() // 1_000_000, fmt))
            finally:
                admission.release(held)
                admission.leave()
        except Rejected as rejected:
            if rejected.status >= 500:
                self.ctx.count("ingress.refused")
                log.debug("ingress: %s", rejected.reason)
            return rejected.status, {"error": rejected.reason}, rejected.headers
        self.ctx.count("ingress.accepted")
        return 202, {"accepted": True}, {}

    async def _send(self, value: bytes) -> None:
        if self._producer is None:
            raise Rejected(503, "the worker is starting", {"Retry-After": RETRY_AFTER_DOWN})
        admission = self.admission
        probe = admission.begin_send()
        delivered = False
        try:
            future = await asyncio.wait_for(
                self._producer.send(self.ctx.topics.raw, value), SEND_TIMEOUT
            )
            # The producer fails the record after its request timeout (SEND_TIMEOUT); the outer
            # bound only guards against a future that never resolves.
            await asyncio.wait_for(future, SEND_TIMEOUT * 2)
            delivered = True
        except Exception as exc:  # the broker is slow, gone, or refused the record
            if admission.unavailable_since is None:
                log.warning("ingress: Kafka does not acknowledge, answering 503: %r", exc)
            raise Rejected(
                503, f"could not write to Kafka: {exc!r}", {"Retry-After": RETRY_AFTER_DOWN}
            ) from None
        finally:
            was_down = admission.unavailable_since is not None
            admission.end_send(probe, delivered, time.monotonic())
            if delivered and was_down:
                log.warning("ingress: Kafka acknowledges again; accepting")

    async def health(self) -> tuple[int, dict[str, Any]]:
        """`GET /health`: the broker answers a metadata request in time, ingest's lag on this
        worker, every stage's lag in the cluster, and what the ingress holds."""
        broker, error = "connected", None
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), HEALTH_TIMEOUT)
        except Exception as exc:
            broker, error = "unreachable", repr(exc) if str(exc) else type(exc).__name__
        lag: dict[int, int | None] = {}
        if broker == "connected":
            try:
                lag = await asyncio.wait_for(self.ingest.lag(), HEALTH_TIMEOUT)
            except Exception as exc:
                log.debug("health: no lag figures: %r", exc)
        stages: dict[str, dict[str, Any]] | None = None
        if broker == "connected" and self._lags is not None:
            try:
                stages = await asyncio.wait_for(self._lags.measure(), HEALTH_TIMEOUT * 2)
            except Exception as exc:
                log.debug("health: no stage lags: %r", exc)
        known = [v for v in lag.values() if v is not None]
        total = sum(known) if known else None
        seconds: float | None = None
        newest = self.ingest.newest_read_ms
        if total == 0:
            seconds = 0.0
        elif total and newest is not None:
            seconds = round(max(time.time() * 1000 - newest, 0) / 1000, 3)
        doc: dict[str, Any] = {
            "status": "ok" if error is None else "degraded",
            "broker": broker,
            "consumer_lag": {
                "topic": self.ctx.topics.raw,
                "partitions": {str(p): v for p, v in sorted(lag.items())},
                "total": total,
            },
            "ingest_lag_seconds": seconds,
            "stages": stages,
            "ingress": self.admission.to_dict(),
        }
        if error is not None:
            doc["error"] = error
        return (200 if error is None else 503), doc

    async def metrics(self) -> bytes:
        """`GET /metrics`: the app's registry, with every stage's lag measured now."""
        stages: dict[str, dict[str, Any]] | None = None
        if self._lags is not None:
            try:
                stages = await asyncio.wait_for(self._lags.measure(), HEALTH_TIMEOUT * 2)
            except Exception as exc:
                log.debug("metrics: no stage lags: %r", exc)
        metrics = self.ctx.metrics
        metrics.set_lags(stages)
        return metrics.exposition()


def _ingress(view: web.View) -> Ingress:
    return cast(Ingress, view.app.correlator_ingress)  # type: ignore[attr-defined]


class IngestView(web.View):
    """`POST /ingest`: any supported format, detected by the ingest stage."""

    async def post(self, request: web.Request) -> web.Response:
        status, doc, headers = await _ingress(self).accept(request, None)
        return self.json(doc, status=status, headers=headers)


class IngestFormatView(web.View):
    """`POST /ingest/{name}`: a payload of the named format."""

    async def post(self, request: web.Request, name: str) -> web.Response:
        status, doc, headers = await _ingress(self).accept(request, name)
        return self.json(doc, status=status, headers=headers)


class HealthView(web.View):
    """`GET /health`: 200 when the broker answers, 503 (`degraded`) when it does not."""

    async def get(self, request: web.Request) -> web.Response:
        status, doc = await _ingress(self).health()
        return self.json(doc, status=status)


class MetricsView(web.View):
    """`GET /metrics`: Prometheus text exposition (`correlator.stream.metrics`)."""

    async def get(self, request: web.Request) -> web.Response:
        body = await _ingress(self).metrics()
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE})


def register(app: Any, ctx: StageContext, ingest: IngestService) -> Ingress:
    """Add the ingress service and its views to `app` (whose web server must be enabled)."""
    ingress = Ingress(ctx, ingest)
    app.correlator_ingress = ingress
    app.service(ingress)
    app.page("/ingest")(IngestView)
    app.page("/ingest/{name}")(IngestFormatView)
    app.page("/health")(HealthView)
    app.page("/metrics")(MetricsView)
    return ingress
