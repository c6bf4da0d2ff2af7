from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services
from helpdesk.tenancy import selectors
from helpdesk.tenancy.errors import TenantNotFound


class Command(BaseCommand):
    help = "Create an API token for a member of a tenant and print the key (only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--name", default="API token")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = selectors.get_tenant_by_slug(options["slug"])
        except TenantNotFound as error:
            raise CommandError(f"no tenant {options['slug']!r}") from error
        user = account_selectors.users_with_email(options["email"]).first()
        membership = (
            selectors.find_membership(tenant_id=tenant.id, user_id=user.id) if user else None
        )
        if membership is None:
            raise CommandError(f"{options['email']} is not a member of {tenant.slug}")
        _, key = services.create_api_token(membership=membership, name=options["name"])
        self.stdout.write(key)
