"""The kinds of bad input the schema fuzzing sends on top of what schemathesis derives from the
schema (issue 12): control characters, line breaks where they mean nothing, lone surrogates,
non-ASCII digits, very long strings, extreme and malformed datetimes and offsets, e-mail
addresses mail servers refuse, and JSON nested beyond the parser's limit (up to where
Python's own parser gives up).

`mutated_cases` (a schemathesis `flatmap_case` hook) puts one or two of them into a generated
request, in a body field, a field name, or a query or path parameter, and remembers
what it put where; `bad_input_is_refused` (a check) then fails any 2xx answer to a request
that holds an input the API promises to refuse (DESIGN.md §4), so a value silently taken is
found as surely as a 500.
"""

import itertools
import json
from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import strategies as st

# C0, DEL and C1 controls (not tab, line feed, carriage return: see LINE_BREAKS).
CONTROL_CHARACTERS = "\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f\x80\x85\x9b\x9f"
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
}
MULTILINE_FIELDS = {"text"}  # the mailing's SMS text (core.parsers)
LONGEST_BODY_STRING = 1000  # a mailing's text; every other string a body declares is shorter
DEEP = [1000, 21, 200, 5000]  # levels of nesting; the parser's limit is 20, Python's own ~1,000
# Stands in for a lone surrogate until the body is written out as JSON, where it becomes one:
# no encoder (nor schemathesis's own validation) takes a lone surrogate in a Python string.
SURROGATE_MARKER = "\ue000lone-surrogate\ue000"
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
        st.sampled_from(["", "+05:00", ".21+22:38", "Z"]),
    )
    offsets = st.builds(
        "20{:02d}-10-03T{:02d}:24:00{}".format, st.integers(0, 99), st.integers(0, 23), st.sampled_from(BAD_OFFSETS)
    )
    return st.one_of(dates, offsets, st.sampled_from(MALFORMED_DATETIMES))


def _repeated(characters: list[str], lengths: list[int]) -> st.SearchStrategy[str]:
    return st.builds(lambda text, length: text * length, st.sampled_from(characters), st.sampled_from(lengths))


KINDS: dict[str, st.SearchStrategy] = {
    "control": st.builds(lambda a, c, b: a + c + b, _short, st.sampled_from(CONTROL_CHARACTERS), _short),
    "line_break": st.builds(lambda a, c, b: a + c + b, _short, st.sampled_from(LINE_BREAKS), _short),
    "non_ascii_digits": st.one_of(
        st.text(alphabet=NON_ASCII_DIGITS, min_size=1, max_size=11),
        st.sampled_from(NON_ASCII_DIGITS).map(lambda digit: "7" + digit * 10),
        st.sampled_from(NON_ASCII_DIGITS).map(lambda digit: f"GMT+{digit}"),
    ),
    "very_long": _repeated(["a", "7", "я", "\U0001f916", "-"], [65, 151, 256, 1001, 4097, 20_000]),
    "datetime": _bad_datetimes(),
    "email": st.sampled_from(BAD_EMAILS),
}
# In a URL the long ones stay within gunicorn's request line (8190 bytes), once percent-encoded.
URL_KINDS = {
    **KINDS,
    "very_long": st.one_of(
        _repeated(["a", "7", "-"], [65, 151, 256, 1001, 4097]), _repeated(["я", "\U0001f916"], [65, 151, 256])
    ),
}
JSON_BODY_KINDS = {**KINDS, "surrogate": st.just(SURROGATE_MARKER)}


@dataclass(frozen=True)
class SchemaFacts:
    """What the fuzzer needs to know of the schema: which names are date-times, and which body
    fields each operation declares (a value under an undeclared name may well be ignored)."""

    datetime_names: frozenset[str]
    body_fields: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, schema: dict) -> "SchemaFacts":
        return cls(datetime_names=_datetime_names(schema), body_fields=_body_fields(schema))


@dataclass(frozen=True)
class Mutation:
    location: str  # body, body-key, body-whole, query, path
    name: str
    kind: str
    value: object
    declared: bool = True  # a field the operation declares (always so outside the body)

    def must_be_refused(self, facts: SchemaFacts) -> bool:
        """Whether the API promises to refuse a request holding this input (DESIGN.md §4)."""
        if self.kind in ("control", "surrogate", "deep"):
            return True
        if self.kind == "line_break":
            return not (self.location == "body" and self.name in MULTILINE_FIELDS)
        if self.location == "body-key" or not self.declared:
            return False  # most operations ignore names they do not take
        if self.kind == "datetime":
            return self.name in facts.datetime_names
        if self.kind == "non_ascii_digits":
            return self.name in DIGIT_FIELDS or self.name in facts.datetime_names
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


def _parent(body, path: tuple):
    for key in path[:-1]:
        body = body[key]
    return body


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _is_json(case) -> bool:
    return (case.media_type or "").startswith("application/json")


