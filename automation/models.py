"""Automation: canned responses, SLA policies and their timers, workflow rules."""

from __future__ import annotations

from datetime import datetime

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Coalesce, Lower

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK
from tickets.models import SlaMetric

__all__ = [
    "AutomationRun",
    "CannedResponse",
    "CannedResponseScope",
    "ContactApp",
    "ExternalTask",
    "ExternalTaskIntegration",
    "ExternalTaskStatus",
    "IntegrationMethod",
    "ReportCountedTicket",
    "ReportDirtyDay",
    "ReportMailOptOut",
    "ReportRollup",
    "Rule",
    "RuleMatch",
    "RuleTrigger",
    "SlaMetric",
    "SlaPolicy",
    "SlaTimer",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEvent",
]


class CannedResponseScope(models.TextChoices):
    TENANT = "tenant", "Everyone"
    DEPARTMENT = "department", "One department"
    PERSONAL = "personal", "Only me"


class CannedResponse(TenantModel):
    """A reusable answer with placeholders, inserted into the reply editor."""

    title = models.CharField(max_length=120)
    body = models.TextField()
    scope = models.CharField(
        max_length=16, choices=CannedResponseScope.choices, default=CannedResponseScope.PERSONAL
    )
    department = models.ForeignKey(
        "departments.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    owner = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    usage_count = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["title"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            TenantFK("owner"),
            models.CheckConstraint(
                condition=models.Q(scope__in=CannedResponseScope.values),
                name="automation_cannedresponse_scope_valid",
            ),
            # A department response names its department; a personal one its owner.
            models.CheckConstraint(
                condition=(
                    models.Q(scope="department", department__isnull=False)
                    | ~models.Q(scope="department")
                ),
                name="automation_cannedresponse_department_set",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="personal", owner__isnull=False) | ~models.Q(scope="personal")
                ),
                name="automation_cannedresponse_owner_set",
            ),
        ]
        indexes = [
            # The picker: a tenant's responses by scope.
            models.Index(fields=["tenant", "scope"], name="automation_canned_scope_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class SlaPolicy(TenantModel):
    """Targets for the tickets it matches; the first matching policy by position applies.

    Empty conditions match every ticket. Targets are minutes of business time on
    `business_hours` (none: around the clock); a target left empty is not measured.
    """

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    priorities = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    channels = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    department = models.ForeignKey(
        "departments.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ticket_type = models.ForeignKey(
        "tickets.TicketType", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    business_hours = models.ForeignKey(
        "departments.BusinessHours",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            TenantFK("ticket_type"),
            TenantFK("business_hours"),
            models.UniqueConstraint("tenant", Lower("name"), name="automation_slapolicy_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name

    def target_minutes(self, metric: str) -> int | None:
        minutes: int | None = getattr(self, f"{metric}_minutes")
        return minutes


class SlaTimer(TenantModel):
    """One measured target of a ticket: a first response, one next-response cycle, or the
    resolution. Derived from the ticket's history by automation.sla (recomputed, never
    edited); the clock runs only while the ticket is open.

    Running: `due_at` set. Paused (waiting on customer, on hold): `due_at` empty and
    `remaining_seconds` kept. Done: `completed_at` set. `breached_at` is when the target
    passed, for a done timer or a running one the sweeper has seen overdue.
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="+")
    metric = models.CharField(max_length=16, choices=SlaMetric.choices)
    started_at = models.DateTimeField()
    target_minutes = models.PositiveIntegerField()
    due_at = models.DateTimeField(null=True, blank=True)
    remaining_seconds = models.IntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    breach_recorded = models.BooleanField(
        default=False, help_text="The breach is in the ticket history and the agent was told."
    )

    class Meta(TenantModel.Meta):
        ordering = ["started_at", "metric"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("policy"),
            models.UniqueConstraint(
                fields=["tenant", "ticket", "metric", "started_at"], name="automation_slatimer_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(metric__in=SlaMetric.values),
                name="automation_slatimer_metric_valid",
            ),
        ]
        indexes = [
            # The breach sweeper: running timers past due, not yet recorded.
            models.Index(
                fields=["due_at"],
                name="automation_slatimer_due_idx",
                condition=models.Q(due_at__isnull=False, breach_recorded=False),
            ),
            # Reports: targets completed or missed in the days being recomputed.
            models.Index(
                "tenant",
                Coalesce("completed_at", "breached_at"),
                name="automation_slatimer_report_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} of {self.ticket_id}"

    def state(self, now: datetime) -> str:
        """met, breached, overdue, paused or running (as of `now`)."""
        if self.completed_at is not None:
            return "breached" if self.breached_at else "met"
        if self.due_at is None:
            return "paused"
        return "overdue" if self.due_at <= now else "running"


class RuleTrigger(models.TextChoices):
    TICKET_CREATED = "ticket_created", "Ticket created"
    TICKET_UPDATED = "ticket_updated", "Ticket updated (customer reply, field change)"
    SLA_MISSED = "sla_missed", "SLA target missed"


class RuleMatch(models.TextChoices):
    ALL = "all", "All conditions"
    ANY = "any", "Any condition"


class Rule(TenantModel):
    """A workflow rule: on its trigger, when all (or any) conditions hold, do the actions.

    Rules of a trigger run in `position` order; `stop_processing` ends the run after this
    one matched. `conditions` is [{"field", "operator", "value"}] and `actions`
    [{"action", "value"}]; automation.rules checks both against its vocabulary on save.
    """

    name = models.CharField(max_length=120)
    trigger = models.CharField(
        max_length=16, choices=RuleTrigger.choices, default=RuleTrigger.TICKET_CREATED
    )
    match = models.CharField(max_length=3, choices=RuleMatch.choices, default=RuleMatch.ALL)
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    stop_processing = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["position", "created_at"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint("tenant", Lower("name"), name="automation_rule_name_uniq"),
            models.CheckConstraint(
                condition=models.Q(trigger__in=RuleTrigger.values),
                name="automation_rule_trigger_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(match__in=RuleMatch.values),
                name="automation_rule_match_valid",
            ),
        ]
        indexes = [
            # Every event: the tenant's active rules of one trigger, in order.
            models.Index(
                fields=["tenant", "trigger", "position"],
                name="automation_rule_trigger_idx",
                condition=models.Q(is_active=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AutomationRun(TenantModel):
    """Automation (rules, then assignment) handled event `event_id` of `ticket`: recorded in
    the same transaction as what it did, so a redelivered task does nothing twice (one
    auto-reply, one assignment). Rows older than a week are pruned."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField()
    trigger = models.CharField(max_length=16, choices=RuleTrigger.choices)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            models.UniqueConstraint(
                fields=["tenant", "event_id", "ticket"], name="automation_automationrun_uniq"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="automation_run_created_idx")]

    def __str__(self) -> str:
        return f"{self.trigger} {self.event_id} of {self.ticket_id}"


class ReportRollup(TenantModel):
    """One day of the tenant's reports (a day in the tenant's time zone) for one value of
    one dimension: `dimension` "all" (key "") holds the whole day; "channel", "department",
    "agent", "type", "priority" and "mailbox" hold it split by the ticket's current value
    ("" for none). Derived from the tickets by automation.reports.services (a day is
    recomputed whole, never incremented), so it can always be rebuilt.

    Each day's rows are summed into rows of its month (`span` "month"), and the months into
    running totals (`span` "total", `day` the month's first day: everything up to the end of
    that month), so a report's whole months are the difference of two totals, two rows per
    breakdown value however many months it covers.

    Times are minutes; `*_hist` count them in the buckets of automation.reports.buckets,
    from which medians and the 90th percentile are read without the tickets.
    """

    span = models.CharField(
        max_length=5,
        default="day",
        help_text='"day", or "month": the sum of the month\'s days (`day` its first day).',
    )
    day = models.DateField()
    dimension = models.CharField(max_length=16)
    key = models.CharField(max_length=64, blank=True)
    created = models.PositiveIntegerField(default=0)
    solved = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0, help_text="Agent replies on tickets solved.")
    first_response_count = models.PositiveIntegerField(default=0)
    first_response_minutes = models.BigIntegerField(default=0)
    first_response_hist = ArrayField(models.IntegerField(), default=list)
    resolution_count = models.PositiveIntegerField(default=0)
    resolution_minutes = models.BigIntegerField(default=0)
    resolution_hist = ArrayField(models.IntegerField(), default=list)
    sla_met = models.JSONField(default=dict, help_text="Targets met, by metric.")
    sla_missed = models.JSONField(default=dict, help_text="Targets missed, by metric.")
    csat_good = models.PositiveIntegerField(default=0)
    csat_bad = models.PositiveIntegerField(default=0)
    csat_okay = models.PositiveIntegerField(
        default=0, help_text="Okay ratings: neither good nor bad, counted in the CSAT total."
    )
    solves = models.PositiveIntegerField(
        default=0,
        help_text="Changes into solved or closed from an unsolved status (the backlog's outflow).",
    )
    first_response_business_hist = ArrayField(
        models.IntegerField(), default=list, help_text="First responses in business minutes."
    )
    resolution_business_hist = ArrayField(
        models.IntegerField(), default=list, help_text="Resolutions in business minutes."
    )
    created_hours = ArrayField(
        models.IntegerField(),
        default=list,
        help_text="Day rows: tickets created in each hour of the day (tenant's zone), 0 to 23.",
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "span", "day", "dimension", "key"],
                name="automation_reportrollup_span_uniq",
            ),
        ]
        indexes = [
            # A report: the tenant's months and days in a range.
            models.Index(fields=["tenant", "span", "day"], name="automation_rollup_span_day_idx"),
            # A report's series: one value's days in a range (the whole team's, an agent's).
            models.Index(
                fields=["tenant", "dimension", "key", "day"],
                name="automation_rollup_series_idx",
                condition=models.Q(span="day"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.key}"


class ReportDirtyDay(TenantModel):
    """A day whose rollups are out of date: ticket changes mark days here, and one debounced
    task per tenant recomputes them all (a burst of changes costs one recompute per day,
    not one per change). The sweeper picks up days whose task was lost."""

    day = models.DateField()
    marked_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "day"], name="automation_reportdirty_uniq"),
        ]
        indexes = [
            # The sweeper: days marked long ago (their recompute task was lost).
            models.Index(fields=["marked_at"], name="automation_reportdirty_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} (dirty)"


class ReportCountedTicket(TenantModel):
    """A recent ticket whose creation the rollups of `day` (its day in the tenant's zone)
    already count: written by the delta that adds an inbound batch's new tickets, and by a
    recompute of a recent day in the statement that counts that day's tickets, so a delta
    retried after a crash, or run after a recompute that saw its tickets, counts none of
    them twice. Only recent days keep them (services.COUNTED_DAYS); older ones are pruned."""

    ticket_id = models.UUIDField()
    day = models.DateField()

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "ticket_id"], name="automation_reportcounted_uniq"
            ),
        ]
        indexes = [
            # The pruning of days no delta can reach any more.
            models.Index(fields=["tenant", "day"], name="automation_rcounted_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} counted on {self.day}"


class ReportMailOptOut(TenantModel):
    """An admin who does not want the weekly summary mail (everyone with the capability
    gets it otherwise)."""

    member = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("member"),
            models.UniqueConstraint(
                fields=["tenant", "member"], name="automation_reportoptout_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"no weekly report for {self.member_id}"


class WebhookEvent(models.TextChoices):
    """What a webhook delivery reports. Subscriptions choose among the first six; a test
    and a rule's "call webhook" action deliver to one subscription whatever it chose."""

    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated"
    TICKET_SOLVED = "ticket.solved", "Ticket solved"
    MESSAGE_CREATED = "message.created", "Message created"
    RATING_RECEIVED = "rating.received", "Rating received"
    SLA_MISSED = "sla.missed", "SLA target missed"
    RULE_TRIGGERED = "rule.triggered", "A rule called the webhook"
    TEST = "webhook.test", "Test"


SUBSCRIBABLE_WEBHOOK_EVENTS = [
    WebhookEvent.TICKET_CREATED,
    WebhookEvent.TICKET_UPDATED,
    WebhookEvent.TICKET_SOLVED,
    WebhookEvent.MESSAGE_CREATED,
    WebhookEvent.RATING_RECEIVED,
    WebhookEvent.SLA_MISSED,
]


class Webhook(TenantModel):
    """An admin's subscription of a URL to events. Deliveries are signed with `secret`
    (stored encrypted, shown once). Repeated failures disable it (`is_active` False with
    `disabled_reason`); an admin turns it on again."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    events = ArrayField(models.CharField(max_length=40), default=list)
    secret_encrypted = models.TextField()
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("created_by"),
            models.CheckConstraint(
                condition=models.Q(events__contained_by=SUBSCRIBABLE_WEBHOOK_EVENTS),
                name="automation_webhook_events_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(TenantModel):
    """One event for one webhook: the JSON body as it is sent on every attempt, and what
    the last attempt got back. `key` makes an event's delivery unique per webhook, so a
    task run twice queues it once. Pending ones wait for `next_attempt_at`."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    key = models.CharField(max_length=200)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("webhook"),
            models.UniqueConstraint(
                fields=["tenant", "webhook", "key"], name="automation_webhookdelivery_key_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=WebhookDeliveryStatus.values),
                name="automation_webhookdelivery_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(event__in=WebhookEvent.values),
                name="automation_webhookdelivery_event_valid",
            ),
        ]
        indexes = [
            # The delivery log of one webhook, newest first.
            models.Index(fields=["tenant", "webhook", "-id"], name="automation_webhook_log_idx"),
            # The retry sweeper: deliveries waiting or in flight, by due time.
            models.Index(
                fields=["tenant", "status", "next_attempt_at"],
                name="automation_webhook_due_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook_id} ({self.status})"


class IntegrationMethod(models.TextChoices):
    POST = "post", "POST"
    PUT = "put", "PUT"
    PATCH = "patch", "PATCH"


class ExternalTaskIntegration(TenantModel):
    """How to create a task in an external project tool from a ticket: one HTTP request
    built from templates with placeholders ({{ticket.subject}}, …; automation.integrations
    .templating), and where the created item's id and link are in the answer. The secret
    header (an Authorization with a token) is stored encrypted and never shown again."""

    name = models.CharField(max_length=100)
    method = models.CharField(
        max_length=8, choices=IntegrationMethod.choices, default=IntegrationMethod.POST
    )
    url_template = models.CharField(max_length=2000)
    # Header name → value template (not secret: shown and returned by the API).
    headers_template = models.JSONField(default=dict, blank=True)
    secret_header_name = models.CharField(max_length=100, blank=True, default="")
    secret_header_value_encrypted = models.TextField(blank=True, default="")
    body_template = models.TextField(blank=True, default="")
    # Where the answer's JSON holds the item's id and link (dotted paths or JSON pointers),
    # or a template making the link from the id ({{id}}) when the answer has none.
    id_path = models.CharField(max_length=200, blank=True, default="")
    link_path = models.CharField(max_length=200, blank=True, default="")
    link_template = models.CharField(max_length=2000, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("created_by"),
            models.UniqueConstraint(
                "tenant", Lower("name"), name="automation_externaltaskintegration_name_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(method__in=IntegrationMethod.values),
                name="automation_externaltaskintegration_method_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(link_path="", link_template=""),
                name="automation_externaltaskintegration_has_link",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_header_value_encrypted)


class ExternalTaskStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Creating"
    CREATED = "created", "Created"
    FAILED = "failed", "Failed"


class ExternalTask(TenantModel):
    """An item created (or being created) in an external tool from a ticket: its link
    stays on the ticket even when the integration is deleted (`integration_name` keeps
    what it was called). Pending until the task claims it (sending), then created or
    failed with the reason; an agent retries a failed one."""

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="external_tasks"
    )
    integration = models.ForeignKey(
        ExternalTaskIntegration,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    integration_name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=ExternalTaskStatus.choices, default=ExternalTaskStatus.PENDING
    )
    external_id = models.CharField(max_length=200, blank=True, default="")
    url = models.URLField(max_length=2000, blank=True, default="")
    title = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("integration"),
            TenantFK("created_by"),
            models.CheckConstraint(
                condition=models.Q(status__in=ExternalTaskStatus.values),
                name="automation_externaltask_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="created", url=""),
                name="automation_externaltask_created_has_url",
            ),
            # One item being created per ticket and integration: a double click (or two
            # agents at once) makes one issue in the tool, not two.
            models.UniqueConstraint(
                fields=["tenant", "ticket", "integration"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="automation_externaltask_one_in_flight",
            ),
        ]
        indexes = [
            # The ticket sidebar and the API list: a ticket's linked items, newest first.
            models.Index(fields=["tenant", "ticket", "-id"], name="automation_exttask_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.integration_name} {self.external_id or self.status}"


class ContactApp(TenantModel):
    """A panel in the ticket sidebar showing what a URL answers for the ticket's contact
    (a CRM record): fetched with the contact's placeholders, cached `cache_seconds`, given
    at most `timeout_seconds`; `fields` picks and labels what to show ([path, label]
    pairs; empty: every top-level key)."""

    name = models.CharField(max_length=100)
    url_template = models.CharField(max_length=2000)
    headers_template = models.JSONField(default=dict, blank=True)
    secret_header_name = models.CharField(max_length=100, blank=True, default="")
    secret_header_value_encrypted = models.TextField(blank=True, default="")
    cache_seconds = models.PositiveIntegerField(default=300)
    timeout_seconds = models.PositiveSmallIntegerField(default=3)
    fields = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("created_by"),
            models.UniqueConstraint(
                "tenant", Lower("name"), name="automation_contactapp_name_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(cache_seconds__gte=60, cache_seconds__lte=86400),
                name="automation_contactapp_cache_seconds_range",
            ),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=1, timeout_seconds__lte=5),
                name="automation_contactapp_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_header_value_encrypted)
