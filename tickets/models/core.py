"""Tickets, their messages (customer mail, public replies, internal notes, system events),
contacts, companies and tags."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Case, Value, When
from django.db.models.functions import Lower

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK, TenantRLS


class Company(TenantModel):
    name = models.CharField(max_length=200)
    domains = models.JSONField(
        default=list, blank=True, help_text="Email domains whose senders belong to this company."
    )
    notes = models.TextField(blank=True)
    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Values of the tenant's company fields, by key."
    )

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint("tenant", Lower("name"), name="tickets_company_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class CompanyDomain(TenantModel):
    """One of a company's email domains, a row each: new contacts from it join the company.
    Company.domains lists them for display; these rows answer "whose domain is this?" with
    `=` on an index (a jsonb `@>` cannot use one under row-level security) and keep each
    domain to one company (the unique constraint)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="domain_rows")
    domain = models.CharField(max_length=253)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("company"),
            models.UniqueConstraint(fields=["tenant", "domain"], name="tickets_companydomain_uniq"),
        ]

    def __str__(self) -> str:
        return self.domain


class Contact(TenantModel):
    """A customer, known by email address."""

    email = models.EmailField(max_length=254)
    # The address as looked up (lowercase), kept by PostgreSQL. Compared with plain `=`:
    # under row-level security a condition with a function that is not LEAKPROOF, such as
    # lower(email), is checked after the policy, row by row, and cannot use an index.
    email_key = models.GeneratedField(
        expression=Lower("email"),
        output_field=models.CharField(max_length=254),
        db_persist=True,
    )
    name = models.CharField(max_length=200, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    email_bounced_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by a hard bounce: the address does not work."
    )
    phone = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True)
    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Values of the tenant's contact fields, by key."
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A duplicate merged into another contact: mail from it lands there.",
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("company"),
            TenantFK("merged_into"),
            models.UniqueConstraint(
                fields=["tenant", "email_key"], name="tickets_contact_email_key_uniq"
            ),
        ]
        indexes = [
            # Contacts of a company (company page).
            models.Index(fields=["tenant", "company"], name="tickets_contact_company_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Tag(TenantModel):
    name = models.CharField(max_length=60)

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "name"], name="tickets_tag_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


def new_reply_token() -> str:
    return secrets.token_hex(6)


class TicketStatus(models.TextChoices):
    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting on customer"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


# The request is answered for good: the statuses a survey may follow, an article may be
# written from, the SLA's resolution clock stops in, and leaving which reopens a ticket.
RESOLVED_STATUSES = (TicketStatus.SOLVED, TicketStatus.CLOSED)


class TicketPriority(models.TextChoices):
    """The scale a tenant picks its 3 to 5 priority levels from (default: the first four)."""

    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"
    CRITICAL = "critical", "Critical"


PRIORITY_RANK = {value: rank for rank, value in enumerate(TicketPriority.values)}


class TicketChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEB = "web", "Web"
    API = "api", "API"
    PHONE = "phone", "Phone"


class SlaMetric(models.TextChoices):
    """What an SLA target measures (automation keeps the timers; the ticket the next one)."""

    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"


class TicketCounter(TenantModel):
    """The last ticket number handed out in the tenant (one row per tenant)."""

    last_number = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="tickets_ticketcounter_uniq"),
        ]

    def __str__(self) -> str:
        return f"#{self.last_number}"


