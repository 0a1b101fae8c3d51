"""An address under `/console` that is no page: the console's error page, in the
visitor's language, where the API would answer its JSON 404 (which `/api/` keeps)."""

from __future__ import annotations

import inspect

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException

from aisonar.console.routing import error_page
from aisonar.errors import NotFound
from aisonar.i18n import N_

NO_PAGE = N_("There is no page at {path}.")


def _in_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def answer_unknown_pages(api: FastAPI) -> None:
    """Wraps the API's handler of HTTP errors: a console address that matches no route
    gets a page; everything else keeps the API's answer."""
    api_answer = api.exception_handlers[HTTPException]

    async def answer(request: Request, error: Exception) -> Response:
        if (
            isinstance(error, HTTPException)
            and error.status_code == 404
            and _in_console(request.url.path)
        ):
            return await error_page(request, NotFound(NO_PAGE, path=request.url.path))
        answered = api_answer(request, error)
        return await answered if inspect.isawaitable(answered) else answered

    api.add_exception_handler(HTTPException, answer)
