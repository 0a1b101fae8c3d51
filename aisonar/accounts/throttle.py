"""Failed sign-ins counted in the limit store (shared by every server with Redis), so
that guessing is slow without letting anyone lock a person out from elsewhere:

- per account and address, tight: one address guessing one account;
- per address, across accounts: one address spraying many accounts;
- per account, from everywhere: a ceiling against guessing from many addresses, which
  refuses only the addresses that have failed on the account within the window. An
  address that has not (the person's own, most likely) still gets its attempt checked.

A refused attempt is refused before any password is checked, until the window lets one
more through. The counters share the `{signin}` tag, one hash slot on a Redis Cluster, as
an attempt takes and gives back several in one call."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aisonar.config import Settings
from aisonar.errors import Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore, RateCheck


class TooManySignIns(Throttled):
    code = "too_many_sign_in_attempts"
    refusal = N_("Too many failed sign-ins; try again in {seconds} s.")


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    # The buckets a success gives one back to.
    checks: tuple[RateCheck, ...]


@dataclass
class SignInThrottle:
    store: LimitStore
    per_account_ip: int
    per_ip: int
    per_account: int
    window_s: float

    async def attempt(self, email: str, ip: str | None) -> Attempt:
        """Count the attempt as a failure up front (TooManySignIns if one more does not
        fit); `succeeded` gives it back."""
        account = email.strip().lower()
        # An address holds no "|", so the key names one pair only.
        pair = f"{'unknown' if ip is None else ip}|{account}"
        window = self.window_s
        taken = [
            RateCheck(
                "sign-ins of the account from the address",
                f"{{signin}}:pair:{pair}",
                self.per_account_ip,
                window,
                1,
            )
        ]
        if ip is not None:
            taken.append(
                RateCheck(
                    "sign-ins from the address", f"{{signin}}:ip:{ip}", self.per_ip, window, 1
                )
            )
        attempt_id = secrets.token_hex(8)
        decision = await self.store.admit(attempt_id, taken, [])
        if not decision.allowed:
            raise TooManySignIns(decision.retry_after_s)
        # One unit per window, free only while the address has not failed on the account
        # within it; a success gives it back, which clears an earlier failure too.
        failed = RateCheck(
            "failures on the account from the address", f"{{signin}}:failed:{pair}", 1, window, 1
        )
        clean = await self.store.admit(attempt_id, [failed], [])
        ceiling = RateCheck(
            "sign-ins of the account", f"{{signin}}:account:{account}", self.per_account, window, 1
        )
        counted = await self.store.admit(attempt_id, [ceiling], [])
        if not counted.allowed and not clean.allowed:
            await self.store.finish(attempt_id, [], taken, -1)
            raise TooManySignIns(min(clean.retry_after_s, counted.retry_after_s))
        taken.append(failed)
        if counted.allowed:
            taken.append(ceiling)
        return Attempt(attempt_id, tuple(taken))

    async def succeeded(self, attempt: Attempt) -> None:
        await self.store.finish(attempt.id, [], attempt.checks, -1)


def sign_in_throttle(store: LimitStore, settings: Settings) -> SignInThrottle:
    """The throttle password sign-ins and re-authentications share."""
    return SignInThrottle(
        store,
        per_account_ip=settings.signin_failures_per_account_ip,
        per_ip=settings.signin_failures_per_ip,
        per_account=settings.signin_failures_per_account,
        window_s=settings.signin_failure_window_s,
    )
