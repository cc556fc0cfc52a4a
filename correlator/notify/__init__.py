"""Notifications: incident events posted to webhooks (plain JSON or Slack), from the
notifier's own Kafka consumer so a slow receiver never slows the stream."""

from __future__ import annotations

from correlator.notify.messages import FORMATS, body, slack_message
from correlator.notify.policy import SEVERITIES, NotifyPolicy
from correlator.notify.settings import NotifySettings

__all__ = ["FORMATS", "SEVERITIES", "NotifyPolicy", "NotifySettings", "body", "slack_message"]
