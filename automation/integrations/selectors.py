"""Reads for ticket integrations: the integrations and contact apps of the tenant, one of
each (another tenant's is NotFound like a missing one), and a ticket's linked items."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from automation.errors import ContactAppNotFound, ExternalTaskNotFound, IntegrationNotFound
from automation.models import ContactApp, ExternalTask, ExternalTaskIntegration
from tickets.models import Ticket


def _uuid(value: UUID | str) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def list_integrations() -> QuerySet[ExternalTaskIntegration]:
    """The tenant's task integrations by name."""
    return ExternalTaskIntegration.objects.order_by("name", "id")


def get_integration(integration_id: UUID | str) -> ExternalTaskIntegration:
    """One integration. Raises IntegrationNotFound."""
    found = _uuid(integration_id)
    integration = list_integrations().filter(id=found).first() if found else None
    if integration is None:
        raise IntegrationNotFound(integration_id=str(integration_id))
    return integration


def list_contact_apps() -> QuerySet[ContactApp]:
    """The tenant's contact apps by name."""
    return ContactApp.objects.order_by("name", "id")


def get_contact_app(app_id: UUID | str) -> ContactApp:
    """One contact app. Raises ContactAppNotFound."""
    found = _uuid(app_id)
    app = list_contact_apps().filter(id=found).first() if found else None
    if app is None:
        raise ContactAppNotFound(app_id=str(app_id))
    return app


def list_external_tasks(ticket: Ticket) -> QuerySet[ExternalTask]:
    """A ticket's linked items, newest first, with who created them."""
    return (
        ExternalTask.objects.filter(ticket=ticket)
        .select_related("created_by__user")
        .order_by("-id")
    )


def get_external_task(ticket: Ticket, task_id: UUID | str) -> ExternalTask:
    """One linked item of the ticket. Raises ExternalTaskNotFound."""
    found = _uuid(task_id)
    task = list_external_tasks(ticket).filter(id=found).first() if found else None
    if task is None:
        raise ExternalTaskNotFound(task_id=str(task_id))
    return task
