"""The base of every domain error. Errors carry data; each wire format renders them once.

A message is an English template marked with `aisonar.i18n.N_`, with `{name}` fields
filled from the keyword values given beside it (`str.format` rules, `{{` for a brace;
a template given no values is taken as it is). `.message` is the English text, which the
API and the usage records show; `translated` reads it in another language, for the
console."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import ClassVar, Protocol, runtime_checkable

Gettext = Callable[[str], str]


@runtime_checkable
class Translatable(Protocol):
    """A value of a message that is itself translated with it (a phrase, a nested error)."""

    def translated(self, gettext: Gettext) -> str: ...


class Phrase(str):
    """An English phrase (marked with `N_` where it is written) filling a message's field:
    the English shows it as it is, another language translates it."""

    __slots__ = ()

    def translated(self, gettext: Gettext) -> str:
        return gettext(str(self))


def fill(template: str, values: Mapping[str, object], gettext: Gettext | None = None) -> str:
    """The template with its fields filled; with `gettext`, the template and the values
    that can be are translated first (a translation that does not fit its values falls
    back to the English)."""
    if gettext is None or not template:
        return template.format_map(values) if values else template
    shown = {
        name: value.translated(gettext) if isinstance(value, Translatable) else value
        for name, value in values.items()
    }
    try:
        return gettext(template).format_map(shown) if values else gettext(template)
    except (KeyError, IndexError, ValueError, AttributeError):
        return fill(template, values)


class AISonarError(Exception):
    """An error a client or operator should see, with its HTTP status and kind."""

    status: int = 500
    kind: str = "server_error"
    code: str | None = None
    retry_after: str | None = None

    def __init__(self, message: str, *, param: str | None = None, **values: object) -> None:
        text = fill(message, values)
        super().__init__(text)
        self.message = text
        self.template = message
        self.values = values
        self.param = param

    def translated(self, gettext: Gettext) -> str:
        """The message in the language of `gettext` (English without a catalog)."""
        return fill(self.template, self.values, gettext)

    @property
    def recorded_message(self) -> str:
        """The message kept in usage records: written by the gateway, never content."""
        return self.message


class InvalidInput(AISonarError):
    status = 400
    kind = "invalid_request_error"


class NotFound(AISonarError):
    status = 404
    kind = "not_found_error"


class Forbidden(AISonarError):
    """The caller may see this but not do it."""

    status = 403
    kind = "permission_error"
    code = "forbidden"


class AlreadyExists(AISonarError):
    status = 409
    kind = "conflict_error"


class Throttled(AISonarError):
    """Refused for asking too often: 429 `rate_limit_error` with a `Retry-After` of whole
    seconds (at least one). Each throttle is a subclass naming its `code` and its
    `refusal`, a message template with a `{seconds}` field (and any other given values)."""

    status = 429
    kind = "rate_limit_error"
    refusal: ClassVar[str]

    def __init__(self, retry_after_s: float, **values: str) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(self.refusal, seconds=seconds, **values)
        self.retry_after = str(seconds)


class NotPositive(InvalidInput):
    """An amount that must reserve something (a hold, an admission's cost) and does not:
    a store refuses it rather than let it add to what others may spend."""

    code = "invalid_amount"


def require_positive(amount: int, what: str) -> None:
    if type(amount) is not int or amount < 1:
        raise NotPositive(f"{what} must be a positive whole number, not {amount!r}.")


def require_not_negative(amount: int, what: str) -> None:
    if type(amount) is not int or amount < 0:
        raise NotPositive(f"{what} must be a whole number of at least zero, not {amount!r}.")
