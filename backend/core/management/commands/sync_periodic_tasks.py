from django.core.management.base import BaseCommand

from config.schedule import PERIODIC_JOBS
from core.schedules import periodic_tasks_sync


class Command(BaseCommand):
    help = "Writes the periodic jobs declared in config/schedule.py into the beat schedule tables."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-schedules", action="store_true", help="Put back the code's default times for every job."
        )

    def handle(self, *args, reset_schedules: bool = False, **options):
        result = periodic_tasks_sync(jobs=PERIODIC_JOBS, reset_schedules=reset_schedules)
        for label, names in (("created", result.created), ("updated", result.updated), ("deleted", result.deleted)):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(PERIODIC_JOBS)} periodic jobs in sync."))
