"""A fake OpenAI upstream: the provider the test suite, `aisonar demo` and benchmarks talk to.

These machines reach no real provider, so this aiohttp app speaks OpenAI's API closely enough
for the official `openai` SDK: chat completions (plain, streamed, tool calls, JSON mode, `n`,
`max_tokens`), embeddings and the model list, with configurable latency and stream pacing.
It also speaks OpenAI's Responses API (`POST /v1/responses`, see `fake_responses`) and
Anthropic's Messages API (`POST /v1/messages` and `/v1/messages/count_tokens`, see
`fake_anthropic`), each closely enough for its official SDK.

Faults are served on demand, either queued for the next requests to `/v1*` through
`POST /_fake/faults {"fault": NAME, "count": N}` (or `FakeUpstream.fail_next`), or in-band by
putting `[[fault:NAME]]` anywhere in the request body. NAME is one of `FAULTS`: "400", "413",
"429", "500", "503", "timeout" (never answer), "cut" (drop the connection mid-answer) or
"no_usage".
`POST /_fake/usage {"usage": {...}}` (or `FakeUpstream.report_usage_next`) makes the next
answer report exactly that usage block, in the answering endpoint's own format.
Errors come back in the format of the endpoint that was called.
The Gemini API (`/v1beta/models/{model}:generateContent` and friends) lives in `fake_gemini`,
Google Vertex AI (Gemini and Claude under `/v1/projects/...`) in `fake_vertex`, and the Google
OAuth token endpoint its service accounts' key files point at (`POST /token`) in
`fake_google_oauth`.
Azure OpenAI (`/openai/...`) lives in `fake_azure`, its Microsoft Entra ID token endpoint in
`fake_entra`; Amazon Bedrock's Converse API (`/model/{modelId}/converse`) and AWS STS
(`POST /`) in `fake_bedrock` and `fake_aws`; the OpenAI-compatible hosts of the OpenAI
provider's presets (`/hosts/{preset}/v1`), each in its own dialect, in `fake_hosts`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web

from aisonar.gateway.wire.gemini.format import gemini_status
from aisonar.testing import fake_anthropic, fake_gemini, fake_responses
from aisonar.testing.fake_aws import AWS_STATE, AwsState
from aisonar.testing.fake_azure import add_azure_routes
from aisonar.testing.fake_bedrock import add_bedrock_routes
from aisonar.testing.fake_core import (
    CUT_AFTER_ROUNDS,
    STATE,
    Admission,
    Cut,
    FakeState,
    admit,
    close_connection,
    json_response,
    pace,
    read_json,
    start_event_stream,
)
from aisonar.testing.fake_core import FakeUpstreamConfig as FakeUpstreamConfig  # re-exported
from aisonar.testing.fake_embeddings import build_embeddings
from aisonar.testing.fake_entra import add_entra_routes
from aisonar.testing.fake_gemini import add_gemini_routes
from aisonar.testing.fake_google_oauth import (
    GOOGLE,
    add_google_oauth_routes,
    new_key_file,
    public_key_of,
)
from aisonar.testing.fake_hosts import add_host_routes
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    StreamPlan,
    completion_body,
    invalid_param,
    json_object,
    optional_int,
    parse_chat,
    plan_completion,
    plan_stream,
    random_id,
)
from aisonar.testing.fake_vertex import add_vertex_routes, is_anthropic_path
from aisonar.usage.tokens import load_token_tables

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_SHUTDOWN_TIMEOUT_S = 1.0
_MAX_BODY_BYTES = 64 * 1024 * 1024
_MODEL_CREATED = 1_700_000_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- /v1 endpoints ---------------------------------------------------------------------------


async def _send(response: web.StreamResponse, chunks: list[JsonObject]) -> None:
    for chunk in chunks:
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")


async def _stream(
    request: web.Request, config: FakeUpstreamConfig, plan: StreamPlan, *, cut: bool
) -> web.StreamResponse:
    response = await start_event_stream(request, config)
    await _send(response, plan.head)
    try:
        for step, chunks in enumerate(plan.rounds):
            if cut and step == CUT_AFTER_ROUNDS:
                break
            if step:
                await pace(config)
            await _send(response, chunks)
    except (asyncio.CancelledError, ConnectionResetError):
        request.app[STATE].streams_abandoned_at.append(time.monotonic())
        raise
    if cut:
        close_connection(request)
        return response
    await _send(response, plan.tail)
    await response.write(b"data: [DONE]\n\n")
    return response


async def _stream_planned(
    request: web.Request, admission: Admission, plan: StreamPlan
) -> web.StreamResponse:
    return await _stream(request, admission.config, plan, cut=admission.fault == "cut")


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    admission = await admit(request)
    chat = parse_chat(admission.body)
    completion = plan_completion(chat, report_usage=admission.fault != "no_usage")
    if admission.usage is not None:
        completion = dataclasses.replace(completion, usage=admission.usage)
    if chat.stream:
        plan = plan_stream(completion, include_usage=chat.include_usage)
        return await _stream(request, admission.config, plan, cut=admission.fault == "cut")
    await asyncio.sleep(admission.config.latency_s)
    return json_response(completion_body(completion))


async def _embeddings(request: web.Request) -> web.Response:
    admission = await admit(request)
    reply = build_embeddings(admission.body)
    if admission.fault == "no_usage":
        del reply["usage"]
    await asyncio.sleep(admission.config.latency_s)
    return json_response(reply)


async def _models(request: web.Request) -> web.Response:
    """The model list: OpenAI's, or Anthropic's or Gemini's by the key header they send."""
    if "x-api-key" in request.headers:
        return await fake_anthropic.list_models(request)
    if "x-goog-api-key" in request.headers or "key" in request.query:
        return await fake_gemini.list_models(request)
    admission = await admit(request)
    data = [
        {"id": model, "object": "model", "created": _MODEL_CREATED, "owned_by": "openai"}
        for model in admission.config.models
    ]
    return json_response({"object": "list", "data": data})


