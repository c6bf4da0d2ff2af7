"""Base for management commands that work inside one tenant (`--tenant SLUG`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk.tenancy import selectors
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.errors import TenantNotFound
from helpdesk.tenancy.models import Tenant


class TenantCommand(BaseCommand):
    """Resolves `--tenant` and runs `handle_tenant` inside that tenant's context."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="the tenant's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = selectors.get_tenant_by_slug(options["tenant"])
        except TenantNotFound as error:
            raise CommandError(f"no tenant {options['tenant']!r}") from error
        options.pop("tenant")
        with tenant_context(tenant.id):
            self.handle_tenant(tenant, *args, **options)

    def handle_tenant(self, tenant: Tenant, *args: Any, **options: Any) -> None:
        """The command's work, inside the tenant's context; `tenant` is the resolved row."""
        raise NotImplementedError
