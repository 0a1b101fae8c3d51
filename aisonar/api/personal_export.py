"""`GET /api/me/export` and `GET /api/users/{user_id}/export`: a ZIP of everything held
about a person (`exports/personal/archive.py`, sent by `web/archives.py`), for themselves,
their organization's admins (not of an operator, and without the support conversations
only the person and the operators read) or an operator. Each export is audited, and
limited per person asking (`exports/personal/requests.py`), since each reads all of
someone's records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from aisonar.accounts.models import User
from aisonar.accounts.services import Principal, reachable_user
from aisonar.exports.services import Exported, count_export, own_export
from aisonar.i18n import N_
from aisonar.store.roles import Role
from aisonar.web.archives import archive_download
from aisonar.web.deps import Acting, Caller, Config, Services
from aisonar.web.errors import Forbidden

router = APIRouter(tags=["privacy"])

_ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The archive, with a README.txt describing each file and field.",
    },
    429: {"description": "Too many exports asked for in the last hour."},
}


@router.get("/api/me/export", response_class=StreamingResponse, responses=_ZIP)
async def export_me(
    caller: Caller, actor: Acting, running: Services, settings: Config
) -> StreamingResponse:
    """Everything held about you, as a ZIP: your profile, organization, keys and tokens
    (never their secrets), sessions, usage events (CSV), the ledger entries you caused,
    notices, audit entries by or about you, consents, support requests, and more; its
    README.txt describes each file and field. At most `AISONAR_EXPORTS_PER_HOUR` an hour."""
    exported = await own_export(
        running.engine, running.limiter.store, settings.exports_per_hour, caller.user_id
    )
    return await archive_download(running.engine, actor, exported)


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
    await count_export(running.limiter.store, settings.exports_per_hour, caller.user_id)
    return await archive_download(running.engine, actor, exported)
