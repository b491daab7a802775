"""Schema fuzzing: schemathesis sends what the API's own OpenAPI schema allows (and a bit
more) to the running app, with every role's token. No answer may be a 5xx, every answer
must have a status code and a body the schema documents.

Bounded for `make test` (FUZZ_EXAMPLES per operation, 3 by default); `make fuzz` runs more.
"""

import json
import os

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.stack import deployed_stack

pytestmark = pytest.mark.e2e
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
ROLES = ["production_line", "sales", "marketing", "manager"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_stack():
    # Throttles would answer the fuzzer's bursts with 429s; they are tested on their own.
    with deployed_stack(extra_env={"THROTTLE_AUTH_RATE": "100000/min", "THROTTLE_USERADD_RATE": "100000/min"}) as stack:
        stack.start_web()
        yield stack


def test_the_served_schema_is_the_one_fuzzed(fuzz_stack):
    served = requests.get(f"{fuzz_stack.web_url}/api/schema/?format=json", timeout=30).json()

    assert served == app_schema()


@pytest.fixture(scope="module")
def callers(fuzz_stack) -> dict[str, dict]:
    """Request headers of each caller: anonymous, and a token of each role."""
    headers = {"anonymous": {}}
    for role in ROLES:
        headers[role] = {"Authorization": f"Token {fuzz_stack.api_token(f'fuzz-{role}', role)}"}
    return headers


def app_schema() -> dict:
    """The schema the running app serves at /api/schema/, generated from the same code here,
    so that pytest can enumerate the operations before the processes start."""
    generator = SchemaGenerator(patterns=None)
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(app_schema())


@schema.parametrize()
@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_every_operation_answers_as_documented_for_every_caller(case, fuzz_stack, callers):
    for headers in callers.values():
        case.call_and_validate(base_url=fuzz_stack.web_url, headers=headers, checks=CHECKS, timeout=30)
