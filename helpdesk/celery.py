"""The Celery app, its queues and the beat schedule (periodic system tasks by dotted path)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

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
    "poll-imap-mailboxes": {
        "task": "tickets.tasks.poll_imap_mailboxes",
        "schedule": 60.0,
    },
}
app.autodiscover_tasks(["helpdesk.core", "tickets", "departments", "knowledge_base", "automation"])
