"""The kinds of bad input the schema fuzzing sends on top of what schemathesis derives from the
schema (issue 12): control characters, line breaks where they mean nothing, non-ASCII digits,
very long strings, extreme and malformed datetimes and offsets, e-mail addresses mail servers
refuse, and JSON nested beyond the parser's limit. (Lone surrogates are tests/test_bad_input.py's:
schemathesis validates each case it is given, and its validator cannot encode them.)

`mutated_cases` (a schemathesis `flatmap_case` hook) puts one or two of them into a generated
request, in a body field, a field name, a query or path parameter or a header, and remembers
what it put where; `bad_input_is_refused` (a check) then fails any 2xx answer to a request
that holds an input the API promises to refuse (DESIGN.md §4), so a value silently taken is
found as surely as a 500.
"""

import itertools
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import strategies as st

# C0, DEL and C1 controls (not tab, line feed, carriage return: see LINE_BREAKS).
CONTROL_CHARACTERS = "\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f\x80\x85\x9b\x9f"
# C1 controls only: gunicorn answers C0 in a header itself (not in the API's shape), passes these on.
HEADER_CONTROL_CHARACTERS = "\x80\x85\x9b\x9f"
LINE_BREAKS = ["\t", "\n", "\r", "\r\n"]
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९০১২৩৪৫৬৭৮৯²³¹"
# Every one of these is refused by the API's datetime input: out of 2000–2100, an offset beyond
# ±14:00, not a date-time, or digits that are not ASCII.
BAD_YEARS = [1, 999, 1969, 1999, 2101, 7358, 9999]
BAD_OFFSETS = ["+14:01", "-14:30", "+22:38", "-23:59", "+99:00", "+05:60"]
MALFORMED_DATETIMES = [
    "2023-10-03",
    "2023-W40-2",
    "2023-276",
    "20231003T235912",
    "2023-10-03T24:00:00",
    "2023-10-03 23:59:60",
    "2023-02-30 10:00:00",
    "2023-10-03T23",
    "23:59:12",
    "٢٠٢٣-١٠-٠٣ ٢٣:٥٩:١٢",
    "２０２３-10-03 23:59:12",
    "2023-10-03T23:59:12−03:00",
    "+002023-10-03T00:00:00",
    "0000-00-00 00:00:00",
    "now",
    "",
]
BAD_EMAILS = [
    "a" * 65 + "@example.com",
    "b" * 64 + "@" + "c" * 63 + "." + "d" * 63 + "." + "e" * 63 + ".com",
    "анна@example.com",
    "a@" + "b" * 64 + ".com",
]
# Fields whose value is digits, a code or a time: a non-ASCII digit in them is refused.
DIGIT_FIELDS = {
    "phone",
    "phone_number",
    "operator_code",
    "filter_operator_code",
    "timezone",
    "send_window_start",
    "send_window_end",
    "birth_date",
    "code",
    "model",
    "version",
    "robot_serial",
    "mailing",
    "customer",
    "id",
    "pk",
    "order_id",
    "report_id",
}
MULTILINE_FIELDS = {"text"}  # the mailing's SMS text (core.parsers)
LONGEST_BODY_STRING = 1000  # a mailing's text; every other string of a body is shorter
_short = st.text(max_size=6)


def _bad_datetimes() -> st.SearchStrategy[str]:
    dates = st.builds(
        "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}".format,
        st.sampled_from(BAD_YEARS),
        st.integers(1, 12),
        st.integers(1, 28),
        st.sampled_from(["T", " "]),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.sampled_from(["", "Z", "+05:00", ".21+22:38"]),
    )
    offsets = st.builds(
        "20{:02d}-10-03T{:02d}:24:00{}".format, st.integers(0, 99), st.integers(0, 23), st.sampled_from(BAD_OFFSETS)
    )
    return st.one_of(dates, offsets, st.sampled_from(MALFORMED_DATETIMES))


