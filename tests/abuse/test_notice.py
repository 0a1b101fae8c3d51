"""The `abuse_finding` notice says what was found in the reader's language: a shared key
by its addresses and networks, a fast one by its requests or its spend, a key's first
call to an expensive model by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aisonar.i18n import Language
from aisonar.notify.notices import Notice
from aisonar.notify.render import render_notice


def rendered(evidence: dict[str, Any], kind: str, language: Language) -> str:
    data = {"finding_id": "abf_1", "kind": kind, "subject_kind": "key", "subject_id": "key_1"}
    notice = Notice(
        1,
        "org_1",
        "usr_1",
        "abuse_finding",
        {**data, "evidence": evidence},
        datetime(2026, 12, 8, tzinfo=UTC),
    )
    return render_notice(
        notice, language=language, recipient_name="Ada", org_name="Acme", currency="USD"
    ).text


@pytest.mark.parametrize(
    ("kind", "evidence", "english", "chinese"),
    [
        (
            "key_sharing",
            {"addresses": 50, "networks": 48},
            "used from 50 addresses on 48 networks",
            "从 48 个网络中的 50 个地址",
        ),
        (
            "velocity",
            {"measure": "requests", "shown": "120", "window_minutes": 10},
            "made 120 requests in the last 10 minutes",
            "发出了 120 个请求",
        ),
        (
            "velocity",
            {"measure": "spend", "shown": "7.50", "window_minutes": 10},
            "spent 7.50 credits in the last 10 minutes",
            "花费了 7.50 点额度",
        ),
        (
            "expensive_model",
            {"models": ["o1-pro", "claude-opus-4-1"]},
            "not used in the last month: o1-pro, claude-opus-4-1",
            "未使用过的昂贵模型",
        ),
    ],
)
def test_each_finding_reads_in_both_languages(
    kind: str, evidence: dict[str, Any], english: str, chinese: str
) -> None:
    assert english in rendered(evidence, kind, Language.ENGLISH)
    assert chinese in rendered(evidence, kind, Language.SIMPLIFIED_CHINESE)
