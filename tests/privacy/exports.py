"""What the export tests share: a person with something in every part of the export, all
of it done through the API over real HTTP (from an address of their own when signed
in); downloading an archive; and reading one back, checking that its README describes
every file and field."""

from __future__ import annotations

import csv
import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, select

from aisonar.abuse.findings import record_finding
from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.clock import utcnow
from aisonar.exports.personal.models import DocumentPart
from aisonar.exports.personal.parts import PARTS
from aisonar.store.tables import (
    access_tokens,
    api_keys,
    audit_log,
    email_changes,
    ledger_entries,
    notice_deliveries,
    password_resets,
    redemption_codes,
    sessions,
    usage_events,
    users,
)
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.compaction import compact
from tests.api.deletions import FromAddress, Leaver, eventually, make_leaver
from tests.api.people import Api, Org, Person
from tests.api.test_sessions import PASSWORD
from tests.support import Backend

ADDRESS = "127.58.14.203"
RECHARGE_NOTE = "credit the person did not make"


@dataclass(frozen=True)
class Active:
    """A person after a round of activity, and what must never leave in an export."""

    person: Leaver
    key_id: str
    support_id: str
    # Secrets, and the hashes stored of them.
    secrets: list[str]


def _ok(answer: tuple[int, Any], status: int = 200) -> Any:
    assert answer[0] == status, answer
    return answer[1]


async def _wait_for_activity(backend: Backend, person: Leaver) -> None:
    async def recorded() -> bool:
        async with backend.engine.connect() as conn:
            charged = await conn.execute(
                select(func.count())
                .select_from(ledger_entries)
                .join(usage_events, usage_events.c.id == ledger_entries.c.request_id)
                .where(usage_events.c.user_id == person.user_id)
            )
            mailed = await conn.execute(
                select(func.count()).where(notice_deliveries.c.user_id == person.user_id)
            )
            return bool(charged.scalar_one()) and bool(mailed.scalar_one())

    # The charge and the mailed notice come from background writers: slow on a busy CI.
    await eventually(recorded, timeout_s=20.0)
    async with backend.engine.begin() as conn:
        # Through this minute, so that the daily rollups hold all of it.
        await compact(conn, utcnow() + timedelta(minutes=1))


async def _asked_deletion_and_was_refused(
    gateway: RunningGateway, operator: Api, person: Leaver
) -> None:
    """A deletion request (disabling the account, revoking its key), rejected, then the
    account enabled again."""
    api = Api(gateway.url, person.token)
    asked = await api.post(
        "/api/me/deletion-request", {"password": PASSWORD, "reason": "trying it out"}
    )
    assert asked.status == 202, asked
    rejected = await operator.post(
        f"/api/deletion-requests/{asked.body['id']}/reject", {"reason": "an open invoice"}
    )
    assert rejected.status == 200, rejected
    enabled = await operator.call("PATCH", f"/api/users/{person.user_id}", {"disabled": False})
    assert enabled.status == 200, enabled


async def _stored_secrets(backend: Backend, person: Leaver) -> list[str]:
    async with backend.engine.connect() as conn:
        found: list[str] = []
        for column, owner in (
            (users.c.password_hash, users.c.id),
            (api_keys.c.key_hash, api_keys.c.user_id),
            (api_keys.c.previous_key_hash, api_keys.c.user_id),
            (access_tokens.c.token_hash, access_tokens.c.user_id),
            (sessions.c.id, sessions.c.user_id),
            (sessions.c.token_hash, sessions.c.user_id),
            (sessions.c.csrf_token, sessions.c.user_id),
            (email_changes.c.token_hash, email_changes.c.user_id),
            (password_resets.c.token_hash, password_resets.c.user_id),
        ):
            rows = await conn.execute(select(column).where(owner == person.user_id))
            found += [value for value in rows.scalars() if value]
        codes = await conn.execute(
            select(redemption_codes.c.code_hash).where(
                redemption_codes.c.redeemed_by_user == person.user_id
            )
        )
        found += list(codes.scalars())
    return found


