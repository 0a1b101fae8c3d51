"""Every notice kind has a plain-text and an HTML template that render in English and
Simplified Chinese, with what people typed escaped in the HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aisonar.i18n import Language
from aisonar.notify.notices import Notice
from aisonar.notify.preferences import KINDS
from aisonar.notify.render import RenderedNotice, render_mail, render_notice

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
    "abuse_finding": {
        "finding_id": "abf_1",
        "kind": "key_sharing",
        "subject_kind": "key",
        "subject_id": MARKUP,
        "evidence": {"addresses": 50, "networks": 50},
    },
    "deletion_requested": {"request_id": "del_1"},
    "deletion_rejected": {"request_id": "del_1", "reason": MARKUP},
    "policy_changed": {"policy_id": "pol_1", "kind": "terms", "version": 3, "title": MARKUP},
    "profile_changed": {"fields": ["company", "name"]},
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
    "support_reply": {
        "request_id": "sup_1",
        "subject": MARKUP,
        "message": f"Line one\n{MARKUP}",
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


def test_a_forecast_alert_counts_days_below_its_threshold_and_names_its_end_user() -> None:
    data = {
        **SAMPLES["alert_firing"],
        "kind": "forecast",
        "observed": "2.0",
        "threshold": "3",
        "window": "7d",
        "window_s": 604800,
        "requests": None,
        "model": None,
        "end_user": "alice",
    }
    notice = Notice(1, "org_1", None, "alert_firing", data, datetime(2026, 11, 23, tzinfo=UTC))
    firing = render_notice(
        notice, language=Language.ENGLISH, recipient_name="Ada", org_name="Acme", currency="USD"
    )
    assert (
        "Days the balance lasts at the spend rate of the last 7 days is 2.0 days, below the "
        "alert's threshold of 3 days." in firing.text
    )
    assert "End user: alice" in firing.text and "End user: alice" in firing.html


def mailed_in_both_languages(
    kind: str, data: dict[str, Any]
) -> tuple[RenderedNotice, RenderedNotice]:
    """The security mail of `kind` in English and in Chinese, to a person whose name is
    markup."""
    english, chinese = (
        render_mail(
            kind,
            data,
            language=language,
            recipient_name=MARKUP,
            org_name="Acme & Co",
            at=datetime(2026, 11, 23, tzinfo=UTC),
            security=True,
        )
        for language in (Language.ENGLISH, Language.SIMPLIFIED_CHINESE)
    )
    return english, chinese


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
    english, chinese = mailed_in_both_languages(template, data)
    for rendered in (english, chinese):
        assert rendered.subject and "\n" not in rendered.subject
        assert data["email"] in rendered.text and data["email"] in rendered.html
        assert MARKUP not in rendered.html and "&lt;script&gt;" in rendered.html
    assert english.subject.isascii() and not chinese.subject.isascii()
    if "code" in data:
        assert all(data["code"] in r.text and data["code"] in r.html for r in (english, chinese))
        assert "Nov 24, 2026" in english.text and "2026年11月24日" in chinese.text


@pytest.mark.parametrize("link", ["https://sonar.example.com/console/reset-password?token=t", None])
def test_a_password_reset_renders_in_both_languages_with_a_link_or_the_token(
    link: str | None,
) -> None:
    data = {
        "token": "sonar-reset-abc",
        "link": link,
        "page": "/console/reset-password",
        "expires_at": "2026-11-23T11:00:00+00:00",
    }
    english, chinese = mailed_in_both_languages("password_reset", data)
    assert english.subject == "Reset your password" and chinese.subject == "重置您的密码"
    for rendered in (english, chinese):
        assert MARKUP not in rendered.html and "&lt;script&gt;" in rendered.html
        shown = link or "sonar-reset-abc"
        assert shown in rendered.text and shown in rendered.html
        assert ("POST /api/password-reset/confirm" in rendered.text) is (link is None)
    assert "Nov 23, 2026" in english.text and "2026年11月23日" in chinese.text
    assert english.text != chinese.text


def test_the_deletion_receipt_lists_what_was_erased_and_kept_in_both_languages() -> None:
    erased = {
        "profile": ["email", "name", "company", "password"],
        "audit_entries": 7,
        "notices": 3,
        "notice_deliveries": 2,
        "sessions": 2,
        "access_tokens": 1,
        "email_changes": 0,
        "password_resets": 2,
        "notification_settings": 1,
        "limits": 0,
        "usage_event_addresses": 4,
        "api_key_names": 1,
        "support_requests": 1,
        "support_messages": 3,
        "policy_acknowledgements": 2,
        "consents": 3,
    }
    data = {"request_id": "del_1", "user_id": "usr_1", "erased": erased}
    english, chinese = mailed_in_both_languages("deletion_completed", data)
    assert english.subject == "Your account was deleted"
    assert "sessions and access tokens: 3" in english.text
    assert "notices and their deliveries: 5" in english.text
    assert "IP addresses in usage events: 4" in english.text
    assert "support requests and their messages: 4" in english.text
    assert "your email address, name, company and password" in english.text
    assert "policy acknowledgements and consent choices: 5" in english.text
    assert "notification settings, pending email changes, password resets and limits: 3" in (
        english.text
    )
    assert "政策确认记录和同意选择\uff1a5" in chinese.text
    assert "ledger entries: the organization's financial record" in english.text
    assert "usr_1" in english.text and "usr_1" in english.html
    assert "登录会话和访问令牌\uff1a3" in chinese.text and "账本记录" in chinese.html
    assert MARKUP not in english.html and "&lt;script&gt;" in english.html


def test_a_policy_change_names_the_document_and_a_profile_change_the_fields() -> None:
    terms = render("policy_changed", Language.ENGLISH)
    assert terms.subject == "Our terms of service changed"
    assert f'Version 3 of "{MARKUP}" is published' in terms.text
    notice = Notice(
        1,
        "org_1",
        "usr_1",
        "policy_changed",
        {**SAMPLES["policy_changed"], "kind": "privacy"},
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    privacy = render_notice(
        notice,
        language=Language.SIMPLIFIED_CHINESE,
        recipient_name="Ada",
        org_name="Acme",
        currency="USD",
    )
    assert privacy.subject == "我们的隐私政策已更新"
    assert "Security notices are always sent" in terms.text
    profile = render("profile_changed", Language.ENGLISH)
    assert "These details of your profile were changed: company, name." in profile.text
    assert "公司、姓名" in render("profile_changed", Language.SIMPLIFIED_CHINESE).text


@pytest.mark.parametrize("link", ["https://sonar.example.com/console/reset-password?token=t", None])
def test_an_invitation_renders_in_both_languages_with_the_inviter_and_org_escaped(
    link: str | None,
) -> None:
    data = {
        "token": "sonar-invite-abc",
        "link": link,
        "page": "/console/reset-password",
        "expires_at": "2026-11-30T10:00:00+00:00",
        "inviter": MARKUP,
        "email": "new@example.com",
        "role": "org_admin",
    }
    english, chinese = mailed_in_both_languages("invitation", data)
    assert english.subject == "You are invited to Acme & Co on AI Sonar"
    assert chinese.subject == "您受邀加入 AI Sonar 上的 Acme & Co"
    assert f"{MARKUP} invited you to join Acme & Co on AI Sonar, as organization admin." in (
        english.text
    )
    assert f"{MARKUP} 邀请您以组织管理员身份加入" in chinese.text
    for rendered in (english, chinese):
        assert MARKUP not in rendered.html and "&lt;script&gt;" in rendered.html
        assert "Acme &amp; Co" in rendered.html and "Acme & Co" not in rendered.html
        shown = link or "sonar-invite-abc"
        assert shown in rendered.text and shown in rendered.html
        assert "new@example.com" in rendered.text and "new@example.com" in rendered.html
        assert ("POST /api/password-reset/confirm" in rendered.text) is (link is None)
    assert "Nov 30, 2026" in english.text and "2026年11月30日" in chinese.text
    assert english.text != chinese.text
