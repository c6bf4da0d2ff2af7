"""Running rules on a batch of tickets, and the dry run's plan.

`run_rules(trigger=..., ticket_ids=...)` is called by automation's ticket-event pipeline
(automation.ticket_events) for the tickets one transaction created or changed, and by the
SLA clocks (automation.sla) for a target just missed. For the batch it reads:

- the tenant's active rules of the trigger once (cached: a tenant without rules costs one
  cache read and no query at all);
- the tickets with their contact (one query);
- only what the rules' conditions need, each for the whole batch in one query: tags, the
  customer's latest message (body, sender), the addresses that mail was sent to, SLA
  targets missed, business hours; and the objects the actions name.

Rules run in position order on each ticket and see what earlier rules changed; a rule
that matches does its actions through the ticket services as the system (`actor=None`)
inside `tickets.attribution.acting_rule`, so every change names the rule in the history
and the ticket_changed it sends carries `by_rule=True` (the pipeline runs no rules for
it: a rule whose action would trigger it again runs once per event). `stop_processing`
ends the ticket's run after its rule matched. An action that cannot be done (the agent
left, the ticket is closed) is undone alone, recorded as skipped in the history, and the
rule goes on with its next action.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation import selectors as automation_selectors
from automation import sla
from automation.assignment import services as assignment
from automation.models import Rule, RuleMatch, RuleTrigger, SlaTimer, WebhookEvent
from automation.rules import selectors, vocabulary
from automation.webhooks import payloads
from automation.webhooks import services as webhooks
from departments import business_time
from departments.models import DepartmentMember
from helpdesk.core import placeholders
from helpdesk.core.errors import DomainError
from helpdesk.core.ids import new_id
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.attribution import acting_rule
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import services as mail_out_services
from tickets.mail_out import templates as mail_templates
from tickets.models import (
    EmailTemplateKind,
    InboundEmail,
    Message,
    MessageKind,
    NotificationKind,
    SlaMetric,
    Ticket,
    TicketTag,
)
from tickets.notifications import services as notifications
from tickets.ticket import services as ticket_services

logger = logging.getLogger(__name__)


class ActionSkipped(DomainError):
    code = "rule_action_skipped"


# --- What conditions read ----------------------------------------------------------------


@dataclass
class Facts:
    """One ticket as the conditions see it."""

    ticket: Ticket
    tags: set[str] = field(default_factory=set)
    body: str = ""
    sender: str = ""
    recipients: set[str] = field(default_factory=set)
    missed: set[str] = field(default_factory=set)
    _comparable: dict[str, str] = field(default_factory=dict)

    def comparable(self, name: str, text: str) -> str:
        if name not in self._comparable:
            self._comparable[name] = vocabulary.comparable(text)
        return self._comparable[name]


@dataclass
class Batch:
    """What one run knows besides the tickets: the objects rules name, the schedules."""

    trigger: str
    now: datetime.datetime
    refs: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, business_time.Schedule] = field(default_factory=dict)
    policy_hours: dict[UUID, str | None] = field(default_factory=dict)

    @property
    def tenant_name(self) -> str:
        """For placeholders in replies and notes (cached: read only when one is written)."""
        return tenancy_selectors.get_tenant(require_tenant_id()).name

    def inside_hours(self, ticket: Ticket, hours_id: str | None) -> bool | None:
        """Whether now is inside the hours (`None`: the SLA policy's of the ticket; no
        policy or one around the clock is always inside); None when they are gone."""
        if hours_id is None:
            hours_id = self.policy_hours.get(ticket.id)
            if hours_id is None:
                return True
        schedule = self.schedules.get(hours_id)
        if schedule is None:
            return None
        return _inside(schedule, self.now)


def _inside(schedule: business_time.Schedule, at: datetime.datetime) -> bool:
    for start, end in schedule.working_periods(at):
        if start > at:
            return False
        if at < end:
            return True
    return False


# --- Compiled rules ----------------------------------------------------------------------

Test = Callable[[Facts, Batch], bool]


@dataclass
class CompiledCondition:
    condition: dict[str, Any]
    test: Test


@dataclass
class CompiledRule:
    rule: Rule
    conditions: list[CompiledCondition]

    def holds(self, facts: Facts, batch: Batch) -> bool:
        if not self.conditions:
            return True
        results = (c.test(facts, batch) for c in self.conditions)
        return any(results) if self.rule.match == RuleMatch.ANY else all(results)


def _choice(get: Callable[[Facts], Any], operator: str, value: Any) -> Test:
    if operator == "is":
        return lambda facts, _: get(facts) == value
    if operator == "is_not":
        return lambda facts, _: get(facts) != value
    values = set(value)
    if operator == "in":
        return lambda facts, _: get(facts) in values
    return lambda facts, _: get(facts) not in values


def _recipients(operator: str, value: Any) -> Test:
    wanted = {value} if isinstance(value, str) else set(value)
    if operator in {"is", "in"}:
        return lambda facts, _: bool(facts.recipients & wanted)
    return lambda facts, _: not facts.recipients & wanted


def _text(name: str, get: Callable[[Facts], str], operator: str, value: str, rule: Rule) -> Test:
    if operator in {"contains", "not_contains"}:
        phrase = vocabulary.Phrase.of(value)
        if operator == "contains":
            return lambda facts, _: phrase.found_in(facts.comparable(name, get(facts)))
        return lambda facts, _: not phrase.found_in(facts.comparable(name, get(facts)))
    pattern = vocabulary.compile_pattern(value)
    wanted = operator == "matches"

    def test(facts: Facts, _: Batch) -> bool:
        found = vocabulary.search(pattern, get(facts))
        if found is None:
            logger.warning(
                "rule %s: pattern on %s of ticket %s ran out of time",
                rule.id,
                name,
                facts.ticket.id,
            )
            return False
        return found == wanted

    return test


def _custom(key: str, operator: str, value: Any) -> Test:
    def current(facts: Facts) -> Any:
        held = facts.ticket.custom_fields.get(key)
        if held is None and isinstance(value, bool):
            return False  # an unticked checkbox is stored as nothing
        return held

    def same(held: Any) -> bool:
        if isinstance(held, str) and isinstance(value, str):
            return vocabulary.fold(held) == vocabulary.fold(value)
        return bool(held == value) and type(held) is type(value)

    if operator == "is":
        return lambda facts, _: same(current(facts))
    if operator == "is_not":
        return lambda facts, _: not same(current(facts))
    if operator == "is_set":
        return lambda facts, _: facts.ticket.custom_fields.get(key) not in (None, "")
    if operator == "not_set":
        return lambda facts, _: facts.ticket.custom_fields.get(key) in (None, "")
    phrase = vocabulary.Phrase.of(str(value))

    def contains(facts: Facts) -> bool:
        held = facts.ticket.custom_fields.get(key)
        return isinstance(held, str) and phrase.found_in(vocabulary.comparable(held))

    if operator == "contains":
        return lambda facts, _: contains(facts)
    return lambda facts, _: not contains(facts)


def _compile_condition(condition: dict[str, Any], rule: Rule) -> Test:
    name, operator, value = condition["field"], condition["operator"], condition["value"]
    getters: dict[str, Callable[[Facts], Any]] = {
        "channel": lambda f: f.ticket.channel,
        "mailbox": lambda f: str(f.ticket.mailbox_id) if f.ticket.mailbox_id else None,
        "sender_email": lambda f: f.sender,
        "sender_domain": lambda f: f.sender.rpartition("@")[2],
        "company": lambda f: (
            str(f.ticket.contact.company_id) if f.ticket.contact.company_id else None
        ),
        "priority": lambda f: f.ticket.priority,
        "status": lambda f: f.ticket.status,
        "department": lambda f: str(f.ticket.department_id),
        "type": lambda f: str(f.ticket.type_id) if f.ticket.type_id else None,
    }
    if name in getters:
        return _choice(getters[name], operator, value)
    if name == "recipient":
        return _recipients(operator, value)
    if name == "subject":
        return _text(name, lambda f: f.ticket.subject, operator, value, rule)
    if name == "body":
        return _text(name, lambda f: f.body, operator, value, rule)
    if name == "tag":
        if operator == "has":
            return lambda facts, _: value in facts.tags
        return lambda facts, _: value not in facts.tags
    if name == "business_hours":
        wanted = operator == "inside"

        def hours(facts: Facts, batch: Batch) -> bool:
            inside = batch.inside_hours(facts.ticket, value)
            return inside is not None and inside == wanted

        return hours
    if name == "sla_missed":
        if value == "any":
            return lambda facts, _: bool(facts.missed)
        return lambda facts, _: value in facts.missed
    if name.startswith(vocabulary.CUSTOM_FIELD_PREFIX):
        return _custom(name.removeprefix(vocabulary.CUSTOM_FIELD_PREFIX), operator, value)
    raise ValueError(f"unknown condition field {name!r}")  # stored rules were checked


def compile_rule(rule: Rule) -> CompiledRule:
    return CompiledRule(
        rule=rule,
        conditions=[CompiledCondition(c, _compile_condition(c, rule)) for c in rule.conditions],
    )


# --- Loading a batch -------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    tags: bool = False
    message: bool = False
    recipients: bool = False
    missed: bool = False
    hours: frozenset[str] = frozenset()
    policy_hours: bool = False


def _needs(rules: Sequence[Rule]) -> Needs:
    fields = {c["field"] for rule in rules for c in rule.conditions}
    actions = {a["action"] for rule in rules for a in rule.actions}
    hours = [
        c["value"] for rule in rules for c in rule.conditions if c["field"] == "business_hours"
    ]
    return Needs(
        tags="tag" in fields or bool({"add_tags", "remove_tags"} & actions),
        message=bool({"body", "sender_email", "sender_domain", "recipient"} & fields),
        recipients="recipient" in fields,
        missed="sla_missed" in fields,
        hours=frozenset(h for h in hours if h is not None),
        policy_hours=None in hours,
    )


def _load_tickets(ticket_ids: Sequence[UUID]) -> list[Ticket]:
    """The tickets with what conditions read of them, in id order. Not locked: rules change
    tickets through the same services as agents (which lock nothing either), and a lock
    held on the whole batch would wait on, and deadlock with, automatic assignment, which
    locks a department before it updates that department's tickets."""
    return list(
        Ticket.objects.select_related("contact").filter(id__in=list(ticket_ids)).order_by("id")
    )


