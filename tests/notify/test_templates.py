"""Every notice kind has a plain-text and an HTML template that render in English and
Simplified Chinese, with what people typed escaped in the HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aisonar.i18n import Language
from aisonar.notify.notices import Notice
from aisonar.notify.preferences import KINDS
from aisonar.notify.render import render_mail, render_notice

MARKUP = "<script>alert(1)</script>"
SAMPLES: dict[str, dict[str, Any]] = {
    "key_created": {"name": MARKUP, "display_prefix": "sk-sonar-ab12"},
    "key_revoked": {"name": MARKUP, "display_prefix": "sk-sonar-ab12"},
    "key_rotated": {
        "name": MARKUP,
        "display_prefix": "sk-sonar-cd34",
        "previous_valid_until": "2026-12-01T10:00:00+00:00",
    },
    "key_expiring": {
        "name": MARKUP,
        "display_prefix": "sk-sonar-ab12",
        "expires_at": "2026-12-01T10:00:00+00:00",
    },
    "password_changed": {"sessions_ended": 2},
    "email_changed": {
        "previous_email": "old@example.com",
        "email": "new@example.com",
        "sessions_ended": 1,
    },
    "role_changed": {"before": "user", "after": "org_admin"},
    "sign_in_from_new_address": {"ip": "203.0.113.9"},
    "balance_low": {"balance": "0.50", "threshold": "1.00"},
    "balance_exhausted": {"balance": "0.00"},
    "recharge_received": {"amount": "5.00", "balance": "5.50", "kind": "recharge"},
    "plan_changed": {"before": "free", "after": "pro"},
    "alert_firing": {
        "rule_id": "alr_1",
        "name": MARKUP,
        "kind": "error_rate",
        "observed": "0.125",
        "threshold": "0.05",
        "window": "15m",
        "window_s": 900,
        "percentile": None,
        "requests": 240,
        "model": MARKUP,
        "source": None,
    },
    "alert_resolved": {
        "rule_id": "alr_2",
        "name": "",
        "kind": "latency",
        "observed": "812.5",
        "threshold": "1000",
        "window": "2h",
        "window_s": 7200,
        "percentile": "p95",
        "requests": 96,
        "model": None,
        "source": "gateway",
    },
}


def render(kind: str, language: Language) -> Any:
    notice = Notice(1, "org_1", "usr_1", kind, SAMPLES[kind], datetime(2026, 11, 23, tzinfo=UTC))
    return render_notice(
        notice, language=language, recipient_name=MARKUP, org_name="Acme & Co", currency="USD"
    )


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_in_both_languages(kind: str) -> None:
    english, chinese = render(kind, Language.ENGLISH), render(kind, Language.SIMPLIFIED_CHINESE)
    for rendered in (english, chinese):
        assert rendered.subject and "\n" not in rendered.subject
        assert "Acme & Co" in rendered.text and "Acme &amp; Co" in rendered.html
        assert MARKUP in rendered.text
        assert MARKUP not in rendered.html and "&lt;script&gt;" in rendered.html
    assert english.subject != chinese.subject and english.text != chinese.text
    assert english.subject.isascii() and not chinese.subject.isascii()
    assert "2026" in english.text and "2026年" in chinese.text


def test_moments_are_written_in_the_readers_language() -> None:
    assert "Dec 1, 2026, 10:00:00\u202fAM UTC" in render("key_expiring", Language.ENGLISH).text
    assert "2026年12月1日 10:00:00 UTC" in render("key_expiring", Language.SIMPLIFIED_CHINESE).text
    assert "从用户变更为组织管理员" in render("role_changed", Language.SIMPLIFIED_CHINESE).text


def test_alerts_read_their_measure_and_values_in_the_readers_language() -> None:
    firing = render("alert_firing", Language.ENGLISH)
    assert firing.subject == f"Alert firing: {MARKUP}"
    assert "Error rate over the last 15 minutes is 12.5%, above the alert's threshold of 5%." in (
        firing.text
    )
    assert "Requests measured: 240" in firing.text
    resolved = render("alert_resolved", Language.SIMPLIFIED_CHINESE)
    assert resolved.subject.startswith("告警已恢复")
    assert resolved.subject.endswith("最近2小时的 p95 延迟")
    assert "最近2小时的 p95 延迟为 812.5 ms" in resolved.text
    assert "已回落到告警阈值 1000 ms 以内" in resolved.text


@pytest.mark.parametrize(
    ("template", "data"),
    [
        (
            "email_change_code",
            {
                "email": "new@example.com",
                "code": "sonar-email-abc",
                "expires_at": "2026-11-24T10:00:00+00:00",
            },
        ),
        ("email_change_taken", {"email": "taken@example.com"}),
    ],
)
def test_mail_about_a_new_address_renders_in_both_languages(
    template: str, data: dict[str, Any]
) -> None:
    english, chinese = (
        render_mail(
            template,
            data,
            language=language,
            recipient_name=MARKUP,
            org_name="Acme & Co",
            at=datetime(2026, 11, 23, tzinfo=UTC),
            security=True,
        )
        for language in (Language.ENGLISH, Language.SIMPLIFIED_CHINESE)
    )
    for rendered in (english, chinese):
        assert rendered.subject and "\n" not in rendered.subject
        assert data["email"] in rendered.text and data["email"] in rendered.html
        assert MARKUP not in rendered.html and "&lt;script&gt;" in rendered.html
    assert english.subject.isascii() and not chinese.subject.isascii()
    if "code" in data:
        assert all(data["code"] in r.text and data["code"] in r.html for r in (english, chinese))
        assert "Nov 24, 2026" in english.text and "2026年11月24日" in chinese.text
