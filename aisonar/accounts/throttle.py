"""Failed sign-ins counted per account and per address in the limit store (shared by
every server with Redis): once either is spent, sign-in is refused before any password
is checked, until the window lets one more through."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from aisonar.errors import AISonarError
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore, RateCheck


class TooManySignIns(AISonarError):
    status = 429
    kind = "rate_limit_error"
    code = "too_many_sign_in_attempts"

    def __init__(self, retry_after_s: float) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(N_("Too many failed sign-ins; try again in {seconds} s."), seconds=seconds)
        self.retry_after = str(seconds)


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    checks: tuple[RateCheck, ...]


@dataclass
class SignInThrottle:
    store: LimitStore
    per_account: int
    per_ip: int
    window_s: float

    async def attempt(self, email: str, ip: str | None) -> Attempt:
        """Count the attempt as a failure up front (TooManySignIns if one more does not
        fit); `succeeded` gives it back."""
        checks = [
            RateCheck(
                "sign-ins of the account",
                f"signin:account:{email.strip().lower()}",
                self.per_account,
                self.window_s,
                1,
            )
        ]
        if ip is not None:
            checks.append(
                RateCheck(
                    "sign-ins from the address", f"signin:ip:{ip}", self.per_ip, self.window_s, 1
                )
            )
        attempt = Attempt(secrets.token_hex(8), tuple(checks))
        decision = await self.store.admit(attempt.id, checks, [])
        if not decision.allowed:
            raise TooManySignIns(decision.retry_after_s)
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        await self.store.finish(attempt.id, [], attempt.checks, -1)