async def active_person(
    gateway: RunningGateway, backend: Backend, home: Org, operator: Person
) -> Active:
    """A member of `home` with a rejected deletion request, a session and a failed
    sign-in, a new name, a key made through the API, a request charged to the balance,
    a redeemed code, a support request the operator answered, a consent, an acknowledged
    policy, a limit, a notification setting, a pending email change, a password reset asked
    for and an abuse finding about their key."""
    person = await make_leaver(backend.engine, home.name)
    as_operator = Api(gateway.url, operator.token)
    recharged = await as_operator.post(
        f"/api/orgs/{home.id}/recharges", {"amount": "10", "note": RECHARGE_NOTE}
    )
    assert recharged.status == 201, recharged
    await _asked_deletion_and_was_refused(gateway, as_operator, person)
    browser = FromAddress(gateway.url, ADDRESS)
    try:
        assert await browser.sign_in(person.email, "Not-The-Password-1") == 401
        assert await browser.sign_in(person.email) == 200
        _ok(await browser.call("PATCH", "/api/me", {"name": person.name + " Jr"}))
        key = _ok(await browser.call("POST", "/api/me/keys", {"name": "export laptop"}), 201)
        assert await browser.chat(key["secret"]) == 200
        [code] = (await as_operator.post("/api/codes", {"amount": "2"})).body["codes"]
        bearer = {"Authorization": f"Bearer {key['secret']}"}
        _ok(await browser.call("POST", "/api/me/redeem", {"code": code}, bearer))
        opened = _ok(
            await browser.call(
                "POST", "/api/me/support", {"subject": "Export", "body": "What is kept?"}
            ),
            201,
        )
        answer = {"body": "Everything is in your export."}
        answered = await as_operator.post(f"/api/support/{opened['id']}/messages", answer)
        assert answered.status == 201, answered
        _ok(await browser.call("PUT", "/api/me/consents/analytics", {"granted": True}))
        policy = await as_operator.post(
            "/api/policies",
            {"kind": "privacy", "body": f"Policy {secrets.token_hex(4)}", "material": False},
        )
        assert policy.status == 201, policy
        acknowledge = f"/api/me/policies/{policy.body['id']}/acknowledge"
        _ok(await browser.call("POST", acknowledge))
        limited = await Api(gateway.url, home.admin.token).call(
            "PATCH", f"/api/limits/user/{person.user_id}", {"rpm": 50}
        )
        assert limited.status == 200, limited
        settings = {"kinds": {"balance_low": {"email": False}}}
        _ok(await browser.call("PATCH", "/api/me/notification-settings", settings))
        change = {"email": f"moved-{secrets.token_hex(4)}@example.org", "password": PASSWORD}
        _ok(await browser.call("POST", "/api/me/email", change), 202)
        reset = {"email": person.email}
        _ok(await browser.call("POST", "/api/password-reset", reset), 202)
    finally:
        await browser.close()
    await _wait_for_activity(backend, person)
    async with backend.engine.begin() as conn:
        shared = Signal(
            FindingKind.KEY_SHARING,
            SubjectKind.KEY,
            key["id"],
            {"addresses": 50, "networks": 50},
            utcnow(),
            org_id=home.id,
            user_id=person.user_id,
        )
        assert await record_finding(conn, shared) is not None
    stored = await _stored_secrets(backend, person)
    plain = [person.token, person.key_secret, key["secret"], code, PASSWORD]
    return Active(person, key["id"], opened["id"], plain + stored)


@dataclass(frozen=True)
class Download:
    status: int
    headers: dict[str, str]
    body: bytes


async def download(base_url: str, token: str, path: str) -> Download:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.get(base_url + path) as response,
    ):
        return Download(response.status, dict(response.headers), await response.read())


async def exports_recorded(backend: Backend, user_id: str) -> int:
    async with backend.engine.connect() as conn:
        found = await conn.execute(
            select(func.count()).where(
                audit_log.c.action == "user.export", audit_log.c.object_id == user_id
            )
        )
        return int(found.scalar_one())


@dataclass(frozen=True)
class Archive:
    files: dict[str, bytes]
    raw: bytes

    @property
    def text(self) -> bytes:
        """Every byte, compressed and not."""
        return self.raw + b"".join(self.files.values())

    def document(self, name: str) -> Any:
        return json.loads(self.files[name])

    def table(self, name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.files[name].decode())))

    def header(self, name: str) -> list[str]:
        return next(csv.reader(io.StringIO(self.files[name].decode())))


def read_archive(data: bytes) -> Archive:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[0] == "README.txt"
        return Archive({name: archive.read(name) for name in names}, data)


def assert_described(archive: Archive, *, confidential: bool, filled: set[str]) -> None:
    """The README describes each file and each of its fields, which are exactly the
    fields written; the files in `filled` have records."""
    readme = archive.files["README.txt"].decode()
    expected = [part for part in PARTS if confidential or not part.confidential]
    assert sorted(archive.files) == sorted(["README.txt", *(part.file for part in expected)])
    for part in expected:
        assert f"\n{part.file}\n" in readme, part.file
        for field in part.fields:
            assert f"- {field}: " in readme, (part.file, field)
        if isinstance(part, DocumentPart):
            document = archive.document(part.file)
            records = document if isinstance(document, list) else [document]
        else:
            assert archive.header(part.file) == list(part.fields), part.file
            records = archive.table(part.file)
        assert bool(records) or part.file not in filled, f"{part.file} is empty"
        for record in records:
            assert sorted(record) == sorted(part.fields), part.file
