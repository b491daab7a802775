"""A real SMTP server on loopback for tests (aiosmtpd): the outside mail server stands in."""

from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass, field
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.stack import free_port


@dataclass
class _Handler:
    messages: list[Message] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of each message
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(message)
            self.accepted_at.append(time.monotonic())
        return "250 Message accepted for delivery"


class SmtpSink:
    """`start()` / `stop()` an SMTP server; `messages` holds what it accepted, parsed."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.handler = _Handler()
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[Message]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def arrivals(self) -> list[tuple[float, Message]]:
        """Each accepted message with the moment (time.monotonic()) the sink accepted it."""
        with self.handler.lock:
            return list(zip(self.handler.accepted_at, self.handler.messages, strict=True))

    def start(self) -> SmtpSink:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def text_body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")
