"""An upstream's error names the field at fault and its code: both are read from each
provider's error shape, and shown in each client format's own way."""

from __future__ import annotations

import orjson
import pytest

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.upstream import upstream_error
from aisonar.gateway.wire.anthropic.format import render_anthropic_error
from aisonar.gateway.wire.gemini.format import render_gemini_error
from aisonar.gateway.wire.openai.errors import render_openai_error

SECRET = "sk-live-secret-0123456789"
OPENAI_ERROR = {
    "error": {
        "message": "Invalid 'tools[0].function.name'.",
        "type": "invalid_request_error",
        "param": "tools[0].function.name",
        "code": "invalid_value",
    }
}
GEMINI_ERROR = {
    "error": {
        "code": 400,
        "message": "Invalid function name.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "tools[0].function_declarations[0].name"}],
            }
        ],
    }
}
ANTHROPIC_ERROR = {
    "type": "error",
    "error": {"type": "invalid_request_error", "message": "tools.0.name: too long"},
}


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (OPENAI_ERROR, "tools[0].function.name", "invalid_value"),
        (GEMINI_ERROR, "tools[0].function_declarations[0].name", "INVALID_ARGUMENT"),
        (ANTHROPIC_ERROR, None, None),
        ({"error": {"message": "x", "param": ["odd"], "code": 7}}, None, None),
        ({"error": {"message": "x", "code": f"bad-{SECRET}"}}, None, "bad-[redacted]"),
    ],
)
def test_the_param_and_code_are_read_from_every_providers_shape(
    body: dict[str, object], param: str | None, code: str | None
) -> None:
    error = upstream_error(400, orjson.dumps(body), {}, SECRET)

    assert (error.param, error.code) == (param, code)


def test_clients_of_every_format_see_them() -> None:
    error = upstream_error(400, orjson.dumps(OPENAI_ERROR), {}, SECRET)

    shown = orjson.loads(render_openai_error(error))["error"]
    assert (shown["param"], shown["code"]) == ("tools[0].function.name", "invalid_value")
    shown = orjson.loads(render_anthropic_error(error, "req_1"))["error"]
    assert shown == {
        "type": "invalid_request_error",
        "message": "Invalid 'tools[0].function.name'.",
        "param": "tools[0].function.name",
        "code": "invalid_value",
    }
    shown = orjson.loads(render_gemini_error(error))["error"]
    assert shown["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "invalid_value",
            "domain": "upstream",
        },
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {
                    "field": "tools[0].function.name",
                    "description": "Invalid 'tools[0].function.name'.",
                }
            ],
        },
    ]


def test_the_gateways_own_errors_keep_their_shapes() -> None:
    error = InvalidRequest("No.", param="model")

    assert orjson.loads(render_anthropic_error(error))["error"] == {
        "type": "invalid_request_error",
        "message": "No.",
    }
    assert "details" not in orjson.loads(render_gemini_error(error))["error"]
