"""A form field that breaks the API's own rules for it (a pydantic validation error), as a
domain error: in English exactly as the API says it (`{field}: {pydantic's message}`), in
another language translated, the field named by its label on the console's forms."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from aisonar.errors import Gettext, InvalidInput, Phrase
from aisonar.i18n import N_

# The form labels (their msgids in the templates) of the fields the console's forms share.
FIELD_LABELS: Mapping[str, str] = {
    "name": N_("Name"),
    "email": N_("Email"),
    "company": N_("Company"),
    "password": N_("Password"),
    "current_password": N_("Current password"),
    "new_password": N_("New password"),
    "role": N_("Role"),
    "language": N_("Language"),
    "subject": N_("Subject"),
    "threshold": N_("Threshold"),
    "kind": N_("Condition"),
    "model": N_("Model"),
    "status": N_("Status"),
}

# pydantic's messages, by error type, as templates: `plural` is "s" unless the count is 1.
_TEMPLATES: Mapping[str, str] = {
    "missing": N_("{field}: Field required"),
    "string_type": N_("{field}: Input should be a valid string"),
    "string_too_short": N_("{field}: String should have at least {min_length} character{plural}"),
    "string_too_long": N_("{field}: String should have at most {max_length} character{plural}"),
    "string_pattern_mismatch": N_("{field}: String should match pattern '{pattern}'"),
    "too_short": N_(
        "{field}: {field_type} should have at least {min_length} item{plural} after "
        "validation, not {actual_length}"
    ),
    "too_long": N_(
        "{field}: {field_type} should have at most {max_length} item{plural} after "
        "validation, not {actual_length}"
    ),
    "greater_than": N_("{field}: Input should be greater than {gt}"),
    "greater_than_equal": N_("{field}: Input should be greater than or equal to {ge}"),
    "less_than": N_("{field}: Input should be less than {lt}"),
    "less_than_equal": N_("{field}: Input should be less than or equal to {le}"),
    "int_type": N_("{field}: Input should be a valid integer"),
    "int_parsing": N_(
        "{field}: Input should be a valid integer, unable to parse string as an integer"
    ),
    "int_from_float": N_(
        "{field}: Input should be a valid integer, got a number with a fractional part"
    ),
    "float_parsing": N_(
        "{field}: Input should be a valid number, unable to parse string as a number"
    ),
    "decimal_parsing": N_("{field}: Input should be a valid decimal"),
    "bool_parsing": N_("{field}: Input should be a valid boolean, unable to interpret input"),
    "literal_error": N_("{field}: Input should be {expected}"),
    "enum": N_("{field}: Input should be {expected}"),
    "url_parsing": N_("{field}: Input should be a valid URL, {error}"),
    "url_scheme": N_("{field}: URL scheme should be {expected_schemes}"),
    "date_parsing": N_("{field}: Input should be a valid date in the format YYYY-MM-DD, {error}"),
    "extra_forbidden": N_("{field}: Extra inputs are not permitted"),
    # A validator's own reason (marked with N_ where it is raised) is translated too.
    "value_error": N_("{field}: Value error, {reason}"),
}
_ANY = N_("{field}: {detail}")


class FieldName(str):
    """A field's key, as the API names it; translated, the label of its form field."""

    __slots__ = ("label",)
    label: str | None

    def __new__(cls, key: str, label: str | None = None) -> FieldName:
        named = super().__new__(cls, key)
        named.label = label
        return named

    def translated(self, gettext: Gettext) -> str:
        return gettext(self.label) if self.label else str(self)


def _shown(value: Any) -> object:
    return value if isinstance(value, str | int | float | Decimal) else str(value)


def validation_error(
    where: str, detail: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> InvalidInput:
    """One of pydantic's errors (`type`, `msg`, `ctx`) about the field at `where`."""
    key = where.split(".", 1)[0]
    label = {**FIELD_LABELS, **(labels or {})}.get(key) if key == where else None
    values: dict[str, object] = {"field": FieldName(where, label)}
    context = detail.get("ctx") or {}
    values.update({name: _shown(value) for name, value in context.items()})
    count = context.get("min_length", context.get("max_length"))
    values["plural"] = "" if count == 1 else "s"
    if detail["type"] == "value_error":
        values["reason"] = Phrase(str(context.get("error", "")))
    english = f"{where}: {detail['msg']}"
    template = _TEMPLATES.get(detail["type"])
    if template is not None:
        try:
            error = InvalidInput(template, param=where or None, **values)
        except (KeyError, IndexError, ValueError):
            error = None
        if error is not None and error.message == english:
            return error
    return InvalidInput(
        _ANY, param=where or None, field=FieldName(where, label), detail=str(detail["msg"])
    )


def invalid(error: ValidationError, labels: Mapping[str, str] | None = None) -> InvalidInput:
    """A form field that breaks the API's own rules for it, as the API would say it; `labels`
    name a form's own fields (key to marked label) beside the shared `FIELD_LABELS`."""
    first = error.errors()[0]
    return validation_error(".".join(str(part) for part in first["loc"]), first, labels)
