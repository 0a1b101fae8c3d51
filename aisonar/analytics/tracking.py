"""Whether a page view may be counted: only with the visitor's consent to analytics (the
consent cookie), never with Do Not Track or Global Privacy Control on, never for a bot,
and, for a signed-in person, only while their own recorded choice for analytics grants it
(opt-in: a person who never chose is not counted; the banner records a signed-in
person's choice)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.analytics.user_agents import DeviceType, Visitor
from aisonar.privacy.consents import Purpose, has_consented
from aisonar.privacy.cookies import ConsentChoice


@dataclass(frozen=True)
class PrivacySignals:
    """What the browser says on the visitor's behalf, whatever the banner's choice."""

    do_not_track: bool
    global_privacy_control: bool

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> PrivacySignals:
        return cls(
            do_not_track=headers.get("dnt", "").strip() == "1",
            global_privacy_control=headers.get("sec-gpc", "").strip() == "1",
        )

    @property
    def refuse_tracking(self) -> bool:
        return self.do_not_track or self.global_privacy_control


def visitor_allows_counting(choice: ConsentChoice | None, signals: PrivacySignals) -> bool:
    return choice is ConsentChoice.ANALYTICS and not signals.refuse_tracking


def counted(visitor: Visitor) -> bool:
    """Bots' views are not counted (nor asked for consent)."""
    return visitor.device is not DeviceType.BOT


async def person_allows_counting(conn: AsyncConnection, user_id: str) -> bool:
    """For a signed-in visitor: whether the person's consent to analytics stands."""
    return await has_consented(conn, user_id, Purpose.ANALYTICS)
