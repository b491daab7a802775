"""docker-compose.yml runs the very scripts the end-to-end tests run (DESIGN.md §5).

There is no Docker engine in CI, so the compose file is proven by its commands: each
service's command must be one of the process scripts that tests/stack.py starts.
"""

import re
from pathlib import Path

import yaml

from tests.stack import REPO_DIR

COMPOSE = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]

# service -> the script it runs, relative to the repository (the image keeps the layout under /app)
PROCESS_SCRIPTS = {
    "release": "backend/bin/release",
    "backend": "backend/bin/web",
    "worker": "worker/bin/worker",
    "mailing-worker": "worker/bin/mailing-worker",
    "beat": "worker/bin/beat",
    "flower": "worker/bin/flower",
}


def test_every_process_service_runs_its_script_from_the_repository():
    for service, script in PROCESS_SCRIPTS.items():
        assert SERVICES[service]["command"] == [f"/app/{script}"], service
        assert (REPO_DIR / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_the_stack_has_every_service_of_the_design():
    assert set(SERVICES) >= {
        "db",
        "redis",
        "release",
        "backend",
        "worker",
        "mailing-worker",
        "beat",
        "nginx",
        "mailpit",
        "flower",
    }


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy():
    for name, service in SERVICES.items():
        if name == "release":
            continue
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name


def test_the_backend_serves_only_after_migrations_and_nginx_only_after_a_healthy_backend():
    assert SERVICES["backend"]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    assert SERVICES["nginx"]["depends_on"]["backend"]["condition"] == "service_healthy"
    assert SERVICES["nginx"]["ports"] == ["${NGINX_PUBLISH_PORT:-8080}:80"]


def test_redis_keeps_an_append_only_file_and_postgres_a_volume():
    assert "--appendonly" in SERVICES["redis"]["command"]
    assert any(volume.startswith("pgdata:") for volume in SERVICES["db"]["volumes"])


def test_nginx_gets_its_template_and_every_variable_it_uses():
    template = (REPO_DIR / "nginx" / "templates" / "default.conf.template").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)\}", template))
    assert used <= set(SERVICES["nginx"]["environment"])
    assert "COPY templates/ /etc/nginx/templates/" in (REPO_DIR / "nginx" / "Dockerfile").read_text()


def test_the_image_keeps_the_repository_layout_the_scripts_rely_on():
    dockerfile = (REPO_DIR / "backend" / "Dockerfile").read_text()
    assert "COPY --chown=r4c:r4c backend/ /app/backend/" in dockerfile
    assert "COPY --chown=r4c:r4c worker/ /app/worker/" in dockerfile
    assert "USER r4c" in dockerfile
    assert Path(REPO_DIR / ".env.example").is_file()


# What the processes read, and the compose-only names that no app container reads.
PROCESS_SOURCES = [
    REPO_DIR / "backend" / "config" / "settings.py",
    REPO_DIR / "backend" / "config" / "gunicorn.py",
    REPO_DIR / "backend" / "core" / "beat.py",
    *(REPO_DIR / "backend" / "bin").iterdir(),
    *(REPO_DIR / "worker" / "bin").iterdir(),
]
NGINX_TEMPLATE = REPO_DIR / "nginx" / "templates" / "default.conf.template"
SETTING_PATTERNS = [
    r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"',
    r'environ(?:\.get|\.setdefault)?\(\s*"([A-Z][A-Z0-9_]+)"',
    r"\$\{([A-Z][A-Z0-9_]+)[:}]",
]
# Read by `make dev`/`with-services` to reach or publish the compose services, or by nginx.
NOT_APP_CONTAINER_SETTINGS = {
    "POSTGRES_PASSWORD",
    "DB_PUBLISH_PORT",
    "REDIS_PUBLISH_PORT",
    "NGINX_PORT",
    "NGINX_RUN_DIR",
    "NGINX_MAX_BODY_SIZE",
    "FLOWER_ADDRESS",  # fixed by the flower service itself
    "FLOWER_PORT",
    "DJANGO_SETTINGS_MODULE",
}


def settings_read(sources) -> set[str]:
    return {
        name for source in sources for pattern in SETTING_PATTERNS for name in re.findall(pattern, source.read_text())
    }


def test_env_example_documents_every_setting_the_code_reads():
    read = settings_read([*PROCESS_SOURCES, NGINX_TEMPLATE]) - {"DJANGO_SETTINGS_MODULE"}
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (REPO_DIR / ".env.example").read_text(), re.MULTILINE))
    assert read - documented == set()


def test_in_compose_the_shells_settings_win_over_env_like_in_make_dev():
    """Every setting an app container reads is in its environment: fixed (the compose services'
    addresses) or passed through by name, which takes the shell's value before .env's."""
    environment = COMPOSE["x-app"]["environment"]
    assert settings_read(PROCESS_SOURCES) - NOT_APP_CONTAINER_SETTINGS - set(environment) == set()
    passed_through = {name for name, value in environment.items() if value is None}
    assert "LOG_LEVEL" in passed_through and "SECRET_KEY" in passed_through
    assert environment["DATABASE_URL"].startswith("postgres://r4c:")  # names the db service, fixed


def test_flower_is_published_on_the_hosts_loopback_only_and_never_proxied():
    assert SERVICES["flower"]["ports"] == ["127.0.0.1:${FLOWER_PORT:-5555}:5555"]
    template = (REPO_DIR / "nginx" / "templates" / "default.conf.template").read_text()
    assert "flower" not in template.lower()
