"""The Celery app, its queues and the beat schedule (periodic system tasks by dotted path)."""

from __future__ import annotations

import os

from celery import Celery, signals
from celery.schedules import crontab
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("default"), Queue("email"), Queue("automation")]
app.conf.beat_schedule = {
    "record-beat-heartbeat": {
        "task": "helpdesk.core.tasks.record_beat_heartbeat",
        "schedule": 15.0,
    },
    "sweep-inbound-emails": {
        "task": "tickets.tasks.sweep_inbound_emails",
        "schedule": 60.0,
    },
    "sweep-outbound-emails": {
        # The outbox sweeper, after mail from before the outbox gets its outbox email.
        "task": "tickets.tasks.sweep_outbound_emails",
        "schedule": 60.0,
    },
    "poll-imap-mailboxes": {
        "task": "tickets.tasks.poll_imap_mailboxes",
        "schedule": 60.0,
    },
    "send-satisfaction-surveys": {
        "task": "tickets.tasks.send_satisfaction_surveys",
        "schedule": 60.0,
    },
    "sweep-ticket-clocks": {
        # Task reminders, "on hold until" running out, tickets left waiting on the customer.
        "task": "tickets.reminders.tasks.sweep_ticket_clocks",
        "schedule": 60.0,
    },
    "sweep-orphaned-attachment-files": {
        "task": "tickets.tasks.sweep_orphaned_attachment_files",
        "schedule": crontab(hour=3, minute=17),
    },
    "sweep-sla-breaches": {
        "task": "automation.tasks.sweep_sla_breaches",
        "schedule": 60.0,
    },
    "sweep-assignment-backlogs": {
        # Behind every trigger: departments whose backlog could be handed out.
        "task": "automation.assignment.tasks.sweep_assignment_backlogs",
        "schedule": 60.0,
    },
    "sweep-shift-clock": {
        # Shifts that began or ended (offline at the end), idle members away.
        "task": "departments.shifts.tasks.sweep_shift_clock",
        "schedule": 60.0,
    },
    "sweep-retention": {
        # Tickets solved longer ago than the tenant keeps them: anonymized or deleted.
        "task": "tickets.contacts.tasks.sweep_retention",
        "schedule": crontab(hour=2, minute=41),
    },
    "sweep-webhook-deliveries": {
        # Webhook retries due later than a countdown may wait, and attempts a dead worker
        # left in flight.
        "task": "automation.webhooks.tasks.sweep_webhook_deliveries",
        "schedule": 60.0,
    },
    "sweep-report-rollups": {
        "task": "automation.reports.tasks.sweep_report_rollups",
        "schedule": 60.0,
    },
    "reconcile-report-rollups": {
        # Yesterday recomputed whole once a day in each tenant's small hours (what deltas
        # and change marks missed).
        "task": "automation.reports.tasks.reconcile_report_rollups",
        "schedule": crontab(minute=35),
    },
    "send-weekly-reports": {
        "task": "automation.reports.tasks.send_weekly_reports",
        "schedule": crontab(minute=5),
    },
}
# Broker outages (Redis restarting, a network blip). The worker keeps trying to reconnect
# for as long as it takes (Celery gives up after 100 attempts by default and the worker
# exits), and tasks that are running when the connection drops finish: their late
# acknowledgement is sent once the broker is back, so nothing runs twice. Cancelling them
# instead (Celery 6's default) would cut a reply off half sent.
# kombu resolves redis:// and redis+socket:// through this table: ours adds one guard
# (helpdesk.core.broker) without which a Redis outage could crash the worker outright.
TRANSPORT_ALIASES["redis"] = "helpdesk.core.broker:Transport"
TRANSPORT_ALIASES["rediss"] = "helpdesk.core.broker:Transport"  # Redis over TLS
app.conf.broker_connection_retry = True
app.conf.broker_connection_max_retries = None
app.conf.worker_cancel_long_running_tasks_on_connection_loss = False
app.autodiscover_tasks(
    [
        "helpdesk.core",
        "helpdesk.accounts",
        "tickets.ticket",
        "tickets.contacts",
        "tickets.satisfaction",
        "tickets.notifications",
        "tickets.reminders",
        "tickets.mail_in",
        "tickets.mail_out",
        "departments",
        "departments.shifts",
        "knowledge_base",
        "automation",
        "automation.assignment",
        "automation.webhooks",
    ]
)

# Celery's Django fixup closes every database connection before and after each task unless
# CELERY_DB_REUSE_MAX is set, so each task would start a new PostgreSQL backend (a fork, an
# authentication and a cold catalog cache: as much server time as a whole inbound mail).
# Workers keep their connections instead and close them on the same terms as web requests:
# when CONN_MAX_AGE has passed or the connection broke (with CONN_HEALTH_CHECKS). Safe with
# row-level security: the tenant setting is transaction-local.
app.conf.CELERY_DB_REUSE_MAX = 2**62


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_database_connections(sender: object = None, **_: object) -> None:
    """In the worker only: a task run eagerly (tests, `apply()`) runs inside its caller's
    connection and transaction, which are not ours to close."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
