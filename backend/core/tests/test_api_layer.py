"""The API layer one way: one path parameter name, one PUT semantics, filters run by selectors."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.filters import FilterSetSchemaBackend
from core.viewsets import ServiceModelViewSet
from customers.apis import CustomerInputSerializer
from mailings.apis import MailingInputSerializer


def test_every_path_parameter_is_an_id_but_the_catalogs_code():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    names = {name for path in schema["paths"] for name in re.findall(r"{(\w+)}", path)}
    catalog = {
        name
        for path in schema["paths"]
        if path.startswith("/api/v1/robot-models/")
        for name in re.findall(r"{(\w+)}", path)
    }

    assert names == {"id", "code"}
    assert catalog == {"code"}


@pytest.mark.parametrize(
    ("serializer", "replaced"),
    [
        (CustomerInputSerializer, {"email": None, "phone_number": None, "operator_code": "", "tag": ""}),
        (
            MailingInputSerializer,
            {
                "filter_operator_code": "",
                "filter_tag": "",
                "send_window_start": None,
                "send_window_end": None,
                "error_threshold_percent": None,
            },
        ),
    ],
)
def test_a_put_sets_what_it_leaves_out_to_its_empty_value(serializer, replaced):
    assert ServiceModelViewSet.replaced_values(serializer()) == replaced


def test_the_filter_backend_documents_and_filters_nothing():
    from rest_framework.settings import api_settings

    assert [FilterSetSchemaBackend] == api_settings.DEFAULT_FILTER_BACKENDS
