"""Organizations through the management API: an operator sees and creates them all; an
org admin manages their own; a member may read their own. The list pages by keyset:
`?after=<id>&limit=N`, the next page's address in the `Link` header (`rel="next"`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Organization, User
from aisonar.accounts.services import (
    NewMember,
    NewOrg,
    OrgSettings,
    UserSearch,
    add_member_and_invite,
    administered_org,
    visible_org,
)
from aisonar.api import paging
from aisonar.api.paging import After, Limit
from aisonar.api.schemas import OrgChange, OrgCreate, OrgOut, UserCreate, UserOut
from aisonar.usage import services as usage
from aisonar.web.balances import BalanceOut, balance_of
from aisonar.web.deps import Acting, Caller, Config, Engine, Mailer, Operator, Services

router = APIRouter(prefix="/api/orgs", tags=["organizations"])


async def _out(conn: AsyncConnection, org: Organization) -> OrgOut:
    return OrgOut.of(org, await accounts.org_models(conn, org.id))


@router.get("")
async def list_orgs(
    caller: Caller,
    db: Engine,
    response: Response,
    after: After = None,
    limit: Limit = None,
) -> list[OrgOut]:
    """Every organization for an operator, oldest first; for anyone else, their own."""
    async with db.connect() as conn:
        if not caller.is_operator:
            org = await accounts.get_org(conn, caller.org_id)
            return [] if after is not None else [await _out(conn, org)]
        found = await accounts.orgs_page(conn, paging.page(after, limit))
    shown = paging.cut(found, limit, response, "/api/orgs", lambda row: row[0].id)
    return [OrgOut.of(org, models) for org, models in shown]


@router.post("", status_code=201)
async def create_org(caller: Operator, actor: Acting, db: Engine, body: OrgCreate) -> OrgOut:
    async with db.begin() as conn:
        new = NewOrg(name=body.name, plan=body.plan, models=body.models)
        return await _out(conn, await accounts.add_org(conn, actor, new))


@router.get("/{org_id}")
async def get_org(caller: Caller, db: Engine, org_id: str) -> OrgOut:
    async with db.connect() as conn:
        return await _out(conn, await visible_org(conn, caller, org_id))


@router.get("/{org_id}/balance")
async def org_balance(caller: Caller, running: Services, org_id: str) -> BalanceOut:
    async with running.engine.connect() as conn:
        org = await administered_org(conn, caller, org_id)
    return await balance_of(running.engine, running.billing.store, org.id)


@router.get("/{org_id}/users")
async def org_users(
    caller: Caller,
    db: Engine,
    response: Response,
    org_id: str,
    after: After = None,
    limit: Limit = None,
) -> list[UserOut]:
    """Its members, oldest first."""
    async with db.connect() as conn:
        org = await administered_org(conn, caller, org_id)
        members = UserSearch(org_id=org.id)
        found = await accounts.users_page(conn, paging.page(after, limit), members)
    path = f"/api/orgs/{org.id}/users"
    return [UserOut.of(user) for user in paging.cut(found, limit, response, path, _id)]


def _id(user: User) -> str:
    return user.id


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
    new = NewMember(**body.model_dump())
    added = await add_member_and_invite(db, mailer, settings, caller, actor, org_id, new)
    return UserOut.of(added)


@router.patch("/{org_id}")
async def change_org(
    caller: Operator, actor: Acting, db: Engine, org_id: str, body: OrgChange
) -> OrgOut:
    """Move the organization to another plan, restrict (or free) its models, set the
    balance below which its admins are told, or mark the custom properties its usage is
    rolled up by."""
    nullable = {"models", "retention_days"}
    cleared = {name for name in body.model_fields_set & nullable if getattr(body, name) is None}
    settings = body.model_dump(exclude={"dimension_properties"})
    change = OrgSettings(**settings, cleared=frozenset(cleared))
    async with db.begin() as conn:
        org = await accounts.change_org_settings(conn, actor, org_id, change)
        if "dimension_properties" in body.model_fields_set:
            names = body.dimension_properties or []
            await usage.mark_properties(conn, actor, org_id, names)
            org = await accounts.get_org(conn, org_id)
        return await _out(conn, org)
