from django.core.management.base import BaseCommand

from accounts.services import registration_spool_replay


class Command(BaseCommand):
    help = "Writes useradd log entries spooled while the database was unreachable into the log table."

    def handle(self, *args, **options):
        total = 0
        while replayed := registration_spool_replay():
            total += replayed
        self.stdout.write(f"{total} spooled useradd log entries replayed.")
