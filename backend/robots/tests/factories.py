import factory
from django.utils import timezone

from robots.models import Robot, RobotModel, RobotVersion


class RobotModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RobotModel
        django_get_or_create = ("code",)

    code = "R2"
    name = "Astromech"


class RobotVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RobotVersion
        django_get_or_create = ("model", "code")

    model = factory.SubFactory(RobotModelFactory)
    code = "D2"


class RobotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Robot

    robot_version = factory.SubFactory(RobotVersionFactory)
    model = factory.LazyAttribute(lambda robot: robot.robot_version.model.code)
    version = factory.LazyAttribute(lambda robot: robot.robot_version.code)
    serial = factory.LazyAttribute(lambda robot: f"{robot.model}-{robot.version}")
    created = factory.LazyFunction(timezone.now)
