"""Masking of personal data (phone numbers, e-mail addresses) before it is stored or shown."""

MAX_MASKED_LENGTH = 32


def mask_phone(value: object) -> str:
    """`79161234567` -> `7916*****67`: the operator code and the last two digits stay."""
    if value is None or value == "":
        return ""
    text = str(value).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 8:
        return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]
    # Too short to keep anything meaningful without revealing most of it.
    return "*" * min(len(text), MAX_MASKED_LENGTH)


def mask_email(value: object) -> str:
    """`john.doe@example.com` -> `j***@e***.com`: first letters and the top-level domain stay."""
    if value is None or value == "":
        return ""
    text = str(value).strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return (text[:1] + "***")[:MAX_MASKED_LENGTH]
    host, dot, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}***.{tld[:10]}" if dot and host else (domain[:1] + "***")
    return f"{local[:1]}***@{masked_domain}"


def _is_phone_like(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return digits >= 10 and digits >= len(value) - 2


def mask_login(value: str) -> str:
    """A login is kept as it is, unless it is itself an e-mail address or a phone number."""
    if "@" in value:
        return mask_email(value)
    if _is_phone_like(value):
        return mask_phone(value)
    return value


def mask_others_login(value: str) -> str:
    """Another account's login, as someone without the manager role sees it: masked like the
    local part of an e-mail address (`ann` -> `a***`); an address or number as mask_login does."""
    if not value:
        return ""
    if "@" in value or _is_phone_like(value):
        return mask_login(value)  # masked when it was logged already: masking again changes nothing
    return f"{value[:1]}***"
