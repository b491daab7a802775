"""Test doubles live in devtools/ and no product app imports them (DESIGN.md §3)."""

import ast
from pathlib import Path

from django.apps import apps

BACKEND = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_product_app_imports_the_test_doubles():
    offenders = []
    for config in apps.get_app_configs():
        root = Path(config.path)
        if BACKEND not in root.parents:
            continue  # Django's and third parties' apps
        for path in root.rglob("*.py"):
            if "tests" in path.relative_to(root).parts:
                continue
            if any(name == "devtools" or name.startswith("devtools.") for name in _imports(path)):
                offenders.append(str(path.relative_to(BACKEND)))

    assert offenders == []


def test_the_fake_gateway_is_a_devtool():
    homes = [path.parent.name for path in BACKEND.glob("*/fake_gateway.py") if path.parent.name != "tests"]
    assert homes == ["devtools"]
