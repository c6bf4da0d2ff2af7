"""Rebuild the help center's search documents of one tenant (articles and translations)."""

from __future__ import annotations

from typing import Any

from helpdesk.tenancy.commands import TenantCommand
from helpdesk.tenancy.models import Tenant
from knowledge_base import services


class Command(TenantCommand):
    help = (
        "Rebuild the search documents of a tenant's articles and their translations"
        " (after changing its language)."
    )

    def handle_tenant(self, tenant: Tenant, *args: Any, **options: Any) -> None:
        articles, translations = services.rebuild_search_documents()
        self.stdout.write(
            f"reindexed {articles} articles and {translations} translations of {tenant.slug}"
        )
