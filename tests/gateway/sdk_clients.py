"""The three official SDKs behind one small interface, so that a test can ask any of them
the same things: plain text, a stream, a tool call and a streamed tool call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
import openai
from google import genai
from google.genai import types as genai_types

from aisonar.testing.gateway_server import RunningGateway

WEATHER_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
}


@dataclass
class Answer:
    """What a client got, with the usage it was told, normalized (all input, all output)."""

    text: str
    input_tokens: int
    output_tokens: int
    tool_name: str | None = None
    tool_arguments: dict[str, Any] | None = None
    finish: str | None = None


class SdkClient(Protocol):
    endpoint: str

    async def text(self, model: str, prompt: str) -> Answer: ...

    async def stream(self, model: str, prompt: str) -> Answer: ...

    async def tool_call(self, model: str, prompt: str) -> Answer: ...

    async def streamed_tool_call(self, model: str, prompt: str) -> Answer: ...

    async def close(self) -> None: ...


class OpenAIClient:
    endpoint = "/v1/chat/completions"

    def __init__(self, gateway: RunningGateway, secret: str) -> None:
        self.sdk = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)

    _tools: Any = [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMETERS}}
    ]

    async def text(self, model: str, prompt: str) -> Answer:
        reply = await self.sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}]
        )
        assert reply.usage is not None
        return Answer(
            reply.choices[0].message.content or "",
            reply.usage.prompt_tokens,
            reply.usage.completion_tokens,
            finish=reply.choices[0].finish_reason,
        )

    async def stream(self, model: str, prompt: str) -> Answer:
        stream = await self.sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text, finish, usage = "", None, None
        async for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        assert usage is not None
        return Answer(text, usage.prompt_tokens, usage.completion_tokens, finish=finish)

    async def tool_call(self, model: str, prompt: str) -> Answer:
        reply = await self.sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], tools=self._tools
        )
        assert reply.usage is not None
        [call] = reply.choices[0].message.tool_calls or []
        assert call.type == "function"
        return Answer(
            "",
            reply.usage.prompt_tokens,
            reply.usage.completion_tokens,
            call.function.name,
            json.loads(call.function.arguments),
            reply.choices[0].finish_reason,
        )

    async def streamed_tool_call(self, model: str, prompt: str) -> Answer:
        async with self.sdk.chat.completions.stream(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            tools=self._tools,
            stream_options={"include_usage": True},
        ) as stream:
            final = await stream.get_final_completion()
        assert final.usage is not None
        [call] = final.choices[0].message.tool_calls or []
        return Answer(
            "",
            final.usage.prompt_tokens,
            final.usage.completion_tokens,
            call.function.name,
            json.loads(call.function.arguments),
            final.choices[0].finish_reason,
        )

    async def close(self) -> None:
        await self.sdk.close()


def _anthropic_input(usage: anthropic.types.Usage) -> int:
    cached = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    return usage.input_tokens + cached + written


class AnthropicClient:
    endpoint = "/v1/messages"

    def __init__(self, gateway: RunningGateway, secret: str) -> None:
        self.sdk = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=secret, max_retries=0)

    _tools: Any = [{"name": "get_weather", "input_schema": WEATHER_PARAMETERS}]

    def _answer(self, message: anthropic.types.Message) -> Answer:
        text = "".join(block.text for block in message.content if block.type == "text")
        calls = [block for block in message.content if block.type == "tool_use"]
        answer = Answer(
            text,
            _anthropic_input(message.usage),
            message.usage.output_tokens,
            finish=message.stop_reason,
        )
        if calls:
            answer.tool_name, answer.tool_arguments = calls[0].name, dict(calls[0].input)
        return answer

    async def text(self, model: str, prompt: str) -> Answer:
        message = await self.sdk.messages.create(
            model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}]
        )
        return self._answer(message)

    async def stream(self, model: str, prompt: str) -> Answer:
        async with self.sdk.messages.stream(
            model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}]
        ) as stream:
            streamed = "".join([text async for text in stream.text_stream])
            message = await stream.get_final_message()
        answer = self._answer(message)
        assert streamed == answer.text
        return answer

    async def tool_call(self, model: str, prompt: str) -> Answer:
        message = await self.sdk.messages.create(
            model=model,
            max_tokens=256,
            messages=[{"role": "user", "content": prompt}],
            tools=self._tools,
        )
        return self._answer(message)

    async def streamed_tool_call(self, model: str, prompt: str) -> Answer:
        async with self.sdk.messages.stream(
            model=model,
            max_tokens=256,
            messages=[{"role": "user", "content": prompt}],
            tools=self._tools,
        ) as stream:
            message = await stream.get_final_message()
        return self._answer(message)

    async def close(self) -> None:
        await self.sdk.close()


def _gemini_output(usage: genai_types.GenerateContentResponseUsageMetadata) -> int:
    return (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)


class GeminiClient:
    endpoint = "/v1/models/"

    def __init__(self, gateway: RunningGateway, secret: str) -> None:
        self.sdk = genai.Client(
            api_key=secret,
            http_options=genai_types.HttpOptions(
                base_url=gateway.url,
                retry_options=genai_types.HttpRetryOptions(attempts=1),
            ),
        )

    _tools = [
        genai_types.Tool(
            function_declarations=[
                genai_types.FunctionDeclaration(
                    name="get_weather", parameters_json_schema=WEATHER_PARAMETERS
                )
            ]
        )
    ]
    _tool_config = genai_types.GenerateContentConfig(
        tools=_tools,
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
    )

    def _answer(self, response: genai_types.GenerateContentResponse) -> Answer:
        """An answer; stream chunks before the last may come without usage (counted 0)."""
        usage = response.usage_metadata or genai_types.GenerateContentResponseUsageMetadata()
        [candidate] = response.candidates or []
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        calls = [part.function_call for part in parts if part.function_call]
        answer = Answer(
            "".join(part.text or "" for part in parts if not part.thought),
            usage.prompt_token_count or 0,
            _gemini_output(usage),
            finish=candidate.finish_reason.value if candidate.finish_reason else None,
        )
        if calls:
            answer.tool_name, answer.tool_arguments = calls[0].name, dict(calls[0].args or {})
        return answer

    async def text(self, model: str, prompt: str) -> Answer:
        response = await self.sdk.aio.models.generate_content(model=model, contents=prompt)
        return self._answer(response)

    async def _streamed(
        self, model: str, prompt: str, config: genai_types.GenerateContentConfig | None
    ) -> Answer:
        stream = await self.sdk.aio.models.generate_content_stream(
            model=model, contents=prompt, config=config
        )
        chunks = [chunk async for chunk in stream]
        assert chunks[-1].usage_metadata is not None
        last = self._answer(chunks[-1])
        pieces = [self._answer(chunk) for chunk in chunks]
        last.text = "".join(piece.text for piece in pieces)
        called = [piece for piece in pieces if piece.tool_name]
        if called:
            last.tool_name, last.tool_arguments = called[0].tool_name, called[0].tool_arguments
        return last

    async def stream(self, model: str, prompt: str) -> Answer:
        return await self._streamed(model, prompt, None)

    async def tool_call(self, model: str, prompt: str) -> Answer:
        response = await self.sdk.aio.models.generate_content(
            model=model, contents=prompt, config=self._tool_config
        )
        return self._answer(response)

    async def streamed_tool_call(self, model: str, prompt: str) -> Answer:
        return await self._streamed(model, prompt, self._tool_config)

    async def close(self) -> None:
        await self.sdk.aio.aclose()


SDKS: dict[str, type[OpenAIClient | AnthropicClient | GeminiClient]] = {
    "openai": OpenAIClient,
    "anthropic": AnthropicClient,
    "gemini": GeminiClient,
}
