"""The API's body parsers: DRF's, plus the string guard (core.guards) on every key and value
and a nesting limit, so a body is refused whole before any view sees it.

A view names the fields whose strings may hold tab, line feed and carriage return in
`multiline_fields` (e.g. `("text",)`); every other string and every key may hold no control
character at all. A 400 names each offending field, nested as the body is
(`{"fields": {"0": {"model": [...]}}}` for the first robot of a batch).
"""

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from core.guards import CONTROL_CHARACTER_CODE, nest_errors, string_problems

# The deepest JSON any operation takes is 3 levels (a batch: a list of objects of strings);
# deeper bodies are refused before they are walked (Python's own parser fails near 1,000).
MAX_JSON_DEPTH = 20


def _multiline_fields(parser_context: dict | None) -> tuple[str, ...]:
    view = (parser_context or {}).get("view")
    return tuple(getattr(view, "multiline_fields", ()))


def guard(data, parser_context: dict | None, *, max_depth: int | None = None):
    """Raises ParseError for nesting beyond `max_depth`, ValidationError naming each field
    that holds a control character; returns `data` unchanged otherwise."""
    problems, too_deep = string_problems(data, multiline_fields=_multiline_fields(parser_context), max_depth=max_depth)
    if too_deep:
        raise ParseError(f"JSON nested deeper than {max_depth} levels is not accepted.")
    if problems:
        raise ValidationError(nest_errors(problems), code=CONTROL_CHARACTER_CODE)
    return data


def _form_problems_data(data: QueryDict) -> dict:
    # Every value of a repeated key counts, not only the last one a view would read.
    return {key: data.getlist(key) if len(data.getlist(key)) > 1 else data.get(key) for key in data}


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.") from None
        return guard(data, parser_context, max_depth=MAX_JSON_DEPTH)


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        guard(_form_problems_data(data), parser_context)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        guard(_form_problems_data(result.data), parser_context)
        # A file's field name and file name are strings the client chose as well.
        guard({key: upload.name or "" for key, upload in result.files.items()}, parser_context)
        return result
