"""Where code lives (DESIGN.md §3): test doubles in devtools/, never imported by a product app;
tests out of the runtime image, which runs without them."""

import ast
import fnmatch
from pathlib import Path

from django.apps import apps

BACKEND = Path(__file__).resolve().parents[1]
REPO = BACKEND.parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _product_modules():
    for config in apps.get_app_configs():
        root = Path(config.path)
        if BACKEND not in root.parents:
            continue  # Django's and third parties' apps
        for path in root.rglob("*.py"):
            if "tests" not in path.relative_to(root).parts:
                yield path
    yield from (BACKEND / "config").rglob("*.py")


def test_no_product_module_imports_the_test_doubles_or_the_tests():
    offenders = [
        str(path.relative_to(BACKEND))
        for path in _product_modules()
        if any(name.split(".")[0] in {"devtools", "tests", "conftest"} for name in _imports(path))
    ]

    assert offenders == []


def test_the_test_doubles_are_devtools():
    doubles = [path for pattern in ("*/fake_gateway.py", "*/smtp_sink.py") for path in BACKEND.glob(pattern)]

    # tests/fake_gateway.py drives the double from the tests (its control API); it is no double.
    assert {path.parent.name for path in doubles if path.parent.name != "tests"} == {"devtools"}


def _ignored(relative: str, patterns: list[str]) -> bool:
    # Docker's matching: a pattern matches a path or any of its parents; ** crosses directories.
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(candidate, pattern) or fnmatch.fnmatch(candidate, pattern.replace("**/", ""))
        for candidate in candidates
        for pattern in patterns
    )


def test_the_runtime_image_leaves_the_tests_out():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    test_dirs = sorted(
        str(path.relative_to(REPO)) for path in BACKEND.rglob("tests") if path.is_dir() and ".venv" not in path.parts
    )

    assert "backend/tests" in test_dirs and len(test_dirs) > 5
    assert [path for path in test_dirs if not _ignored(path, patterns)] == []
    assert _ignored("backend/conftest.py", patterns)
    assert not _ignored("backend/devtools/fake_gateway.py", patterns)  # the compose dev profile runs it
    assert not _ignored("backend/robots/services.py", patterns)


def _views():
    from django.urls import get_resolver

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
            else:
                yield getattr(pattern.callback, "cls", None)

    return {view for view in walk(get_resolver().url_patterns) if view is not None}


def test_every_view_names_its_roles_by_the_one_enum():
    from core.roles import Role

    bare = {}
    for view in _views():
        roles = getattr(view, "roles", ())
        named = [role for allowed in roles.values() for role in allowed] if isinstance(roles, dict) else list(roles)
        if any(not isinstance(role, Role) for role in named):
            bare[view.__qualname__] = named

    assert bare == {}