def _load(
    rules: Sequence[Rule],
    tickets: list[Ticket],
    *,
    trigger: str,
    sla_metrics: Mapping[UUID, Collection[str]] | None,
) -> tuple[dict[UUID, Facts], Batch]:
    needs = _needs(rules)
    ids = [ticket.id for ticket in tickets]
    facts = {
        ticket.id: Facts(ticket=ticket, sender=ticket.contact.email.lower()) for ticket in tickets
    }
    if needs.tags:
        for ticket_id, name in TicketTag.objects.filter(ticket_id__in=ids).values_list(
            "ticket_id", "tag__name"
        ):
            facts[ticket_id].tags.add(name)
    if needs.message:
        latest = (
            Message.objects.filter(ticket_id__in=ids, kind=MessageKind.CUSTOMER)
            .select_related("author_contact")
            .order_by("ticket_id", "-created_at", "-id")
            .distinct("ticket_id")
        )
        by_message: dict[UUID, UUID] = {}
        for message in latest:
            found = facts[message.ticket_id]
            found.body = message.body_text
            if message.author_contact is not None:
                found.sender = message.author_contact.email.lower()
            by_message[message.id] = message.ticket_id
        if needs.recipients and by_message:
            for message_id, envelope, headers in InboundEmail.objects.filter(
                ticket_message_id__in=list(by_message)
            ).values_list("ticket_message_id", "envelope_to", "header_recipients"):
                addresses = {str(a).strip().lower() for a in [*(envelope or []), *(headers or [])]}
                facts[by_message[message_id]].recipients |= addresses
    if trigger == RuleTrigger.SLA_MISSED and sla_metrics is not None:
        for ticket_id, metrics in sla_metrics.items():
            if ticket_id in facts:
                facts[ticket_id].missed = set(metrics)
    elif needs.missed:
        for ticket_id, metric in SlaTimer.objects.filter(
            ticket_id__in=ids, breached_at__isnull=False
        ).values_list("ticket_id", "metric"):
            facts[ticket_id].missed.add(metric)
    batch = Batch(trigger=trigger, now=timezone.now())
    refs = vocabulary.Refs()
    for rule in rules:
        named = vocabulary.references(rule.conditions, rule.actions)
        for kind, values in named.ids.items():
            refs.ids.setdefault(kind, set()).update(values)
    hours = set(needs.hours)
    if needs.policy_hours:
        policies = automation_selectors.list_active_sla_policies()
        for ticket in tickets:
            policy = sla.match_policy(ticket, policies)
            held = str(policy.business_hours_id) if policy and policy.business_hours_id else None
            batch.policy_hours[ticket.id] = held
            if held:
                hours.add(held)
    if hours:
        refs.ids.setdefault("business_hours", set()).update(hours)
    batch.refs = selectors.load_references(refs.ids) if refs.ids else {}
    for hours_id, row in batch.refs.get("business_hours", {}).items():
        try:
            batch.schedules[hours_id] = business_time.Schedule.from_intervals(
                timezone=row.timezone,
                intervals=row.intervals,
                holidays=[holiday.date for holiday in row.holidays.all()],
            )
        except business_time.InvalidSchedule:
            logger.warning("business hours %s are not a valid schedule", hours_id)
    return facts, batch


