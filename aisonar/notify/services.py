"""Notices' use cases, as the front ends (`api`, `console`, `cli`) call them: the notices
recorded (an organization's, or a person's inbox) and rendered for reading, what a
person has read and marks read, their choices of what reaches them and how; an
organization's webhook endpoints (created, listed, deleted, their secret read and
rotated, a ping sent, their delivery log); and the mail the server is configured to
send. The front ends import notify from here (its types from `models`), never its other
modules; the use cases live in the modules named below, one concern each."""

from __future__ import annotations

from aisonar.notify.notices import SECURITY_KINDS, Channel, Notice, inbox, list_notices
from aisonar.notify.outcome import Outcome
from aisonar.notify.preferences import KINDS, Preferences, preferences, set_preferences
from aisonar.notify.reading import mark_read, reading
from aisonar.notify.render import render_notice
from aisonar.notify.sender import Mail, configured_mail
from aisonar.notify.webhook_client import send_ping
from aisonar.notify.webhooks import (
    create_endpoint,
    delete_endpoint,
    delivery_log,
    endpoint_secret,
    get_endpoint,
    list_endpoints,
    reseal_webhook_secrets,
    rotate_secret,
)

__all__ = [
    "KINDS",
    "SECURITY_KINDS",
    "Channel",
    "Mail",
    "Notice",
    "Outcome",
    "Preferences",
    "configured_mail",
    "create_endpoint",
    "delete_endpoint",
    "delivery_log",
    "endpoint_secret",
    "get_endpoint",
    "inbox",
    "list_endpoints",
    "list_notices",
    "mark_read",
    "preferences",
    "reading",
    "render_notice",
    "reseal_webhook_secrets",
    "rotate_secret",
    "send_ping",
    "set_preferences",
]
