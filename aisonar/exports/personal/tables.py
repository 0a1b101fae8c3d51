"""The tabular parts of a personal data export, streamed as CSV whatever their size: the
person's usage events and daily usage, the ledger entries they caused, and the audit
entries by or about them. In CSV a nested value (a list, a mapping) is one cell of JSON;
times are ISO 8601, UTC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from functools import partial
from typing import Any

from sqlalchemy import Column, ColumnElement, DateTime, String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.services import entry_of
from aisonar.clock import as_utc
from aisonar.exports import export_rows
from aisonar.exports.audit import COLUMNS as AUDIT_COLUMNS
from aisonar.exports.ledger import export_entries
from aisonar.exports.personal.models import Exported, TablePart
from aisonar.exports.usage import export_usage
from aisonar.store.tables import (
    abuse_findings,
    access_tokens,
    api_keys,
    audit_log,
    ledger_entries,
    rollup_dimensions,
    sessions,
    support_requests,
    usage_events,
    usage_rollups,
)
from aisonar.usage.rollups import DAY

_TOKENS = {
    "input_tokens": "prompt tokens",
    "cached_input_tokens": "prompt tokens read from the provider's cache",
    "output_tokens": "completion tokens",
    "reasoning_tokens": "of the completion tokens, those spent reasoning",
    "cache_write_tokens": "prompt tokens written to the provider's cache",
}
_COST = "what it cost, in micro-units of the operator's currency (1 credit = 1,000,000)"

USAGE_FIELDS = {
    "id": "the request's id",
    "started_at": "when the request arrived",
    "org_id": "your organization",
    "user_id": "you",
    "key_id": "the API key it was made with (see api_keys.json)",
    "client_ip": "the address the request came from",
    "endpoint": "the API called (chat, messages, embeddings, ...)",
    "requested_model": "the model asked for",
    "upstream_model": "the model the provider answered with",
    "channel_id": "the operator's upstream connection that served it",
    "stream": "whether the answer was streamed",
    "status_code": "the HTTP status answered",
    "error_type": "the kind of error, if it failed",
    "error_message": "the error's message, if it failed",
    **_TOKENS,
    "tokens_estimated": "true when the provider reported no token counts and they were estimated",
    "cost": _COST,
    "price_version": "the price list the cost was computed with",
    "latency_ms": "milliseconds from arrival to the end of the answer",
    "ttft_ms": "milliseconds to the first byte of the answer",
    "attempts": "the upstream connections tried in order, when the first one failed",
    "limit_decision": "what the rate limits decided, when a limit applies",
    "provider": "the upstream provider (openai, anthropic, gemini, ...)",
    "source": "gateway (a request through AI Sonar), ingest or otel (reported by an application)",
    "external_id": "a reported event's own id, as the application gave it",
    "end_user": "the end user of your application it was for (x-aisonar-user, the body's user)",
    "properties": "custom properties (x-aisonar-property-* headers, or as reported)",
    "session_id": "the session it was part of (x-aisonar-session-id, or as reported)",
    "first_byte_at": "when the first byte of the answer came back",
    "ended_at": "when the answer ended",
}

DAILY_DIMENSIONS = ("key_id", "model", "provider", "channel_id", "status_class", "source")
DAILY_SUMS = (
    "requests",
    "errors",
    *_TOKENS,
    "cost",
    "latency_ms_sum",
    "ttft_ms_sum",
    "ttft_count",
)
DAILY_COLUMNS: tuple[Column[Any], ...] = (
    Column("day", DateTime(timezone=True)),
    *(rollup_dimensions.c[name] for name in DAILY_DIMENSIONS),
    *(usage_rollups.c[name] for name in DAILY_SUMS),
)
DAILY_FIELDS = {
    "day": "the day (UTC) the requests started",
    "key_id": "the API key (empty when none)",
    "model": "the model asked for",
    "provider": "the upstream provider",
    "channel_id": "the operator's upstream connection",
    "status_class": "the class of HTTP status answered (2: success, 4: refused, 5: failed)",
    "source": "gateway, ingest or otel (as in usage_events.csv)",
    "requests": "how many requests",
    "errors": "how many of them failed",
    **{name: f"{meaning}, summed" for name, meaning in _TOKENS.items()},
    "cost": f"{_COST}, summed",
    "latency_ms_sum": "their latencies in milliseconds, summed",
    "ttft_ms_sum": "their times to first byte in milliseconds, summed",
    "ttft_count": "how many of them had a first byte",
}

LEDGER_FIELDS = {
    "id": "the entry's number in the installation's ledger",
    "org_id": "your organization, whose balance moved",
    "kind": "recharge, redemption, usage, refund or adjustment",
    "amount": "how much the balance moved, in micro-units (negative: spent)",
    "balance_after": "the organization's balance after it, in micro-units",
    "actor": "who or what made it (`user <id>` for a code you redeemed)",
    "reason": "why",
    "reference": "an outside reference (a payment's id, a redeemed code's id)",
    "idempotency_key": "the key that kept it from being recorded twice",
    "request_id": "for usage: your request that was charged (usage_events.csv `id`)",
    "created_at": "when",
    "amount_display": "the amount in credits",
    "balance_after_display": "the balance after it, in credits",
}

AUDIT_FIELDS = {
    "id": "the entry's number in the audit log",
    "at": "when",
    "actor": "who acted: an email address, `command line` or `system`",
    "actor_user_id": "who acted, by user id (empty for the command line and the system)",
    "ip": "the address the action came from; only for your own actions and attempts to "
    "sign in as you (empty for others' actions about you)",
    "action": "what was done, e.g. user.update, key.create, session.sign_in",
    "object_kind": "the kind of thing it was done to (user, key, token, session, ...)",
    "object_id": "the id of that thing (empty for sessions: their ids are not exported)",
    "org_id": "the organization it belongs to",
    "changes": 'what changed, as JSON: {"field": [before, after]}',
}


def _usage(conn: AsyncConnection, exported: Exported) -> AsyncIterator[bytes]:
    return export_usage(conn, fmt="csv", user_id=exported.person.id)


def _daily_record(row: Any) -> dict[str, Any]:
    return {**row._asdict(), "day": as_utc(row.day)}


def _daily_usage(conn: AsyncConnection, exported: Exported) -> AsyncIterator[bytes]:
    person = exported.person
    query = (
        select(
            usage_rollups.c.bucket_start.label("day"),
            *(rollup_dimensions.c[name] for name in DAILY_DIMENSIONS),
            *(usage_rollups.c[name] for name in DAILY_SUMS),
        )
        .join(rollup_dimensions, rollup_dimensions.c.id == usage_rollups.c.dimensions_id)
        .where(
            rollup_dimensions.c.org_id == person.org_id,
            rollup_dimensions.c.user_id == person.id,
            usage_rollups.c.granularity == DAY,
            usage_rollups.c.org_id == person.org_id,
        )
        .order_by(usage_rollups.c.bucket_start, usage_rollups.c.dimensions_id)
    )
    return export_rows(conn, query, _daily_record, DAILY_COLUMNS, "csv")


def _ledger(conn: AsyncConnection, exported: Exported) -> AsyncIterator[bytes]:
    """Entries of their organization that they caused: codes they redeemed, credits they
    made (as an operator), and the charges for their requests. The rest of the ledger
    is the organization's."""
    person = exported.person
    made = select(audit_log.c.object_id).where(
        audit_log.c.actor_user_id == person.id, audit_log.c.object_kind == "ledger_entry"
    )
    charged = select(usage_events.c.id).where(usage_events.c.user_id == person.id)
    return export_entries(
        conn,
        ledger_entries.c.org_id == person.org_id,
        or_(
            ledger_entries.c.actor == f"user {person.id}",
            cast(ledger_entries.c.id, String).in_(made),
            ledger_entries.c.request_id.in_(charged),
        ),
        fmt="csv",
    )


