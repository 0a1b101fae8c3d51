"""`/api/me`: what every signed-in person manages for themselves: their profile, API
keys, access tokens and their organization's balance."""

from __future__ import annotations

from fastapi import APIRouter

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.admin.balances import balance_of
from aisonar.admin.deps import Acting, Caller, Engine, Services
from aisonar.admin.keys import create_key_for, revoke_key_of
from aisonar.admin.schemas import (
    BalanceOut,
    KeyCreate,
    KeyCreated,
    KeyOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
)

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def my_profile(caller: Caller, db: Engine) -> UserOut:
    async with db.connect() as conn:
        return UserOut.of(await accounts.get_user(conn, caller.user_id))


@router.get("/keys")
async def my_keys(caller: Caller, db: Engine) -> list[KeyOut]:
    async with db.connect() as conn:
        return [KeyOut.of(key) for key in await accounts.list_keys(conn, caller.email)]


@router.post("/keys", status_code=201)
async def create_my_key(caller: Caller, actor: Acting, db: Engine, body: KeyCreate) -> KeyCreated:
    async with db.begin() as conn:
        return await create_key_for(conn, actor, caller.email, body)


@router.delete("/keys/{key_id}")
async def revoke_my_key(caller: Caller, actor: Acting, db: Engine, key_id: str) -> KeyOut:
    async with db.begin() as conn:
        return await revoke_key_of(conn, caller, actor, key_id, own_only=True)


@router.get("/tokens")
async def my_tokens(caller: Caller, db: Engine) -> list[TokenOut]:
    async with db.connect() as conn:
        return [TokenOut.of(t) for t in await tokens.list_tokens(conn, caller.user_id)]


@router.post("/tokens", status_code=201)
async def create_my_token(
    caller: Caller, actor: Acting, db: Engine, body: TokenCreate
) -> TokenCreated:
    async with db.begin() as conn:
        token, secret = await tokens.create_token(
            conn, caller.email, name=body.name, expires_at=body.expires_at, actor=actor
        )
    return TokenCreated(**TokenOut.of(token).model_dump(), secret=secret)


@router.delete("/tokens/{token_id}")
async def revoke_my_token(caller: Caller, actor: Acting, db: Engine, token_id: str) -> TokenOut:
    async with db.begin() as conn:
        revoked = await tokens.revoke_token(conn, token_id, caller.user_id, actor=actor)
        return TokenOut.of(revoked)


@router.get("/balance")
async def my_balance(caller: Caller, running: Services) -> BalanceOut:
    return await balance_of(running.engine, running.billing.store, caller.org_id)
