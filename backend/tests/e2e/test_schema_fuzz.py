"""Schema fuzzing: schemathesis sends what the API's own OpenAPI schema allows (and a bit
more) to the running app, with every role's token, and on top of it the kinds of bad input of
issue 12 (tests/e2e/fuzz_inputs.py): control characters, lone surrogates, non-ASCII digits,
very long strings, extreme and malformed datetimes and offsets, addresses mail servers refuse,
deep JSON. No
answer may be a 5xx, every answer must have a status code and a body the schema documents,
and no request holding an input the API promises to refuse may be answered with a 2xx.
Afterwards no log line and no registration request log entry holds a control character.

Bounded for `make test` (FUZZ_EXAMPLES per operation, 50 by default); `make fuzz` runs more.
"""

import json
import os

import psycopg
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

from core.guards import LINE_FORBIDDEN
from tests.e2e.fuzz_inputs import SchemaFacts, bad_input_is_refused, mutated_cases
from tests.stack import ProcessExited, deployed_stack

pytestmark = pytest.mark.e2e
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
# The seed-era aliases forward to v1's views and services, fuzzed above in full: fewer examples
# each in `make test` (`make fuzz` gives them FUZZ_EXAMPLES too).
LEGACY_FUZZ_EXAMPLES = int(os.environ.get("LEGACY_FUZZ_EXAMPLES", max(FUZZ_EXAMPLES // 5, 1)))
ROLES = ["production_line", "sales", "marketing", "manager"]


@pytest.fixture(scope="module")
def fuzz_stack():
    # Throttles would answer the fuzzer's bursts with 429s; they are tested on their own.
    with deployed_stack(extra_env={"THROTTLE_AUTH_RATE": "100000/min", "THROTTLE_USERADD_RATE": "100000/min"}) as stack:
        stack.start_web()
        yield stack


def test_the_served_schema_is_the_one_fuzzed(fuzz_stack):
    served = requests.get(f"{fuzz_stack.web_url}/api/schema/?format=json", timeout=30).json()

    assert served == SCHEMA


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


SCHEMA = app_schema()
FACTS = SchemaFacts.of(SCHEMA)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    bad_input_is_refused(FACTS),
]
schema = schemathesis.openapi.from_dict(SCHEMA)


@schema.hook
def flatmap_case(context, case):
    return mutated_cases(case, FACTS)


def _fuzzed(examples: int):
    return hypothesis_settings(
        max_examples=examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )


@schema.exclude(tag="legacy").parametrize()
@_fuzzed(FUZZ_EXAMPLES)
def test_every_operation_answers_as_documented_for_every_caller(case, fuzz_stack, callers):
    _call_as_every_caller(case, fuzz_stack, callers)


@schema.include(tag="legacy").parametrize()
@_fuzzed(LEGACY_FUZZ_EXAMPLES)
def test_every_legacy_operation_answers_as_documented_for_every_caller(case, fuzz_stack, callers):
    _call_as_every_caller(case, fuzz_stack, callers)


def _call_as_every_caller(case, fuzz_stack, callers) -> None:
    web = fuzz_stack.processes["web"]
    if web.popen.poll() is not None:  # say why, rather than fail every later case on a refused connection
        raise ProcessExited(f"the web process exited with {web.popen.returncode}:\n{web.log_tail(80)}")
    for headers in callers.values():
        case.call_and_validate(base_url=fuzz_stack.web_url, headers=headers, checks=CHECKS, timeout=30)


def test_no_control_character_reached_the_logs_or_the_registration_request_log(fuzz_stack):
    """After the fuzzing above (it runs first: pytest keeps the order of a module's tests)."""
    log = fuzz_stack.processes["web"].log_path.read_text(encoding="utf-8", errors="replace")
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]

    assert records, "the web process logs JSON lines"
    assert [found for record in records for found in control_characters_in(record)] == []
    with psycopg.connect(fuzz_stack.database_url) as connection:
        rows = connection.execute(
            "SELECT login, email_masked, phone_masked, client_address, user_agent, errors::text, "
            "array_to_string(error_codes, ' ') FROM registrations_registrationrequest"
        ).fetchall()
    assert rows, "the fuzzing called useradd"
    assert [row for row in rows if any(LINE_FORBIDDEN.search(value or "") for value in row)] == []


def control_characters_in(value, key: str = "") -> list[str]:
    """Each string of a decoded JSON log record that holds a control character or a lone
    surrogate (a traceback's line breaks aside), shortened around what was found."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in control_characters_in(k) + control_characters_in(v, k)]
    if isinstance(value, list):
        return [found for item in value for found in control_characters_in(item, key)]
    if isinstance(value, str):
        text = value.replace("\n", "").replace("\t", "") if key in ("exc_info", "stack_info") else value
        match = LINE_FORBIDDEN.search(text)
        return [repr(text[max(match.start() - 60, 0) : match.end() + 20])] if match else []
    return []
