from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.core.errors import DomainError
from helpdesk.ops import services


class Command(BaseCommand):
    help = "Create a tenant with its default department, support@ mailbox and an admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--language", default="en")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = services.create_tenant(
                slug=options["slug"],
                name=options["name"],
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
                admin_name=options["admin_name"],
                time_zone=options["time_zone"],
                language=options["language"],
            )
        except DomainError as error:
            raise CommandError(f"{error.code}: {error}") from error
        self.stdout.write(f"created tenant {result.tenant.slug} (mailbox {result.mailbox.address})")