KINDS: dict[str, st.SearchStrategy] = {
    "control": st.builds(lambda a, c, b: a + c + b, _short, st.sampled_from(CONTROL_CHARACTERS), _short),
    "line_break": st.builds(lambda a, c, b: a + c + b, _short, st.sampled_from(LINE_BREAKS), _short),
    "non_ascii_digits": st.one_of(
        st.text(alphabet=NON_ASCII_DIGITS, min_size=1, max_size=11),
        st.sampled_from(NON_ASCII_DIGITS).map(lambda digit: "7" + digit * 10),
        st.sampled_from(NON_ASCII_DIGITS).map(lambda digit: f"GMT+{digit}"),
    ),
    "very_long": st.builds(
        lambda character, length: character * length,
        st.sampled_from(["a", "7", "я", "\U0001f916", "-"]),
        st.sampled_from([65, 151, 256, 1001, 4097, 20_000]),
    ),
    "datetime": _bad_datetimes(),
    "email": st.sampled_from(BAD_EMAILS),
}
# In a URL the long ones stay within gunicorn's request line (8190 bytes), once percent-encoded.
URL_KINDS = {
    **KINDS,
    "very_long": st.one_of(
        st.builds(lambda c, n: c * n, st.sampled_from(["a", "7", "-"]), st.sampled_from([65, 151, 256, 1001, 4097])),
        st.builds(lambda c, n: c * n, st.sampled_from(["я", "\U0001f916"]), st.sampled_from([65, 151, 256])),
    ),
}


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@dataclass(frozen=True)
class Mutation:
    location: str  # body, body-key, body-whole, query, path, header
    name: str
    kind: str
    value: object

    def must_be_refused(self, datetime_names: frozenset[str]) -> bool:
        """Whether the API promises to refuse a request holding this input (DESIGN.md §4)."""
        if self.kind in ("control", "deep"):
            return True
        if self.kind == "line_break":
            return not (self.location == "body" and self.name in MULTILINE_FIELDS)
        if self.location == "body-key":
            return False  # unknown field names are ignored by most operations
        if self.kind == "datetime":
            return self.name in datetime_names
        if self.kind == "non_ascii_digits":
            return self.name in DIGIT_FIELDS or self.name in datetime_names
        if self.kind == "email":
            return self.location == "body" and self.name == "email"
        if self.kind == "very_long":
            return self.location == "path" or (self.location == "body" and len(self.value) > LONGEST_BODY_STRING)
        return False


# case.id -> what was put into it, for the check that runs on the answer.
MUTATIONS: dict[str, list[Mutation]] = {}


def _body_places(body, path=(), depth=0) -> list[tuple]:
    """Paths to the values of the body's objects (a batch's items too), up to three levels down."""
    places = []
    if depth > 3:
        return places
    if isinstance(body, dict):
        for key, value in body.items():
            places.append((*path, key))
            places.extend(_body_places(value, (*path, key), depth + 1))
    elif isinstance(body, list):
        for index, value in itertools.islice(enumerate(body), 3):
            places.extend(_body_places(value, (*path, index), depth + 1))
    return places