def _by_or_about(exported: Exported) -> ColumnElement[bool]:
    """Their own actions (and sign-ins attempted with their address), and actions on
    them, their keys, tokens, sessions and support requests."""
    person = exported.person
    theirs = [
        select(table.c.id).where(table.c.user_id == person.id)
        for table in (api_keys, access_tokens, sessions, support_requests)
    ]
    return or_(
        audit_log.c.actor_user_id == person.id,
        audit_log.c.actor == person.email,
        audit_log.c.object_id.in_([person.id, person.email[:64]]),
        *(audit_log.c.object_id.in_(ids) for ids in theirs),
    )


def _audit_record(exported: Exported, row: Any) -> dict[str, Any]:
    person = exported.person
    entry = asdict(entry_of(row))
    if row.actor_user_id != person.id and row.actor != person.email:
        # Where someone else acted from is theirs, not the person's.
        entry["ip"] = None
    if row.object_kind == "session":
        entry["object_id"] = None
    return entry


def _audit(conn: AsyncConnection, exported: Exported) -> AsyncIterator[bytes]:
    query = select(audit_log).where(_by_or_about(exported)).order_by(audit_log.c.id)
    return export_rows(conn, query, partial(_audit_record, exported), AUDIT_COLUMNS, "csv")


FINDING_FIELDS = {
    "id": "the finding's id",
    "kind": "what was found: a key shared or used from new networks, a spending spike, ...",
    "org_id": "your organization",
    "user_id": "you, the owner of the key it is about",
    "subject_kind": "what it is about: key",
    "subject_id": "the key's id (see api_keys.json)",
    "evidence": "the figures that made it fire, as JSON (counts, networks, baselines)",
    "detected_at": "when it was found",
    "dedupe": "what kept it from being recorded twice (its kind, subject and hour)",
    "status": "open, dismissed or confirmed",
    "reviewed_at": "when it was reviewed",
    "reviewed_by": "who reviewed it",
}


