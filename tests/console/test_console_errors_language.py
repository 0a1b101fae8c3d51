"""Domain errors in the visitor's language: a Chinese visitor meets real errors through the
console (a wrong password, a too-long key name, a page that does not exist, a key that is
not theirs, an address the service refuses) and reads them in Chinese with their
values filled in; an English visitor reads the very text the API answers in its JSON,
which stays English. Every translation keeps its message's placeholders."""

# The Chinese texts expected here use Chinese punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import html
import string
from typing import Any

import aiohttp
from babel.messages.pofile import read_po
from playwright.async_api import Browser
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.accounts.forgotten_password import TooManyPasswordResets
from aisonar.accounts.sessions import CSRF_HEADER
from aisonar.api.schemas import KeyCreate
from aisonar.console.render import error_text
from aisonar.console.validation import invalid
from aisonar.errors import InvalidInput, NotFound, Phrase
from aisonar.i18n import N_, Language, catalog_path, translations
from aisonar.limits.services import parse_spend
from aisonar.privacy.cookies import LANGUAGE_COOKIE
from aisonar.store.tables import api_keys, users
from aisonar.testing.gateway_server import RunningGateway
from aisonar.web.errors import API_REAUTHENTICATION, ReauthenticationRequired
from aisonar.web.inputs import ProfileChange
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
    sign_in_over_http,
)
from tests.support import Backend

ZH = Language.SIMPLIFIED_CHINESE
EN = Language.ENGLISH
KEYS = "/console/keys"
# Markup without spaces: the address field splits at spaces.
ADDRESS_MARKUP = "<img/src=x/onerror=alert(3)>"


def jar(language: Language | None = None) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    if language is not None:
        http.cookie_jar.update_cookies({LANGUAGE_COOKIE: language.value})
    return http


def shown(body: str) -> str:
    """The page's text as a person reads it (entities decoded)."""
    return html.unescape(body)


async def person_in(backend: Backend, language: Language, name: str = "Ada Console") -> Any:
    person = await console_person(backend.engine, name=name)
    async with backend.engine.begin() as conn:
        await conn.execute(
            users.update().where(users.c.id == person.user_id).values(language=language.value)
        )
    return person


async def signed_in(url: str, email: str) -> aiohttp.ClientSession:
    http = jar()
    await sign_in_over_http(http, url, email)
    return http