def _set(body, path: tuple, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _rename(body, path: tuple, new_key: str):
    target = body
    for key in path[:-1]:
        target = target[key]
    target[new_key] = target.pop(path[-1])


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _is_json(case) -> bool:
    return (case.media_type or "").startswith("application/json")


def _targets(case, datetime_names: frozenset[str]) -> list[tuple[str, object, str]]:
    """(location, place, preferred kind) for every spot of the case a bad input may go."""
    targets = []
    json_body = _is_json(case)
    if isinstance(case.body, dict | list):
        for place in _body_places(case.body):
            name = str(place[-1])
            preferred = "datetime" if name in datetime_names else "email" if name == "email" else ""
            targets.append(("body", place, preferred))
            if isinstance(place[-1], str):
                targets.append(("body-key", place, "control"))
    if json_body:
        targets.append(("body-whole", (), "deep"))
    for parameter in case.operation.query:
        targets.append(("query", parameter.name, "datetime" if parameter.name in datetime_names else ""))
    for parameter in case.operation.path_parameters:
        targets.append(("path", parameter.name, ""))
    targets.append(("header", "User-Agent", "control"))
    if case.method.upper() in ("POST", "PUT", "PATCH"):
        targets.append(("header", "Idempotency-Key", "control"))
    return targets


def _value_for(location: str, preferred: str, draw) -> tuple[str, object]:
    if location == "body-whole":
        # Deeper than the parser's limit (20); not deeper than schemathesis itself can hash (it
        # recurses). Python's own parser failing at ~1,000 levels is tests/test_bad_input.py's.
        return "deep", nested(draw(st.sampled_from([21, 64, 200])))
    if location == "header":
        ascii_text = st.text(alphabet="abcXYZ019-_", min_size=1, max_size=6)  # requests refuses a leading NEL
        return "control", draw(st.builds(lambda a, c: a + c, ascii_text, st.sampled_from(HEADER_CONTROL_CHARACTERS)))
    kinds = KINDS
    if location in ("query", "path"):
        kinds = URL_KINDS
    elif location == "body-key":
        kinds = {"control": KINDS["control"]}
    names = sorted(kinds)
    if preferred in kinds:
        names = [preferred, *names]  # drawn first more often
    kind = draw(st.sampled_from(names))
    return kind, draw(kinds[kind])


def mutated_cases(case, datetime_names: frozenset[str]) -> st.SearchStrategy:
    """The case as generated, or with one or two bad inputs put into it (three times in four)."""
    targets = _targets(case, datetime_names)

    @st.composite
    def mutate(draw):
        mutations = []
        chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2, unique_by=lambda t: (t[0], t[1])))
        body = _copy(case.body)
        query, path_parameters, headers = dict(case.query), dict(case.path_parameters), dict(case.headers or {})
        for location, place, preferred in chosen:
            kind, value = _value_for(location, preferred, draw)
            if location == "body-whole":
                body = value
            elif location == "body" and isinstance(body, dict | list):
                try:
                    _set(body, place, value)
                except (KeyError, IndexError, TypeError):
                    continue  # an earlier mutation replaced its parent
            elif location == "body-key" and isinstance(body, dict | list):
                try:
                    _rename(body, place, value)
                except (KeyError, IndexError, TypeError, AttributeError):
                    continue
            elif location == "query":
                query[place] = value
            elif location == "path":
                path_parameters[place] = quote(value, safe="")
            elif location == "header":
                headers[place] = value
            else:
                continue
            name = str(place[-1]) if isinstance(place, tuple) and place else str(place)
            mutations.append(Mutation(location=location, name=name, kind=kind, value=value))
        mutated = case.derive(query=query, headers=case.headers.__class__(headers))
        mutated.path_parameters = path_parameters
        mutated.body = body
        MUTATIONS[mutated.id] = mutations
        return mutated

    if not targets:
        return st.just(case)
    return st.integers(0, 3).flatmap(lambda n: st.just(case) if n == 0 else mutate())


def bad_input_is_refused(datetime_names: frozenset[str]):
    """A schemathesis check: no 2xx for a request holding an input the API promises to refuse."""

    def bad_input_is_refused(ctx, response, case) -> None:
        if not 200 <= response.status_code < 300:
            return None
        refused = [m for m in MUTATIONS.get(case.id, []) if m.must_be_refused(datetime_names)]
        if refused:
            shown = ", ".join(f"{m.kind} in {m.location} {m.name!r}: {str(m.value)[:60]!r}" for m in refused)
            raise AssertionError(f"Accepted with {response.status_code}: {shown}")
        return None

    return bad_input_is_refused


def datetime_names_of(schema: dict) -> frozenset[str]:
    """The names of every body property and parameter the schema says is a date-time."""
    names = set()

    def walk(node, name=None):
        if isinstance(node, dict):
            if node.get("format") == "date-time" and name:
                names.add(name)
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for prop, prop_schema in value.items():
                        walk(prop_schema, prop)
                elif key == "schema" and isinstance(node.get("name"), str):
                    walk(value, node["name"])
                else:
                    walk(value, name if key in ("allOf", "anyOf", "oneOf") else None)
        elif isinstance(node, list):
            for item in node:
                walk(item, name)

    walk(schema)
    return frozenset(names)
