"""What the fakes of Anthropic's Messages API and OpenAI's Responses API share: the one-answer
chat request that `fake_replies.make_reply` answers for them, and named server-sent events
(`event: NAME` then `data: JSON`) streamed with the fake upstream's pacing and "cut" fault."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from aiohttp import web

from aisonar.testing.fake_core import (
    CUT_AFTER_ROUNDS,
    Admission,
    close_connection,
    pace,
    start_event_stream,
)
from aisonar.testing.fake_replies import ChatRequest, JsonObject


def one_answer_request(
    body: JsonObject,
    model: str,
    messages: list[JsonObject],
    *,
    max_tokens: int | None,
    tool_name: str | None,
    json_reply: bool = False,
    schema: JsonObject | None = None,
) -> ChatRequest:
    """A native request as the chat request whose single answer `make_reply` makes;
    `messages` is its conversation in the chat shape."""
    return ChatRequest(
        model=model,
        messages=messages,
        n=1,
        stream=body.get("stream") is True,
        include_usage=False,
        max_tokens=max_tokens,
        json_reply=json_reply,
        tool_name=tool_name,
        schema=schema,
    )


@dataclass(frozen=True)
class NamedEvent:
    """One event, named by its data's `type`. A `piece` carries generated content: pieces are
    paced, and the "cut" fault drops the connection after `CUT_AFTER_ROUNDS` of them."""

    data: JsonObject
    piece: bool = False

    def encode(self) -> bytes:
        name = str(self.data["type"]).encode()
        return b"event: " + name + b"\ndata: " + orjson.dumps(self.data) + b"\n\n"


def _before_cut(events: list[NamedEvent]) -> list[NamedEvent]:
    """What a "cut" answer sends: `CUT_AFTER_ROUNDS` pieces, or all but the end if fewer."""
    pieces = [index for index, event in enumerate(events) if event.piece]
    if len(pieces) > CUT_AFTER_ROUNDS:
        return events[: pieces[CUT_AFTER_ROUNDS]]
    return events[: pieces[-1] + 1] if pieces else events[:1]


async def stream_named_events(
    request: web.Request, admission: Admission, events: list[NamedEvent]
) -> web.StreamResponse:
    cut = admission.fault == "cut"
    response = await start_event_stream(request, admission.config)
    started = False
    for event in _before_cut(events) if cut else events:
        if event.piece and started:
            await pace(admission.config)
        started = started or event.piece
        await response.write(event.encode())
    if cut:
        close_connection(request)
    return response
