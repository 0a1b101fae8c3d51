"""The gateway serves HTTP only. A WebSocket upgrade (the Codex CLI tries the Responses
API's WebSocket mode first) is answered at once with a plain HTTP refusal in OpenAI's
error format, through the ASGI WebSocket denial response, so the client falls back to
HTTP streaming instead of retrying a handshake that never completes."""

from __future__ import annotations

import orjson

from aisonar.gateway.http import Receive, Scope, Send

_STATUS = 426  # Upgrade Required: the resource is served over HTTP/1.1, not WebSocket
_BODY = orjson.dumps(
    {
        "error": {
            "message": (
                "This gateway does not serve WebSocket connections; send the request "
                'over HTTP (POST, with "stream": true to stream).'
            ),
            "type": "invalid_request_error",
            "param": None,
            "code": "websocket_not_supported",
        }
    }
)


async def refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BODY)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "websocket.http.response.start", "status": _STATUS, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": _BODY})
    else:
        # Servers without the denial extension answer a close before accept with 403.
        await send({"type": "websocket.close", "code": 1008})