def _targets(case, facts: SchemaFacts) -> list[tuple[str, object, str]]:
    """(location, place, preferred kind) for every spot of the case a bad input may go, the
    likeliest to break something first: Hypothesis tries the first ones, and the first value of
    each kind (a NUL, the year 1, JSON 1,000 levels deep), in its first examples."""
    body_places = _body_places(case.body) if isinstance(case.body, dict | list) else []

    def named(place) -> str:
        return str(place[-1])

    query = [parameter.name for parameter in case.operation.query]
    targets = [("path", parameter.name, "control") for parameter in case.operation.path_parameters]
    targets += [("body", place, "datetime") for place in body_places if named(place) in facts.datetime_names]
    targets += [("query", name, "datetime") for name in query if name in facts.datetime_names]
    targets += [("body", place, "email") for place in body_places if named(place) == "email"]
    if _is_json(case):
        targets.append(("body-whole", (), "deep"))
    targets += [
        ("body", place, "control")
        for place in body_places
        if named(place) not in facts.datetime_names and named(place) != "email"
    ]
    targets += [("body-key", place, "control") for place in body_places if isinstance(place[-1], str)]
    targets += [("query", name, "control") for name in query if name not in facts.datetime_names]
    # No header here: gunicorn refuses C0 and DEL in a header itself, before Django, and bytes
    # from 0x80 up are text there (RFC 9110 obs-text). The guard's header rule is tested with
    # Django's client in tests/test_bad_input.py.
    return targets


def _value_for(location: str, preferred: str, json_body: bool, draw) -> tuple[str, object]:
    if location == "body-whole":
        depth = draw(st.sampled_from(DEEP))
        return "deep", b"[" * depth + b"]" * depth  # sent as it is: schemathesis would recurse into a list
    kinds = JSON_BODY_KINDS if json_body else KINDS
    if location in ("query", "path"):
        kinds = URL_KINDS
    elif location == "body-key":
        kinds = {name: kinds[name] for name in ("control", "surrogate") if name in kinds}
    names = sorted(kinds)
    if preferred in kinds:
        names = [preferred, preferred, *names]  # drawn first, and more often
    kind = draw(st.sampled_from(names))
    if location == "path":
        # "", "." and ".." are no path segment: the URL would name the list, not an object.
        return kind, draw(kinds[kind].filter(lambda value: value not in ("", ".", "..")))
    return kind, draw(kinds[kind])


def _with_surrogates(body) -> bytes:
    """The body as JSON, each marker a lone surrogate's escape (\\ud800): valid JSON text that
    Python's parser reads into a string no encoder takes."""
    marker = json.dumps(SURROGATE_MARKER)[1:-1]
    return json.dumps(body).replace(marker, "\\ud800").encode()


def mutated_cases(case, facts: SchemaFacts) -> st.SearchStrategy:
    """The case with one or two bad inputs put into it (seven times in eight), or as generated."""
    targets = _targets(case, facts)
    declared = facts.body_fields.get((case.method.upper(), case.operation.path), frozenset())
    json_body = _is_json(case)

    @st.composite
    def mutate(draw):
        mutations = []
        chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2, unique_by=lambda t: (t[0], t[1])))
        body = _copy(case.body)
        query, path_parameters = dict(case.query), dict(case.path_parameters)
        for location, place, preferred in chosen:
            kind, value = _value_for(location, preferred, json_body, draw)
            name = str(place[-1]) if isinstance(place, tuple) and place else str(place)
            try:
                if location == "body-whole":
                    body = value
                elif location == "body":
                    _parent(body, place)[place[-1]] = value
                elif location == "body-key":
                    parent = _parent(body, place)
                    parent[value] = parent.pop(place[-1])
                elif location == "query":
                    query[place] = value
                else:
                    path_parameters[place] = quote(value, safe="")
            except (KeyError, IndexError, TypeError, AttributeError):
                continue  # an earlier mutation replaced what this one would change
            top_level = location != "body" or len(place) == 1 or isinstance(place[0], int)
            mutations.append(Mutation(location, name, kind, value, declared=top_level and name in declared))
        if not isinstance(body, bytes) and any(mutation.kind == "surrogate" for mutation in mutations):
            body = _with_surrogates(body)
        mutated = case.derive(query=query)
        mutated.path_parameters = path_parameters
        mutated.body = body
        MUTATIONS[mutated.id] = mutations
        return mutated

    if not targets:
        return st.just(case)
    return st.integers(0, 7).flatmap(lambda n: st.just(case) if n == 7 else mutate())


def bad_input_is_refused(facts: SchemaFacts):
    """A schemathesis check: no 2xx for a request holding an input the API promises to refuse."""

    def bad_input_is_refused(ctx, response, case) -> None:
        if not 200 <= response.status_code < 300:
            return None
        refused = [mutation for mutation in MUTATIONS.get(case.id, []) if mutation.must_be_refused(facts)]
        if refused:
            shown = ", ".join(f"{m.kind} in {m.location} {m.name!r}: {str(m.value)[:60]!r}" for m in refused)
            raise AssertionError(f"Accepted with {response.status_code}: {shown}")
        return None

    return bad_input_is_refused


def _datetime_names(schema: dict) -> frozenset[str]:
    """The names of every property and parameter the schema says is a date-time."""
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


def _body_fields(schema: dict) -> dict[tuple[str, str], frozenset[str]]:
    """(METHOD, path) -> the properties its request body declares (of its items, for a list)."""
    components = schema.get("components", {}).get("schemas", {})

    def resolve(node: dict) -> dict:
        while isinstance(node, dict) and "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        return node

    fields = {}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            names = set()
            for content in operation.get("requestBody", {}).get("content", {}).values():
                body = resolve(content.get("schema", {}))
                if body.get("type") == "array":
                    body = resolve(body.get("items", {}))
                names |= set(body.get("properties", {}))
            fields[(method.upper(), path)] = frozenset(names)
    return fields
