"""The bodies posted to webhooks: the incident event as it is, or a Slack message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

Format = Literal["json", "slack"]
FORMATS: tuple[Format, ...] = ("json", "slack")

_HEADLINE = {
    "incident.opened": ":rotating_light: {sev} opened",
    "incident.reopened": ":repeat: {sev} reopened",
    "incident.updated": ":arrow_right: now {sev}",
    "incident.resolved": ":white_check_mark: resolved",
}


def body(event: Mapping[str, Any], fmt: Format) -> bytes:
    """JSON bytes to post for `event` in format `fmt`."""
    if fmt == "slack":
        return orjson.dumps(slack_message(event))
    return orjson.dumps(event)


def _escape(text: object) -> str:
    """Slack mrkdwn treats &, < and > as control characters; alert text is data."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(event: Mapping[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook shape: `text` (the notification line) and Block Kit blocks."""
    snapshot: Mapping[str, Any] = event.get("incident") or {}
    severity = snapshot.get("severity", "?")
    headline = _HEADLINE.get(str(event.get("type")), str(event.get("type"))).format(sev=severity)
    title = _escape(snapshot.get("title", snapshot.get("id", "incident")))
    text = f"{headline}: {title}"
    services = ", ".join(
        f"{_escape(s.get('name') or s.get('id'))} ({_escape(s.get('state'))})"
        for s in snapshot.get("business_services") or []
        if isinstance(s, Mapping)
    )
    roots = ", ".join(_escape(r) for r in snapshot.get("root_causes") or [])
    runbooks = [
        f"<{c['runbook']}|{_escape(c.get('id'))}>"
        for c in snapshot.get("components") or []
        if isinstance(c, Mapping) and c.get("root_cause") and isinstance(c.get("runbook"), str)
    ]
    owners = sorted(
        {
            _escape(s["owner"])
            for s in snapshot.get("business_services") or []
            if isinstance(s, Mapping) and s.get("owner")
        }
    )
    fields = [
        f"*Customers affected*\n{int(snapshot.get('customers_affected') or 0):,}",
        f"*Severity*\n{_escape(severity)}",
        f"*Services*\n{services or '—'}",
        f"*Root causes*\n{roots or '—'}",
    ]
    if owners:
        fields.append(f"*Owners*\n{', '.join(owners)}")
    if runbooks:
        fields.append(f"*Runbooks*\n{', '.join(runbooks)}")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{_escape(snapshot.get('id', ''))} · seq {event.get('seq')} · "
                        f"{_escape(event.get('at', ''))}",
                    }
                ],
            },
        ],
    }
