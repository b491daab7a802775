"""Input guards (DESIGN.md §4): the one check of the strings and the one parser of the datetimes
that every edge of the platform takes.

Strings. A control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) or half of
a surrogate pair (U+D800–U+DFFF, which cannot even be encoded for PostgreSQL) has no meaning
in a path parameter, a query parameter, a field name, a code, a login, an address or any
other one-line value, and is refused there with a 400 naming the field. Headers and cookies
are bytes (ISO-8859-1 text in WSGI): there the ASCII controls are refused, and bytes from
0x80 up are text (RFC 9110 §5.5 obs-text; `header_text` reads them as UTF-8). Tab,
line feed and carriage return have a meaning only in free text that a person writes in
lines: the fields a view names in its `multiline_fields` (a mailing's `text`). Everything
else of the kind is refused there too. The checks run once per request, at the edge:
`InputGuardMiddleware` (path parameters, query, the headers and cookies the platform reads)
and the API's parsers (core.parsers: JSON keys and values at any depth, form fields).

Datetimes. `parse_datetime_input` takes ISO 8601 date-times (`2023-10-03T23:59:12+03:00`,
`...Z`, with or without seconds and fractions) and the production lines' `YYYY-MM-DD hh:mm:ss`,
nothing else: a bare date, a week or ordinal date, a time alone or non-ASCII digits are
refused. A time without an offset is factory time (TIME_ZONE); offsets lie within ±14:00;
the year lies within 2000–2100 unless the caller says otherwise. Every bound is checked on
the text as written, before any arithmetic, so no later step can overflow. The DRF fields
(core.fields), the django-filter filters (core.filters) and the robots' hand-written batch
validator all call it.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone as django_timezone

# --- strings -------------------------------------------------------------------------
# Every control character and every surrogate: one-line values (keys, codes, paths, headers).
LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, but tab, line feed and carriage return: free text written in lines.
TEXT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Header and cookie values arrive as ISO-8859-1 text (WSGI, PEP 3333): each byte one character,
# so the UTF-8 of "МойКлиент" shows U+0080–U+009F characters that are not control characters
# but bytes of text. RFC 9110 §5.5 allows those bytes (obs-text) in a field value and forbids
# only the ASCII controls; so do we there.
HEADER_FORBIDDEN = re.compile("[\x00-\x1f\x7f]")
CONTROL_CHARACTER_CODE = "control_character"
# Headers the platform acts on or records; X-Request-ID is replaced when not sane
# (core.middleware), Host is checked against ALLOWED_HOSTS by Django.
GUARDED_HEADERS = ("Authorization", "Idempotency-Key", "User-Agent", "X-Forwarded-For")


def forbidden_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` that has no meaning in it, or None."""
    match = (TEXT_FORBIDDEN if multiline else LINE_FORBIDDEN).search(value)
    return match.group() if match else None


