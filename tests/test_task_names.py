"""Celery task names never change: messages already queued in Redis, and the beat schedule,
name tasks by the dotted path they had when they were queued. Code may move; names stay."""

from helpdesk.celery import app

# Generated from the code before tickets/ was organised by feature; append new tasks, never
# rename one.
TASK_NAMES = {
    "automation.assignment.tasks.assign_tickets",
    "automation.assignment.tasks.drain_department",
    "automation.assignment.tasks.drain_member_departments",
    "automation.assignment.tasks.drain_tenant_backlogs",
    "automation.assignment.tasks.drain_ticket_departments",
    "automation.assignment.tasks.hand_back_departed",
    "automation.assignment.tasks.hand_back_offline",
    "automation.assignment.tasks.sweep_assignment_backlogs",
    "automation.reports.tasks.refresh_report_rollups",
    "automation.tasks.apply_sla",
    "automation.tasks.reapply_sla_policies",
    "automation.tasks.record_sla_breaches",
    "automation.tasks.sweep_sla_breaches",
    "automation.ticket_events.handle_ticket_events",
    "departments.shifts.tasks.run_shift_clock",
    "departments.shifts.tasks.sweep_shift_clock",
    "helpdesk.accounts.tasks.send_invitation",
    "helpdesk.core.tasks.record_beat_heartbeat",
    "helpdesk.mail.tasks.deliver_outbound_email",
    "helpdesk.mail.tasks.record_outbound_email_sent",
    "helpdesk.mail.tasks.requeue_outbound_email",
    "helpdesk.mail.tasks.sweep_outbound_email",
    # Added with the outbox: adopts replies left in flight by the code before it.
    "tickets.tasks.adopt_mail_from_before_the_outbox",
    "tickets.tasks.attach_domain_contacts",
    "tickets.tasks.delete_orphaned_attachment_files",
    "tickets.tasks.deliver_message_email",
    "tickets.tasks.poll_imap_mailboxes",
    "tickets.tasks.poll_mailbox",
    "tickets.tasks.poll_tenant_mailboxes",
    "tickets.tasks.process_inbound_email",
    "tickets.tasks.record_message_sent",
    "tickets.tasks.release_member_tickets",
    "tickets.tasks.requeue_inbound_emails",
    "tickets.tasks.requeue_outbound_emails",
    "tickets.notifications.tasks.send_agent_notifications",
    "tickets.tasks.send_agent_notification",
    "tickets.tasks.send_auto_acknowledgement",
    "tickets.tasks.send_due_surveys",
    "tickets.tasks.send_satisfaction_surveys",
    "tickets.tasks.sweep_inbound_emails",
    "tickets.tasks.sweep_orphaned_attachment_files",
    "tickets.tasks.sweep_outbound_emails",
    # Tasks and reminders (issue 19).
    "tickets.reminders.tasks.run_ticket_clocks",
    "tickets.reminders.tasks.sweep_ticket_clocks",
    # Inbound mail v2 (issue 17): intake wakes one drain per burst of mail; a batch's
    # acknowledgements go out by one task over one connection.
    "tickets.tasks.drain_inbound_emails",
    "helpdesk.mail.tasks.deliver_outbound_emails",
    # Reports (issue 20): debounced recomputes, their sweeper, the weekly summary mail.
    "automation.reports.tasks.recompute_report_rollups",
    "automation.reports.tasks.sweep_report_rollups",
    "automation.reports.tasks.send_weekly_reports",
    "automation.reports.tasks.send_weekly_report",
    # Inbound mail v2 (issue 17): an inbound batch's rollup refresh, coalesced per tenant.
    "automation.reports.tasks.refresh_pending_report_rollups",
    # Issue 17: yesterday's rollups recomputed once a day (what deltas missed).
    "automation.reports.tasks.reconcile_report_rollups",
    "automation.reports.tasks.reconcile_report_day",
    # Outgoing webhooks (issue 21).
    "automation.webhooks.tasks.queue_webhook_events",
    "automation.webhooks.tasks.deliver_webhook",
    "automation.webhooks.tasks.send_due_webhook_deliveries",
    "automation.webhooks.tasks.sweep_webhook_deliveries",
    "automation.webhooks.tasks.erase_webhook_payloads",
    "automation.integrations.tasks.create_external_task",
    "automation.integrations.tasks.erase_external_task_titles",
    "automation.integrations.tasks.forget_contact_app_answers",
    # Retention of solved tickets (issue 21).
    "tickets.contacts.tasks.apply_retention",
    "tickets.contacts.tasks.sweep_retention",
}
OUR_PACKAGES = ("helpdesk", "tickets", "departments", "knowledge_base", "automation")


def test_registered_task_names_are_unchanged() -> None:
    app.loader.import_default_modules()
    registered = {name for name in app.tasks if name.split(".")[0] in OUR_PACKAGES}
    assert registered == TASK_NAMES


def test_beat_schedule_names_registered_tasks() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
