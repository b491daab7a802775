"""Dependencies run one way (DESIGN.md §3), checked on every import of the product code, the ones
inside functions included: core at the bottom; customers, robots and notifications above it
(and accounts); orders, reports, mailings and registrations above those; legacy on top. No app imports another
app's `apis`; a lower app that must let a higher one react publishes a domain event (core.events)."""

import ast
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[1]

# app -> the apps it may import (besides itself)
MAY_IMPORT = {
    "core": set(),
    "accounts": {"core"},
    "customers": {"core"},
    "robots": {"core"},
    "notifications": {"core"},
    "orders": {"core", "robots", "customers", "notifications"},
    "reports": {"core", "robots", "notifications"},
    "mailings": {"core", "customers", "notifications"},
    "registrations": {"core", "accounts"},
    # the seed-era routes, on top: they forward to v1 by URL name, and start due mailings
    "legacy": {"core", "customers", "robots", "notifications", "orders", "reports", "mailings"},
}
PROJECT = set(MAY_IMPORT) | {"config", "devtools", "tests"}


def imports_of(app: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import of the project's own modules in `app`'s product code."""
    found = []
    root = BACKEND / app
    for path in sorted(root.rglob("*.py")):
        if {"tests", "migrations"} & set(path.relative_to(root).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            found += [(str(path.relative_to(BACKEND)), module) for module in modules if module.split(".")[0] in PROJECT]
    return found


def test_every_app_of_the_project_has_its_place():
    apps_on_disk = {path.parent.name for path in BACKEND.glob("*/apps.py")}

    assert apps_on_disk == set(MAY_IMPORT)


@pytest.mark.parametrize("app", sorted(MAY_IMPORT))
def test_an_app_imports_only_the_apps_below_it(app):
    allowed = MAY_IMPORT[app] | {app}

    against = sorted({(file, module) for file, module in imports_of(app) if module.split(".")[0] not in allowed})

    assert against == []


@pytest.mark.parametrize("app", sorted(MAY_IMPORT))
def test_no_app_imports_another_apps_apis(app):
    found = sorted(
        {
            (file, module)
            for file, module in imports_of(app)
            if module.split(".")[0] != app and ".apis" in f".{module}." and module.split(".")[1:2] == ["apis"]
        }
    )

    assert found == []


@pytest.mark.parametrize("tasks", sorted(BACKEND.glob("*/tasks.py")), ids=lambda path: path.parent.name)
def test_tasks_import_the_rules_in_their_bodies(tasks):
    """HackSoft's convention, the same in every app: services import their tasks at the top,
    tasks import services inside each task's body, so the cycle is cut in tasks.py."""
    tree = ast.parse(tasks.read_text())
    at_top = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]

    assert [module for module in at_top if module and module.split(".")[0] in PROJECT] == []
