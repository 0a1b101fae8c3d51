"""Passwords: a minimum strength (length, then zxcvbn's estimate of how guessable it is,
counting the user's own email and name against it), hashed with argon2id."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from zxcvbn import zxcvbn

from aisonar.errors import InvalidInput
from aisonar.i18n import N_

MIN_PASSWORD_LENGTH = 10
# zxcvbn's scale of 0 to 4; 3 resists an offline attack on a slow hash.
MIN_PASSWORD_SCORE = 3
# Longer is refused before zxcvbn, whose time grows with length.
MAX_PASSWORD_LENGTH = 256
_hasher = PasswordHasher()


def check_strength(password: str, *, user_inputs: Sequence[str] = ()) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("password must be at least {min_password_length} characters"),
            param="password",
            min_password_length=MIN_PASSWORD_LENGTH,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("password must be at most {max_password_length} characters"),
            param="password",
            max_password_length=MAX_PASSWORD_LENGTH,
        )
    verdict = zxcvbn(password, user_inputs=[text for text in user_inputs if text])
    if verdict["score"] < MIN_PASSWORD_SCORE:
        hint = verdict["feedback"]["warning"] or "it is too easy to guess"
        raise InvalidInput(N_("password is too weak: {hint}"), param="password", hint=hint)


def hash_password(password: str, *, user_inputs: Sequence[str] = ()) -> str:
    check_strength(password, user_inputs=user_inputs)
    return _hasher.hash(password)


@cache
def _stand_in_hash() -> str:
    return _hasher.hash("a password no account has")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; with no hash (an unknown email, or a user without a
    password) a stand-in is checked anyway, so the answer takes as long either way."""
    try:
        matched = _hasher.verify(password_hash or _stand_in_hash(), password)
    except (VerifyMismatchError, InvalidHashError):
        return False
    return matched and password_hash is not None
