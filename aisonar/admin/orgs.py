"""Organizations through the management API: an operator sees and creates them all; an
org admin manages their own; a member may read their own."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts.invitations import invite
from aisonar.accounts.membership import set_org_plan
from aisonar.accounts.models import Organization, Role, User
from aisonar.accounts.plans import set_org_retention
from aisonar.accounts.principal import Principal
from aisonar.admin.invitations import InvitationNotSent, invitation_mail, send_invitation
from aisonar.admin.schemas import OrgChange, OrgCreate, OrgOut, UserCreate, UserOut
from aisonar.audit.models import Actor
from aisonar.billing import ledger
from aisonar.billing.money import parse_amount
from aisonar.config import Settings
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.notify.sender import Mail
from aisonar.web.balances import BalanceOut, balance_of
from aisonar.web.deps import Acting, Caller, Config, Engine, Mailer, Operator, Services
from aisonar.web.errors import Forbidden

router = APIRouter(prefix="/api/orgs", tags=["organizations"])


async def _visible_org(conn: AsyncConnection, caller: Principal, org_id: str) -> Organization:
    if not (caller.is_operator or caller.org_id == org_id):
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    return await accounts.get_org(conn, org_id)


async def administered_org(conn: AsyncConnection, caller: Principal, org_id: str) -> Organization:
    if not caller.administers(org_id):
        # A member learns no more than that they may not; anyone else, nothing.
        if caller.org_id == org_id:
            raise Forbidden(N_("Only the organization's admins may do this."))
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    return await accounts.get_org(conn, org_id)


async def _out(conn: AsyncConnection, org: Organization) -> OrgOut:
    return OrgOut.of(org, await accounts.org_models(conn, org.id))


@router.get("")
async def list_orgs(caller: Caller, db: Engine) -> list[OrgOut]:
    """Every organization for an operator; for anyone else, their own."""
    async with db.connect() as conn:
        if caller.is_operator:
            orgs = await accounts.list_orgs(conn)
        else:
            orgs = [await accounts.get_org(conn, caller.org_id)]
        return [await _out(conn, org) for org in orgs]


@router.post("", status_code=201)
async def create_org(caller: Operator, actor: Acting, db: Engine, body: OrgCreate) -> OrgOut:
    async with db.begin() as conn:
        org = await accounts.create_org(conn, body.name, body.plan, models=body.models, actor=actor)
        return await _out(conn, org)


@router.get("/{org_id}")
async def get_org(caller: Caller, db: Engine, org_id: str) -> OrgOut:
    async with db.connect() as conn:
        return await _out(conn, await _visible_org(conn, caller, org_id))


@router.get("/{org_id}/balance")
async def org_balance(caller: Caller, running: Services, org_id: str) -> BalanceOut:
    async with running.engine.connect() as conn:
        org = await administered_org(conn, caller, org_id)
    return await balance_of(running.engine, running.billing.store, org.id)


@router.get("/{org_id}/users")
async def org_users(caller: Caller, db: Engine, org_id: str) -> list[UserOut]:
    async with db.connect() as conn:
        org = await administered_org(conn, caller, org_id)
        return [UserOut.of(user) for user in await accounts.list_users(conn, org.name)]


@router.post(
    "/{org_id}/users",
    status_code=201,
    responses={
        403: {"description": "Not an admin here, or `invite` on a server that sends no email."},
        503: {
            "description": "Added, but the mail server did not take the invitation: send it "
            "again with `POST /api/users/{id}/invite`."
        },
    },
)
async def create_org_user(
    caller: Caller,
    actor: Acting,
    db: Engine,
    mailer: Mailer,
    settings: Config,
    org_id: str,
    body: UserCreate,
) -> UserOut:
    """A new member; only an operator may make another operator. With a `password` they
    sign in with it; with `"invite": true` instead, they are mailed a link to choose their
    password (good once for 7 days; `POST /api/users/{id}/invite` sends a new one),
    audited as `user.invited`; with neither, they use only the keys made for them."""
    added = await add_member_and_invite(db, mailer, settings, caller, actor, org_id, body)
    return UserOut.of(added)


async def add_member_and_invite(
    engine: AsyncEngine,
    mailer: Mail | None,
    settings: Settings,
    caller: Principal,
    actor: Actor,
    org_id: str,
    body: UserCreate,
) -> User:
    """`POST /api/orgs/{id}/users` (the API and the console): `add_member`, and with
    `invite` their invitation, mailed once both are committed. Without email, an
    invitation is refused before anything is created."""
    async with engine.begin() as conn:
        mail = None
        if body.invite:
            # Who may not add members here learns nothing of this server's email.
            await administered_org(conn, caller, org_id)
            mail = invitation_mail(mailer)
        added = await add_member(conn, caller, actor, org_id, body)
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


async def add_member(
    conn: AsyncConnection, caller: Principal, actor: Actor, org_id: str, body: UserCreate
) -> User:
    """A new member of an organization the caller administers (`POST /api/orgs/{id}/users`
    without its mail: the API and the consoles); only an operator may make another
    operator. With `invite`, in the inviter's language unless another is given; the
    caller sends the invitation (`add_member_and_invite`)."""
    if body.role is Role.OPERATOR and not caller.is_operator:
        raise Forbidden(N_("Only an operator may create an operator."))
    if body.invite and body.password is not None:
        raise InvalidInput(
            N_("Give a first password or send an invitation to choose one, not both."),
            param="invite",
        )
    org = await administered_org(conn, caller, org_id)
    language = None if body.language is None else str(body.language)
    if language is None and body.invite:
        language = (await accounts.get_user(conn, caller.user_id)).language
    return await accounts.create_user(
        conn,
        body.email,
        org.name,
        name=body.name,
        role=body.role,
        password=body.password,
        language=language,
        actor=actor,
    )


@router.patch("/{org_id}")
async def change_org(
    caller: Operator, actor: Acting, db: Engine, org_id: str, body: OrgChange
) -> OrgOut:
    """Move the organization to another plan, restrict (or free) its models, or set the
    balance below which its admins are told."""
    async with db.begin() as conn:
        return await change_org_settings(conn, actor, org_id, body)


async def change_org_settings(
    conn: AsyncConnection, actor: Actor, org_id: str, body: OrgChange
) -> OrgOut:
    """`PATCH /api/orgs/{id}` (the API and the console), for operators only: the caller
    is checked before."""
    org = await accounts.get_org(conn, org_id)
    if body.plan is not None:
        org = await set_org_plan(conn, org_id, body.plan, actor=actor)
    if "models" in body.model_fields_set:
        await accounts.set_org_models(conn, org.name, body.models, actor=actor)
    if body.low_balance_threshold is not None:
        threshold = parse_amount(
            body.low_balance_threshold, param="low_balance_threshold", allow_zero=True
        )
        await ledger.set_low_balance_threshold(conn, org_id, threshold, actor=actor)
    if "retention_days" in body.model_fields_set:
        await set_org_retention(conn, org_id, body.retention_days, actor=actor)
    return await _out(conn, await accounts.get_org(conn, org_id))