class Ticket(TenantModel):
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=250)
    status = models.CharField(
        max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    priority = models.CharField(
        max_length=16, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    channel = models.CharField(
        max_length=16, choices=TicketChannel.choices, default=TicketChannel.EMAIL
    )
    department = models.ForeignKey(
        "departments.Department", on_delete=models.PROTECT, related_name="tickets"
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    assignee = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, through="TicketTag", related_name="tickets")
    type = models.ForeignKey(
        "tickets.TicketType", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    custom_status = models.ForeignKey(
        "tickets.CustomStatus",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The tenant's finer status; `status` always holds the one it maps onto.",
    )
    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Values of the tenant's ticket fields, by key."
    )
    due_at = models.DateTimeField(null=True, blank=True)
    # The ticket's SLA as automation.sla last computed it (never set by hand): the earliest
    # running target and its metric, or paused while the ticket waits; empty: no SLA. What
    # that means as of a moment is answered only by tickets.sla.selectors.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_metric = models.CharField(max_length=16, choices=SlaMetric.choices, blank=True)
    sla_paused = models.BooleanField(default=False)
    is_spam = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set on a ticket merged into another: replies to it land there.",
    )
    priority_rank = models.GeneratedField(
        expression=Case(
            *[When(priority=value, then=Value(rank)) for value, rank in PRIORITY_RANK.items()],
            default=Value(1),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    is_unsolved = models.GeneratedField(
        expression=Case(
            When(status__in=["open", "waiting", "on_hold"], then=Value(True)),
            default=Value(False),
        ),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_snippet = models.CharField(
        max_length=200, blank=True, help_text="The start of the last customer message or reply."
    )
    solved_at = models.DateTimeField(null=True, blank=True)
    reply_token = models.CharField(
        max_length=24,
        default=new_reply_token,
        editable=False,
        help_text="Plus-address token: replies to support+<token>@ land on this ticket.",
    )
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    mailbox = models.ForeignKey(
        "departments.Mailbox",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The address the conversation uses; replies go out from it.",
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            TenantFK("contact"),
            TenantFK("assignee"),
            TenantFK("follow_up_of"),
            TenantFK("mailbox"),
            TenantFK("type"),
            TenantFK("custom_status"),
            TenantFK("merged_into"),
            models.UniqueConstraint(
                fields=["tenant", "reply_token"], name="tickets_ticket_reply_token_uniq"
            ),
            models.UniqueConstraint(fields=["tenant", "number"], name="tickets_ticket_number_uniq"),
            models.CheckConstraint(
                condition=models.Q(status__in=TicketStatus.values),
                name="tickets_ticket_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=TicketPriority.values),
                name="tickets_ticket_priority_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=TicketChannel.values),
                name="tickets_ticket_channel_valid",
            ),
        ]
        # Every list sorts with the id last (ties in time), so each index ends with it and
        # a page is read straight off the index: no sort of all matching rows.
        indexes = [
            # Inbox: a tenant's tickets in a status, most recently active first.
            models.Index(
                fields=["tenant", "status", "-updated_at", "-id"], name="tickets_ticket_inbox_idx"
            ),
            # Unsolved (open, waiting, on hold) as one range, and any status at all: views
            # without a status, and filters (tag, priority, department…) checked row by row.
            models.Index(
                fields=["tenant", "is_unsolved", "-updated_at", "-id"],
                name="tickets_ticket_unsolved_idx",
            ),
            models.Index(
                fields=["tenant", "-updated_at", "-id"], name="tickets_ticket_activity_idx"
            ),
            # Inbox sorted by created, due date or priority within a status.
            models.Index(
                fields=["tenant", "status", "-created_at", "-id"],
                name="tickets_ticket_created_idx",
            ),
            models.Index(
                fields=["tenant", "status", "due_at", "id"], name="tickets_ticket_due_idx"
            ),
            # Inbox sorted by SLA due within a status, or across the unsolved ones.
            models.Index(
                fields=["tenant", "status", "sla_due_at", "id"], name="tickets_ticket_sla_idx"
            ),
            models.Index(
                fields=["tenant", "is_unsolved", "sla_due_at", "id"],
                name="tickets_ticket_unsolv_sla_idx",
            ),
            models.Index(
                fields=["tenant", "status", "-priority_rank", "-updated_at", "-id"],
                name="tickets_ticket_priority_idx",
            ),
            # "Unassigned": open tickets nobody owns, most recently active first.
            models.Index(
                fields=["tenant", "status", "-updated_at", "-id"],
                name="tickets_ticket_unassigned_idx",
                condition=models.Q(assignee__isnull=True),
            ),
            # "Mine": an agent's unsolved tickets, most recently active first.
            models.Index(
                fields=["tenant", "assignee", "is_unsolved", "-updated_at", "-id"],
                name="tickets_ticket_assignee_idx",
            ),
            # Per-department views.
            models.Index(
                fields=["tenant", "department", "is_unsolved", "-updated_at", "-id"],
                name="tickets_ticket_dept_idx",
            ),
            # Automatic assignment: a department's backlog (unsolved, nobody's, not spam),
            # handed out most urgent then oldest first.
            models.Index(
                fields=["tenant", "department", "-priority_rank", "created_at", "id"],
                name="tickets_ticket_backlog_idx",
                condition=models.Q(is_unsolved=True, assignee__isnull=True, is_spam=False),
            ),
            # Automatic assignment: each agent's unsolved tickets in a department (the cap,
            # load balancing), counted per department under its lock.
            models.Index(
                fields=["tenant", "department", "assignee"],
                name="tickets_ticket_dept_load_idx",
                condition=models.Q(is_unsolved=True),
            ),
            # The customer's other tickets, beside the ticket.
            models.Index(
                fields=["tenant", "contact", "-created_at"], name="tickets_ticket_contact_idx"
            ),
            # Reports: the tickets created, and those solved, in the days being recomputed
            # (automation.reports), read as ranges rather than the tenant's whole history.
            models.Index(fields=["tenant", "created_at"], name="tickets_ticket_report_new_idx"),
            models.Index(
                fields=["tenant", "solved_at"],
                name="tickets_ticket_report_solv_idx",
                condition=models.Q(solved_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_closed(self) -> bool:
        return self.status == TicketStatus.CLOSED


class TicketSearch(models.Model):
    """A ticket's full-text document (subject, customer, company, tags, message text).

    Under the same forced `tenant_isolation` policy as every tenant table (TenantRLS; not a
    TenantModel only because the ticket is its key). Kept apart from the ticket because
    PostgreSQL uses no index for `@@` under row-level security (the operator is not
    LEAKPROOF): the search itself reads the view SEARCH_VIEW, owned by the BYPASSRLS ops
    role and filtering by the same `app.tenant_id` setting as the policy, so the GIN index
    serves it (migration 0021, `tickets.selectors.search_ticket_ids`). The composite
    foreign key ties each row to a ticket of the same tenant.
    """

    ticket = models.OneToOneField(
        Ticket, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # No index of its own: the (tenant, indexed_at) index leads with it.
    tenant = models.ForeignKey(
        "tenancy.Tenant", on_delete=models.CASCADE, editable=False, related_name="+", db_index=False
    )
    indexed_at = models.DateTimeField(help_text="Last rebuilt: the ticket's last activity.")
    document = SearchVectorField()

    class Meta:
        constraints = [TenantRLS(name="tickets_ticketsearch_rls"), TenantFK("ticket")]
        indexes = [
            # Rare words: the matching documents straight from the index.
            GinIndex(fields=["document"], name="tickets_search_document_idx"),
            # Common words: the tenant's documents newest first, checked one by one.
            models.Index(fields=["tenant", "-indexed_at"], name="tickets_search_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"search {self.ticket_id}"


# The current tenant's search documents, for `@@` through the GIN index (see TicketSearch).
SEARCH_VIEW = "tickets_ticketsearch_current"


class TicketTag(TenantModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("tag"),
            models.UniqueConstraint(
                fields=["tenant", "ticket", "tag"], name="tickets_tickettag_uniq"
            ),
        ]
        indexes = [
            # Tickets with a tag (the `tag` filter).
            models.Index(fields=["tenant", "tag"], name="tickets_tickettag_tag_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}:{self.tag_id}"


class TicketFieldValue(TenantModel):
    """One custom field value of a ticket, a row each, for the inbox's field filters.

    Ticket.custom_fields holds the values; these rows answer "which tickets have this
    value?" with `=` on an index. A jsonb `@>` on the ticket cannot use one under row-level
    security (the operator is not LEAKPROOF), so it scanned the tenant's tickets. The value
    is kept as a digest (`field_value_digest`): text values are up to 1,000 characters,
    more than a b-tree entry holds."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=40)
    digest = models.CharField(max_length=64)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            models.UniqueConstraint(
                fields=["tenant", "ticket", "key"], name="tickets_ticketfieldvalue_uniq"
            ),
        ]
        indexes = [
            # The filter's lookup; the ticket id included, so it never reads the table.
            models.Index(
                fields=["tenant", "key", "digest"],
                include=["ticket"],
                name="tickets_ticketfieldvalue_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}:{self.key}"


def field_value_digest(value: object) -> str:
    """The digest TicketFieldValue stores for a cleaned custom field value (str, int, float
    or bool): of its JSON text, so that 1, "1" and true differ as they do in the JSON.
    Numbers must be cleaned the one way `configuration.clean_custom_values` does (a whole
    number is an int), or 1 and 1.0 would differ here while jsonb finds them equal.
    Migration 0017 has a copy of it: a change needs a migration that computes the rows again."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class TicketFollower(TenantModel):
    """A contact copied on the ticket (Cc): sees public replies."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="followers")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("contact"),
            models.UniqueConstraint(
                fields=["tenant", "ticket", "contact"], name="tickets_ticketfollower_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} follows {self.ticket_id}"


class DeliveryStatus(models.TextChoices):
    """The delivery state a message shows: its outbox email's (helpdesk.mail
    OutboundEmailStatus, which says how it moves), or "" for a message never emailed."""

    NONE = "", "Not emailed"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    UNKNOWN = "unknown", "Interrupted (may not have been sent)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class MessageKind(models.TextChoices):
    CUSTOMER = "customer", "Customer message"
    REPLY = "reply", "Public reply"
    NOTE = "note", "Internal note"
    EVENT = "event", "System event"
    # An agent's copy of the conversation emailed to someone else (a colleague, a vendor):
    # internal, never shown to the requester.
    FORWARD = "forward", "Forward"


class Message(TenantModel):
    """One entry of a ticket's thread. History is kept as rows: events are messages too."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=16, choices=MessageKind.choices)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    author_member = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.JSONField(
        default=dict, blank=True, help_text="For events: what changed, e.g. {'field','from','to'}."
    )
    email_message_id = models.CharField(
        max_length=998, blank=True, help_text="RFC 822 Message-ID, for threading."
    )
    quoted_text = models.TextField(
        blank=True, help_text="Quoted history and signature, shown collapsed."
    )
    is_automatic = models.BooleanField(default=False, help_text="Sent by the help desk itself.")
    outbound_email = models.OneToOneField(
        "mail.OutboundEmail",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a reply by email: the mail in the outbox, which holds its delivery state.",
    )
    legacy_delivery_status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.NONE,
        blank=True,
        help_text=(
            "Mail from before the outbox: its recorded state. Queued or sending until the"
            " outbound sweeper gives it its outbox email; settled ones are never written since."
        ),
    )
    legacy_delivery_error = models.TextField(blank=True)
    email_subject = models.CharField(
        max_length=250, blank=True, help_text="For automatic mail: the subject it went out with."
    )
    email_cc = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "For mail: the other addresses it was sent to (To and Cc, not ours). They become "
            "followers only when the sender is the requester or a follower."
        ),
    )
    email_to = models.JSONField(
        default=list, blank=True, help_text="For a forward: the addresses it went to."
    )
    email_bcc = models.JSONField(
        default=list, blank=True, help_text="For an agent's reply: the blind copies it went to."
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("author_contact"),
            TenantFK("author_member"),
            TenantFK("outbound_email"),
            models.CheckConstraint(
                condition=models.Q(kind__in=MessageKind.values), name="tickets_message_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(legacy_delivery_status__in=DeliveryStatus.values),
                name="tickets_message_delivery_valid",
            ),
        ]
        indexes = [
            # A ticket's thread in order.
            models.Index(
                fields=["tenant", "ticket", "created_at"], name="tickets_message_thread_idx"
            ),
            # Reports: replies and status events in the days being recomputed.
            models.Index(
                fields=["tenant", "created_at"],
                name="tickets_message_report_idx",
                condition=models.Q(kind__in=["reply", "event"]),
            ),
            # Outbound sweeper: replies in flight from before the outbox (empty once adopted).
            models.Index(
                fields=["tenant"],
                name="tickets_message_legacy_idx",
                condition=models.Q(legacy_delivery_status__in=["queued", "sending"])
                & models.Q(outbound_email__isnull=True),
            ),
            # Threading: a reply's In-Reply-To / References against known Message-IDs.
            models.Index(
                fields=["tenant", "email_message_id"],
                name="tickets_message_msgid_idx",
                condition=~models.Q(email_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.kind in {MessageKind.CUSTOMER, MessageKind.REPLY}

    @property
    def delivery_status(self) -> str:
        """The state of its email: the outbox's (helpdesk.mail), or for mail settled before
        the outbox, what was recorded then; "" when it was never emailed."""
        if self.outbound_email_id is not None:
            return str(self.outbound_email.status)  # type: ignore[union-attr]
        return self.legacy_delivery_status

    @property
    def delivery_error(self) -> str:
        if self.outbound_email_id is not None:
            return self.outbound_email.error  # type: ignore[union-attr]
        return self.legacy_delivery_error

    @property
    def delivery_status_label(self) -> str:
        status = self.delivery_status
        return str(DeliveryStatus(status).label) if status in DeliveryStatus.values else status

    def refresh_from_db(
        self,
        using: str | None = None,
        fields: Any = None,
        from_queryset: Any = None,
    ) -> None:
        """Reloads its outbox email with it: the delivery state is read from there."""
        if fields is None and from_queryset is None:
            from_queryset = type(self)._base_manager.select_related("outbound_email")
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)


def attachment_folder(tenant_id: object) -> str:
    return f"attachments/{tenant_id}"


def attachment_path(attachment: Attachment, filename: str) -> str:
    # Ids, not names, in storage paths: names come from strangers.
    return f"{attachment_folder(attachment.tenant_id)}/{attachment.id}"


class Attachment(TenantModel):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    size = models.PositiveIntegerField()
    content_id = models.CharField(max_length=255, blank=True)
    is_inline = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        constraints = [*TenantModel.Meta.constraints, TenantFK("message")]
        indexes = [
            # A message's attachments, in the thread.
            models.Index(fields=["tenant", "message"], name="tickets_attachment_msg_idx"),
        ]

    def __str__(self) -> str:
        return self.filename
