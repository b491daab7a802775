"""The token cache end to end: gunicorn with two workers, each holding the token in memory,
refuses a revoked token and a removed role at once (core.authentication, accounts.signals)."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.stack import BACKEND_DIR, deployed_stack, wait_until

pytestmark = pytest.mark.e2e
MODELS = "/api/v1/robot-models/"


@pytest.fixture(scope="module")
def web():
    with deployed_stack(extra_env={"WEB_CONCURRENCY": "2", "API_TOKEN_CACHE_SECONDS": "3600"}) as stack:
        stack.start_web()
        yield stack


def _manage_shell(stack, code: str) -> None:
    """Runs `code` in a Django shell of the deployment: another process, as an admin's would be."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BACKEND_DIR,
        env=stack.env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _statuses(stack, token: str, count: int = 40) -> list[int]:
    """`count` requests with `token`, 8 at a time on new connections: with two sync workers,
    each busy with one request at a time, both answer some of them."""

    def one(_) -> int:
        headers = {"Authorization": f"Token {token}"}
        return requests.get(f"{stack.web_url}{MODELS}", headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


def _warm_every_worker(stack, token: str) -> None:
    """Sends the token until both workers have answered requests (each holds it then): every
    worker keeps its Prometheus samples in files named after its pid."""
    metrics_dir = stack.work_dir / "prometheus"

    def both_workers_answered() -> bool:
        assert set(_statuses(stack, token)) == {200}
        pids = {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("*.db")}
        return len(pids) >= 2

    wait_until(both_workers_answered, timeout=60, interval=0, what="both gunicorn workers to answer the token")


def test_a_revoked_token_is_refused_at_once_by_every_worker(web):
    token = web.api_token("line-revoked", "production_line")
    _warm_every_worker(web, token)

    _manage_shell(web, f"from rest_framework.authtoken.models import Token; Token.objects.get(key={token!r}).delete()")

    assert set(_statuses(web, token)) == {401}


def test_a_removed_role_is_refused_at_once_by_every_worker(web):
    token = web.api_token("line-demoted", "production_line")
    _warm_every_worker(web, token)

    _manage_shell(
        web,
        "from django.contrib.auth.models import Group; from accounts.models import User; "
        "User.objects.get(username='line-demoted').groups.remove(Group.objects.get(name='production_line'))",
    )

    assert set(_statuses(web, token)) == {403}