async def api_message(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> str:
    async with http.request(method, url, **kw) as answer:
        assert answer.content_type == "application/json", await answer.text()
        body = await answer.json()
        return str(body["error"]["message"])


async def post_key_form(
    http: aiohttp.ClientSession, url: str, fields: dict[str, str]
) -> tuple[int, str]:
    async with http.get(url + KEYS) as listing:
        token = csrf_token_in(await listing.text())
    blank = {"name": "", "models": "", "expires": "", "scope": "all", "allowed_ips": ""}
    form = {"csrf_token": token, **blank, **fields}
    async with http.post(url + KEYS, data=form, allow_redirects=False) as answer:
        return answer.status, shown(await answer.text())


async def key_count(backend: Backend, user_id: str) -> int:
    async with backend.engine.connect() as conn:
        found = await conn.execute(select(api_keys.c.id).where(api_keys.c.user_id == user_id))
        return len(found.all())


# Over HTTP ------------------------------------------------------------------------------


async def test_a_wrong_password_at_sign_in_reads_in_the_visitors_language(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    wrong = {"email": person.email, "password": "not-" + PASSWORD, "next": "/console"}
    for language, expected, other in (
        (ZH, "邮箱或密码不正确。", "The email or password is wrong."),
        (EN, "The email or password is wrong.", "邮箱或密码不正确。"),
    ):
        async with jar(language) as http:
            async with http.post(gateway.url + "/console/sign-in", data=wrong) as answer:
                body = shown(await answer.text())
                assert answer.status == 401
                assert answer.headers["Content-Language"] == language.value
                assert expected in body and other not in body
            # The API still answers in English, whatever the cookie says.
            message = await api_message(
                http,
                "POST",
                gateway.url + "/api/session",
                json={"email": person.email, "password": "not-" + PASSWORD},
            )
            assert message == "The email or password is wrong."


async def test_a_too_long_key_name_is_refused_in_chinese_with_the_limit_filled_in(
    gateway: RunningGateway, backend: Backend
) -> None:
    chinese = await person_in(backend, ZH)
    english = await person_in(backend, EN)
    too_long = {"name": "k" * 201}
    zh_http = await signed_in(gateway.url, chinese.email)
    en_http = await signed_in(gateway.url, english.email)
    try:
        status, body = await post_key_form(zh_http, gateway.url, too_long)
        assert status == 400
        assert "名称：最多 200 个字符" in body
        assert "String should have" not in body
        assert await key_count(backend, chinese.user_id) == 0

        status, body = await post_key_form(en_http, gateway.url, too_long)
        assert status == 400
        # The API's own answer to the same key, word for word.
        async with en_http.get(gateway.url + KEYS) as listing:
            token = csrf_token_in(await listing.text())
        message = await api_message(
            en_http,
            "POST",
            gateway.url + "/api/me/keys",
            json=too_long,
            headers={CSRF_HEADER: token},
        )
        assert message == "name: String should have at most 200 characters"
        assert message in body
        assert await key_count(backend, english.user_id) == 0
    finally:
        await zh_http.close()
        await en_http.close()


async def test_a_domain_error_with_a_value_reads_in_chinese_and_the_api_stays_english(
    gateway: RunningGateway, backend: Backend
) -> None:
    chinese = await person_in(backend, ZH)
    stranger = await console_person(backend.engine, name="Other Tenant")
    async with backend.engine.begin() as conn:
        theirs, _ = await accounts.create_key(conn, stranger.email, name="theirs")
    zh_http = await signed_in(gateway.url, chinese.email)
    try:
        # A key of another organization is refused as if it did not exist, its id shown.
        for key_id in ("key_nobodys", theirs.id):
            async with zh_http.get(f"{gateway.url}{KEYS}/{key_id}/revoke") as answer:
                body = shown(await answer.text())
                assert answer.status == 404
                assert "未找到" in body
                assert f"没有 ID 为 '{key_id}' 的密钥" in body
                assert "no key with id" not in body
            # The API, for the same person, answers the English it always did.
            message = await api_message(zh_http, "GET", f"{gateway.url}/api/keys/{key_id}")
            assert message == f"no key with id '{key_id}'"
        async with zh_http.get(gateway.url + KEYS) as listing:
            token = csrf_token_in(await listing.text())
        async with zh_http.post(
            f"{gateway.url}{KEYS}/{theirs.id}/revoke",
            data={"csrf_token": token},
            allow_redirects=False,
        ) as refused:
            assert refused.status == 404
            assert f"没有 ID 为 '{theirs.id}' 的密钥" in shown(await refused.text())
        async with backend.engine.connect() as conn:
            assert (await accounts.get_key(conn, theirs.id)).revoked_at is None

        # A service's own refusal of a typed value, its value filled in.
        status, body = await post_key_form(zh_http, gateway.url, {"allowed_ips": "nowhere"})
        assert status == 400
        assert "'nowhere' 不是 IP 地址或 CIDR 网段" in body
        assert await key_count(backend, chinese.user_id) == 0
    finally:
        await zh_http.close()


async def test_an_unknown_page_is_a_page_in_the_visitors_language(
    gateway: RunningGateway, backend: Backend
) -> None:
    chinese = await person_in(backend, ZH)
    zh_http = await signed_in(gateway.url, chinese.email)
    try:
        async with zh_http.get(gateway.url + "/console/no-such-page") as answer:
            body = shown(await answer.text())
            assert answer.status == 404 and answer.content_type == "text/html"
            assert "未找到" in body and "/console/no-such-page 处没有页面。" in body
            assert "Content-Security-Policy" in answer.headers
    finally:
        await zh_http.close()
    async with jar(EN) as http:
        async with http.get(gateway.url + "/console/no/such/page") as answer:
            body = shown(await answer.text())
            assert answer.status == 404
            assert "There is no page at /console/no/such/page." in body
        # What people type into the address stays text.
        async with http.get(gateway.url + "/console/" + MARKUP) as answer:
            raw = await answer.text()
            assert answer.status == 404
            assert "<img src=x" not in raw and "<script>alert" not in raw
            assert "&lt;img src=x onerror=alert(2)&gt;" in raw
        # The API's unknown addresses keep their JSON answer.
        async with http.get(gateway.url + "/api/no-such-thing") as answer:
            assert answer.status == 404 and answer.content_type == "application/json"
            assert (await answer.json())["error"]["type"] == "not_found_error"


# In Chromium ----------------------------------------------------------------------------


async def test_a_chinese_visitor_reads_refusals_in_chinese_in_the_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    chinese = await person_in(backend, ZH, name=MARKUP)
    async with browsing_as(browser, gateway.url, chinese.email) as seen:
        page = seen.page
        await page.goto(gateway.url + KEYS)
        await page.fill("#key-name", MARKUP)
        await page.fill("#key-allowed-ips", ADDRESS_MARKUP)
        await page.click("form[action='/console/keys'] button[type=submit]")
        alert = page.locator("p.error[role=alert]").first
        await alert.wait_for()
        assert await alert.text_content() == f"'{ADDRESS_MARKUP}' 不是 IP 地址或 CIDR 网段"
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "errors_language-key-refused")

        await page.goto(gateway.url + "/console/keys/key_nobodys/revoke")
        assert await page.locator("h1").text_content() == "未找到"
        assert await page.locator("p.error").text_content() == "没有 ID 为 'key_nobodys' 的密钥"
        await page.goto(gateway.url + "/console/nowhere")
        assert await page.locator("h1").text_content() == "未找到"
        assert await page.locator("p.error").text_content() == "/console/nowhere 处没有页面。"
        await screenshot(page, "errors_language-not-found")


# The messages themselves ----------------------------------------------------------------


def test_an_error_keeps_its_english_and_reads_in_chinese_with_its_values() -> None:
    gettext = translations(ZH).gettext
    missing = NotFound(N_("no key with id {key_id!r}"), key_id="key_1")
    assert missing.message == str(missing) == "no key with id 'key_1'"
    assert error_text(missing, EN) == missing.message
    assert error_text(missing, ZH) == "没有 ID 为 'key_1' 的密钥"
    # A phrase filling a message is translated with it.
    throttled = TooManyPasswordResets(4.2, N_("password reset requests"))
    assert throttled.message == "Too many password reset requests; try again in 5 s."
    assert error_text(throttled, ZH) == "密码重置请求过多；请在 5 秒后重试。"
    # A nested error is translated too: a spend limit refused for its amount.
    try:
        parse_spend("12.3456789", param="daily_spend")
    except InvalidInput as error:
        assert error.message == "daily_spend: '12.3456789' has more than six decimal places"
        assert error_text(error, ZH) == "daily_spend：'12.3456789' 的小数位超过六位"
    else:
        raise AssertionError("a seventh decimal place was accepted")
    # A translation that does not fit its values falls back to the English.
    broken = missing.translated(lambda template: "没有 {nothing}")
    assert broken == missing.message
    # A template without values is taken as it is, braces and all.
    assert InvalidInput(N_("a console form is UTF-8")).translated(gettext) == (
        "控制台表单应为 UTF-8 编码"
    )
    assert InvalidInput("{not a field}").message == "{not a field}"
    assert Phrase("user").translated(gettext) == "用户"


def test_the_console_asks_for_the_password_in_fewer_words_than_the_api() -> None:
    assert ReauthenticationRequired().message == API_REAUTHENTICATION
    assert API_REAUTHENTICATION.startswith("Confirm your password first: send it to POST")
    console = ReauthenticationRequired(N_("Confirm your password first."))
    assert console.status == 403 and console.code == "reauthentication_required"
    assert error_text(console, EN) == "Confirm your password first."
    assert error_text(console, ZH) == "请先确认您的密码。"


class _Form(BaseModel):
    name: str = Field(max_length=3)
    count: int = Field(ge=1, le=9)
    share: float = 0.5
    kind: str = Field(default="a", pattern="^[ab]$")


def _first_error(**given: Any) -> ValidationError:
    try:
        _Form(**given)
    except ValidationError as error:
        return error
    raise AssertionError(f"{given} passed")


def test_form_validation_reads_as_the_api_in_english_and_translated_with_labels() -> None:
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"count": 1}, "name: Field required", "名称：此项必填"),
        ({"name": "long", "count": 1}, "name: String should have at most 3 characters", None),
        ({"name": "ab", "count": 0}, "count: Input should be greater than or equal to 1", None),
        ({"name": "ab", "count": 10}, "count: Input should be less than or equal to 9", None),
        (
            {"name": "ab", "count": "x"},
            "count: Input should be a valid integer, unable to parse string as an integer",
            "count：应为有效的整数，无法将文本解析为整数",
        ),
        (
            {"name": "ab", "count": 1, "share": "x"},
            "share: Input should be a valid number, unable to parse string as a number",
            None,
        ),
        (
            {"name": "ab", "count": 1, "kind": "c"},
            "kind: String should match pattern '^[ab]$'",
            "条件：应符合格式 '^[ab]$'",
        ),
    ]
    for given, english, chinese in cases:
        error = invalid(_first_error(**given))
        assert error.message == english
        translated = error_text(error, ZH)
        assert translated != english and "should" not in translated
        if chinese is not None:
            assert translated == chinese
    # A form's own label for one of its fields.
    labelled = invalid(_first_error(count=1), {"name": N_("Subject")})
    assert error_text(labelled, ZH) == "主题：此项必填"
    assert error_text(labelled, EN) == "name: Field required"
    # A validator's own reason is translated with its field.
    try:
        ProfileChange(name=None)
    except ValidationError as error:
        refused = invalid(error)
    assert refused.message.startswith("name: Value error, may not be null")
    assert error_text(refused, ZH) == "名称：不能为 null；如要保持不变，请省略此字段"
    # The API's key rules, in the console's words.
    try:
        KeyCreate(name="k" * 201)
    except ValidationError as error:
        too_long = invalid(error)
    assert too_long.message == "name: String should have at most 200 characters"
    assert error_text(too_long, ZH) == "名称：最多 200 个字符"


def test_every_translated_message_keeps_its_placeholders() -> None:
    with catalog_path(ZH).open("rb") as po:
        catalog = read_po(po)

    def fields(text: str) -> set[tuple[str, str | None]]:
        return {
            (name, conversion)
            for _, name, _, conversion in string.Formatter().parse(text)
            if name is not None
        }

    checked = 0
    for message in catalog:
        if not isinstance(message.id, str) or "{" not in message.id or not message.string:
            continue
        assert isinstance(message.string, str)
        try:
            wanted = fields(message.id)
        except ValueError:
            continue
        # English grammar (plurals, "List") need not appear in the translation.
        needed = {field for field in wanted if field[0] not in ("plural", "field_type")}
        assert needed <= fields(message.string) <= wanted, message.id
        checked += 1
    assert checked > 50
