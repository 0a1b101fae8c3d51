"""Organizations through the management API: an operator sees and creates them all; an
org admin manages their own; a member may read their own."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.membership import set_org_plan
from aisonar.accounts.models import Organization, Role, User
from aisonar.accounts.plans import set_org_retention
from aisonar.accounts.principal import Principal
from aisonar.admin.balances import balance_of
from aisonar.admin.deps import Acting, Caller, Engine, Operator, Services
from aisonar.admin.errors import Forbidden
from aisonar.admin.schemas import BalanceOut, OrgChange, OrgCreate, OrgOut, UserCreate, UserOut
from aisonar.audit.models import Actor
from aisonar.billing import ledger
from aisonar.billing.money import parse_amount
from aisonar.errors import NotFound

router = APIRouter(prefix="/api/orgs", tags=["organizations"])


async def _visible_org(conn: AsyncConnection, caller: Principal, org_id: str) -> Organization:
    if not (caller.is_operator or caller.org_id == org_id):
        raise NotFound(f"no organization with id {org_id!r}")
    return await accounts.get_org(conn, org_id)


async def administered_org(conn: AsyncConnection, caller: Principal, org_id: str) -> Organization:
    if not caller.administers(org_id):
        # A member learns no more than that they may not; anyone else, nothing.
        if caller.org_id == org_id:
            raise Forbidden("Only the organization's admins may do this.")
        raise NotFound(f"no organization with id {org_id!r}")
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


@router.post("/{org_id}/users", status_code=201)
async def create_org_user(
    caller: Caller, actor: Acting, db: Engine, org_id: str, body: UserCreate
) -> UserOut:
    """A new member; only an operator may make another operator."""
    async with db.begin() as conn:
        return UserOut.of(await add_member(conn, caller, actor, org_id, body))


async def add_member(
    conn: AsyncConnection, caller: Principal, actor: Actor, org_id: str, body: UserCreate
) -> User:
    """`POST /api/orgs/{id}/users` (the API and the console): a new member of an
    organization the caller administers; only an operator may make another operator."""
    if body.role is Role.OPERATOR and not caller.is_operator:
        raise Forbidden("Only an operator may create an operator.")
    org = await administered_org(conn, caller, org_id)
    return await accounts.create_user(
        conn,
        body.email,
        org.name,
        name=body.name,
        role=body.role,
        password=body.password,
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
