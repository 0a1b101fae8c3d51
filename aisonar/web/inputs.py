"""The bodies people send about themselves, as the API takes them in JSON and the
console's forms in fields, checked by the same rules so that both refuse alike, in the
same words: signing in and up, a forgotten password, the profile, the password and the
address, a deletion request, support messages."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from aisonar.i18n import N_, Language
from aisonar.support.models import MAX_BODY_CHARS, MAX_SUBJECT_CHARS

_STRICT = ConfigDict(extra="forbid")


class SignIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


class SignUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field(min_length=1, max_length=200)
    company: str = Field(min_length=1, max_length=200)
    # Must be true: nobody under 18 may hold an account.
    age_confirmed: StrictBool
    # The version of the current terms of service (`GET /api/policies/terms`) the person
    # accepted; required while terms are published, left out while none are.
    accepted_terms_version: int | None = None


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)


class ResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The token from the email: a reset's (`sonar-reset-...`) or an invitation's
    # (`sonar-invite-...`).
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=1000)


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    # The current password; an account without one cannot change its address itself.
    password: str | None = Field(default=None, max_length=1000)


class EmailVerify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The code from the email (`sonar-email-...`).
    token: str = Field(min_length=1, max_length=200)


# Trimmed, at most 200 characters (the column's size), no control characters.
_ProfileText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]


def _not_nullable(schema: dict[str, Any]) -> None:
    """Document an optional field as its type alone: it may be left out, not sent as null."""
    [kept] = [option for option in schema.pop("anyOf") if option.get("type") != "null"]
    schema.update(kept)


class ProfileChange(BaseModel):
    """Any of the fields (at least one); each left out stays as it is."""

    model_config = _STRICT
    name: Annotated[_ProfileText, StringConstraints(min_length=1)] | None = Field(
        default=None, json_schema_extra=_not_nullable
    )
    # An empty string clears it.
    company: _ProfileText | None = Field(default=None, json_schema_extra=_not_nullable)
    # Also settable in `/api/me/notification-settings`.
    language: Language | None = Field(default=None, json_schema_extra=_not_nullable)

    @field_validator("name", "company", "language")
    @classmethod
    def _given_fields_are_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError(N_("may not be null; leave the field out to keep it as it is"))
        return value


class DeletionAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The current password; an account without one asks an operator.
    password: str = Field(min_length=1, max_length=1000)
    reason: str | None = Field(default=None, max_length=500)


class SupportOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # One line.
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_CHARS)
    # The first message.
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)


class SupportMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
