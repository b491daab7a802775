"""Local SMTP servers that stand in for the outside mail server: every e-mail they accept is kept.

For `make dev`, a process that writes each e-mail to a directory as an .eml file:

    python -m devtools.smtp_sink [--host 127.0.0.1] [--port 1025] [--dir ../var/mail]

The platform talks real SMTP to it (EMAIL_HOST/EMAIL_PORT), so the outbox works exactly as
against a real server. Each message is written whole to DIR/<time>-<id>.eml (open it with any
mail client, or read it as text) and announced on stdout in one line: file, recipients, subject.

For the tests, `MemorySink`: the same kind of server in a thread of the test's process,
holding what it accepted in memory, parsed, with the moment it accepted each.
aiosmtpd only: no Django, so it starts at once and keeps no state but the files.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from email import policy
from email.message import Message
from pathlib import Path
from typing import TextIO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "var" / "mail"
ACCEPTED = "250 Message accepted for delivery"


class MailDirHandler:
    """aiosmtpd handler: writes each message to `directory` and prints a summary to `out`."""

    def __init__(self, directory: Path, out: TextIO = sys.stdout):
        self.directory = directory
        self.out = out

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        path = self.save(envelope.original_content or b"")
        print(summary_line(path, envelope), file=self.out, flush=True)
        return ACCEPTED

    def save(self, content: bytes) -> Path:
        """Writes the message under a temporary name and renames it: a reader never sees half a file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        fd, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(content)
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 would keep mail clients of other users out
        os.replace(tmp_name, path)
        return path


def summary_line(path: Path, envelope: Envelope) -> str:
    """`<file>  to=<recipients>  subject=<subject>`, the subject decoded (RFC 2047)."""
    message = email.message_from_bytes(envelope.original_content or b"", policy=policy.default)
    subject = " ".join(str(message.get("Subject", "")).split())
    return f"mail: {path.name}  to={', '.join(envelope.rcpt_tos)}  subject={subject}"


class _MemoryHandler:
    def __init__(self):
        self.messages: list[Message] = []
        self.accepted_at: list[float] = []  # time.monotonic() of each message
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(message)
            self.accepted_at.append(time.monotonic())
        return ACCEPTED


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MemorySink:
    """An SMTP server on loopback in a thread (tests): `start()` / `stop()`; `messages` holds what
    it accepted, parsed; `arrivals` the same with the moment (time.monotonic()) of each."""

    def __init__(self, port: int | None = None):
        self.port = port or _free_port()
        self.handler = _MemoryHandler()
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[Message]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def arrivals(self) -> list[tuple[float, Message]]:
        with self.handler.lock:
            return list(zip(self.handler.accepted_at, self.handler.messages, strict=True))

    def start(self) -> MemorySink:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


async def serve(host: str, port: int, directory: Path) -> None:
    """Serves until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    handler = MailDirHandler(directory)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="r4c-smtp-sink", enable_SMTPUTF8=True), host=host, port=port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"SMTP sink on {host}:{port}: every e-mail goes to {directory}/ as an .eml file", file=sys.stderr, flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the .eml files go (default: var/mail)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.dir.resolve()))
    except OSError as exc:  # the port is taken, most likely: say so in one line
        sys.exit(f"SMTP sink: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")


if __name__ == "__main__":
    main()
