"""The console's forms: every POST is read here, refused when it comes from another site
(`Sec-Fetch-Site`, else `Origin`), and, when the visitor is signed in, refused unless it
carries the session's CSRF token in its `csrf_token` field. Forms before sign-in (the
sign-in itself, sign-up, the cookie banner, the language switch) have no session to bind
a token to and rely on the same-origin check alone."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from aisonar.console.visit import Visit
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.web.errors import Forbidden
from aisonar.web.same_origin import refuse_cross_site

CSRF_FIELD = "csrf_token"
_FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024


class FormTooLarge(InvalidInput):
    status = 413


class Form:
    """An URL-encoded form's fields."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def text(self, name: str) -> str:
        """The field's (first) value, stripped; empty when it is missing."""
        values = self._fields.get(name)
        return values[0].strip() if values else ""

    def secret(self, name: str) -> str:
        """The field's (first) value as typed: a password keeps its spaces."""
        values = self._fields.get(name)
        return values[0] if values else ""

    def values(self, name: str) -> list[str]:
        return [value.strip() for value in self._fields.get(name, []) if value.strip()]

    def checked(self, name: str) -> bool:
        return bool(self._fields.get(name))


async def _read(request: Request) -> Form:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM_TYPE:
        raise InvalidInput(N_("a console form is sent as {form_type}"), form_type=_FORM_TYPE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge(
                N_("a console form is at most {max_form_bytes} bytes"),
                max_form_bytes=MAX_FORM_BYTES,
            )
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise InvalidInput(N_("a console form is UTF-8")) from None
    return Form(parse_qs(text, keep_blank_values=True))


async def checked_form(request: Request, visit: Visit) -> Form:
    """The form, once it is known to come from this site and, for a signed-in visitor,
    from their own session's page."""
    await refuse_cross_site(request)
    form = await _read(request)
    if visit.session is not None and not visit.session.csrf_matches(form.text(CSRF_FIELD)):
        raise Forbidden(N_("The form has expired or did not come from this site; try again."))
    return form
