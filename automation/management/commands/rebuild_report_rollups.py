"""Rebuild the report rollups of one tenant (SLUG) or of every tenant."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from automation.reports import services
from helpdesk.tenancy import selectors
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.errors import TenantNotFound
from helpdesk.tenancy.models import Tenant


class Command(BaseCommand):
    help = "Recompute the report rollups from the tickets (one tenant, or all without SLUG)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", default="", metavar="SLUG")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["slug"]:
            try:
                tenants = [selectors.get_tenant_by_slug(options["slug"])]
            except TenantNotFound as error:
                raise CommandError(f"no tenant {options['slug']!r}") from error
        else:
            tenants = list(Tenant.objects.order_by("slug"))
        for tenant in tenants:
            with tenant_context(tenant.id):
                written = services.rebuild()
            self.stdout.write(f"{tenant.slug}: {written} rollup rows")
