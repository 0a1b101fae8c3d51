"""What every management endpoint takes: the running services and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.principal import Principal
from aisonar.accounts.tokens import principal_for_token
from aisonar.admin.errors import Forbidden, Unauthenticated
from aisonar.audit.models import Actor
from aisonar.gateway.pipeline import GatewayServices

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    description="A personal access token (`aisonar token create EMAIL`).",
)


def services(request: Request) -> GatewayServices:
    running: GatewayServices = request.app.state.runtime.services
    return running


Services = Annotated[GatewayServices, Depends(services)]


def engine(request: Request) -> AsyncEngine:
    return services(request).engine


Engine = Annotated[AsyncEngine, Depends(engine)]


async def principal(
    db: Engine, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthenticated("Send a personal access token as `Authorization: Bearer ...`.")
    async with db.connect() as conn:
        found = await principal_for_token(conn, credentials.credentials)
    if found is None:
        raise Unauthenticated("The access token is unknown, revoked or expired.")
    return found


Caller = Annotated[Principal, Depends(principal)]


async def acting(caller: Caller, request: Request) -> Actor:
    """The caller as the audit log records them, with the address they called from."""
    return Actor(caller.email, caller.user_id, request.client.host if request.client else None)


Acting = Annotated[Actor, Depends(acting)]


async def operator(caller: Caller) -> Principal:
    if not caller.is_operator:
        raise Forbidden("Only an operator may do this.")
    return caller


Operator = Annotated[Principal, Depends(operator)]
