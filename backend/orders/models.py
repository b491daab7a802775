"""Orders for a robot model-version, and the robot each one is given."""

from django.db import models

from customers.models import Customer
from robots.models import Robot


class OrderStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for a robot"
    NOTIFIED = "notified", "Robot reserved, customer notified"
    CANCELLED = "cancelled", "Cancelled"


class Order(models.Model):
    """A customer's wish for a robot of one serial (model-version).

    A waiting order gets the oldest free robot of its serial the moment there is one; the
    robot is then reserved for it (`robot`, at most one order per robot) and the customer
    gets one e-mail.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    robot_serial = models.CharField(max_length=5)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.WAITING)
    robot = models.OneToOneField(Robot, on_delete=models.PROTECT, null=True, blank=True, related_name="order")
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="notified", robot__isnull=False)
                | models.Q(~models.Q(status="notified"), robot__isnull=True),
                name="order_has_a_robot_exactly_when_notified",
            ),
        ]
        indexes = [
            # The oldest waiting order of a serial, first come first served.
            models.Index(
                fields=["robot_serial", "created_at", "id"],
                condition=models.Q(status="waiting"),
                name="order_waiting_by_serial",
            ),
        ]

    def __str__(self) -> str:
        return f"order #{self.pk} {self.robot_serial} ({self.status})"
