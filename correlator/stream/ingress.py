"""Webhook ingress: alert sources POST their payloads to the worker, which writes them to
`alerts.raw` as envelopes, and `GET /health` for probes.

Faust web views on the worker's web server (on when `--web-port` is given). A body is checked
at the door — token, size, JSON — and a bad one is answered with a 4xx and its reason, so the
sender sees the problem; nothing of it reaches Kafka. An accepted body is answered 202 only
after the broker acknowledged its envelope. Decoding into alerts is the ingest stage's job.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any, cast

import orjson
from aiohttp import web as aiohttp_web
from faust import web
from mode import Service

from correlator.adapters import FORMATS
from correlator.core.timefmt import format_time
from correlator.stream.context import StageContext, log
from correlator.stream.ingest import IngestService
from correlator.stream.kafka_io import new_producer
from correlator.stream.topics import raw_max_message_bytes

SEND_TIMEOUT = 10.0
"""Longest wait for the broker's acknowledgement of one envelope before answering 503."""
HEALTH_TIMEOUT = 2.0
"""Longest wait for the metadata request (and the lag figures) of `GET /health`."""
_Fragment: Any = getattr(orjson, "Fragment", None)


class Rejected(Exception):
    """A request refused at the door: the status, its one-line reason, extra headers."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def envelope(body: bytes, received_at: str, fmt: str | None) -> bytes:
    """The `alerts.raw` value for a validated JSON body (docs/schemas.md)."""
    # The body was validated as JSON: embed it as it came, without a parse and re-dump.
    payload = _Fragment(body) if _Fragment is not None else orjson.loads(body)
    return orjson.dumps({"received_at": received_at, "format": fmt, "payload": payload})


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


class Ingress(Service):
    """The ingress's Kafka side: one producer for the envelopes and for the health probe."""

    def __init__(self, ctx: StageContext, ingest: IngestService, **kwargs: Any) -> None:
        self.ctx = ctx
        self.ingest = ingest
        self._producer: Any = None
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
        )
        await self._producer.start()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def accept(
        self, request: Any, fmt: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Handle one `POST /ingest[/{format}]`: (status, JSON body, headers)."""
        try:
            check_token(self.ctx.config.ingest_token, request.headers.get("Authorization"))
            if fmt is not None and fmt not in FORMATS:
                raise Rejected(404, f"unknown format {fmt!r}: one of {', '.join(sorted(FORMATS))}")
            body = await read_body(request, self.ctx.config.max_payload_bytes)
            check_json(body)
            await self._send(envelope(body, format_time(time.time_ns() // 1_000_000), fmt))
        except Rejected as rejected:
            if rejected.status >= 500:
                log.warning("ingress: %s", rejected.reason)
            return rejected.status, {"error": rejected.reason}, rejected.headers
        self.ctx.count("ingress.accepted")
        return 202, {"accepted": True}, {}

    async def _send(self, value: bytes) -> None:
        if self._producer is None:
            raise Rejected(503, "the worker is starting", {"Retry-After": "5"})
        try:
            future = await asyncio.wait_for(
                self._producer.send(self.ctx.topics.raw, value), SEND_TIMEOUT
            )
            await asyncio.wait_for(future, SEND_TIMEOUT)
        except Exception as exc:  # the broker is slow, gone, or refused the record
            raise Rejected(
                503, f"could not write to Kafka: {exc!r}", {"Retry-After": "5"}
            ) from None

    async def health(self) -> tuple[int, dict[str, Any]]:
        """`GET /health`: the broker answers a metadata request in time, and ingest's lag."""
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
        }
        if error is not None:
            doc["error"] = error
        return (200 if error is None else 503), doc


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


def register(app: Any, ctx: StageContext, ingest: IngestService) -> Ingress:
    """Add the ingress service and its views to `app` (whose web server must be enabled)."""
    ingress = Ingress(ctx, ingest)
    app.correlator_ingress = ingress
    app.service(ingress)
    app.page("/ingest")(IngestView)
    app.page("/ingest/{name}")(IngestFormatView)
    app.page("/health")(HealthView)
    return ingress
