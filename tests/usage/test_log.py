"""The usage log: a person's events only, newest first, a page at a time with no event
skipped or repeated (events at the same moment are told apart by id), filtered by model
and status class; a position that is not one, or an unknown status, is refused."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import insert

from aisonar.clock import utcnow
from aisonar.errors import InvalidInput
from aisonar.store.tables import usage_events
from aisonar.usage.log import LogPosition, usage_log
from tests.support import Backend


async def test_the_log_pages_through_a_persons_events_newest_first(backend: Backend) -> None:
    user_id, someone_else = f"usr_{secrets.token_hex(6)}", f"usr_{secrets.token_hex(6)}"
    start = utcnow().replace(microsecond=0) - timedelta(hours=1)
    events = []
    # Two events share each moment, so the page boundary falls between equal times.
    for index in range(7):
        events.append(
            {
                "id": f"evt_{secrets.token_hex(8)}",
                "started_at": start + timedelta(seconds=index // 2),
                "user_id": user_id,
                "org_id": "org_log",
                "endpoint": "/v1/chat/completions",
                "requested_model": "gpt-4o" if index % 3 else "gpt-4o-mini",
                "stream": False,
                "status_code": 429 if index == 4 else 200,
                "input_tokens": index,
                "cached_input_tokens": 0,
                "output_tokens": 1,
                "reasoning_tokens": 0,
                "tokens_estimated": False,
                "latency_ms": 10,
            }
        )
    events.append({**events[0], "id": f"evt_{secrets.token_hex(8)}", "user_id": someone_else})
    async with backend.engine.begin() as conn:
        await conn.execute(insert(usage_events), events)

    newest_first = sorted(
        (e for e in events if e["user_id"] == user_id),
        key=lambda e: (e["started_at"], e["id"]),
        reverse=True,
    )
    seen: list[str] = []
    after = None
    async with backend.engine.connect() as conn:
        for _ in range(4):
            page = await usage_log(conn, user_id, after=after, limit=3)
            seen += [found.id for found in page.requests]
            if page.next is None:
                break
            after = LogPosition.decode(page.next.encode())
        assert seen == [e["id"] for e in newest_first]

        mini = await usage_log(conn, user_id, model="gpt-4o-mini")
        assert {found.id for found in mini.requests} == {
            e["id"] for e in newest_first if e["requested_model"] == "gpt-4o-mini"
        }
        limited = await usage_log(conn, user_id, status_class="4")
        assert [found.status_code for found in limited.requests] == [429]
        with pytest.raises(InvalidInput):
            await usage_log(conn, user_id, status_class="3")
    for cursor in ("not-a-time~evt_1", f"{start.isoformat()}~", "nothing"):
        with pytest.raises(InvalidInput):
            LogPosition.decode(cursor)