def header_text(value: str) -> str:
    """A header or cookie value as the text its sender meant: the ISO-8859-1 characters WSGI
    gives (PEP 3333) decoded as UTF-8 when they are UTF-8 (what clients send today), else as
    they are."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def forbidden_character_message(character: str, *, multiline: bool = False) -> str:
    text = f"Holds the control character U+{ord(character):04X}, which has no meaning here."
    if multiline:
        text += " Only tab, line feed and carriage return are accepted in this field."
    return text


def escape_control_characters(value: str) -> str:
    """`value` with every control character and surrogate written as a visible `\\uXXXX` escape.

    For what is kept or shown rather than refused (log lines, the request log): readable,
    and safe for PostgreSQL, JSON log collectors and terminals alike.
    """
    if not LINE_FORBIDDEN.search(value):
        return value
    return LINE_FORBIDDEN.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def field_label(name: object) -> str:
    """A field name fit to be shown in an error body: escaped, and at most 50 characters."""
    return escape_control_characters(str(name))[:50]


def nest_errors(problems: Iterable[tuple[tuple, str]]) -> dict:
    """[((“items”, 0, “name”), message), ...] -> {"items": {"0": {"name": [message]}}}."""
    errors: dict = {}
    for path, message in problems:
        node = errors
        for key in path[:-1]:
            node = node.setdefault(field_label(key), {})
            if not isinstance(node, dict):  # a message at this level already: keep it
                break
        else:
            node.setdefault(field_label(path[-1]) if path else "non_field_errors", []).append(message)
    return errors


def string_problems(
    data: object, *, multiline_fields: Iterable[str] = (), max_depth: int | None = None
) -> tuple[list[tuple[tuple, str]], bool]:
    """Walks parsed input (JSON, or a form's keys and values) without recursion.

    Returns the control-character problems as (path, message) pairs, and whether the data
    nests deeper than `max_depth` containers (the walk stops there). A string may hold tab,
    line feed and carriage return when the member holding it is named in `multiline_fields`.
    Strings are checked where they are met, so a batch of a thousand flat objects costs a
    thousand steps, not four.
    """
    multiline_fields = frozenset(multiline_fields)
    line_search, text_search = LINE_FORBIDDEN.search, TEXT_FORBIDDEN.search
    problems: list[tuple[tuple, str]] = []

    def problem(path: tuple, match: re.Match, multiline: bool) -> None:
        problems.append((path, forbidden_character_message(match.group(), multiline=multiline)))

    if isinstance(data, str):
        if match := line_search(data):
            problem((), match, False)
        return problems, False
    if not isinstance(data, dict | list | tuple):
        return problems, False
    stack: list[tuple[object, tuple, int, bool]] = [(data, (), 0, False)]
    while stack:
        value, path, depth, multiline = stack.pop()
        if max_depth is not None and depth >= max_depth:
            return problems, True
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    key = str(key)
                if line_search(key):
                    problems.append(((*path, key), "The field name holds a control character."))
                elif isinstance(item, str):
                    item_multiline = key in multiline_fields
                    if match := (text_search if item_multiline else line_search)(item):
                        problem((*path, key), match, item_multiline)
                elif isinstance(item, dict | list | tuple):
                    stack.append((item, (*path, key), depth + 1, key in multiline_fields))
        else:  # a list or tuple
            search = text_search if multiline else line_search
            for index, item in enumerate(value):
                if isinstance(item, str):
                    if match := search(item):
                        problem((*path, index), match, multiline)
                elif isinstance(item, dict | list | tuple):
                    stack.append((item, (*path, index), depth + 1, multiline))
    return problems, False


class InputGuardMiddleware:
    """Refuses, with a 400 naming each field, a request whose path parameters, query, read
    headers or session/CSRF cookies hold a control character, or a page's form field one
    other than a line break or a tab; the API's bodies are guarded by its parsers
    (core.parsers), which know the view's `multiline_fields`.

    Runs as a view middleware, so path parameters are known by name, and before any view,
    authentication or session lookup touches the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        problems = []
        for name, value in view_kwargs.items():
            if isinstance(value, str) and (character := forbidden_character(value)):
                problems.append(((name,), forbidden_character_message(character)))
        for key, values in request.GET.lists():
            if LINE_FORBIDDEN.search(key):
                problems.append(((key,), "The parameter name holds a control character."))
                continue
            for value in values:
                if character := forbidden_character(value):
                    problems.append(((key,), forbidden_character_message(character)))
                    break
        for header in GUARDED_HEADERS:
            value = request.headers.get(header)
            if value and (match := HEADER_FORBIDDEN.search(value)):
                problems.append(((header,), forbidden_character_message(match.group())))
        for cookie in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            value = request.COOKIES.get(cookie)
            if value and (match := HEADER_FORBIDDEN.search(value)):
                problems.append(((cookie,), forbidden_character_message(match.group())))
        if request.method in ("POST", "PUT", "PATCH") and not _is_api_view(view_func):
            problems.extend(_page_form_problems(request))
        if not problems:
            return None
        from core.exceptions import invalid_input_response

        return invalid_input_response(nest_errors(problems))


def _is_api_view(view_func) -> bool:
    from rest_framework.views import APIView

    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def _page_form_problems(request: HttpRequest) -> list[tuple[tuple, str]]:
    """A page's form (the sign-in, the admin's): its text areas may hold line breaks and tabs."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return []
    problems = []
    for key, values in request.POST.lists():
        if LINE_FORBIDDEN.search(key):
            problems.append(((key,), "The field name holds a control character."))
            continue
        for value in values:
            if character := forbidden_character(value, multiline=True):
                problems.append(((key,), forbidden_character_message(character, multiline=True)))
                break
    return problems


class ControlCharacterLogFilter(logging.Filter):
    """Escapes control characters in a record's message (Django logs the request path of
    every 4xx and 5xx answer): no log line carries one, whatever the format. Set on the
    console handler in settings.LOGGING, so web processes and workers alike apply it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            message = record.getMessage()
            if LINE_FORBIDDEN.search(message):
                record.msg, record.args = escape_control_characters(message), None
        elif isinstance(record.msg, str) and LINE_FORBIDDEN.search(record.msg):
            record.msg = escape_control_characters(record.msg)
        return True


