"""What every console router shares: its routes answer errors with a page, not JSON (a
domain error's status and message; a page for signed-in people redirects a visitor to
sign in and back), and stay out of the API's OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from aisonar.accounts.services import COOKIE_NAME
from aisonar.console.render import error_text, page
from aisonar.console.validation import validation_error
from aisonar.console.visit import SignInFirst, visit
from aisonar.errors import AISonarError
from aisonar.web.deps import services, session

SIGN_IN_PATH = "/console/sign-in"
HOME_PATH = "/console"


def see_other(path: str) -> RedirectResponse:
    """After a form: the browser loads `path` with GET."""
    return RedirectResponse(path, status_code=303)


def safe_next(path: str) -> str:
    """Where to go after a form: a console page of this site, else the dashboard."""
    if path.startswith("/console") and not path.startswith("//") and "\\" not in path:
        return path
    return HOME_PATH


async def error_page(request: Request, error: AISonarError) -> Response:
    db = services(request).engine
    found = await visit(request, db, await session(db, request.cookies.get(COOKIE_NAME)))
    context = {"error": error, "message": error_text(error, found.language)}
    response = page(found, "error.html", context, status=error.status)
    if error.retry_after is not None:
        response.headers["retry-after"] = error.retry_after
    return response


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_as_page(request: Request) -> Response:
            try:
                return await handle(request)
            except SignInFirst:
                wanted = request.url.path
                if request.url.query:
                    wanted += "?" + request.url.query
                return see_other(f"{SIGN_IN_PATH}?next={quote(wanted, safe='')}")
            except AISonarError as error:
                return await error_page(request, error)
            except RequestValidationError as invalid:
                first = invalid.errors()[0]
                where = ".".join(str(part) for part in first["loc"][1:])
                return await error_page(request, validation_error(where, first))

        return handle_as_page


def console_router() -> APIRouter:
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)
