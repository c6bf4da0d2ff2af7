"""Seed the `demo` tenant once: people, departments, mailboxes, tickets with threads, articles,
business hours and SLA policies, survey answers, and the report rollups of it all."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from automation import services as automation_services
from automation.reports import services as report_services
from automation.rules import services as rule_services
from departments import services as department_services
from helpdesk.accounts import services as account_services
from helpdesk.ops import services as ops_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole, Tenant
from knowledge_base import services as kb_services
from tickets.configuration import services as ticket_configuration
from tickets.contacts import services as contacts
from tickets.models import Message, SatisfactionRating, Ticket
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services as ticket_services

DEMO_PASSWORD = "demo-password"  # noqa: S105 - the published demo login
DEMO_PEOPLE = [
    ("admin@demo.localhost", "Alex Admin", MembershipRole.ADMIN),
    ("ana@demo.localhost", "Ana Agent", MembershipRole.AGENT),
    ("ben@demo.localhost", "Ben Agent", MembershipRole.AGENT),
    ("lee@demo.localhost", "Lee Light", MembershipRole.LIGHT_AGENT),
]
PLATFORM_STAFF = ("staff@localhost", "Platform Staff")

# (subject, customer, department, replies as (who, kind, text), final status, priority, tags)
DEMO_TICKETS: list[
    tuple[str, tuple[str, str], str, list[tuple[str, str, str]], str, str, list[str]]
] = [
    (
        "Cannot log in after password change",
        ("Maria Lopez", "maria@acme.test"),
        "Support",
        [
            (
                "customer",
                "customer",
                "Since I changed my password this morning the app says my credentials are wrong.",
            ),
            (
                "ana",
                "reply",
                "Sorry about that, Maria. I reset your session; please try again and "
                "tell me if it works.",
            ),
            ("customer", "customer", "Works now, thanks!"),
        ],
        "solved",
        "high",
        ["login"],
    ),
    (
        "Invoice shows the wrong VAT number",
        ("Tom Becker", "tom@globex.test"),
        "Billing",
        [
            (
                "customer",
                "customer",
                "Our VAT number on invoice 2026-114 is outdated. Could you reissue it?",
            ),
            ("ben", "note", "Need the new number from the customer's profile, asked finance."),
        ],
        "open",
        "normal",
        ["invoice", "vat"],
    ),
    (
        "Feature request: dark mode",
        ("Priya Shah", "priya@initech.test"),
        "Support",
        [
            ("customer", "customer", "Would love a dark mode for late shifts."),
            ("ana", "reply", "Thanks Priya, I passed it on to our product team."),
        ],
        "waiting",
        "low",
        ["feature-request"],
    ),
    (
        "Export to CSV times out",
        ("Maria Lopez", "maria@acme.test"),
        "Support",
        [("customer", "customer", "Exporting our 40k contacts to CSV ends with a timeout.")],
        "open",
        "urgent",
        ["export", "bug"],
    ),
    (
        "Refund for duplicate charge",
        ("Sam Okafor", "sam@umbrella.test"),
        "Billing",
        [
            ("customer", "customer", "I was charged twice for the October plan."),
            ("ben", "reply", "You're right, Sam. I issued a refund; it shows in 3-5 days."),
            ("customer", "customer", "Great, thank you."),
        ],
        "solved",
        "high",
        ["refund"],
    ),
    (
        "How do I add a second mailbox?",
        ("Lena Fischer", "lena@hooli.test"),
        "Support",
        [("customer", "customer", "We want sales@ to come into the help desk as well.")],
        "open",
        "normal",
        ["how-to"],
    ),
    (
        "API rate limit questions",
        ("Dev Team", "dev@globex.test"),
        "Support",
        [
            ("customer", "customer", "What is the rate limit on /api/v1/tickets/?"),
            ("ana", "reply", "1,200 requests a minute per token by default."),
        ],
        "waiting",
        "normal",
        ["api"],
    ),
    (
        "Change billing address",
        ("Tom Becker", "tom@globex.test"),
        "Billing",
        [("customer", "customer", "Please update our billing address to Hauptstr. 5, Berlin.")],
        "on_hold",
        "low",
        ["invoice"],
    ),
    (
        "Emails arrive twice",
        ("Kim Park", "kim@initech.test"),
        "Support",
        [
            ("customer", "customer", "Every notification email arrives twice since Monday."),
            ("lee", "note", "Probably the forwarding rule on their side; checking headers."),
        ],
        "open",
        "high",
        ["email"],
    ),
    (
        "Cancel my subscription",
        ("Jo Smith", "jo@example.test"),
        "Billing",
        [
            ("customer", "customer", "Please cancel at the end of this month."),
            ("ben", "reply", "Done, Jo. Your plan ends on the 30th."),
        ],
        "closed",
        "normal",
        ["cancellation"],
    ),
    (
        "Slow page loads in the EU",
        ("Lena Fischer", "lena@hooli.test"),
        "Support",
        [("customer", "customer", "Pages take 5+ seconds to load from Frankfurt today.")],
        "open",
        "urgent",
        ["performance"],
    ),
    (
        "Thank you!",
        ("Priya Shah", "priya@initech.test"),
        "Support",
        [("customer", "customer", "Just wanted to say your team has been great this year.")],
        "solved",
        "low",
        [],
    ),
]

# (ticket subject, score, comment): answers to the surveys of solved or closed demo tickets.
DEMO_RATINGS = [
    ("Cannot log in after password change", "good", "Quick and friendly, thank you!"),
    ("Refund for duplicate charge", "good", ""),
    ("Cancel my subscription", "bad", "It took a week to get an answer."),
    ("Thank you!", "okay", ""),
]

DEMO_ARTICLES = [
    (
        "Getting started",
        "Resetting your password",
        "Open the login page, choose 'Forgot your password?' and follow the link we email you. "
        "Links expire after three days.",
    ),
    (
        "Getting started",
        "Adding a mailbox",
        "Admins add mailboxes under Admin > Mailboxes. Mail sent to the address becomes tickets "
        "in the mailbox's department.",
    ),
    (
        "Billing",
        "Understanding your invoice",
        "Invoices list each plan, its period and VAT. Contact billing@ to correct details.",
    ),
    (
        "Billing",
        "Refunds",
        "Duplicate charges are refunded within 3-5 business days to the original card.",
    ),
]


# (title, body, Billing only): what a new support team answers most in its first week.
STARTER_CANNED_RESPONSES = (
    (
        "Thanks, looking into it",
        "Hello {{ contact.first_name }},\n\nthank you for writing to us. I am looking into "
        "request #{{ ticket.number }} now and will get back to you as soon as I know more.",
        False,
    ),
    (
        "Need more details",
        "Hello {{ contact.first_name }},\n\nto help you with this, could you tell us:\n\n"
        "- what you did just before it happened,\n- what you expected to see,\n"
        "- and a screenshot of the error, if there is one?",
        False,
    ),
    (
        "Password reset steps",
        "Hello {{ contact.first_name }},\n\nyou can set a new password yourself:\n\n"
        "1. Open the sign-in page and choose **Forgot password**.\n"
        "2. Enter the address you sign in with.\n"
        "3. Follow the link in the mail we send you (it works for one hour).",
        False,
    ),
    (
        "Solved, anything else?",
        "Hello {{ contact.first_name }},\n\nthis should be fixed now. I am marking "
        "request #{{ ticket.number }} as solved; if anything is still not right, just reply "
        "to this email and it opens again.",
        False,
    ),
    (
        "Refund on its way",
        "Hello {{ contact.first_name }},\n\nwe have issued the refund. It reaches your "
        "account within 5 to 10 working days, depending on your bank.",
        True,
    ),
)


class Command(BaseCommand):
    help = "Create the demo tenant with sample data (does nothing when it exists)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Tenant.objects.filter(slug="demo").exists():
            self.stdout.write("demo tenant exists; nothing to do")
            return
        with transaction.atomic():
            self._seed()
        self.stdout.write("seeded the demo tenant")

    def _seed(self) -> None:
        staff = account_services.get_or_create_user(
            email=PLATFORM_STAFF[0], name=PLATFORM_STAFF[1], password=DEMO_PASSWORD
        )
        if not staff.is_staff:
            staff.is_staff = True
            staff.save(update_fields=["is_staff", "updated_at"])
        email, name, _ = DEMO_PEOPLE[0]
        provisioned = ops_services.create_tenant(
            slug="demo",
            name="Demo Company",
            admin_email=email,
            admin_name=name,
            admin_password=DEMO_PASSWORD,
        )
        tenant = provisioned.tenant
        members = {"admin": provisioned.admin}
        for email, name, role in DEMO_PEOPLE[1:]:
            user = account_services.get_or_create_user(
                email=email, name=name, password=DEMO_PASSWORD
            )
            members[email.split("@")[0]] = account_services.add_member(
                tenant=tenant, user=user, role=role
            )
        with tenant_context(tenant.id):
            support = provisioned.department
            billing = department_services.create_department(
                name="Billing", description="Invoices, refunds and plans."
            )
            for key in ("ana", "lee"):
                department_services.add_department_member(
                    department=support, membership=members[key]
                )
            department_services.add_department_member(department=billing, membership=members["ben"])
            department_services.create_mailbox(
                address="billing@demo.localhost",
                department=billing,
                display_name="Demo Company Billing",
            )
            for company, domain in (("Globex", "globex.test"), ("Initech", "initech.test")):
                contacts.create_company(name=company, domains=[domain], actor=None)
            for position, name in enumerate(("Question", "Incident", "Bug", "Feature request")):
                ticket_configuration.save_ticket_type(name=name, position=position)
            ticket_configuration.save_custom_status(
                name="Waiting on engineering", base_status="on_hold"
            )
            ticket_configuration.save_custom_field(
                target="ticket",
                label="Product",
                type="select",
                options=["Web app", "Mobile app", "API"],
            )
            departments = {"Support": support, "Billing": billing}
            self._seed_tickets(departments, members)
            self._seed_articles(members["admin"])
            hours = self._seed_sla(members["admin"])
            self._seed_ratings()
            self._seed_rules(members["admin"], billing, hours)
            self._seed_canned_responses(members["admin"], billing)
            # Support hands its new tickets out in turn, at most five unsolved each; the open
            # ones nobody has wait in its backlog until an agent comes online (log in).
            department_services.update_department(
                department=support, assignment_mode="round_robin", max_open_per_agent=5
            )
            # The reports read rollups only: computed now, the demo's reports show its
            # tickets at once instead of after the debounced recomputes run.
            report_services.rebuild()

    def _seed_tickets(self, departments: dict[str, Any], members: dict[str, Any]) -> None:
        start = timezone.now() - timedelta(days=len(DEMO_TICKETS))
        for index, (
            subject,
            (name, email),
            department,
            thread,
            status,
            priority,
            tags,
        ) in enumerate(DEMO_TICKETS):
            contact = ticket_services.get_or_create_contact(email=email, name=name)
            first = thread[0][2]
            ticket = ticket_services.create_ticket(
                subject=subject,
                body=first,
                contact=contact,
                department=departments[department],
                channel="email",
                priority=priority,
                tags=tags,
            )
            for who, kind, text in thread[1:]:
                if kind == "customer":
                    Message.objects.create(
                        ticket=ticket, kind="customer", body_text=text, author_contact=contact
                    )
                else:
                    ticket_services.add_message(
                        ticket=ticket, kind=kind, body=text, actor=members[who], status=""
                    )
            agents = [m for key, m in members.items() if key in {"ana", "ben"}]
            if status != "open" or index % 3 == 0:
                ticket_services.assign_ticket(
                    ticket=ticket, assignee=agents[index % 2], actor=members["admin"]
                )
            if status != ticket.status:
                if status == "closed":  # closed tickets were solved first (and surveyed)
                    ticket_services.change_status(ticket=ticket, status="solved", actor=None)
                ticket_services.change_status(ticket=ticket, status=status, actor=None)
            # Spread the demo over the last days so the inbox has a realistic order.
            moment = start + timedelta(days=index, hours=index)
            Ticket.objects.filter(id=ticket.id).update(
                created_at=moment, updated_at=moment + timedelta(hours=2)
            )
            Message.objects.filter(ticket=ticket).update(created_at=moment)
            ticket_services.refresh_search_vector(ticket=ticket)

    def _seed_sla(self, admin: Any) -> Any:
        """Office hours and two policies; the open demo tickets are measured against them.
        Returns the office hours."""
        year = timezone.now().year
        hours = department_services.save_business_hours(
            name="Office hours",
            timezone="Europe/Berlin",
            intervals=[{"day": day, "start": "08:00", "end": "18:00"} for day in range(5)],
            holidays=[
                department_services.NewHoliday(date(year, 12, 25), "Christmas Day"),
                department_services.NewHoliday(date(year, 12, 26), "Boxing Day"),
            ],
        )
        automation_services.save_sla_policy(
            actor=admin,
            name="Urgent",
            position=0,
            priorities=["urgent", "critical"],
            first_response_minutes=60,
            next_response_minutes=2 * 60,
            resolution_minutes=8 * 60,
        )
        automation_services.save_sla_policy(
            actor=admin,
            name="Standard",
            position=1,
            business_hours=hours,
            first_response_minutes=4 * 60,
            next_response_minutes=8 * 60,
            resolution_minutes=3 * 24 * 60,
        )
        return hours

    def _seed_rules(self, admin: Any, billing: Any, hours: Any) -> None:
        """Workflow rules, made after the demo tickets so that those stay as written: they
        act on the mail and requests that arrive from now on."""
        after_hours = automation_services.create_canned_response(
            title="After hours",
            body="Hello {{ contact.first_name }},\n\nthank you for writing. Our office is "
            "closed right now (Monday to Friday, 8:00 to 18:00 Berlin time); we will answer "
            "request #{{ ticket.number }} first thing on the next working day.",
            actor=admin,
            scope="tenant",
        )
        for name, conditions, actions in (
            (
                "Refunds go to Billing",
                [{"field": "subject", "operator": "contains", "value": "refund"}],
                [
                    {"action": "set_department", "value": str(billing.id)},
                    {"action": "add_tags", "value": ["refund"]},
                ],
            ),
            (
                "Outages are urgent",
                [{"field": "subject", "operator": "matches", "value": "outage|is down"}],
                [{"action": "set_priority", "value": "urgent"}],
            ),
            (
                "Initech is a key account",
                [{"field": "sender_domain", "operator": "is", "value": "initech.test"}],
                [
                    {"action": "set_priority", "value": "high"},
                    {"action": "add_tags", "value": ["key-account"]},
                ],
            ),
            (
                "After-hours auto-reply",
                [{"field": "business_hours", "operator": "outside", "value": str(hours.id)}],
                [{"action": "reply_with_template", "value": str(after_hours.id)}],
            ),
        ):
            rule_services.create_rule(
                actor=admin, name=name, conditions=conditions, actions=actions
            )

    def _seed_canned_responses(self, admin: Any, billing: Any) -> None:
        """A starter set of shared canned responses. None signs off itself: the reply
        template adds the agent's signature once."""
        for title, body, department in STARTER_CANNED_RESPONSES:
            automation_services.create_canned_response(
                title=title,
                body=body,
                actor=admin,
                scope="department" if department else "tenant",
                department=billing if department else None,
            )

    def _seed_ratings(self) -> None:
        """Answers to the surveys the solves above planned (as if sent and rated)."""
        for subject, score, comment in DEMO_RATINGS:
            rating = SatisfactionRating.objects.get(ticket__subject=subject)
            SatisfactionRating.objects.filter(id=rating.id).update(sent_at=timezone.now())
            satisfaction.record_rating(token=rating.token, score=score, comment=comment)

    def _seed_articles(self, author: Any) -> None:
        categories: dict[str, Any] = {}
        for category_name, title, body in DEMO_ARTICLES:
            # One category per name: create_category makes a new one (billing-2) each call.
            category = categories.get(category_name) or kb_services.create_category(
                name=category_name
            )
            categories[category_name] = category
            kb_services.create_article(
                category=category, title=title, body=body, author=author, publish=True
            )
