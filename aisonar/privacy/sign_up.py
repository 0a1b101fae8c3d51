"""Self-service sign-up, when the operator allows it (`AISONAR_SIGNUP_ENABLED`), the use
case behind `POST /api/signup` and the console's sign-up form: an organization on the
Free plan named after the company, its first user as the organization's admin, and a
session for them. The person must confirm they are 18 or over and accept the current
terms, if there are any; both are recorded with the account (`consents.py`), which is
why sign-up lives here, above `accounts/`. Sign-ups are limited per client address."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Plan, User
from aisonar.accounts.sessions import NewSession, start_session
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import InvalidInput, NotFound, Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore
from aisonar.limits.throttle import count_one, hourly
from aisonar.privacy.consents import record_sign_up, terms_to_accept
from aisonar.store.roles import Role


class TooManySignUps(Throttled):
    code = "too_many_sign_ups"
    refusal = N_("Too many sign-ups from this address; try again in {seconds} s.")


async def sign_up(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    *,
    email: str,
    password: str,
    name: str,
    company: str,
    age_confirmed: bool,
    accepted_terms_version: int | None,
    ip: str | None,
) -> tuple[User, NewSession]:
    """The new organization's admin and their session."""
    if not settings.signup_enabled:
        raise NotFound(N_("Sign-up is not open on this server; ask its operator for an account."))
    if not age_confirmed:
        raise InvalidInput(
            N_("confirm that you are 18 or older: nobody under 18 may hold an account"),
            param="age_confirmed",
        )
    if ip is not None:
        check = hourly(
            "sign-ups from the address", f"signup:ip:{ip}", settings.signups_per_ip_per_hour
        )
        await count_one(store, [check], TooManySignUps)
    actor = Actor(email.strip().lower(), None, ip)
    async with engine.begin() as conn:
        terms = await terms_to_accept(conn, accepted_terms_version)
        org = await accounts.create_org(conn, company, Plan.FREE, actor=actor)
        user = await accounts.create_user(
            conn,
            email,
            org.name,
            name=name,
            role=Role.ORG_ADMIN,
            password=password,
            company=org.name,
            actor=actor,
        )
        await record_sign_up(conn, user.id, terms, actor)
        lifetime = timedelta(seconds=settings.session_lifetime_s)
        started = await start_session(conn, user.id, ip=ip, lifetime=lifetime)
    return user, started
