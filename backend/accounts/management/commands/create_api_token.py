from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_create
from core.roles import Role


class Command(BaseCommand):
    help = "Creates USERNAME if needed, gives it ROLE and prints its API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)

    def handle(self, *args, username: str, role: str, **options):
        if not username.strip():
            raise CommandError("USERNAME must not be empty.")
        token = api_token_create(username=username, role=Role(role))
        self.stdout.write(f"User {username!r} has the role {role!r}. Use: Authorization: Token <key>")
        self.stdout.write(token.key)
