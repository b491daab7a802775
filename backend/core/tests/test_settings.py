"""Production settings: refuse unsafe configurations, pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "DEBUG": "0",
    "SECRET_KEY": "a-real-secret-key-for-tests-only-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "r4c.example",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}


def run_manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV}
    env.update(PRODUCTION_ENV, **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "DEBUG")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_debug():
    result = run_manage("check", DEBUG="1")

    assert result.returncode != 0
    assert "DEBUG=1 is refused in production" in result.stderr


def test_production_refuses_a_missing_or_default_secret_key():
    missing = run_manage("check", SECRET_KEY="")
    default = run_manage("check", SECRET_KEY="insecure-development-key-do-not-use-in-production")

    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
    assert default.returncode != 0 and "SECRET_KEY" in default.stderr
