"""The management REST API under `/api/`, described at `/api/openapi.json`: a FastAPI
app that the gateway's ASGI entry hands every `/api/` request it does not serve itself.
Errors come back as `{"error": {"type", "code", "message", "param"}}`, like the
gateway's OpenAI-format errors."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from aisonar.api import (
    abuse,
    alerts,
    analytics,
    audit,
    catalog,
    channel_checks,
    consents,
    cookie_consent,
    deletion,
    email_change,
    keys,
    limits,
    me,
    money,
    notices,
    orgs,
    password_reset,
    personal_export,
    plans,
    policies,
    reauthentication,
    retention,
    session,
    signup,
    site_analytics,
    statements,
    support,
    system_status,
    users,
    webhooks,
)
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.errors import AISonarError


class ErrorDetail(BaseModel):
    type: str
    code: str | None
    message: str
    param: str | None


class ErrorOut(BaseModel):
    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Bad input; nothing was changed."),
        (401, "No access token, or one that is unknown, revoked or expired."),
        (403, "The caller's role does not allow this."),
        (404, "No such resource, or one the caller may not see."),
        (409, "It already exists."),
    )
}


def _error(
    status: int, kind: str, code: str | None, message: str, param: str | None
) -> JSONResponse:
    detail = ErrorDetail(type=kind, code=code, message=message, param=param)
    return JSONResponse(ErrorOut(error=detail).model_dump(), status_code=status)


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AISonarError)
    response = _error(error.status, error.kind, error.code, error.message, error.param)
    if error.retry_after is not None:
        response.headers["retry-after"] = error.retry_after
    return response


async def _invalid_request(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    # The field's path within the body (whose own fields may be named "body" too).
    loc = first["loc"]
    where = ".".join(str(part) for part in (loc[1:] if loc[:1] == ("body",) else loc))
    return _error(400, "invalid_request_error", None, f"{where}: {first['msg']}", where or None)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
    return _error(error.status_code, kind, None, str(error.detail), None)


def create_api(runtime: Any, settings: Settings) -> FastAPI:
    """`runtime` is the gateway's Runtime: its services are set once the app has started."""
    api = FastAPI(
        title="AI Sonar management API",
        version=version("aisonar"),
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    api.state.runtime = runtime
    api.state.settings = settings
    api.state.started_at = utcnow()
    api.add_exception_handler(AISonarError, _domain_error)
    api.add_exception_handler(RequestValidationError, _invalid_request)
    api.add_exception_handler(HTTPException, _http_error)
    for router in (
        session.router,
        reauthentication.router,
        password_reset.router,
        signup.router,
        me.router,
        email_change.router,
        orgs.router,
        plans.router,
        retention.router,
        users.router,
        keys.router,
        limits.router,
        money.router,
        statements.router,
        channel_checks.router,
        catalog.router,
        audit.router,
        analytics.router,
        notices.router,
        webhooks.router,
        abuse.router,
        alerts.router,
        deletion.router,
        personal_export.router,
        support.router,
        policies.router,
        consents.router,
        cookie_consent.router,
        site_analytics.router,
        system_status.router,
    ):
        api.include_router(router, responses=_ERRORS)
    return api