# --- datetimes -----------------------------------------------------------------------
DEFAULT_EARLIEST_YEAR = 2000
DEFAULT_LATEST_YEAR = 2100
MAX_UTC_OFFSET = timedelta(hours=14)
DATETIME_FORMATS_TEXT = "'YYYY-MM-DD hh:mm:ss' (factory time) or ISO 8601, e.g. '2023-10-03T23:59:12+03:00'"
# ASCII digits only ([0-9], never \d): "٢٠٢٣" is not a year here. parse_datetime_input
# unpacks the groups in their order.
_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?::?(?P<offset_minutes>[0-9]{2}))?)?"
)
_DATE = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")
_TIME = re.compile(r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?")


class DateTimeInputError(ValueError):
    """A date or time the API does not take; `str()` says why, `code` says what kind."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class YearRange:
    earliest: int = DEFAULT_EARLIEST_YEAR
    latest: int = DEFAULT_LATEST_YEAR

    def check(self, year: int) -> None:
        if not self.earliest <= year <= self.latest:
            raise DateTimeInputError(
                f"The year must lie between {self.earliest} and {self.latest}.", code="year_out_of_range"
            )


DEFAULT_YEARS = YearRange()


def _shown(value: str) -> str:
    return repr(escape_control_characters(value[:40]))


def parse_datetime_input(
    value: object,
    *,
    years: YearRange = DEFAULT_YEARS,
    default_timezone: tzinfo | None = None,
    not_after: datetime | None = None,
    not_after_message: str = "May not lie in the future.",
) -> datetime:
    """The aware datetime `value` stands for; raises DateTimeInputError (message, code).

    `value` is 'YYYY-MM-DD hh:mm[:ss[.ffffff]]' or the same with 'T', optionally followed by
    'Z' or an offset ±hh[[:]mm] (ISO 8601 / RFC 3339 §5.6, plus the production lines'
    space-separated form). Without an offset it is in `default_timezone` (TIME_ZONE).
    Offsets over ±14:00 (the widest in use, UTC+14 in Kiribati), years outside `years`, a
    bare date, a week date and non-ASCII digits are refused. `not_after`, when given, is the
    latest instant accepted (e.g. now plus the production lines' clock skew).
    """
    if not isinstance(value, str):
        raise DateTimeInputError(f"Must be a date and time as a string: {DATETIME_FORMATS_TEXT}.")
    match = _DATETIME.fullmatch(value)
    if match is None:
        if _DATE.fullmatch(value):
            raise DateTimeInputError(
                f"{_shown(value)} is a date without a time; give both: {DATETIME_FORMATS_TEXT}.", code="date_only"
            )
        raise DateTimeInputError(f"{_shown(value)} is not a date and time; use {DATETIME_FORMATS_TEXT}.")
    # One call for the groups: this runs a thousand times per batch of robots.
    year, month, day, hour, minute, second, fraction, offset, sign, offset_hours, offset_minutes = match.groups()
    year = int(year)
    if not years.earliest <= year <= years.latest:
        years.check(year)
    if sign:
        minutes = int(offset_minutes or 0)
        delta = timedelta(hours=int(offset_hours), minutes=minutes)
        if delta > MAX_UTC_OFFSET or minutes >= 60:
            raise DateTimeInputError("The UTC offset must lie within ±14:00.", code="offset_out_of_range")
        zone: tzinfo = timezone(-delta if sign == "-" else delta)
    elif offset:
        zone = UTC
    else:
        zone = default_timezone or django_timezone.get_default_timezone()
    try:
        parsed = datetime(
            year,
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second) if second else 0,
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
            tzinfo=zone,
        )
    except ValueError as exc:  # month 13, February 30th, hour 24, second 60
        raise DateTimeInputError(f"{_shown(value)} is not a valid date and time: {exc}.") from None
    if not_after is not None and parsed > not_after:
        raise DateTimeInputError(not_after_message, code="in_future")
    return parsed


def parse_date_input(value: object, *, years: YearRange = DEFAULT_YEARS) -> date:
    """A calendar date written 'YYYY-MM-DD' (ISO 8601 extended form, ASCII digits); raises
    DateTimeInputError. Week and ordinal dates and the basic form are refused."""
    if not isinstance(value, str) or not (match := _DATE.fullmatch(value)):
        raise DateTimeInputError("Must be a date written YYYY-MM-DD.")
    years.check(int(match["year"]))
    try:
        return date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as exc:
        raise DateTimeInputError(f"{_shown(value)} is not a valid date: {exc}.") from None


def parse_time_input(value: object) -> time:
    """A time of day written 'hh:mm' or 'hh:mm:ss' (ASCII digits); raises DateTimeInputError."""
    if not isinstance(value, str) or not (match := _TIME.fullmatch(value)):
        raise DateTimeInputError("Must be a time of day written hh:mm.")
    try:
        return time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    except ValueError as exc:
        raise DateTimeInputError(f"{_shown(value)} is not a valid time of day: {exc}.") from None


# --- e-mail addresses ----------------------------------------------------------------
MAX_LOCAL_PART_OCTETS = 64
MAX_ADDRESS_OCTETS = 254


def smtp_address_problem(value: str) -> str | None:
    """Why an SMTP server would refuse `value` as a recipient, or None.

    RFC 5321 §4.5.3.1.1: a local part holds at most 64 octets; §4.5.3.1.3 with §4.1.2: a
    path at most 256, so an address at most 254 (the domain counted in its ASCII, IDNA form,
    as it is sent). The local part must be ASCII: the platform's mail does not use SMTPUTF8
    (RFC 6531).
    """
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        return "The part before @ must be ASCII (letters, digits and .!#$%&'*+/=?^_`{|}~-)."
    if len(local) > MAX_LOCAL_PART_OCTETS:
        return f"The part before @ is {len(local)} characters long; mail servers take at most 64."
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "The domain is not a valid internationalised domain name."
    if len(local) + 1 + len(ascii_domain) > MAX_ADDRESS_OCTETS:
        return f"The address is longer than the {MAX_ADDRESS_OCTETS} octets mail servers take."
    return None
