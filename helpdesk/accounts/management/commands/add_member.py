from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services
from helpdesk.tenancy import selectors
from helpdesk.tenancy.errors import TenantNotFound
from helpdesk.tenancy.models import MembershipRole


class Command(BaseCommand):
    help = (
        "Seat a person in a tenant with a role, creating their login when the address is new"
        " (no invitation mail); an inactive seat is reactivated and the role updated. Prints"
        " the member id alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the tenant's slug")
        parser.add_argument("email", help="the person's address (their login)")
        parser.add_argument(
            "--role", required=True, choices=MembershipRole.values, help="the seat's role"
        )
        parser.add_argument(
            "--password", default=None, help="password of a new login (an existing one's stays)"
        )
        parser.add_argument("--name", default="", help="display name of a new login")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = selectors.get_tenant_by_slug(options["slug"])
        except TenantNotFound as error:
            raise CommandError(f"no tenant {options['slug']!r}") from error
        email = options["email"].strip()
        try:
            validate_email(email)
        except ValidationError as error:
            raise CommandError(f"{email!r} is not a valid email address") from error
        password = options["password"]
        if password is not None and not password:
            raise CommandError("--password may not be empty (leave it out for no password)")
        with transaction.atomic():
            existing = account_selectors.users_with_email(email).first()
            user = existing or services.get_or_create_user(
                email=email, name=options["name"].strip()[:200], password=password
            )
            membership = services.add_member(tenant=tenant, user=user, role=options["role"])
        if existing is not None and (password or options["name"]):
            self.stderr.write(
                f"{email} already has a login: its password and name are left as they are"
            )
        self.stdout.write(str(membership.id))