def _runs_on(ticket: Ticket) -> bool:
    """Rules leave closed, spam and merged tickets alone."""
    return not (ticket.is_closed or ticket.is_spam or ticket.merged_into_id)


# --- Running -----------------------------------------------------------------------------


def run_rules(
    *,
    trigger: str,
    ticket_ids: Sequence[UUID],
    sla_metrics: Mapping[UUID, Collection[str]] | None = None,
) -> None:
    """Run the tenant's active rules of `trigger` on the tickets, in the caller's
    transaction (the pipeline records the event as handled in the same one). For the
    trigger sla_missed, `sla_metrics` says which targets each ticket just missed."""
    rules = selectors.active_rules(trigger)
    if not rules or not ticket_ids:
        return
    compiled = [compile_rule(rule) for rule in rules]
    with transaction.atomic(), vocabulary.pattern_timer():
        tickets = _load_tickets(ticket_ids)
        facts, batch = _load(rules, tickets, trigger=trigger, sla_metrics=sla_metrics)
        for ticket in tickets:
            if not _runs_on(ticket):
                continue
            for rule in compiled:
                if not rule.holds(facts[ticket.id], batch):
                    continue
                apply_rule(rule.rule, facts[ticket.id], batch)
                if rule.rule.stop_processing or not _runs_on(ticket):
                    break


