from django.core.management.base import BaseCommand

from accounts.services import registration_spool_replay


class Command(BaseCommand):
    help = "Writes useradd log entries spooled while the database was unreachable into the log table."

    def add_arguments(self, parser):
        parser.add_argument(
            "--set-aside",
            action="store_true",
            help="Try the entries set aside (refused by the database even cleaned) again, e.g. after a fix.",
        )

    def handle(self, *args, **options):
        total = 0
        while replayed := registration_spool_replay(set_aside=options["set_aside"]):
            total += replayed
        which = "set-aside" if options["set_aside"] else "spooled"
        self.stdout.write(f"{total} {which} useradd log entries replayed.")
