"""What a personal data export holds (`GET /api/me/export`, `aisonar privacy export`):
one part per kind of record, each one file of the archive, with what it says, the
tables it reads and every field it writes. `PARTS` is the registry; the tabular parts
are in `tables.py`, the archive in `archive.py`.

A part reads every column of the person's rows but those it withholds by name: secrets'
hashes (keys, tokens, sessions, email confirmation codes, password reset tokens, the
password) and internal bookkeeping. A column added to one of these tables is therefore
exported (and the export's test fails until its field is described here). What is the
organization's rather than the person's (its balance, others' usage, notices to all its
admins) is not in it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Column, ColumnElement, Select, Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.exports.personal.models import DocumentPart, Exported, Gather, Part, Record
from aisonar.exports.personal.tables import TABLE_PARTS
from aisonar.notify.notices import PRIVATE_KINDS
from aisonar.notify.preferences import preferences
from aisonar.store.tables import (
    access_tokens,
    api_keys,
    consents,
    deletion_requests,
    email_changes,
    notice_deliveries,
    notice_opt_outs,
    notices,
    organizations,
    password_resets,
    policies,
    policy_acknowledgements,
    rate_limits,
    redemption_codes,
    sessions,
    support_messages,
    support_requests,
    users,
)
from aisonar.support.services import requests_of

_YOU = "you (your user id)"
_ORG = "your organization"


def _all_but(table: Table, *withheld: str) -> list[Column[Any]]:
    return [column for column in table.c if column.name not in withheld]


def _record(row: Any) -> Record:
    # Plain str keys: the JSON encoder takes no subclass (SQLAlchemy's quoted names).
    return {str(name): value for name, value in row._mapping.items()}


async def _records(conn: AsyncConnection, query: Select[Any]) -> list[Record]:
    return [_record(row) for row in await conn.execute(query)]


async def _profile(conn: AsyncConnection, exported: Exported) -> Record:
    row = (await conn.execute(select(users).where(users.c.id == exported.person.id))).one()
    record = {name: value for name, value in _record(row).items() if name != "password_hash"}
    return {**record, "has_password": row.password_hash is not None}


async def _organization(conn: AsyncConnection, exported: Exported) -> Record:
    row = (
        await conn.execute(
            select(
                organizations.c.id,
                organizations.c.name,
                organizations.c.plan,
                organizations.c.created_at,
                users.c.role,
                users.c.created_at.label("member_since"),
            )
            .join(users, users.c.org_id == organizations.c.id)
            .where(users.c.id == exported.person.id)
        )
    ).one()
    return _record(row)


async def _notification_settings(conn: AsyncConnection, exported: Exported) -> Record:
    chosen = await preferences(conn, exported.person.id)
    kinds = {
        kind: {channel.value: on for channel, on in channels.items()}
        for kind, channels in chosen.kinds.items()
    }
    return {"language": chosen.language.value, "notices": kinds}


def _owned(table: Table, *withheld: str) -> Gather:
    """Gathers the person's rows of a table with a `user_id`."""

    async def gather(conn: AsyncConnection, exported: Exported) -> list[Record]:
        query = select(*_all_but(table, *withheld)).where(table.c.user_id == exported.person.id)
        return await _records(conn, query.order_by(*table.primary_key.columns))

    return gather


async def _limits(conn: AsyncConnection, exported: Exported) -> list[Record]:
    keys = select(api_keys.c.id).where(api_keys.c.user_id == exported.person.id)
    query = select(rate_limits).where(
        or_(
            and_(
                rate_limits.c.subject_kind == "user", rate_limits.c.subject_id == exported.person.id
            ),
            and_(rate_limits.c.subject_kind == "key", rate_limits.c.subject_id.in_(keys)),
        )
    )
    return await _records(
        conn, query.order_by(rate_limits.c.subject_kind, rate_limits.c.subject_id)
    )


def _their_notices(exported: Exported) -> ColumnElement[bool]:
    mine = notices.c.user_id == exported.person.id
    if exported.confidential:
        return mine
    return and_(mine, notices.c.kind.not_in(PRIVATE_KINDS))


async def _notices(conn: AsyncConnection, exported: Exported) -> list[Record]:
    query = select(notices).where(_their_notices(exported)).order_by(notices.c.id)
    return await _records(conn, query)


