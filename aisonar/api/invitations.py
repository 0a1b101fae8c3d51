"""What the management API answers when it sends an invitation again
(`POST /api/users/{id}/invite`); the inviting itself is `accounts/members.py`'s."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Invitation(BaseModel):
    user_id: str
    # Where the invitation went: the member's address.
    email: str
    # The link (and the token in it) works once, until then.
    expires_at: datetime
