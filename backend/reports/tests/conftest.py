from datetime import datetime

import pytest
from django.utils import timezone

from robots.tests.factories import RobotFactory, RobotVersionFactory


def local(*args) -> datetime:
    """A moment in the factory's time zone."""
    return timezone.make_aware(datetime(*args))


@pytest.fixture
def manager(client_for_role):
    return client_for_role("manager", "boss")


@pytest.fixture
def make_robots(db):
    """`make_robots("R2-D2", when, count)` records robots of a serial produced at `when`."""

    def make(serial: str, when: datetime, count: int = 1) -> None:
        model, version = serial.split("-")
        robot_version = RobotVersionFactory(model__code=model, code=version)
        RobotFactory.create_batch(count, robot_version=robot_version, created=when)

    return make