def apply_rule(rule: Rule, facts: Facts, batch: Batch) -> None:
    """Do the rule's actions on the ticket, each on its own: one that cannot be done is
    undone and recorded as skipped, naming the rule and why."""
    ticket = facts.ticket
    with acting_rule(rule.id, rule.name):
        for action in rule.actions:
            try:
                with transaction.atomic():
                    _act(action, facts, batch, rule)
            except DomainError as error:
                logger.info(
                    "rule %s on ticket %s: %s skipped: %s",
                    rule.id,
                    ticket.id,
                    action["action"],
                    error,
                )
                ticket_services.record_event(
                    ticket=ticket,
                    actor=None,
                    field="rule_skipped",
                    old=action["action"],
                    new=str(error)[:300],
                )


def _ref(batch: Batch, kind: str, ref_id: Any, gone: str) -> Any:
    found = batch.refs.get(kind, {}).get(str(ref_id))
    if found is None:
        raise ActionSkipped(gone)
    return found


def _act(action: dict[str, Any], facts: Facts, batch: Batch, rule: Rule) -> None:
    name, value = action["action"], action["value"]
    ticket = facts.ticket
    update = ticket_services.update_ticket
    if name == "set_department":
        department = _ref(batch, "department", value, "the department no longer exists")
        update(ticket=ticket, actor=None, department=department)
    elif name == "assign_to":
        member = _ref(batch, "assignee", value, "that member can no longer take tickets")
        ticket_services.assign_ticket(ticket=ticket, assignee=member, actor=None)
    elif name == "assign_by_department_mode":
        assignment.assign_by_department_mode(ticket=ticket)
    elif name == "set_priority":
        update(ticket=ticket, actor=None, priority=value)
    elif name == "set_status":
        update(ticket=ticket, actor=None, status=value)
    elif name == "set_type":
        kind = _ref(batch, "type", value, "the ticket type no longer exists") if value else None
        update(ticket=ticket, actor=None, type=kind)
    elif name in {"add_tags", "remove_tags"}:
        wanted = facts.tags | set(value) if name == "add_tags" else facts.tags - set(value)
        if wanted != facts.tags:
            update(ticket=ticket, actor=None, tags=sorted(wanted))
            facts.tags = set(wanted)
    elif name == "set_custom_field":
        update(ticket=ticket, actor=None, custom_fields={value["key"]: value["value"]})
    elif name == "add_followers":
        added = ticket_services.add_followers(ticket=ticket, emails=value)
        if added:
            ticket_services.record_event(
                ticket=ticket,
                actor=None,
                field="followers",
                old=None,
                new=[contact.email for contact in added],
            )
    elif name == "reply_with_template":
        template = _ref(batch, "template", value, "the canned response no longer exists")
        _reply(ticket, template.body, batch)
    elif name == "add_note":
        ticket_services.add_system_note(ticket=ticket, body=_fill(ticket, value, batch))
    elif name == "notify_agent":
        member = _ref(batch, "member", value, "that member is no longer active")
        _notify(ticket, [member], facts, batch)
    elif name == "notify_department":
        department = (
            _ref(batch, "department", value, "the department no longer exists")
            if value
            else ticket.department
        )
        seats = DepartmentMember.objects.filter(
            department=department, membership__is_active=True
        ).select_related("membership__user")
        members = [seat.membership for seat in seats]
        if not members:
            raise ActionSkipped(f"{department.name} has no agents")
        _notify(ticket, members, facts, batch)
    elif name == "call_webhook":
        webhook = _ref(batch, "webhook", value, "the webhook was deleted or disabled")
        webhooks.queue_for_webhook(
            webhook=webhook,
            event=WebhookEvent.RULE_TRIGGERED,
            key=f"rule.triggered:{rule.id}:{ticket.id}:{new_id()}",
            data={
                "ticket": payloads.ticket_data(ticket, payloads.base_url()),
                "rule": {"id": str(rule.id), "name": rule.name},
            },
        )
    else:
        raise ActionSkipped(f"unknown action {name!r}")


