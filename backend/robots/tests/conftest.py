import pytest

from robots.tests.factories import RobotVersionFactory


@pytest.fixture
def catalog(db):
    """R2 with versions D2 and A1, and C3 with version PO."""
    return [
        RobotVersionFactory(model__code="R2", code="D2"),
        RobotVersionFactory(model__code="R2", code="A1"),
        RobotVersionFactory(model__code="C3", code="PO"),
    ]


@pytest.fixture
def line(client_for_role):
    return client_for_role("production_line", "line-1")


@pytest.fixture
def manager(client_for_role):
    return client_for_role("manager", "boss")
