"""One of the person's own API keys, on its page: what it is (name, models, expiry, what
it may do), what it spent (from the rollups, scoped as `/api/analytics/usage` scopes
them), the addresses it may be used from (`PUT /api/keys/{id}/allowed-ips`), its limits
(`/api/limits/key/{id}`: everyone reads them, the organization's admins change them),
rotating it (`POST /api/keys/{id}/rotate`: the session must have proved its password
recently, and the new secret is shown once) and revoking it. Another person's key is not
found, as `/api/me/keys` has it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from aisonar.accounts.services import Rotation, allow_ips_of, reachable_key, rotate_key_of
from aisonar.analytics.services import Filters, GroupBy, summarize, window
from aisonar.clock import utcnow
from aisonar.console.csrf import checked_form
from aisonar.console.keys import KEY_LABELS, KEYS_PATH, addresses
from aisonar.console.org import effective_rows, limit_changes, shown_limits, typed_limits
from aisonar.console.reauthentication import confirm_password, password_needed
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_, translations
from aisonar.limits.models import DIMENSIONS, Subject, SubjectKind
from aisonar.limits.services import change_limits_of, limits_of
from aisonar.web.analytics_scope import scoped
from aisonar.web.deps import Config, Engine
from aisonar.web.errors import ReauthenticationRequired

router = console_router()

# How long the previous secret keeps working after a rotation: the choices offered.
GRACE_CHOICES = (0, 3600, 86400, 7 * 86400, 30 * 86400)
DEFAULT_GRACE_S = 3600
_GRACE_LABELS = {"grace_s": N_("How long the current secret keeps working")}


def key_path(key_id: str) -> str:
    return f"{KEYS_PATH}/{key_id}"


async def _detail_page(
    member: MemberVisit,
    db: Engine,
    currency: str,
    key_id: str,
    *,
    typed: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
    retry_after: str | None = None,
) -> Response:
    person = member.principal
    since, until = window(None, None)
    month_start = (until - timedelta(days=1)).replace(day=1)
    org_id, user_id = scoped(person, None, person.user_id)
    async with db.connect() as conn:
        key = await reachable_key(conn, person, key_id, own_only=True)
        limits = await limits_of(conn, person, Subject(SubjectKind.KEY, key.id))

        def spent(start: datetime) -> Filters:
            return Filters(since=start, until=until, org_id=org_id, user_id=user_id, key_id=key.id)

        this_month = (await summarize(conn, spent(month_start), GroupBy.TOTAL))[0]
        last_30_days = (await summarize(conn, spent(since), GroupBy.TOTAL))[0]
    typed = typed or {}
    context: dict[str, Any] = {
        "key": key,
        "expired": key.expires_at is not None and key.expires_at <= utcnow(),
        "month": this_month,
        "total": last_30_days,
        "currency": currency,
        "allowed_ips": typed.get("allowed_ips", ", ".join(key.allowed_ips or [])),
        "limits": typed.get("limits") or shown_limits(limits),
        "effective": effective_rows(limits),
        "dimensions": DIMENSIONS,
        "may_change_limits": person.administers(key.org_id),
        "grace_choices": GRACE_CHOICES,
        "grace_s": typed.get("grace_s", str(DEFAULT_GRACE_S)),
        "password_needed": password_needed(member),
        "errors": errors or {},
    }
    response = page(member, "key_detail.html", context, status=status)
    if retry_after is not None:
        response.headers["retry-after"] = retry_after
    return response


async def _refused(
    member: MemberVisit,
    db: Engine,
    currency: str,
    key_id: str,
    field: str,
    typed: Any,
    failure: ValidationError | AISonarError,
    labels: Mapping[str, str] | None = None,
) -> Response:
    """The key's page again with `field`'s typed value and the failure's text; a key that
    is not the person's (or not theirs to change) stays refused as the API refuses it."""
    if isinstance(failure, ValidationError):
        error: AISonarError = invalid(failure, labels)
    elif failure.status in (403, 404):
        raise failure
    else:
        error = failure
    return await _detail_page(
        member,
        db,
        currency,
        key_id,
        typed={field: typed},
        errors={field: error_text(error, member.language)},
        status=error.status,
    )


@router.get(KEYS_PATH + "/{key_id}")
async def key_page(member: Member, db: Engine, settings: Config, key_id: str) -> Response:
    return await _detail_page(member, db, settings.currency, key_id)


@router.post(KEYS_PATH + "/{key_id}/allowed-ips")
async def change_allowed_ips(
    request: Request, member: Member, db: Engine, settings: Config, key_id: str
) -> Response:
    """`PUT /api/keys/{id}/allowed-ips` on the person's own key: empty lifts the list."""
    form = await checked_form(request, member)
    typed = form.text("allowed_ips")
    try:
        allowed = addresses(typed)
        async with db.begin() as conn:
            await allow_ips_of(conn, member.principal, member.actor, key_id, allowed, own_only=True)
    except AISonarError as failure:
        return await _refused(
            member, db, settings.currency, key_id, "allowed_ips", typed, failure, KEY_LABELS
        )
    return see_other(key_path(key_id) + "#addresses")


@router.post(KEYS_PATH + "/{key_id}/limits")
async def change_key_limits(
    request: Request, member: Member, db: Engine, settings: Config, key_id: str
) -> Response:
    """`PATCH /api/limits/key/{id}` on the person's own key: the organization's admins
    only, as the API decides (a user is refused)."""
    form = await checked_form(request, member)
    typed = typed_limits(form)
    subject = Subject(SubjectKind.KEY, key_id)
    try:
        async with db.begin() as conn:
            await reachable_key(conn, member.principal, key_id, own_only=True)
            current = shown_limits(await limits_of(conn, member.principal, subject))
            changes = limit_changes(typed, current)
            await change_limits_of(conn, member.principal, member.actor, subject, changes)
    except AISonarError as failure:
        return await _refused(member, db, settings.currency, key_id, "limits", typed, failure)
    return see_other(key_path(key_id) + "#limits")


def _grace(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(N_("the grace period is a number of seconds"), param="grace_s") from None


@router.post(KEYS_PATH + "/{key_id}/rotate")
async def rotate_key(
    request: Request, member: Member, db: Engine, settings: Config, key_id: str
) -> Response:
    """`POST /api/keys/{id}/rotate` on the person's own key, once the session proved its
    password recently (here, or on this form): the new secret is shown once."""
    form = await checked_form(request, member)
    typed = {"grace_s": form.text("grace_s")}
    retry_after = None
    try:
        rotation = Rotation(grace_s=_grace(typed["grace_s"]))
        async with db.connect() as conn:
            await reachable_key(conn, member.principal, key_id, own_only=True)
        await confirm_password(request, member, form)
        async with db.begin() as conn:
            key, secret = await rotate_key_of(
                conn, member.principal, member.actor, key_id, rotation, own_only=True
            )
    except ValidationError as error:
        message = error_text(invalid(error, _GRACE_LABELS), member.language)
        status = 400
    except ReauthenticationRequired as error:
        message = translations(member.language).gettext("Type your password to confirm it is you.")
        status = error.status
    except AISonarError as error:
        if error.status == 404:
            raise
        message, status = error_text(error, member.language), error.status
        retry_after = error.retry_after
    else:
        return page(member, "key_rotated.html", {"key": key, "secret": secret}, status=201)
    return await _detail_page(
        member,
        db,
        settings.currency,
        key_id,
        typed=typed,
        errors={"rotate": message},
        status=status,
        retry_after=retry_after,
    )