def _values(ticket: Ticket, batch: Batch) -> dict[str, str]:
    return mail_templates.placeholder_values(
        ticket, mail_out_selectors.get_reply_mailbox(ticket), batch.tenant_name
    )


def _fill(ticket: Ticket, text: str, batch: Batch) -> str:
    try:
        return placeholders.render(text, _values(ticket, batch))
    except placeholders.UnknownPlaceholder as error:
        raise ActionSkipped(str(error)) from None


def _reply(ticket: Ticket, body: str, batch: Batch) -> Message:
    """The template as an automatic reply inside the tenant's layout, under the same limits
    as acknowledgements (never to an address that bounces, at most the hourly maximum of
    automatic replies per customer)."""
    if ticket.contact.email_bounced_at is not None:
        raise ActionSkipped("the customer's address bounces")
    limit = int(settings.HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR)
    if mail_out_services.recent_auto_replies(ticket.contact_id) >= limit:
        raise ActionSkipped(f"the customer already had {limit} automatic replies this hour")
    values = _values(ticket, batch)
    try:
        text = placeholders.render(body, values)
        subject = placeholders.render(
            mail_templates.built_in(EmailTemplateKind.ACKNOWLEDGEMENT, "subject"), values
        )
    except placeholders.UnknownPlaceholder as error:
        raise ActionSkipped(str(error)) from None
    layout = mail_templates.render(
        mail_templates.effective_template(EmailTemplateKind.LAYOUT, ticket.department_id), values
    )
    full = "\n\n".join(part for part in (layout.header, text, layout.footer) if part.strip())
    return ticket_services.queue_email_message(
        ticket=ticket, body=full, is_automatic=True, subject=mail_templates.tidy_subject(subject)
    )