def _findings(conn: AsyncConnection, exported: Exported) -> AsyncIterator[bytes]:
    query = (
        select(abuse_findings)
        .where(abuse_findings.c.user_id == exported.person.id)
        .order_by(abuse_findings.c.detected_at)
    )
    return export_rows(conn, query, _finding_record, tuple(abuse_findings.c), "csv")


def _finding_record(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


TABLE_PARTS = (
    TablePart(
        "usage_events.csv",
        "Every request you made, one row each (metadata only: what you sent and what came "
        "back is never stored). Kept per your organization's plan, then deleted; "
        "usage_daily.csv keeps the sums longer.",
        (usage_events,),
        USAGE_FIELDS,
        _usage,
    ),
    TablePart(
        "usage_daily.csv",
        "Your requests summed per day, key, model, provider, status and source.",
        (usage_rollups, rollup_dimensions),
        DAILY_FIELDS,
        _daily_usage,
    ),
    TablePart(
        "ledger_entries.csv",
        "The movements of your organization's balance that you caused: codes you "
        "redeemed, credits you made, the charges for your requests.",
        (ledger_entries,),
        LEDGER_FIELDS,
        _ledger,
        consults=(audit_log, usage_events),
    ),
    TablePart(
        "audit_entries.csv",
        "The audit log's entries by you or about you: your account, keys, access tokens, "
        "sessions and support requests, and attempts to sign in with your address.",
        (audit_log,),
        AUDIT_FIELDS,
        _audit,
        consults=(api_keys, access_tokens, sessions, support_requests),
    ),
    TablePart(
        "abuse_findings.csv",
        "What abuse detection found about your keys (a key used from many addresses, a "
        "spending spike), with the figures it found, and how it was reviewed.",
        (abuse_findings,),
        FINDING_FIELDS,
        _findings,
    ),
)
