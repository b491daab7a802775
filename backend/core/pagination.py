"""The one pagination of the API: `count`, `next`, `previous`, `results`."""

import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

# ASCII digits only (DESIGN.md §4): int() would also read "٣" and "３".
POSITIVE_INTEGER = re.compile(r"[1-9][0-9]{0,9}")


def positive_integer_parameter(request, name: str) -> int | None:
    """The query parameter `name` as a positive int, or None when it is absent.

    Raises ValidationError (a 400 naming the parameter) when it is anything but ASCII digits
    without a leading zero ("0", "-1", "1e3", "٣").
    """
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not POSITIVE_INTEGER.fullmatch(raw):
        raise ValidationError({name: ["A whole number from 1, in ASCII digits."]}, code="invalid")
    return int(raw)


class Pagination(PageNumberPagination):
    """DRF's page numbers, strict: a malformed `page` or `page_size` is a 400 naming it (DRF
    silently takes the default size, and reads any Unicode digits); a page past the end is a
    404; a `page_size` over `max_page_size` is capped, as in DRF."""

    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        size = positive_integer_parameter(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request, paginator) -> int:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return positive_integer_parameter(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] += f" At most {self.max_page_size}; a larger size is capped."
        return parameters
