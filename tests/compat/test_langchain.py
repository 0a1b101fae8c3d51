"""LangChain's chat models for OpenAI, Anthropic and Gemini, each pointed at the gateway
and calling every provider's model in its own wire format."""

from __future__ import annotations

from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_google_genai import ChatGoogleGenerativeAI, GoogleGenerativeAIEmbeddings
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import SecretStr

from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import COLUMNS, compat
from tests.compat.support import (
    ECHO,
    PROMPT,
    TOOL_ARGUMENTS,
    Echo,
    assert_echoed,
    assert_fake_embedding,
    echo,
    openai_base,
)
from tests.support import Tenant

OPENAI = "langchain-openai"
ANTHROPIC = "langchain-anthropic"
GOOGLE = "langchain-google-genai"
CLIENTS = (OPENAI, ANTHROPIC, GOOGLE)


def chat_model(client: str, gateway: RunningGateway, tenant: Tenant, model: str) -> BaseChatModel:
    if client == OPENAI:
        return ChatOpenAI(
            model=model, base_url=openai_base(gateway), api_key=tenant.secret, max_retries=0
        )
    if client == ANTHROPIC:
        return ChatAnthropic(
            model=model, base_url=gateway.url, api_key=tenant.secret, max_retries=0
        )
    return ChatGoogleGenerativeAI(
        model=model, base_url=gateway.url, google_api_key=tenant.secret, max_retries=0
    )


def text_of(message: Any) -> str:
    return str(message.text)


@compat("text", *CLIENTS, providers=COLUMNS)
async def test_text(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    answer = await chat_model(client, gateway, tenant, model).ainvoke(PROMPT)
    assert text_of(answer) == ECHO


@compat("stream", *CLIENTS, providers=COLUMNS)
async def test_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    chunks = [c async for c in chat_model(client, gateway, tenant, model).astream(PROMPT)]
    assert len(chunks) > 1
    assert "".join(text_of(chunk) for chunk in chunks) == ECHO


@compat("tools", *CLIENTS, providers=COLUMNS)
async def test_tools(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    chat = chat_model(client, gateway, tenant, model).bind_tools([echo])
    answer = await chat.ainvoke(PROMPT)
    assert [(call["name"], call["args"]) for call in answer.tool_calls] == [
        ("echo", TOOL_ARGUMENTS)
    ]


@compat("tools-stream", *CLIENTS)
async def test_tools_stream(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    chat = chat_model(client, gateway, tenant, model).bind_tools([echo])
    whole: AIMessageChunk | None = None
    async for chunk in chat.astream(PROMPT):
        assert isinstance(chunk, AIMessageChunk)
        whole = chunk if whole is None else whole + chunk
    assert whole is not None
    assert [(call["name"], call["args"]) for call in whole.tool_calls] == [("echo", TOOL_ARGUMENTS)]


@compat(
    "structured",
    *CLIENTS,
)
async def test_structured(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    chat = chat_model(client, gateway, tenant, model).with_structured_output(Echo)
    assert_echoed(Echo.model_validate(await chat.ainvoke(PROMPT)))


@compat(
    "embeddings",
    OPENAI,
    GOOGLE,
    providers=("openai", "gemini"),
)
async def test_embeddings(
    gateway: RunningGateway, tenant: Tenant, client: str, provider: str, model: str
) -> None:
    if client == OPENAI:
        embedder: Any = OpenAIEmbeddings(
            model=model,
            openai_api_base=openai_base(gateway),
            openai_api_key=SecretStr(tenant.secret),
            check_embedding_ctx_length=False,
            max_retries=0,
        )
    else:
        embedder = GoogleGenerativeAIEmbeddings(
            model=model, base_url=gateway.url, google_api_key=tenant.secret
        )
    assert_fake_embedding(await embedder.aembed_query(PROMPT), PROMPT, model)
