"""What one attempt to deliver a notice came to."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_ERROR = 500


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    # Retrying cannot help (a mailbox the server says does not exist).
    permanent: bool = False

    @classmethod
    def failed(
        cls, error: str, status_code: int | None = None, *, permanent: bool = False
    ) -> Outcome:
        return cls(False, status_code, error[:_MAX_ERROR], permanent)
