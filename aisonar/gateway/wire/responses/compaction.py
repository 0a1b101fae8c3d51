"""Codex's remote compaction on providers other than OpenAI.

Codex (0.171, its built-in OpenAI provider, `remote_compaction_v2`) compacts a long
conversation by sending it as an ordinary Responses request whose last input item is
`{"type": "compaction_trigger"}`, and takes the answer only if it holds exactly one
`compaction` output item (`{"type": "compaction", "encrypted_content": ...}`): anything else
fails the turn, with no fallback to its own summary. OpenAI answers with its encrypted
state; Codex then keeps the conversation's user messages and that item, and sends the item
back in every later request.

Translated, the trigger is a request for a summary (`COMPACTION_PROMPT`, no tool called),
and the model's summary comes back as the one compaction item, its `encrypted_content` the
summary itself, base64-encoded behind `OWN_PREFIX` (the gateway stores no content, so the
item carries it). A later request's compaction item of that kind is the summary again, as a
user message; one of OpenAI's (a conversation moved from an OpenAI model) is opaque
elsewhere and is dropped and named. A request for an OpenAI model that brings one of the
gateway's items (a conversation moved from another model) has it replaced by the same
message, which OpenAI can read (`summaries_as_messages`).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from aisonar.gateway.wire.hub import JsonObject

# Marks a compaction item this gateway made (OpenAI's are Fernet tokens, `gAAAA...`).
OWN_PREFIX = "aisonar-summary-v1:"
OWN_MARK = OWN_PREFIX.encode()
COMPACTION_PROMPT = (
    "Compact the conversation so far: write a summary from which another model can carry "
    "on the task without the conversation. Say what was asked, the progress made and the "
    "decisions taken, the context, constraints and preferences that matter, what remains to "
    "be done, and the data, paths and references needed to continue. Answer with the "
    "summary only, and call no tools."
)
SUMMARY_INTRODUCTION = "The conversation before this point was compacted into this summary:\n\n"


def compaction_item(summary: str, item_id: str | None = None) -> JsonObject:
    """The output item that carries `summary` as Codex keeps it."""
    sealed = OWN_PREFIX + base64.b64encode(summary.encode()).decode()
    item_id = item_id or "cmp_" + secrets.token_hex(16)
    return {"id": item_id, "type": "compaction", "encrypted_content": sealed}


def summary_of(item: JsonObject) -> str | None:
    """The summary a compaction item of this gateway carries; None for another's (OpenAI's)."""
    content = item.get("encrypted_content")
    if not isinstance(content, str) or not content.startswith(OWN_PREFIX):
        return None
    try:
        return base64.b64decode(content.removeprefix(OWN_PREFIX), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def summary_message(summary: str) -> JsonObject:
    """The user message that stands for a compacted conversation (a hub message and a
    Responses input item alike)."""
    return {"role": "user", "content": SUMMARY_INTRODUCTION + summary}


def summaries_as_messages(items: Any) -> Any:
    """A Responses `input` with the gateway's compaction items as their summaries' messages."""
    if not isinstance(items, list):
        return items
    return [_readable(item) for item in items]


def _readable(item: Any) -> Any:
    if not isinstance(item, dict) or item.get("type") != "compaction":
        return item
    summary = summary_of(item)
    return item if summary is None else summary_message(summary)
