from django.core.management.base import BaseCommand

from registrations.services import registration_request_log_replay


class Command(BaseCommand):
    help = "Writes registration request log entries spooled while the database was unreachable into the log table."

    def add_arguments(self, parser):
        parser.add_argument(
            "--set-aside",
            action="store_true",
            help="Try the entries set aside (refused by the database even cleaned) again, e.g. after a fix.",
        )

    def handle(self, *args, **options):
        total = 0
        while replayed := registration_request_log_replay(set_aside=options["set_aside"]):
            total += replayed
        which = "set-aside" if options["set_aside"] else "spooled"
        self.stdout.write(f"{total} {which} registration request log entries replayed.")
