"""Reading the e-mails the tests' SMTP server (devtools.smtp_sink.MemorySink) accepted."""

from email.message import Message


def text_body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")
