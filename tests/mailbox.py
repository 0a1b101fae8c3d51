"""A real SMTP server (aiosmtpd, in a thread of its own) that keeps what it receives, and
can refuse a recipient for good (550) or for a while (451)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from aisonar.testing.gateway_server import free_port

_WAIT_S = 30.0


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self._box = box

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._box.lock:
            if address in self._box.refused:
                return "550 5.1.1 no such mailbox"
            if self._box.busy[address] > 0:
                self._box.busy[address] -= 1
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._box.lock:
            for address in envelope.rcpt_tos:
                self._box.received.append((address, message))
        return "250 Message accepted"


class Mailbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, EmailMessage]] = []
        self.refused: set[str] = set()
        # address -> how many more times it is answered 451
        self.busy: Counter[str] = Counter()
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for to, message in self.received if to == address]

    async def wait_for(self, address: str, count: int = 1) -> list[EmailMessage]:
        """The first `count` messages to the address, waiting for them to arrive."""
        deadline = asyncio.get_running_loop().time() + _WAIT_S
        while len(found := self.messages_to(address)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(found)} of {count} messages reached {address}")
            await asyncio.sleep(0.02)
        return found[:count]

    async def wait_for_subject(self, address: str, subject: str, text: str = "") -> EmailMessage:
        """The first message to the address with this subject (and text in its body):
        messages sent in one round arrive in any order."""
        deadline = asyncio.get_running_loop().time() + _WAIT_S
        while True:
            for message in self.messages_to(address):
                if message["Subject"] == subject and text in bodies(message)[0]:
                    return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {subject!r} message reached {address}")
            await asyncio.sleep(0.02)


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
