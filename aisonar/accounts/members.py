"""An organization's members, for every front end (the API, the console): adding one (with
a first password, or an invitation mailed to choose one), changing one (name, role,
state, and for operators the email address), and inviting one again, each with the
checks of who may. Only an operator makes or changes an operator; nobody changes their
own role or disables themselves.

An invitation needs a server that sends email and is refused, creating nothing, without
one. It goes out once the change is committed, and the call waits for the mail server's
answer: a refusal is `InvitationNotSent` (503), the member and their invitation stay,
and it can be sent again."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts import directory as accounts
from aisonar.accounts.access import administered_org, reachable_user
from aisonar.accounts.invitations import InvitationMailed, invite
from aisonar.accounts.membership import update_user
from aisonar.accounts.models import User
from aisonar.accounts.password_reset import RESET_PAGE, reset_link
from aisonar.accounts.principal import Principal
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import AISonarError, Forbidden, InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.direct import EmailNotConfigured, EmailNotSent, send_now
from aisonar.notify.sender import Mail
from aisonar.store.roles import Role

# The rules of the fields people type, which the API's bodies follow too.
EmailText = Annotated[str, Field(min_length=3, max_length=320)]
NameText = Annotated[str, Field(max_length=200)]
PasswordText = Annotated[str, Field(max_length=1000)]


@dataclass(frozen=True)
class NewMember:
    """A member to add: with `password` they sign in with it; with `invite` they are
    mailed a link to choose one; with neither, they use only the keys made for them.
    `language` is by default the inviter's when invited, else English."""

    email: EmailText
    name: NameText = ""
    role: Role = Role.USER
    password: PasswordText | None = None
    invite: bool = False
    language: Language | None = None


@dataclass(frozen=True)
class MemberChange:
    """What changes about a member; None leaves it as it is."""

    name: NameText | None = None
    role: Role | None = None
    # True stops their keys, tokens and sessions; False lets them back in.
    disabled: bool | None = None
    email: EmailText | None = None


class InvitationNotSent(AISonarError):
    """The mail server did not take the invitation; the member and the token stay."""

    status = 503
    kind = "api_error"
    code = "invitation_not_sent"


def invitation_mail(mailer: Mail | None) -> Mail:
    """How the invitation goes out; EmailNotConfigured on a server that sends no email."""
    if mailer is None:
        raise EmailNotConfigured(
            N_(
                "This server sends no email (AISONAR_SMTP_URL is not set), so it cannot send "
                "an invitation; give the member a first password instead."
            )
        )
    return mailer


async def send_invitation(mail: Mail, settings: Settings, mailed: InvitationMailed) -> bool:
    """Mail the invitation (the `invitation` template, in the member's language); False
    when the mail server did not take it (already logged)."""
    data = {
        "token": mailed.token,
        "link": reset_link(settings, mailed.token),
        "page": RESET_PAGE,
        "expires_at": mailed.expires_at.isoformat(),
        "inviter": mailed.inviter,
        "email": mailed.recipient.address,
        "role": mailed.role,
    }
    try:
        await send_now(mail, mailed.recipient, "invitation", data)
    except EmailNotSent:
        return False
    return True


def may_invite(caller: Principal, user: User) -> None:
    """Only the member's organization's admins (and operators) invite them; only an
    operator invites an operator."""
    if not caller.administers(user.org_id):
        raise Forbidden(N_("Only the organization's admins may send invitations."))
    if user.role == Role.OPERATOR and not caller.is_operator:
        raise Forbidden(N_("Only an operator may change an operator, or make one."))


async def add_member(
    conn: AsyncConnection, caller: Principal, actor: Actor, org_id: str, new: NewMember
) -> User:
    """A new member of an organization the caller administers, without the invitation's
    mail (`add_member_and_invite` sends it)."""
    if new.role is Role.OPERATOR and not caller.is_operator:
        raise Forbidden(N_("Only an operator may create an operator."))
    if new.invite and new.password is not None:
        raise InvalidInput(
            N_("Give a first password or send an invitation to choose one, not both."),
            param="invite",
        )
    org = await administered_org(conn, caller, org_id)
    language = None if new.language is None else str(new.language)
    if language is None and new.invite:
        language = (await accounts.get_user(conn, caller.user_id)).language
    return await accounts.create_user(
        conn,
        new.email,
        org.name,
        name=new.name,
        role=new.role,
        password=new.password,
        language=language,
        actor=actor,
    )


async def add_member_and_invite(
    engine: AsyncEngine,
    mailer: Mail | None,
    settings: Settings,
    caller: Principal,
    actor: Actor,
    org_id: str,
    new: NewMember,
) -> User:
    """`add_member`, and with `invite` their invitation, mailed once both are committed.
    Without email, an invitation is refused before anything is created."""
    async with engine.begin() as conn:
        mail = None
        if new.invite:
            # Who may not add members here learns nothing of this server's email.
            await administered_org(conn, caller, org_id)
            mail = invitation_mail(mailer)
        added = await add_member(conn, caller, actor, org_id, new)
        mailed = None if mail is None else await invite(conn, added.id, caller.user_id, actor)
    if (
        mail is not None
        and mailed is not None
        and not await send_invitation(mail, settings, mailed)
    ):
        raise InvitationNotSent(
            N_("{email} was added, but the invitation could not be sent; send it again later."),
            email=added.email,
        )
    return added


async def change_member(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    session_id: str | None,
    user_id: str,
    change: MemberChange,
) -> User:
    """A user may rename themselves; their organization's admins may also change their
    role or disable them; only an operator changes an email address (at once) or an
    operator. `session_id` is the caller's session, kept when they change their own
    address."""
    user = await reachable_user(conn, caller, user_id)
    administers = caller.administers(user.org_id)
    if (change.role is not None or change.disabled is not None) and not administers:
        raise Forbidden(N_("Only the organization's admins may change roles or disable users."))
    if not caller.is_operator and (user.role == Role.OPERATOR or change.role is Role.OPERATOR):
        raise Forbidden(N_("Only an operator may change an operator, or make one."))
    if change.email is not None and not caller.is_operator:
        raise Forbidden(
            N_(
                "Only an operator may change a user's email address; people change their "
                "own with POST /api/me/email, confirmed from the new address."
            )
        )
    if user.id == caller.user_id and (change.disabled or change.role not in (None, user.role)):
        raise InvalidInput(N_("You may not disable yourself or change your own role."))
    own_session = session_id if user.id == caller.user_id else None
    return await update_user(
        conn,
        user_id,
        name=change.name,
        role=change.role,
        disabled=change.disabled,
        email=change.email,
        keep_session=own_session,
        actor=actor,
    )


async def invite_again(
    engine: AsyncEngine,
    mailer: Mail | None,
    settings: Settings,
    caller: Principal,
    actor: Actor,
    user_id: str,
) -> InvitationMailed:
    """A new invitation for a member without a password, replacing their unused one,
    mailed before it returns."""
    async with engine.begin() as conn:
        user = await reachable_user(conn, caller, user_id)
        may_invite(caller, user)
        mail = invitation_mail(mailer)
        mailed = await invite(conn, user.id, caller.user_id, actor)
    if not await send_invitation(mail, settings, mailed):
        raise InvitationNotSent(
            N_("The invitation could not be sent to {email}; try again later."),
            email=user.email,
        )
    return mailed