# --- /_fake control endpoints ----------------------------------------------------------------


async def _queue_fault(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = json_object(await read_json(request))
    state.queue_fault(body.get("fault"), optional_int(body, "count") or 1)
    return json_response({"queued": list(state.faults)})


async def _queue_usage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = json_object(await read_json(request))
    state.usage_blocks.append(json_object(body.get("usage")))
    return json_response({"queued": list(state.usage_blocks)})


async def _clear_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.faults.clear()
    state.usage_blocks.clear()
    return json_response({"queued": []})


async def _received(request: web.Request) -> web.Response:
    return json_response(list(request.app[STATE].received))


def _config_value(name: str, value: Any) -> Any:
    if name == "api_key" and (value is None or isinstance(value, str)):
        return value
    if name == "models" and isinstance(value, list) and all(isinstance(m, str) for m in value):
        return tuple(value)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if name not in ("api_key", "models") and is_number and value >= 0:
        return float(value)
    raise invalid_param(name, "a value of the config field's type")


async def _update_config(request: web.Request) -> web.Response:
    config = request.app[STATE].config
    names = {config_field.name for config_field in dataclasses.fields(config)}
    updates = json_object(await read_json(request))
    unknown = sorted(set(updates) - names)
    if unknown:
        raise OpenAIError(400, f"Unknown config fields: {', '.join(unknown)}.", param=unknown[0])
    values = {name: _config_value(name, value) for name, value in updates.items()}
    for name, value in values.items():
        setattr(config, name, value)
    return json_response(dataclasses.asdict(config))


# --- the application -------------------------------------------------------------------------


def _error_body(path: str, error: OpenAIError) -> JsonObject:
    """The error in the shape of the API that `path` belongs to."""
    message = error.body["error"]["message"]
    if path.startswith("/v1/messages") or is_anthropic_path(path):
        kind = _ANTHROPIC_ERROR_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if ":" in path.rsplit("/", 1)[-1]:
        status = gemini_status(error.status)
        return {"error": {"code": error.status, "message": message, "status": status}}
    return error.body


@web.middleware
async def _provider_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render errors in the called API's format; drop the connection for a "cut" fault."""
    try:
        return await handler(request)
    except OpenAIError as error:
        return json_response(_error_body(request.path, error), error.status, error.headers)
    except web.HTTPException as error:
        message = f"Invalid URL ({request.method} {request.path})."
        if error.status not in (404, 405):
            message = error.reason
        body = _error_body(request.path, OpenAIError(error.status, message))
        return json_response(body, error.status)
    except Cut:
        close_connection(request)
        return web.Response()


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/v1/"):
        response.headers["x-request-id"] = random_id("req_", 32)


def build_app(config: FakeUpstreamConfig) -> web.Application:
    app = web.Application(middlewares=[_provider_errors], client_max_size=_MAX_BODY_BYTES)
    app[STATE] = FakeState(config)
    app.on_response_prepare.append(_add_request_id)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/v1/messages", fake_anthropic.create_message)
    app.router.add_post("/v1/messages/count_tokens", fake_anthropic.count_message_tokens)
    app.router.add_post("/v1/responses", fake_responses.create_response)
    add_gemini_routes(app.router)
    add_vertex_routes(app.router)
    add_google_oauth_routes(app)
    add_bedrock_routes(app)
    add_azure_routes(app.router, embeddings=_embeddings, responses=fake_responses.create_response)
    add_entra_routes(app)
    add_host_routes(app.router, _stream_planned)
    app.router.add_post("/_fake/faults", _queue_fault)
    app.router.add_post("/_fake/usage", _queue_usage)
    app.router.add_delete("/_fake/faults", _clear_faults)
    app.router.add_get("/_fake/received", _received)
    app.router.add_post("/_fake/config", _update_config)
    return app


class FakeUpstream:
    """Runs the fake inside the current event loop; `port=0` picks a free port.

    Use as `async with FakeUpstream() as fake:` and point clients at `fake.url`.
    """

    def __init__(
        self, config: FakeUpstreamConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else FakeUpstreamConfig()
        self.host = host
        self.port = port
        self._app = build_app(self.config)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The OpenAI base URL, ending in `/v1`."""
        return f"{self.root_url}/v1"

    def host_url(self, preset: str) -> str:
        """The base URL of an OpenAI-compatible host (`deepseek`, `ollama`, ...) in its
        own dialect (`fake_hosts`)."""
        return f"{self.root_url}/hosts/{preset}/v1"

    @property
    def root_url(self) -> str:
        """The Anthropic and Gemini base URL: the server's root."""
        return f"http://{self.host}:{self.port}"

    @property
    def received(self) -> list[Any]:
        """Parsed JSON bodies of the latest requests to `/v1/*`, newest last."""
        return list(self._app[STATE].received)

    @property
    def received_count(self) -> int:
        """How many requests with a body it has received, however many `received` keeps."""
        return self._app[STATE].received_count

    @property
    def received_headers(self) -> list[dict[str, str]]:
        """The headers of the requests in `received`, in the same order."""
        return list(self._app[STATE].received_headers)

    @property
    def streams_abandoned_at(self) -> list[float]:
        """When (`time.monotonic()`) streams were left by their client mid-way."""
        return list(self._app[STATE].streams_abandoned_at)

    def fail_next(self, fault: str, count: int = 1) -> None:
        """Serve `fault` to the next `count` requests to `/v1/*`."""
        self._app[STATE].queue_fault(fault, count)

    def report_usage_next(self, block: JsonObject) -> None:
        """Make the next answer report exactly `block` as its usage."""
        self._app[STATE].usage_blocks.append(block)

    def google_service_account(self, project: str = "fake-project") -> JsonObject:
        """The key file of a new service account whose tokens the fake mints at its root's
        `/token` and accepts on Vertex AI's paths."""
        info = new_key_file(self.root_url + "/token", project)
        self.trust_service_account(info)
        return info

    def trust_service_account(self, info: JsonObject) -> None:
        """Accept the grants of a service account made elsewhere, by its key file."""
        self._app[GOOGLE].trust(str(info["client_email"]), public_key_of(info))

    def expire_google_tokens(self) -> None:
        """End every access token issued so far, as if each had run out."""
        self._app[GOOGLE].expire_all()

    @property
    def google_tokens_minted(self) -> int:
        """How many access tokens the Google OAuth endpoint has issued."""
        return self._app[GOOGLE].minted

    @property
    def aws(self) -> AwsState:
        """What the fake's AWS side saw: the roles assumed through its STS, and the
        temporary credentials it handed out."""
        return self._app[AWS_STATE]

    def clear_faults(self) -> None:
        """Forget queued faults and usage blocks."""
        self._app[STATE].faults.clear()
        self._app[STATE].usage_blocks.clear()

    async def start(self) -> None:
        # The fake counts tokens on its event loop, which it may share with a gateway.
        await asyncio.to_thread(load_token_tables)
        runner = web.AppRunner(
            self._app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def run(host: str, port: int, config: FakeUpstreamConfig) -> None:
    """Serve the fake until interrupted: the `aisonar fake-upstream` command."""

    def announce(_banner: str) -> None:
        print(f"fake upstream listening on http://{host}:{port}/v1", flush=True)

    web.run_app(
        build_app(config),
        host=host,
        port=port,
        print=announce,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
    )