async def _notice_deliveries(conn: AsyncConnection, exported: Exported) -> list[Record]:
    """Emails of their notices, and of their organization's notices to them as an admin
    (webhook deliveries are the organization's)."""
    to_them = and_(notices.c.user_id.is_(None), notice_deliveries.c.user_id == exported.person.id)
    query = (
        select(*_all_but(notice_deliveries, "endpoint_id", "leased_until"), notices.c.kind)
        .join(notices, notices.c.id == notice_deliveries.c.notice_id)
        .where(notice_deliveries.c.channel == "email", or_(_their_notices(exported), to_them))
        .order_by(notice_deliveries.c.id)
    )
    return await _records(conn, query)


async def _redeemed_codes(conn: AsyncConnection, exported: Exported) -> list[Record]:
    query = select(*_all_but(redemption_codes, "code_hash")).where(
        redemption_codes.c.redeemed_by_user == exported.person.id
    )
    return await _records(conn, query.order_by(redemption_codes.c.redeemed_at))


async def _support_requests(conn: AsyncConnection, exported: Exported) -> list[Record]:
    return [asdict(thread) for thread in await requests_of(conn, exported.person.id)]


async def _support_replies(conn: AsyncConnection, exported: Exported) -> list[Record]:
    """What an operator wrote in other people's requests."""
    others = select(support_requests.c.id).where(support_requests.c.user_id != exported.person.id)
    query = select(support_messages).where(
        support_messages.c.author_user_id == exported.person.id,
        support_messages.c.request_id.in_(others),
    )
    return await _records(conn, query.order_by(support_messages.c.created_at))


_POLICY = (policies.c.kind.label("policy_kind"), policies.c.version.label("policy_version"))


async def _consents(conn: AsyncConnection, exported: Exported) -> list[Record]:
    query = (
        select(*_all_but(consents, "user_id"), *_POLICY)
        .outerjoin(policies, policies.c.id == consents.c.policy_id)
        .where(consents.c.user_id == exported.person.id)
        .order_by(consents.c.id)
    )
    return await _records(conn, query)


async def _acknowledgements(conn: AsyncConnection, exported: Exported) -> list[Record]:
    query = (
        select(*_all_but(policy_acknowledgements, "user_id"), *_POLICY)
        .join(policies, policies.c.id == policy_acknowledgements.c.policy_id)
        .where(policy_acknowledgements.c.user_id == exported.person.id)
        .order_by(policy_acknowledgements.c.acknowledged_at)
    )
    return await _records(conn, query)


async def _policies_published(conn: AsyncConnection, exported: Exported) -> list[Record]:
    query = select(*_all_but(policies, "body")).where(
        policies.c.published_by == exported.person.email
    )
    return await _records(conn, query.order_by(policies.c.published_at))


_TIMES = {
    "created_at": "when it was created",
    "expires_at": "when it expires (empty: never)",
    "revoked_at": "when it was revoked (empty: it was not)",
}
_POLICY_FIELDS = {
    "policy_kind": "privacy (the privacy policy) or terms (the terms of service)",
    "policy_version": "its version",
}

