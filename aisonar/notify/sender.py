"""The notifier: a background task that turns new notices into deliveries, sends the
deliveries that are due, and retries failures with growing, jittered pauses until they
succeed or run out of attempts. Servers sharing a database share the work: a delivery is
leased to one sender at a time."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from prometheus_client import Counter
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import as_utc, utcnow
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.i18n import Language
from aisonar.notify.dispatch import dispatch
from aisonar.notify.email import SmtpMailer, SmtpServer, compose
from aisonar.notify.models import DeliveryStatus
from aisonar.notify.notices import Channel, Notice
from aisonar.notify.outcome import Outcome
from aisonar.notify.render import render_notice
from aisonar.notify.webhook_client import WebhookClient
from aisonar.store.tables import (
    notice_deliveries,
    notices,
    organizations,
    users,
    webhook_endpoints,
)

log = logging.getLogger(__name__)
_BATCH = 50
_GROWTH = 5


# Its own generator, so that jitter does not move the `random` module's shared state.
_JITTER = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    first_delay_s: float
    max_delay_s: float

    def delay_s(self, attempts: int) -> float:
        """The pause after the `attempts`-th failure: 1x, 5x, 25x ... the first delay, capped,
        give or take a fifth so that a crowd of failures spreads out."""
        base = min(self.max_delay_s, self.first_delay_s * float(_GROWTH ** (attempts - 1)))
        return base * _JITTER.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Mail:
    mailer: SmtpMailer
    sender: str


def configured_mail(settings: Settings) -> Mail | None:
    """How email goes out, or None when `AISONAR_SMTP_URL` is not set."""
    if not settings.smtp_url:
        return None
    server = SmtpServer.from_url(settings.smtp_url)
    return Mail(SmtpMailer(server, settings.smtp_timeout_s), settings.smtp_from)


class Notifier:
    def __init__(
        self,
        engine: AsyncEngine,
        box: SecretBox,
        *,
        mail: Mail | None,
        webhooks: WebhookClient,
        retry: RetryPolicy,
        currency: str,
        deliveries: Counter,
        poll_interval_s: float,
        lease_s: float,
    ) -> None:
        self._engine = engine
        self._box = box
        self._mail = mail
        self._webhooks = webhooks
        self._retry = retry
        self._currency = currency
        self._deliveries = deliveries
        self._poll_interval_s = poll_interval_s
        self._lease = timedelta(seconds=lease_s)

    async def run(self) -> None:
        while True:
            try:
                busy = await self.step()
            except (SQLAlchemyError, OSError):
                log.exception("notifier could not reach the database; will retry")
                busy = 0
            if busy < _BATCH:
                await asyncio.sleep(self._poll_interval_s)

    async def close(self) -> None:
        await self._webhooks.close()

    async def step(self) -> int:
        """Dispatch new notices and attempt the due deliveries once; returns how many
        deliveries were attempted."""
        now = utcnow()
        async with self._engine.connect() as conn:
            new, waiting = await _work_waiting(conn, now)
        if not (new or waiting):
            return 0
        async with self._engine.begin() as conn:
            if new:
                await dispatch(conn, now, email=self._mail is not None)
            due = await self._claim(conn, now)
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._attempt_alone(row) for row in due))
        async with self._engine.begin() as conn:
            for row, outcome in zip(due, outcomes, strict=True):
                await self._record(conn, row, outcome)
        return len(due)

    async def _claim(self, conn: AsyncConnection, now: datetime) -> list[Any]:
        ids = list(
            (
                await conn.execute(
                    update(notice_deliveries)
                    .where(notice_deliveries.c.id.in_(_due(now).scalar_subquery()), _free(now))
                    .values(leased_until=now + self._lease)
                    .returning(notice_deliveries.c.id)
                )
            ).scalars()
        )
        if not ids:
            return []
        query = (
            select(
                notice_deliveries.c.id.label("delivery_id"),
                notice_deliveries.c.channel,
                notice_deliveries.c.attempts,
                notice_deliveries.c.address,
                notices.c.id.label("notice_id"),
                notices.c.org_id,
                notices.c.user_id,
                notices.c.kind,
                notices.c.data,
                notices.c.created_at,
                organizations.c.name.label("org_name"),
                users.c.email,
                users.c.name.label("user_name"),
                users.c.language,
                webhook_endpoints.c.url,
                webhook_endpoints.c.secret,
            )
            .select_from(notice_deliveries)
            .join(notices, notices.c.id == notice_deliveries.c.notice_id)
            .join(organizations, organizations.c.id == notices.c.org_id)
            .outerjoin(users, users.c.id == notice_deliveries.c.user_id)
            .outerjoin(webhook_endpoints, webhook_endpoints.c.id == notice_deliveries.c.endpoint_id)
            .where(notice_deliveries.c.id.in_(ids))
        )
        return list(await conn.execute(query))

    async def _attempt_alone(self, row: Any) -> Outcome:
        """One delivery's attempt, whose failure of any kind (a secret that no longer opens,
        a row that cannot be rendered) fails that delivery alone: it must not stop the
        notifier, and with it every other notice of the installation."""
        try:
            return await self._attempt(row)
        except Exception as error:
            log.exception("notice %s could not be attempted", row.notice_id)
            return Outcome.failed(f"{type(error).__name__}: {error}", permanent=True)

    async def _attempt(self, row: Any) -> Outcome:
        notice = Notice(
            row.notice_id, row.org_id, row.user_id, row.kind, dict(row.data), as_utc(row.created_at)
        )
        if row.channel == Channel.EMAIL.value:
            return await self._email(notice, row)
        return await self._webhooks.post(
            row.url, self._box.open(row.secret), f"ntc_{notice.id}", _payload(notice)
        )

    async def _email(self, notice: Notice, row: Any) -> Outcome:
        if self._mail is None:
            return Outcome.failed("email is not configured (AISONAR_SMTP_URL)", permanent=True)
        rendered = render_notice(
            notice,
            language=Language(row.language),
            recipient_name=row.user_name,
            org_name=row.org_name,
            currency=self._currency,
        )
        address = row.address or row.email
        message = compose(self._mail.sender, row.user_name, address, rendered)
        return await self._mail.mailer.send(message)

    async def _record(self, conn: AsyncConnection, row: Any, outcome: Outcome) -> None:
        now = utcnow()
        attempts = row.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "last_attempt_at": now,
            "leased_until": None,
        }
        if outcome.delivered:
            values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now)
            result = "delivered"
        elif outcome.permanent or attempts >= self._retry.max_attempts:
            values.update(status=DeliveryStatus.FAILED.value)
            result = "failed"
            log.warning(
                "notice %s could not be delivered by %s: %s",
                row.notice_id,
                row.channel,
                outcome.error,
            )
        else:
            values.update(next_attempt_at=now + timedelta(seconds=self._retry.delay_s(attempts)))
            result = "retried"
        self._deliveries.labels(row.channel, result).inc()
        await conn.execute(
            update(notice_deliveries)
            .where(notice_deliveries.c.id == row.delivery_id)
            .values(values)
        )


def _free(now: datetime) -> Any:
    return or_(notice_deliveries.c.leased_until.is_(None), notice_deliveries.c.leased_until < now)


def _due(now: datetime) -> Any:
    return (
        select(notice_deliveries.c.id)
        .where(
            notice_deliveries.c.status == DeliveryStatus.PENDING.value,
            notice_deliveries.c.next_attempt_at <= now,
            _free(now),
        )
        .order_by(notice_deliveries.c.next_attempt_at)
        .limit(_BATCH)
    )


async def _work_waiting(conn: AsyncConnection, now: datetime) -> tuple[bool, bool]:
    """Whether notices wait to be dispatched and deliveries to be attempted: read first,
    so that an idle round takes no write lock."""
    new = (
        await conn.execute(select(notices.c.id).where(notices.c.dispatched_at.is_(None)).limit(1))
    ).first()
    due = (await conn.execute(_due(now).limit(1))).first()
    return new is not None, due is not None


def _payload(notice: Notice) -> bytes:
    return orjson.dumps(
        {
            "type": notice.kind,
            "timestamp": notice.created_at.isoformat(),
            "data": {
                "notice_id": notice.id,
                "organization_id": notice.org_id,
                "user_id": notice.user_id,
                "details": notice.data,
            },
        }
    )
