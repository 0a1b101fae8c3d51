"""`GET /api/me/export` and `GET /api/users/{user_id}/export`: a ZIP of everything held
about a person (`exports/personal/archive.py`), for themselves, their organization's admins
(not of an operator, and without the support conversations only the person and the
operators read) or an operator. The archive is built in an anonymous temporary file
(gone from the disk once closed, whatever happens), then sent; each export is audited,
and limited per person asking, since each reads all of someone's records."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from aisonar.accounts import services as accounts
from aisonar.accounts.access import reachable_user
from aisonar.accounts.models import Role, User
from aisonar.accounts.principal import Principal
from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.errors import Throttled
from aisonar.exports.personal.archive import archive_name, record_export, write_archive
from aisonar.exports.personal.models import Exported
from aisonar.gateway.services import GatewayServices
from aisonar.i18n import N_
from aisonar.limits.store import RateCheck
from aisonar.web.deps import Acting, Caller, Config, Services
from aisonar.web.errors import Forbidden

router = APIRouter(tags=["privacy"])

_HOUR_S = 3600.0
_READ_BYTES = 1024 * 1024
_ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The archive, with a README.txt describing each file and field.",
    },
    429: {"description": "Too many exports asked for in the last hour."},
}


class TooManyExports(Throttled):
    code = "too_many_exports"
    refusal = N_("Too many data exports; try again in {seconds} s.")


async def _count_export(running: GatewayServices, per_hour: int, caller: Principal) -> None:
    check = RateCheck(
        "personal data exports", f"personal-export:user:{caller.user_id}", per_hour, _HOUR_S, 1
    )
    decision = await running.limiter.store.admit(secrets.token_hex(8), [check], [])
    if not decision.allowed:
        raise TooManyExports(decision.retry_after_s)


async def _sent(file: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, _READ_BYTES):
            yield chunk
    finally:
        file.close()


async def _download(
    running: GatewayServices, actor: Actor, exported: Exported
) -> StreamingResponse:
    at = utcnow()
    # Closed by _sent once sent, or below if the archive cannot be made.
    file = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        async with running.engine.connect() as conn:
            files = await write_archive(conn, exported, file, at)
        async with running.engine.begin() as conn:
            await record_export(conn, actor, exported, files)
        size = file.tell()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    name = archive_name(exported.person.id, at)
    return StreamingResponse(
        _sent(file),
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "content-length": str(size),
        },
    )


@router.get("/api/me/export", response_class=StreamingResponse, responses=_ZIP)
async def export_me(
    caller: Caller, actor: Acting, running: Services, settings: Config
) -> StreamingResponse:
    """Everything held about you, as a ZIP: your profile, organization, keys and tokens
    (never their secrets), sessions, usage events (CSV), the ledger entries you caused,
    notices, audit entries by or about you, consents, support requests, and more; its
    README.txt describes each file and field. At most `AISONAR_EXPORTS_PER_HOUR` an hour."""
    return await export_own(running, settings, caller, actor)


async def export_own(
    running: GatewayServices, settings: Settings, caller: Principal, actor: Actor
) -> StreamingResponse:
    """The caller's own archive, as `GET /api/me/export` (and the console) sends it:
    counted against their hourly allowance, audited."""
    await _count_export(running, settings.exports_per_hour, caller)
    async with running.engine.connect() as conn:
        person = await accounts.get_user(conn, caller.user_id)
    return await _download(running, actor, Exported(person, confidential=True))


def _exported_for(caller: Principal, person: User) -> Exported:
    """Operators only export operators; an organization's admin exports its members
    without what only they and the operators read."""
    if person.role == Role.OPERATOR and not caller.is_operator:
        raise Forbidden(N_("Only an operator may export an operator's data."))
    confidential = caller.is_operator or caller.user_id == person.id
    return Exported(person, confidential)


@router.get("/api/users/{user_id}/export", response_class=StreamingResponse, responses=_ZIP)
async def export_user(
    caller: Caller, actor: Acting, running: Services, settings: Config, user_id: str
) -> StreamingResponse:
    """Everything held about a person, as `GET /api/me/export` gives it to them: for the
    admins of their organization (not of an operator; their support requests left out)
    and for operators. Audited."""
    async with running.engine.connect() as conn:
        person = await reachable_user(conn, caller, user_id)
    exported = _exported_for(caller, person)
    await _count_export(running, settings.exports_per_hour, caller)
    return await _download(running, actor, exported)