DOCUMENT_PARTS = (
    DocumentPart(
        "profile.json",
        "Your account.",
        (users,),
        {
            "id": "your user id",
            "org_id": "your organization (see organization.json)",
            "email": "your email address",
            "name": "your name",
            "role": "user, org_admin or operator",
            "created_at": "when the account was created",
            "disabled_at": "when the account was disabled (empty: it is not)",
            "language": "the language you are written to in (en, zh-Hans)",
            "company": "the company you work for, as you gave it",
            "notices_read_through": "the newest notice you marked read (empty: none)",
            "has_password": "whether you sign in with a password (it is stored only as a "
            "hash, which is not exported)",
        },
        _profile,
    ),
    DocumentPart(
        "organization.json",
        "The organization you belong to, and your place in it.",
        (organizations,),
        {
            "id": "its id",
            "name": "its name",
            "plan": "its plan (free, pro, scale, enterprise)",
            "created_at": "when it was created",
            "role": "your role in it",
            "member_since": "when you joined it",
        },
        _organization,
        consults=(users,),
    ),
    DocumentPart(
        "notification_settings.json",
        "How you are told about events.",
        (notice_opt_outs,),
        {
            "language": "the language notices are written in",
            "notices": "per kind of notice and channel (email, webhook, inbox): whether it "
            "reaches you (security notices always do)",
        },
        _notification_settings,
        consults=(users,),
    ),
    DocumentPart(
        "api_keys.json",
        "Your API keys, without their secrets (only a hash of each is stored, and it is "
        "not exported either).",
        (api_keys,),
        {
            "id": "its id",
            "user_id": _YOU,
            "org_id": _ORG,
            "name": "its name",
            "display_prefix": "the first characters of its secret, to recognize it by",
            "models": "the models it may use (empty: every model)",
            **_TIMES,
            "previous_valid_until": "after a rotation: until when the previous secret worked",
            "allowed_ips": "the addresses (CIDR) it may be used from (empty: anywhere)",
            "expiry_noticed_at": "when you were told it expires soon",
            "scope": "all (the gateway and reporting usage) or ingest (reporting usage only)",
        },
        _owned(api_keys, "key_hash", "previous_key_hash"),
    ),
    DocumentPart(
        "access_tokens.json",
        "Your personal access tokens for the management API, without their secrets.",
        (access_tokens,),
        {
            "id": "its id",
            "user_id": _YOU,
            "name": "its name",
            "display_prefix": "the first characters of its secret, to recognize it by",
            **_TIMES,
        },
        _owned(access_tokens, "token_hash"),
    ),
    DocumentPart(
        "sessions.json",
        "Your password sign-ins, without their ids or secrets.",
        (sessions,),
        {
            "user_id": _YOU,
            "created_at": "when you signed in",
            "expires_at": "when the session expires",
            "ip": "the address you signed in from",
            "ended_at": "when it ended (signing out, a password change); empty: it did not",
            "authenticated_at": "when you last confirmed your password in it",
        },
        _owned(sessions, "id", "token_hash", "csrf_token"),
    ),
    DocumentPart(
        "limits.json",
        "Rate limits and spend caps set on you or on your keys.",
        (rate_limits,),
        {
            "subject_kind": "user (you) or key (one of your keys)",
            "subject_id": "your user id, or the key's id",
            "rpm": "requests per minute (empty: no limit)",
            "tpm": "tokens per minute",
            "concurrent": "requests at once",
            "daily_spend": "spend per UTC day, in micro-units",
            "monthly_spend": "spend per UTC month, in micro-units",
            "updated_at": "when it was set",
        },
        _limits,
        consults=(api_keys,),
    ),
    DocumentPart(
        "email_changes.json",
        "A change of your email address waiting for its confirmation, without the code.",
        (email_changes,),
        {
            "user_id": _YOU,
            "email": "the new address",
            "created_at": "when you asked",
            "expires_at": "until when the code mailed to it works",
        },
        _owned(email_changes, "token_hash"),
    ),
    DocumentPart(
        "password_resets.json",
        "Your requests to reset a forgotten password, and the invitations to choose your "
        "first password, without the tokens mailed to you.",
        (password_resets,),
        {
            "id": "its id",
            "user_id": _YOU,
            "created_at": "when it was asked for",
            "expires_at": "until when the token mailed to you worked",
            "used_at": "when the token was used to set your password; empty: it was not",
            "requested_ip": "the address it was asked from (an invitation's: the inviter's)",
            "purpose": "reset: a forgotten password; invitation: your first password",
        },
        _owned(password_resets, "token_hash"),
    ),
    DocumentPart(
        "deletion_requests.json",
        "Your requests to delete your account, their decisions and receipts.",
        (deletion_requests,),
        {
            "id": "its id",
            "user_id": _YOU,
            "org_id": _ORG,
            "requested_at": "when you asked",
            "reason": "what you said",
            "status": "requested, approved, rejected or completed",
            "decided_by": "who decided",
            "decided_at": "when",
            "decision_reason": "why",
            "erase_after": "when an approved request is carried out",
            "erasure_started_at": "when the erasure began",
            "completed_at": "when it was completed",
            "storage_compacted_at": "when the erased data was also gone from the database's files",
            "receipt": "what was erased and what was kept, and why",
        },
        _owned(deletion_requests),
    ),
    DocumentPart(
        "notices.json",
        "Notices addressed to you (the in-app inbox, and what was emailed to you).",
        (notices,),
        {
            "id": "its id",
            "org_id": _ORG,
            "user_id": _YOU,
            "kind": "what happened (key_created, sign_in_from_new_address, ...)",
            "data": "its details",
            "created_at": "when",
            "dispatched_at": "when it was handed to email and webhook delivery",
            "by_email": "whether it was to be emailed",
            "by_webhook": "whether it was to go to your organization's webhooks",
            "to_inbox": "whether it was shown in the in-app inbox",
        },
        _notices,
    ),
    DocumentPart(
        "notice_deliveries.json",
        "Emails sent to you: your notices, and your organization's notices to its admins.",
        (notice_deliveries,),
        {
            "id": "its id",
            "notice_id": "the notice it delivered (see notices.json for yours)",
            "channel": "email",
            "user_id": "you (empty: sent to an address rather than an account)",
            "address": "the address it went to, when not your account's current one",
            "status": "pending, delivered or failed",
            "attempts": "how many times sending was tried",
            "next_attempt_at": "when it is tried next, while pending",
            "last_status_code": "the last attempt's status code",
            "last_error": "the last attempt's error",
            "last_attempt_at": "when it was last tried",
            "delivered_at": "when it was delivered",
            "created_at": "when it was queued",
            "kind": "the notice's kind",
        },
        _notice_deliveries,
        consults=(notices,),
    ),
    DocumentPart(
        "redeemed_codes.json",
        "Redemption codes you redeemed, without the codes (only their hashes are stored).",
        (redemption_codes,),
        {
            "id": "its id",
            "amount": "its value, in micro-units",
            "batch": "the batch it was made in",
            "created_at": "when it was made",
            "expires_at": "when it would have expired",
            "redeemed_at": "when you redeemed it",
            "redeemed_by_org": "the organization credited",
            "redeemed_by_user": _YOU,
        },
        _redeemed_codes,
    ),
    DocumentPart(
        "support_requests.json",
        "Your support requests and their conversations with the operators. Only you and "
        "the operators read them: an export made by your organization's admin leaves "
        "them out.",
        (support_requests, support_messages),
        {
            "id": "its id",
            "org_id": _ORG,
            "user_id": _YOU,
            "subject": "its subject",
            "status": "open or closed",
            "created_at": "when you opened it",
            "updated_at": "its last message or change of status",
            "closed_at": "when it was closed",
            "messages": "the conversation, oldest first: id, request_id, author_user_id, "
            "author_role (user: you; operator), body, created_at",
        },
        _support_requests,
        confidential=True,
    ),
    DocumentPart(
        "support_replies.json",
        "What you wrote, as an operator, in other people's support requests.",
        (support_messages,),
        {
            "id": "its id",
            "request_id": "the support request",
            "author_user_id": _YOU,
            "author_role": "operator",
            "body": "what you wrote",
            "created_at": "when",
        },
        _support_replies,
        consults=(support_requests,),
        confidential=True,
    ),
    DocumentPart(
        "consents.json",
        "Each choice you made about a purpose (analytics) or declared (the terms, your "
        "age), oldest first: the latest of a purpose is your current choice.",
        (consents,),
        {
            "id": "its number",
            "purpose": "what it is about (analytics, terms, age)",
            "granted": "true: you agreed; false: you declined or withdrew",
            "policy_id": "the policy in force when you chose",
            "recorded_at": "when",
            "source": "where you chose (api, signup)",
            **_POLICY_FIELDS,
        },
        _consents,
        consults=(policies,),
    ),
    DocumentPart(
        "policy_acknowledgements.json",
        "The versions of the privacy policy and the terms you read and acknowledged.",
        (policy_acknowledgements,),
        {
            "policy_id": "the policy's id",
            "acknowledged_at": "when",
            **_POLICY_FIELDS,
        },
        _acknowledgements,
        consults=(policies,),
    ),
    DocumentPart(
        "policies_published.json",
        "The privacy policies and terms you published, as an operator (their texts are "
        "public and not repeated here).",
        (policies,),
        {
            "id": "its id",
            "kind": "privacy or terms",
            "version": "its version",
            "title": "its title",
            "material": "whether it was a material change (everyone was asked to acknowledge it)",
            "published_at": "when",
            "published_by": "your email address",
            "digest": "SHA-256 of its text",
            "announced_through": "the last person told of it so far (a material version)",
            "announced_at": "when everyone was told of it (a material version)",
        },
        _policies_published,
    ),
)

PARTS: tuple[Part, ...] = (*DOCUMENT_PARTS, *TABLE_PARTS)
