from django.core.management.base import BaseCommand

from core.schedules import periodic_jobs, periodic_tasks_sync


class Command(BaseCommand):
    help = "Writes the periodic jobs declared in code (the PERIODIC_JOBS setting) into the beat schedule tables."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-schedules", action="store_true", help="Put back the code's default times for every job."
        )

    def handle(self, *args, reset_schedules: bool = False, **options):
        jobs = periodic_jobs()
        result = periodic_tasks_sync(jobs=jobs, reset_schedules=reset_schedules)
        for label, names in (("created", result.created), ("updated", result.updated), ("deleted", result.deleted)):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        self.stdout.write(self.style.SUCCESS(f"{len(jobs)} periodic jobs in sync."))
