"""On a server that sends no email the console promises none: adding a user, a member
without a password, the alert rules and a forgotten password each say so and offer what
works instead (a first password, a password set by an admin), and no page offers an
invitation or a reset link; with email, the same pages offer them."""

from __future__ import annotations

from aisonar.accounts import services as accounts
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.email_changes import fresh_address
from tests.console.forms import fetch, http_session
from tests.console.people import console_person, sign_in_over_http
from tests.console.test_console_org import org_page
from tests.support import Backend

NO_EMAIL = "This server sends no email"


async def pages_of(url: str, backend: Backend) -> dict[str, str]:
    """The pages whose wording depends on email, as an operator and without signing in."""
    person = await console_person(backend.engine, role=Role.OPERATOR)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, person.org_id)
        keys_only = await accounts.create_user(conn, fresh_address(), org.name)
    shown = {}
    async with http_session() as http:
        status, shown["reset"] = await fetch(http, url + "/console/reset-password")
        assert status == 200
        await sign_in_over_http(http, url, person.email)
        for name, path in (
            ("users", "/console/operator/users"),
            ("member", org_page(person, "members", keys_only.id)),
            ("alerts", org_page(person, "alerts")),
        ):
            status, shown[name] = await fetch(http, url + path)
            assert status == 200, name
    return shown


async def test_without_email_no_page_promises_a_mail(backend: Backend) -> None:
    settings = backend.settings.model_copy(update={"smtp_url": ""})
    async with running_gateway(settings) as gateway:
        shown = await pages_of(gateway.url, backend)
    assert NO_EMAIL in shown["reset"] and 'id="reset-form"' not in shown["reset"]
    assert "Mail me a link" not in shown["reset"]
    assert "An invitation mails them" not in shown["users"] and NO_EMAIL in shown["users"]
    assert 'id="new-user-invite"' not in shown["users"]
    member = shown["member"]
    assert 'id="invite-form"' not in member and 'id="no-invitations"' in member
    assert "until a password is set for them below" in member and 'id="password-form"' in member
    assert "their inbox and the organization" in shown["alerts"]
    assert "no rule is told by email" in shown["alerts"]


async def test_with_email_the_pages_offer_mail(gateway: RunningGateway, backend: Backend) -> None:
    shown = await pages_of(gateway.url, backend)
    assert NO_EMAIL not in shown["reset"] and 'id="reset-form"' in shown["reset"]
    assert "An invitation mails them" in shown["users"]
    assert 'id="invite-form"' in shown["member"] and 'id="no-invitations"' not in shown["member"]
    assert "their inbox, email and the organization" in shown["alerts"]