def _notify(ticket: Ticket, members: list[Membership], facts: Facts, batch: Batch) -> None:
    """An internal note by the rule saying why, and each member told (as a mention: the
    note is the message they are pointed at)."""
    names = ", ".join(member.user.display_name for member in members)
    reason = "please look at this ticket"
    if batch.trigger == RuleTrigger.SLA_MISSED and facts.missed:
        labels = dict(SlaMetric.choices)
        missed = ", ".join(str(labels.get(m, m)) for m in sorted(facts.missed))
        reason = f"{missed} target missed; please look at this ticket"
    note = ticket_services.add_system_note(ticket=ticket, body=f"Notified {names}: {reason}.")
    notifications.notify_on_commit(
        kind=NotificationKind.MENTIONED, members=members, ticket=ticket, actor=None, message=note
    )


# --- Dry run -----------------------------------------------------------------------------


@dataclass
class DryRun:
    """What a rule would do to a ticket now: each condition met or not, and the changes."""

    matched: bool
    conditions: list[tuple[dict[str, Any], bool]]
    changes: list[dict[str, Any]]


def dry_run(*, rule: Rule, ticket: Ticket) -> DryRun:
    """Evaluate the rule on the ticket and, when it matches, do its actions in a savepoint
    that is rolled back: what they wrote (history, notes, replies, notifications) is read
    back as the changes, and nothing stays. Mail and notifications are only ever sent after
    a commit, so none leave. Ignores is_active (an admin tries a rule before enabling it)."""
    compiled = compile_rule(rule)
    with transaction.atomic():
        tickets = _load_tickets([ticket.id])
        if not tickets:
            return DryRun(matched=False, conditions=[], changes=[])
        target = tickets[0]
        facts, batch = _load([rule], tickets, trigger=rule.trigger, sla_metrics=None)
        found = facts[target.id]
        results = [(c.condition, c.test(found, batch)) for c in compiled.conditions]
        matched = compiled.holds(found, batch) and _runs_on(target)
        changes: list[dict[str, Any]] = []
        if matched:
            before = set(Message.objects.filter(ticket=target).values_list("id", flat=True))
            apply_rule(rule, found, batch)
            written = (
                Message.objects.filter(ticket=target)
                .exclude(id__in=before)
                .select_related("outbound_email")
                .order_by("created_at", "id")
            )
            changes = [_change(message) for message in written]
        transaction.set_rollback(True)
    return DryRun(matched=matched, conditions=results, changes=changes)


def _change(message: Message) -> dict[str, Any]:
    """A message a rule wrote, as the dry run reports it."""
    if message.kind == MessageKind.EVENT:
        event = message.event
        return {
            "kind": "event",
            "field": event.get("field"),
            "from": event.get("from"),
            "to": event.get("to"),
        }
    if message.kind == MessageKind.REPLY:
        return {"kind": "reply", "subject": message.email_subject, "body": message.body_text}
    return {"kind": "note", "body": message.body_text}
