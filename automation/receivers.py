"""Receivers of what lower apps report; each only enqueues a task (see CONTRIBUTING.md)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from automation import selectors, tasks, ticket_events
from automation.integrations import tasks as integration_tasks
from automation.models import WebhookEvent
from automation.reports import tasks as report_tasks
from automation.webhooks import services as webhooks
from automation.webhooks import tasks as webhook_tasks
from departments.signals import business_hours_changed
from helpdesk.core.batching import collect_on_commit, remembered
from tickets.signals import contacts_erased, rating_received, ticket_changed, tickets_erased


@receiver(ticket_changed, dispatch_uid="automation.sla.ticket_changed")
def measure_sla_after_change(*, tenant_id: Any, ticket_id: Any, **_: Any) -> None:
    """SLA clocks follow the ticket; tenants without policies have nothing to measure."""
    tenant = str(tenant_id)
    key = ("automation.sla", tenant)
    # Whether there are policies is asked once per inbound batch (a hundred tickets).
    if remembered(
        ("automation.sla.policies", tenant), lambda: bool(selectors.list_active_sla_policies())
    ):

        def enqueue(ids: list[str]) -> None:
            tasks.apply_sla.delay(tenant_id=tenant, ticket_ids=sorted(set(ids)))

        # One task for a transaction's tickets (an inbound batch of mails is one task).
        collect_on_commit(key, str(ticket_id), enqueue)


@receiver(business_hours_changed, dispatch_uid="automation.sla.business_hours_changed")
def measure_sla_after_hours_change(*, tenant_id: Any, **_: Any) -> None:
    if selectors.list_active_sla_policies():
        tasks.reapply_sla_policies.delay_on_commit(tenant_id=str(tenant_id))


@receiver(ticket_changed, dispatch_uid="automation.ticket_events.ticket_changed")
def automate_after_change(*, ticket_id: Any, reason: str, by_rule: bool = False, **_: Any) -> None:
    """Rules and assignment follow creations and updates, a transaction's tickets at once;
    what a rule changed starts no new round of rules."""
    trigger = ticket_events.TRIGGER_OF_REASON.get(reason)
    if trigger is not None and not by_rule:
        ticket_events.collect(trigger=trigger, ticket_id=ticket_id)


@receiver(ticket_changed, dispatch_uid="automation.reports.ticket_changed")
def refresh_reports_after_change(
    *, tenant_id: Any, ticket_id: Any, reason: str = "", **_: Any
) -> None:
    """The report rollups of the days the tickets count on (report_tasks.refresh_on_commit)."""
    report_tasks.refresh_on_commit(
        tenant_id=str(tenant_id), ticket_id=str(ticket_id), reason=reason
    )


@receiver(ticket_changed, dispatch_uid="automation.webhooks.ticket_changed")
def call_webhooks_after_change(*, ticket_id: Any, reason: str, **_: Any) -> None:
    """Webhooks hear of creations, updates, solves and messages after the commit, a
    transaction's events at once; what rules changed too (it is a change all the same)."""
    webhooks.collect_event(ticket_id=ticket_id, reason=reason)


@receiver(rating_received, dispatch_uid="automation.reports.rating_received")
def refresh_reports_after_rating(*, tenant_id: Any, ticket_id: Any, **_: Any) -> None:
    """A rating counts on the day it was given; a changed one also leaves the day of the
    earlier answer (both are in the ticket's history, which ticket_days reads)."""
    report_tasks.refresh_on_commit(
        tenant_id=str(tenant_id), ticket_id=str(ticket_id), reason="satisfaction"
    )


@receiver(rating_received, dispatch_uid="automation.webhooks.rating_received")
def call_webhooks_after_rating(*, ticket_id: Any, rating_id: Any, **_: Any) -> None:
    webhooks.collect_event(
        ticket_id=ticket_id, event=WebhookEvent.RATING_RECEIVED, rating_id=str(rating_id)
    )


@receiver(tickets_erased, dispatch_uid="automation.webhooks.tickets_erased")
def erase_webhook_copies(*, tenant_id: Any, ticket_ids: list[str], **_: Any) -> None:
    """The delivery log keeps the JSON sent about those tickets: erased after the commit."""
    webhook_tasks.erase_webhook_payloads.delay_on_commit(
        tenant_id=str(tenant_id), ticket_ids=ticket_ids
    )


@receiver(tickets_erased, dispatch_uid="automation.integrations.tickets_erased")
def erase_linked_item_titles(*, tenant_id: Any, ticket_ids: list[str], **_: Any) -> None:
    """Linked items keep a copy of the ticket's subject: erased after the commit."""
    integration_tasks.erase_external_task_titles.delay_on_commit(
        tenant_id=str(tenant_id), ticket_ids=ticket_ids
    )


@receiver(contacts_erased, dispatch_uid="automation.integrations.contacts_erased")
def forget_contact_app_answers(*, tenant_id: Any, contact_ids: list[str], **_: Any) -> None:
    """Contact apps' cached answers about erased people: deleted after the commit (they
    are unreachable at once, as they were fetched for the person's former values)."""
    integration_tasks.forget_contact_app_answers.delay_on_commit(
        tenant_id=str(tenant_id), contact_ids=contact_ids
    )
