"""Workspace benchmark (issue 5, point 13): the agent pages of a big tenant.

Data: one tenant with 1,000,000 tickets (`--tickets`) and ten others with a tenth of that
each, three messages per ticket (customer, public reply, customer or internal note), one
contact per five tickets, one company per twenty contacts, departments with mailboxes,
agents, tags, ticket types, custom statuses, a product field on every ticket (with its
TicketFieldValue row), read markers and a shared saved view. Tenants,
users, departments and mailboxes go through the real services; the bulk rows are generated
inside PostgreSQL (INSERT … SELECT over generate_series, deterministic hashes instead of
random numbers) by two superuser connections, with the secondary indexes dropped while
loading and built again afterwards, then VACUUM ANALYZE. Each ticket's row of
tickets_ticketsearch (its full-text document) is built in SQL
exactly as `tickets.services.refresh_search_vector` builds it, indexed at the ticket's last
message as migration 0009 backfills it.

The loaded database is kept as `helpdesk_bench_workspace_<tickets>` and copied (CREATE
DATABASE … TEMPLATE) into `helpdesk_bench` on the next run while the migration files (names
and contents) and DATA_VERSION are unchanged; `--reload` builds it again.

Measured in this process (configured like the web process: the `helpdesk_app` role, under
row-level security) through Django's test Client and the full middleware stack, logged in
as an agent of the big tenant, Host `<slug>.<base domain>`: per request type 5 warm-up
requests, then 50 measured ones; wall time per request, SQL statements per request
(CaptureQueriesContext) and SQL time (an execute_wrapper). Afterwards every distinct
statement of the measured requests runs again under EXPLAIN (ANALYZE, BUFFERS) with the
parameters of its slowest occurrence, in the same tenant context, rolled back; a Seq Scan
on a table of more than 1,000 rows is flagged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import queue
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from uuid import UUID

from bench.inbound import sql_group as other_group

if TYPE_CHECKING:
    from bench.run import Context

ROOT = Path(__file__).resolve().parents[1]
TICKETS = 1_000_000
OTHER_TENANTS = 10
OTHER_TENANT_DIVISOR = 10  # each other tenant has a tenth of the big one's tickets
TICKETS_PER_CONTACT = 5
CONTACTS_PER_COMPANY = 20
CHUNK = 50_000  # tickets per loading transaction
LOADERS = 2  # parallel loading connections (the machine has 2 cores)
WARMUP = 5
REQUESTS = 50
SEED = 20_260_513
# Bump when the generated data changes: a cached database of another version is rebuilt.
DATA_VERSION = 3  # 2: the search document in tickets_ticketsearch; 3: a product field
TEMPLATE_PREFIX = "helpdesk_bench_workspace_"
TARGET_PAGE_MS = 50.0
TARGET_PAGE_QUERIES = 12
TARGET_SEARCH_MS = 200.0
TINY_TABLE_ROWS = 1_000
SPLIT_MS = 5.0  # see explain_statements
LARGE_SCAN_ROWS = 100_000  # an index scan reading this many rows is flagged like a Seq Scan
LOADED_TABLES = (
    "tickets_ticket",
    "tickets_ticketsearch",
    "tickets_message",
    "tickets_tickettag",
    "tickets_ticketfieldvalue",
    "tickets_ticketread",
    "tickets_contact",
    "tickets_company",
)
MEASURED_AGENT = 2  # agent02: a full agent whose home department is Technical
SERVER_SETTINGS = (
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "random_page_cost",
    "jit",
    "max_parallel_workers_per_gather",
)

# --- Generated text -----------------------------------------------------------------------
# Placeholders are [order], [product] and [rare] (braces would clash with psycopg's sql
# formatting). Each topic has the same number of subjects, customer and reply sentences, so
# the lists flatten into rectangular SQL arrays.


@dataclass(frozen=True)
class Topic:
    name: str
    department: str
    tag: str
    subjects: tuple[str, ...]
    customer: tuple[str, ...]
    reply: tuple[str, ...]


TOPICS = (
    Topic(
        "billing",
        "Billing",
        "billing",
        (
            "Charged twice for order [order]",
            "Question about invoice [order]",
            "Refund not received yet",
            "Wrong VAT on my invoice",
            "Update the credit card on file",
            "Cancel my subscription and refund the last payment",
        ),
        (
            "I was charged twice for the same order this month.",
            "The invoice [order] shows an amount I do not recognise.",
            "Could you please refund the duplicate payment to my card?",
            "Our finance team needs a corrected invoice with our VAT number on it.",
            "The payment went through but the order still says unpaid.",
            "I cancelled the subscription last week but was billed again.",
            "Please send me a copy of the receipt for order [order].",
            "My bank statement shows a charge from you that I cannot explain.",
        ),
        (
            "I checked your account and can confirm the duplicate charge.",
            "I have issued a refund; it usually shows on your statement within five days.",
            "A corrected invoice is attached to this message.",
            "Your subscription is cancelled now and you will not be billed again.",
            "The payment was received and the order status is updated.",
            "Could you send us the last four digits of the card that was charged?",
        ),
    ),
    Topic(
        "login",
        "Accounts",
        "login",
        (
            "Cannot log in since this morning",
            "Password reset link expired",
            "Account locked after three attempts",
            "Two-factor code never arrives",
            "Please change the email address on my account",
            "Single sign-on fails for our whole team",
        ),
        (
            "Since this morning the login page says my password is wrong.",
            "The password reset link in your email says it has expired.",
            "My account was locked after I mistyped the password three times.",
            "The two-factor code never arrives on my phone.",
            "I changed jobs and need the account moved to my new email address.",
            "Nobody in our team can sign in through our company login since yesterday.",
            "I tried another browser and cleared the cache, same result.",
            "We have about twenty people who cannot work right now.",
        ),
        (
            "I unlocked your account; you can sign in again now.",
            "I sent a new password reset link, it is valid for one hour.",
            "The two-factor codes were delayed by our SMS provider, they arrive again now.",
            "Your login email is changed; please confirm it from the message we sent.",
            "Could you tell us the exact time of the failed login so we can check the logs?",
            "Our single sign-on certificate was renewed, please try again.",
        ),
    ),
    Topic(
        "shipping",
        "Shipping",
        "shipping",
        (
            "Where is my order [order]?",
            "Shipping delay on order [order]",
            "Package marked delivered but not received",
            "Wrong delivery address on order [order]",
            "Tracking number does not work",
            "Express delivery not honoured",
        ),
        (
            "Order [order] was supposed to arrive on Monday but nothing came.",
            "The tracking page says delivered, but there is no parcel at my door.",
            "I entered the wrong delivery address, can you still change it?",
            "The tracking number in your email is not found on the courier's site.",
            "I paid for express delivery and the parcel took eight days.",
            "Could you tell me when my order will ship?",
            "The courier left a note but the depot is closed all week.",
            "I need the delivery before Friday, it is a gift.",
        ),
        (
            "I contacted the courier and opened an investigation for your parcel.",
            "Your order left our warehouse today; the tracking link works from tomorrow.",
            "I changed the delivery address before the parcel was handed to the courier.",
            "We refunded the express shipping fee to your card.",
            "The parcel is at the local depot and will be delivered tomorrow.",
            "If the parcel does not arrive by Friday we will send a replacement.",
        ),
    ),
    Topic(
        "returns",
        "Returns",
        "returns",
        (
            "Item arrived damaged",
            "Return label for order [order]",
            "Wrong size delivered",
            "Exchange instead of refund",
            "Missing parts in the box",
            "Warranty claim for [product]",
        ),
        (
            "The box was crushed and [product] inside is broken.",
            "I would like to return order [order], how do I get a return label?",
            "You sent the wrong size, I ordered a medium.",
            "Can I exchange the item instead of getting a refund?",
            "The power cable and the manual are missing from the box.",
            "[product] stopped working after two months, is it covered by the warranty?",
            "I attached photos of the damage.",
            "The item does not match the description on your website.",
        ),
        (
            "I am sorry about the damage; a replacement is on its way.",
            "Your prepaid return label is attached; drop the parcel at any post office.",
            "We will send the right size as soon as we receive the return.",
            "The exchange is booked, no need to wait for the refund.",
            "The missing parts were sent separately today.",
            "[product] is under warranty, we will repair or replace it for free.",
        ),
    ),
    Topic(
        "technical",
        "Technical",
        "bug",
        (
            "[product] stops working after the update",
            "Error E42 on [product]",
            "App crashes when I export",
            "Printer on fire",
            "Sync between devices is broken",
            "Battery drains overnight on [product]",
        ),
        (
            "Since the last update [product] freezes after a few minutes.",
            "The screen shows error E42 every time I switch it on.",
            "The app crashes as soon as I try to export my data.",
            "Smoke came out of the printer and now it does not turn on.",
            "Changes on my laptop do not show up on my phone any more.",
            "The battery is empty every morning although I switch everything off.",
            "I already restarted it twice and reinstalled the app.",
            "I attached a screenshot of the error message.",
        ),
        (
            "This is a known problem with the last update; a fix ships next week.",
            "Please hold the power button for ten seconds to reset [product].",
            "Could you send us the log file from the settings page?",
            "For your safety please unplug the printer; we are sending a replacement.",
            "Signing out and in again on both devices restarts the sync.",
            "We found the cause and released an update that fixes it.",
        ),
    ),
    Topic(
        "sales",
        "Sales",
        "sales",
        (
            "Pricing for fifty seats",
            "Do you offer an education discount?",
            "Request a demo for our team",
            "Feature request: dark mode",
            "Integration with our CRM",
            "Quote for a volume licence",
        ),
        (
            "We are a team of fifty and would like a quote for a yearly plan.",
            "Do you offer discounts for schools and universities?",
            "Could we book a demo for our team next week?",
            "Please add a dark mode, the white screen hurts at night.",
            "Does [product] integrate with our CRM?",
            "We need a quote for a volume licence before the end of the quarter.",
            "Our procurement department needs the offer as a PDF.",
            "What is included in the enterprise plan?",
        ),
        (
            "Thanks for your interest; the quote for your team is attached.",
            "Schools and universities get forty percent off every plan.",
            "I booked a demo for Tuesday at ten; the invitation is in your inbox.",
            "Dark mode is on our roadmap; I added your vote to the request.",
            "Yes, [product] connects to most CRMs through our integration page.",
            "The enterprise plan adds single sign-on, audit logs and a named contact.",
        ),
    ),
    Topic(
        "api",
        "Enterprise",
        "api",
        (
            "API returns 500 on /export",
            "Webhook deliveries failing",
            "Rate limit too low for our import",
            "API token stopped working",
            "Missing fields in the export",
            "Timeouts on the bulk endpoint",
        ),
        (
            "Since this morning the export endpoint answers with an internal error.",
            "Our webhook endpoint has not received any events since Tuesday.",
            "We hit the rate limit after a few hundred requests during our nightly import.",
            "Our API token returns unauthorized although nobody revoked it.",
            "The export is missing the custom fields we added last month.",
            "Requests to the bulk endpoint time out after thirty seconds.",
            "Here is the request id from the response headers.",
            "This blocks our integration with the accounting system.",
        ),
        (
            "We found a bug in the export endpoint and deployed a fix.",
            "Your webhook was disabled after repeated failures; I enabled it again.",
            "I raised the rate limit for your account for the nightly import.",
            "The token expired with the old plan; please create a new one in the settings.",
            "Custom fields are in the export now, please try again.",
            "Please split the bulk request into batches of five hundred records.",
        ),
    ),
    Topic(
        "general",
        "Support",
        "how-to",
        (
            "How do I add a colleague?",
            "Question about my account",
            "Help with the setup",
            "Where do I find my invoices?",
            "Change the language of the interface",
            "Delete my data (GDPR request)",
        ),
        (
            "How can I add a colleague to our account?",
            "I have a question about the plan we are on.",
            "I am stuck at the second step of the setup.",
            "Where can I download my old invoices?",
            "How do I switch the interface to German?",
            "Please delete all the data you store about me.",
            "Thanks in advance for a quick answer.",
            "I could not find anything about it in the help center.",
        ),
        (
            "You can invite colleagues from the team page in the settings.",
            "Your plan includes five users and unlimited projects.",
            "I attached a short guide to the setup with screenshots.",
            "All invoices are on the billing page of your account.",
            "The language setting is in your profile, at the bottom of the page.",
            "Your data is deleted; you will get a confirmation email.",
        ),
    ),
)
SMALL_DEPARTMENT_FALLBACK = {
    "Accounts": "Technical",
    "Enterprise": "Technical",
    "Shipping": "Support",
    "Returns": "Support",
    "Sales": "Support",
}
BIG_DEPARTMENTS = (
    "Support",
    "Billing",
    "Technical",
    "Shipping",
    "Returns",
    "Sales",
    "Accounts",
    "Enterprise",
)
SMALL_DEPARTMENTS = ("Support", "Billing", "Technical")
EXTRA_TAGS = (
    "refund",
    "vip",
    "urgent",
    "feedback",
    "duplicate",
    "escalated",
    "invoice",
    "password-reset",
    "damaged",
    "feature-request",
    "mobile",
    "outage",
    "gdpr",
    "warranty",
    "onboarding",
    "integration",
    "sso",
    "export",
    "performance",
    "security",
    "cancellation",
    "upgrade",
    "trial",
    "enterprise",
)
TICKET_TYPES = ("Question", "Incident", "Problem", "Feature request", "Task")
CUSTOM_STATUSES = (("Waiting on engineering", "on_hold"), ("Pending refund", "waiting"))
PRODUCTS = (
    "the X200 printer",
    "SmartHub 3",
    "the AeroBook 14",
    "PixelCam Pro",
    "the mobile app",
    "the desktop app",
    "Thermo One",
    "the web dashboard",
    "CloudSync",
    "the barcode scanner",
    "NovaPhone 12",
    "the label printer",
    "the router",
    "the Studio plan",
    "the Team plan",
)
GREETINGS = ("Hello,", "Hi,", "Hi there,", "Good morning,", "Dear support team,", "Hello support,")
SIGNOFFS = ("Thanks,", "Thank you,", "Best regards,", "Kind regards,", "Cheers,", "Regards,")
AGENT_SIGNOFFS = ("Best regards,", "Kind regards,", "Thanks for your patience,", "All the best,")
FOLLOWUPS = (
    "Thanks, that worked.",
    "It is still not working, see the screenshot.",
    "Any update on this? It has been a few days.",
    "Great, thank you for the quick help!",
    "I tried that but I get the same error again.",
    "Could you call me instead? My number is in my profile.",
    "The refund arrived today, thanks.",
    "Please close this ticket, all good now.",
)
NOTES = (
    "Checked the logs, looks like a known issue; linked to the engineering ticket.",
    "Customer is on the enterprise plan, handle with priority.",
    "Refund approved by finance.",
    "Asked the warehouse to check the parcel.",
    "Escalated to second level support.",
    "Same issue reported by two other customers this week.",
    "Waiting for the courier's investigation.",
    "Sent the replacement, tracking added to the order.",
)
# Words no other sentence uses; one ticket in 200 mentions one of them.
RARE_WORDS = (
    "kerberos",
    "tarball",
    "thermostat",
    "watermark",
    "checksum",
    "captcha",
    "subnet",
    "crontab",
    "chargeback",
    "escrow",
    "pallet",
    "zeppelin",
    "gazebo",
    "quokka",
    "origami",
    "saxophone",
    "tundra",
    "marmalade",
    "glacier",
    "turbine",
    "monsoon",
    "lantern",
    "walrus",
    "harpsichord",
    "kayak",
    "obsidian",
    "paprika",
    "sequoia",
    "trombone",
    "vortex",
    "yodel",
    "zucchini",
    "nebula",
    "pelican",
    "quasar",
    "rhubarb",
    "sapphire",
    "tapestry",
    "velvet",
    "wombat",
    "xylophone",
    "zephyr",
    "avalanche",
    "bonsai",
    "cactus",
    "dolphin",
    "eclipse",
    "gondola",
    "hazelnut",
    "iguana",
    "jasmine",
    "koala",
    "lagoon",
    "nutmeg",
    "mongoose",
    "barometer",
    "carousel",
    "dulcimer",
    "fjord",
    "geyser",
)
RARE_SENTENCES = (
    "The error log mentions [rare] every time.",
    "Our IT team thinks [rare] might be involved.",
    "The label on the box says [rare].",
    "My colleague asked whether [rare] matters here.",
)
FIRST_NAMES = (  # noqa: SIM905 - a word list reads better as text
    "Carla Dev Mia Sam Lee Ana Jonas Amelie Jose Soren Zoe Lukas Olga Elena Yuki Hana Omar"
    " Fatima Liam Noah Emma Olivia Ava Sofia Mateo Lucas Chloe Ethan Grace Henry Isla Jack"
    " Leo Maya Nora Oscar Ruby Theo Vera Will"
).split()
LAST_NAMES = (  # noqa: SIM905 - a word list reads better as text
    "Jones Patel Wong Park Silva Muller Dubois Nunez Hansen Brandao Wisniewski Petrova"
    " Yamada Sato Suzuki Khan Smith Brown Garcia Martin Rossi Novak Kowalski Fischer Weber"
    " Moreau Lopez Costa Nielsen Berg Ivanova Tanaka Ali Haddad Kim Chen Nguyen Singh Murphy"
    " Walsh"
).split()
AGENT_NAMES = (  # noqa: SIM905 - a name list reads better as text
    "Alex Morgan, Priya Shah, Tom Becker, Ines Duarte, Kenji Mori, Sara Lind, Marco Bianchi,"
    " Lena Vogel, Omar Farouk, Julia Nowak, Rafael Cruz, Nina Holm, David Cohen, Aiko Ito,"
    " Ben Carter, Clara Roth, Emil Stahl, Fiona Byrne, Gabe Ortiz, Helga Sand, Ivan Petrov,"
    " Jade Li, Karl Jung, Lucia Romano, Mads Berg, Nadia Aziz, Owen Price, Pia Koch"
).split(", ")
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de")
COMPANY_FIRST = (  # noqa: SIM905 - a word list reads better as text
    "North Blue Silver Green Bright Rapid Summit Pioneer Atlas Cedar Harbor Maple Orion"
    " Quantum River Stone Sun Terra Vista Wild Iron Golden Crystal Eagle Falcon Granite"
    " Horizon Lake Metro Nova"
).split()
COMPANY_SECOND = (  # noqa: SIM905 - a word list reads better as text
    "Logistics Foods Labs Systems Dynamics Works Media Health Energy Retail Motors Textiles"
    " Analytics Designs Partners Holdings Networks Solutions Goods Farms Pharma Studios"
    " Capital Robotics Outdoor Print Travel Legal Software Supply"
).split()
COMPANY_SUFFIXES = ("Ltd", "Inc", "GmbH", "LLC", "SA", "BV", "AB", "Co")
SEARCH_COMMON = (
    "refund",
    "password",
    "invoice",
    "order",
    "delivery",
    "error",
    "account",
    "login",
    "payment",
    "printer",
)
SEARCH_RARE = RARE_WORDS[:10]


@dataclass(frozen=True)
class TenantPlan:
    index: int
    slug: str
    name: str
    tickets: int
    departments: tuple[str, ...]
    agents: int
    light_agents: int

    @property
    def salt(self) -> int:
        return (self.index + 1) * 1_000_000

    @property
    def contacts(self) -> int:
        return max(1, self.tickets // TICKETS_PER_CONTACT)

    @property
    def companies(self) -> int:
        return max(1, self.contacts // CONTACTS_PER_COMPANY)

    def agent_email(self, number: int) -> str:
        return f"agent{number:02d}@{self.slug}.test"


def tenant_plans(tickets: int, big_slug: str) -> list[TenantPlan]:
    small = max(1, tickets // OTHER_TENANT_DIVISOR)
    plans = [TenantPlan(0, big_slug, "Bench", tickets, BIG_DEPARTMENTS, 24, 3)]
    plans += [
        TenantPlan(i, f"{big_slug}-{i:02d}", f"Bench {i:02d}", small, SMALL_DEPARTMENTS, 6, 1)
        for i in range(1, OTHER_TENANTS + 1)
    ]
    return plans


# --- SQL: generated values ------------------------------------------------------------------
# pg_temp helpers on each loading connection: u() is a uniform number in [0, 1) from a hash of
# (n, salt), so every value is a function of the row number and nothing depends on the order
# rows are produced in; uuid7() makes a time-ordered id like helpdesk.core.ids.new_id.

HELPERS = (
    """CREATE FUNCTION pg_temp.u(n bigint, salt bigint) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(n, salt) & 9007199254740991)::double precision
           / 9007199254740992.0 $$""",
    """CREATE FUNCTION pg_temp.pick(items text[], n bigint, salt bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT items[1 + floor(pg_temp.u(n, salt) * cardinality(items))::int] $$""",
    """CREATE FUNCTION pg_temp.pick_id(items uuid[], n bigint, salt bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT items[1 + floor(pg_temp.u(n, salt) * cardinality(items))::int] $$""",
    """CREATE FUNCTION pg_temp.uuid7(ts timestamptz, n bigint, salt bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0')
            || '7' || lpad(to_hex(hashint8extended(n, salt) & 4095), 3, '0')
            || to_hex(8 + (hashint8extended(n, salt + 1) & 3))
            || lpad(to_hex(hashint8extended(n, salt + 2) & 1152921504606846975), 15, '0')
           )::uuid $$""",
)


def _company_created(j: str) -> str:
    return f"(%(start)s::timestamptz - interval '400 days' + pg_temp.u({j}, %(s)s + 201) * interval '30 days')"  # noqa: E501


def _company_name(j: str) -> str:
    # A bijection from j to (first, second, suffix) within each cycle of all combinations,
    # so lower(name) stays unique in the tenant (tickets_company_name_uniq).
    combos = "(cardinality(%(company_first)s::text[]) * cardinality(%(company_second)s::text[]) * cardinality(%(company_suffix)s::text[]))"  # noqa: E501
    index = f"mod(({j} - 1) * 7919, {combos})"
    second = "cardinality(%(company_second)s::text[])"
    suffix = "cardinality(%(company_suffix)s::text[])"
    return (
        f"((%(company_first)s::text[])[1 + {index} / ({second} * {suffix})]"
        f" || ' ' || (%(company_second)s::text[])[1 + mod({index} / {suffix}, {second})]"
        f" || ' ' || (%(company_suffix)s::text[])[1 + mod({index}, {suffix})]"
        f" || CASE WHEN {j} > {combos} THEN ' ' || (({j} - 1) / {combos} + 1) ELSE '' END)"
    )


def _company_domain(j: str) -> str:
    return f"(lower(regexp_replace({_company_name(j)}, '[^A-Za-z0-9]+', '', 'g')) || '.com')"


def _company_id(j: str) -> str:
    return f"pg_temp.uuid7({_company_created(j)}, {j}, %(s)s + 321)"


def _contact_first(k: str) -> str:
    return f"pg_temp.pick(%(first_names)s::text[], {k}, %(s)s + 101)"


def _contact_last(k: str) -> str:
    return f"pg_temp.pick(%(last_names)s::text[], {k}, %(s)s + 102)"


def _contact_company(k: str) -> str:
    """The company number of contact k, or NULL (three in ten have none)."""
    return (
        f"(CASE WHEN pg_temp.u({k}, %(s)s + 104) < 0.7"
        f" THEN 1 + floor(pg_temp.u({k}, %(s)s + 105) * %(companies)s)::bigint END)"
    )


def _contact_name(k: str) -> str:
    return (
        f"(CASE WHEN pg_temp.u({k}, %(s)s + 103) < 0.1 THEN ''"
        f" ELSE {_contact_first(k)} || ' ' || {_contact_last(k)} END)"
    )


def _contact_email(k: str, company: str) -> str:
    """Unique in the tenant (it contains k); at the company's domain when it has one."""
    return (
        f"(lower({_contact_first(k)}) || '.' || lower({_contact_last(k)}) || {k} || '@'"
        f" || CASE WHEN {company} IS NULL"
        f" THEN pg_temp.pick(%(free_mail)s::text[], {k}, %(s)s + 106)"
        f" ELSE {_company_domain(company)} END)"
    )


def _contact_created(k: str) -> str:
    return f"(%(start)s::timestamptz - pg_temp.u({k}, %(s)s + 107) * interval '60 days')"


def _contact_id(k: str) -> str:
    return f"pg_temp.uuid7({_contact_created(k)}, {k}, %(s)s + 318)"


def _flat(topics: tuple[Topic, ...], attribute: str) -> list[str]:
    return [text for topic in topics for text in getattr(topic, attribute)]


# The per-chunk staging table: one row per ticket with everything its rows need.
STAGE = """
CREATE TEMP TABLE bench_stage ON COMMIT DROP AS
SELECT g.n, t1.created_at, t1.topic, t1.contact_k, t1.order_no, t1.product, t1.is_spam,
       t2.status, t3.priority, t3.channel, t3.dept, t3.agent_id, t3.agent_name, t3.type_id,
       CASE WHEN t3.unassigned THEN NULL ELSE t3.agent_id END AS assignee_id,
       (%(depts)s::uuid[])[t3.dept] AS department_id,
       (%(dept_mailboxes)s::uuid[])[t3.dept] AS mailbox_id,
       t4.m2, t4.m3, t4.kind3, t4.solved_at, t4.due_at, t4.custom_status_id,
       CASE WHEN t2.status = 'closed'
            THEN least(%(now)s::timestamptz, t4.solved_at + interval '4 days')
            WHEN t2.status = 'solved' THEN t4.solved_at ELSE t4.m3 END AS updated_at,
       lpad(to_hex(g.n), 6, '0') || substr(md5(%(s)s || ':' || g.n), 1, 6) AS reply_token,
       pg_temp.uuid7(t1.created_at, g.n, %(s)s + 300) AS id,
       pg_temp.uuid7(t1.created_at, g.n, %(s)s + 303) AS m1_id,
       pg_temp.uuid7(t4.m2, g.n, %(s)s + 306) AS m2_id,
       pg_temp.uuid7(t4.m3, g.n, %(s)s + 309) AS m3_id,
       {contact_id} AS contact_id,
       t5.first_name, t5.contact_name, t5.contact_email, t5.company_name,
       t6.tag_idx, t6.subject, t6.b1, t6.b2, t6.b3,
       CASE WHEN t3.channel = 'email' AND pg_temp.u(g.n, %(s)s + 42) < 0.3
            THEN '<div dir="ltr"><p>'
                 || replace(replace(t6.b1, E'\\n\\n', '</p><p>'), E'\\n', '<br>')
                 || '</p></div>'
            ELSE '' END AS html1,
       CASE WHEN t3.channel = 'email'
            THEN '<' || md5(%(s)s || ':m1:' || g.n) || '@'
                 || split_part(t5.contact_email, '@', 2) || '>'
            ELSE '' END AS msgid1,
       '<reply-' || md5(%(s)s || ':m2:' || g.n) || '@' || %(mail_domain)s || '>' AS msgid2,
       CASE WHEN t4.kind3 = 'customer' AND t3.channel = 'email'
            THEN '<' || md5(%(s)s || ':m3:' || g.n) || '@'
                 || split_part(t5.contact_email, '@', 2) || '>'
            ELSE '' END AS msgid3
FROM generate_series(%(a)s::bigint, %(b)s::bigint) AS g(n)
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz
             + (g.n - 1 + pg_temp.u(g.n, %(s)s + 1)) * %(step)s::float8 * interval '1 second'
             AS created_at,
           1 + floor(pg_temp.u(g.n, %(s)s + 2) * %(topics)s)::int AS topic,
           1 + floor(%(contacts)s * pg_temp.u(g.n, %(s)s + 3) ^ 2)::bigint AS contact_k,
           (1000000 + mod(hashint8extended(g.n, %(s)s + 4) & 9223372036854775807, 9000000))::text
             AS order_no,
           pg_temp.pick(%(products)s::text[], g.n, %(s)s + 5) AS product,
           pg_temp.u(g.n, %(s)s + 6) < 0.003 AS is_spam
) AS t1
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN t1.is_spam THEN 'closed'
        WHEN %(now)s::timestamptz - t1.created_at < interval '14 days' THEN
            CASE WHEN r < 0.45 THEN 'open' WHEN r < 0.65 THEN 'waiting'
                 WHEN r < 0.70 THEN 'on_hold' ELSE 'solved' END
        WHEN %(now)s::timestamptz - t1.created_at < interval '60 days' THEN
            CASE WHEN r < 0.05 THEN 'open' WHEN r < 0.10 THEN 'waiting'
                 WHEN r < 0.13 THEN 'on_hold' WHEN r < 0.53 THEN 'solved' ELSE 'closed' END
        ELSE
            CASE WHEN r < 0.005 THEN 'open' WHEN r < 0.01 THEN 'waiting'
                 WHEN r < 0.015 THEN 'on_hold' WHEN r < 0.05 THEN 'solved' ELSE 'closed' END
        END AS status
    FROM (SELECT pg_temp.u(g.n, %(s)s + 7) AS r) AS x
) AS t2
CROSS JOIN LATERAL (
    SELECT CASE WHEN u8 < 0.2 THEN 'low' WHEN u8 < 0.8 THEN 'normal'
                WHEN u8 < 0.95 THEN 'high' ELSE 'urgent' END AS priority,
           CASE WHEN u9 < 0.8 THEN 'email' WHEN u9 < 0.95 THEN 'web'
                WHEN u9 < 0.98 THEN 'api' ELSE 'phone' END AS channel,
           dept,
           (%(dept_agents)s::uuid[])[(dept - 1) * %(slots)s + 1 + floor(u12 * %(slots)s)::int]
             AS agent_id,
           (%(dept_agent_names)s::text[])[(dept - 1) * %(slots)s + 1 + floor(u12 * %(slots)s)::int]
             AS agent_name,
           CASE WHEN pg_temp.u(g.n, %(s)s + 21) < 0.7
                THEN pg_temp.pick_id(%(types)s::uuid[], g.n, %(s)s + 22) END AS type_id,
           CASE WHEN t1.is_spam THEN true
                WHEN t2.status = 'open' THEN u13 < 0.35
                WHEN t2.status IN ('waiting', 'on_hold') THEN u13 < 0.05
                ELSE u13 < 0.02 END AS unassigned
    FROM (SELECT pg_temp.u(g.n, %(s)s + 8) AS u8, pg_temp.u(g.n, %(s)s + 9) AS u9,
                 pg_temp.u(g.n, %(s)s + 12) AS u12, pg_temp.u(g.n, %(s)s + 13) AS u13,
                 CASE WHEN pg_temp.u(g.n, %(s)s + 10) < 0.85
                      THEN (%(topic_dept)s::int[])[t1.topic]
                      ELSE 1 + floor(pg_temp.u(g.n, %(s)s + 11)
                                     * cardinality(%(depts)s::uuid[]))::int
                 END AS dept) AS x
) AS t3
CROSS JOIN LATERAL (
    SELECT m2, m3, kind3,
           CASE WHEN t2.status IN ('solved', 'closed')
                THEN least(%(now)s::timestamptz,
                           m3 + (3600 + pg_temp.u(g.n, %(s)s + 17) * 172800) * interval '1 second')
           END AS solved_at,
           CASE WHEN pg_temp.u(g.n, %(s)s + 18)
                     < CASE WHEN t2.status IN ('open', 'waiting', 'on_hold') THEN 0.3 ELSE 0.1 END
                THEN t1.created_at
                     + (14400 + pg_temp.u(g.n, %(s)s + 19) * 244800) * interval '1 second'
           END AS due_at,
           CASE WHEN t2.status = 'on_hold' AND pg_temp.u(g.n, %(s)s + 20) < 0.5
                THEN %(cs_on_hold)s::uuid
                WHEN t2.status = 'waiting' AND pg_temp.u(g.n, %(s)s + 20) < 0.2
                THEN %(cs_waiting)s::uuid
           END AS custom_status_id
    FROM (SELECT m2,
                 least(%(now)s::timestamptz - interval '1 minute',
                       m2 + (600 + pg_temp.u(g.n, %(s)s + 15) * 259200) * interval '1 second')
                   AS m3,
                 CASE WHEN t2.status = 'open' THEN 'customer'
                      WHEN pg_temp.u(g.n, %(s)s + 16) < 0.3 THEN 'note' ELSE 'customer' END AS kind3
          FROM (SELECT least(%(now)s::timestamptz - interval '2 minutes',
                             t1.created_at + (600 + pg_temp.u(g.n, %(s)s + 14) * 108000)
                                             * interval '1 second') AS m2) AS y) AS x
) AS t4
CROSS JOIN LATERAL (
    SELECT {contact_first} AS first_name, {contact_name} AS contact_name,
           {contact_email} AS contact_email,
           CASE WHEN x.company IS NULL THEN NULL ELSE {company_name} END AS company_name
    FROM (SELECT {contact_company} AS company) AS x
) AS t5
CROSS JOIN LATERAL (
    SELECT CASE WHEN ntags = 0 THEN ARRAY[]::int[]
                ELSE ARRAY(SELECT DISTINCT v.tag FROM unnest((ARRAY[
                        (%(topic_tag)s::int[])[t1.topic],
                        1 + floor(pg_temp.u(g.n, %(s)s + 25) ^ 2
                                  * cardinality(%(tag_ids)s::uuid[]))::int,
                        1 + floor(pg_temp.u(g.n, %(s)s + 26) ^ 2
                                  * cardinality(%(tag_ids)s::uuid[]))::int
                     ])[1:ntags]) AS v(tag)) END AS tag_idx,
           replace(replace((%(subjects)s::text[])[
                (t1.topic - 1) * %(subject_count)s + 1
                + floor(pg_temp.u(g.n, %(s)s + 27) * %(subject_count)s)::int],
                '[order]', t1.order_no), '[product]', t1.product) AS subject,
           replace(replace(
                pg_temp.pick(%(greetings)s::text[], g.n, %(s)s + 28) || E'\\n\\n'
                || (%(customer)s::text[])[(t1.topic - 1) * %(customer_count)s + 1
                   + floor(pg_temp.u(g.n, %(s)s + 29) * %(customer_count)s)::int]
                || ' ' || (%(customer)s::text[])[(t1.topic - 1) * %(customer_count)s + 1
                   + floor(pg_temp.u(g.n, %(s)s + 30) * %(customer_count)s)::int]
                || CASE WHEN pg_temp.u(g.n, %(s)s + 31) < 0.6
                        THEN ' ' || (%(customer)s::text[])[(t1.topic - 1) * %(customer_count)s + 1
                             + floor(pg_temp.u(g.n, %(s)s + 32) * %(customer_count)s)::int]
                        ELSE '' END
                || CASE WHEN pg_temp.u(g.n, %(s)s + 33) < 0.005
                        THEN ' ' || replace(
                            pg_temp.pick(%(rare_sentences)s::text[], g.n, %(s)s + 34),
                            '[rare]', pg_temp.pick(%(rare_words)s::text[], g.n, %(s)s + 35))
                        ELSE '' END
                || E'\\n\\n' || pg_temp.pick(%(signoffs)s::text[], g.n, %(s)s + 36) || E'\\n'
                || {contact_first} || E'\\nReference: [order]',
                '[order]', t1.order_no), '[product]', t1.product) AS b1,
           replace(replace(
                'Hi ' || {contact_first} || E',\\n\\n'
                || (%(reply)s::text[])[(t1.topic - 1) * %(reply_count)s + 1
                   + floor(pg_temp.u(g.n, %(s)s + 37) * %(reply_count)s)::int]
                || ' ' || (%(reply)s::text[])[(t1.topic - 1) * %(reply_count)s + 1
                   + floor(pg_temp.u(g.n, %(s)s + 38) * %(reply_count)s)::int]
                || E'\\n\\n' || pg_temp.pick(%(agent_signoffs)s::text[], g.n, %(s)s + 39)
                || E'\\n' || t3.agent_name || E'\\n' || %(tenant_name)s || ' Support',
                '[order]', t1.order_no), '[product]', t1.product) AS b2,
           CASE WHEN t4.kind3 = 'note' THEN pg_temp.pick(%(notes)s::text[], g.n, %(s)s + 40)
                ELSE pg_temp.pick(%(followups)s::text[], g.n, %(s)s + 41) || E'\\n\\n'
                     || {contact_first} END AS b3
    FROM (SELECT CASE WHEN u < 0.4 THEN 0 WHEN u < 0.75 THEN 1 WHEN u < 0.95 THEN 2 ELSE 3 END
                 AS ntags
          FROM (SELECT pg_temp.u(g.n, %(s)s + 24) AS u) AS z) AS x
) AS t6
"""

# Target columns -> SQL expressions over bench_stage (st) or generate_series; any NOT NULL
# column the code has gained since is filled with a zero value (reported in the results).
TICKET_COLUMNS = {
    "id": "st.id",
    "tenant_id": "%(tenant)s::uuid",
    "created_at": "st.created_at",
    "updated_at": "st.updated_at",
    "number": "st.n",
    "subject": "st.subject",
    "status": "st.status",
    "priority": "st.priority",
    "channel": "st.channel",
    "department_id": "st.department_id",
    "contact_id": "st.contact_id",
    "assignee_id": "st.assignee_id",
    "type_id": "st.type_id",
    "custom_status_id": "st.custom_status_id",
    "custom_fields": "jsonb_build_object('product', st.product)",
    "due_at": "st.due_at",
    "is_spam": "st.is_spam",
    "merged_into_id": "NULL",
    "last_message_at": "st.m3",
    "last_message_snippet": (
        "left(btrim(regexp_replace(CASE WHEN st.kind3 = 'customer' THEN st.b3 ELSE st.b2 END,"
        " '\\s+', ' ', 'g')), 200)"
    ),
    "solved_at": "st.solved_at",
    "reply_token": "st.reply_token",
    "follow_up_of_id": "NULL",
    "mailbox_id": "st.mailbox_id",
    # SLA state as automation.sla leaves it: open tickets run a target due up to three days
    # after their last activity (recent ones still ahead, older ones overdue), waiting and
    # on-hold ones are paused.
    "sla_due_at": (
        "CASE WHEN st.status = 'open' THEN st.updated_at + (st.n %% 72) * interval '1 hour' END"
    ),
    "sla_metric": "CASE WHEN st.status = 'open' THEN 'resolution' ELSE '' END",
    "sla_paused": "st.status IN ('waiting', 'on_hold')",
}
# tickets.services.refresh_search_vector's upsert: subject (A); contact name, email, company
# and tag names (B); message bodies newest first, notes included (C); the tenant language's
# configuration. indexed_at is the ticket's last activity (its last message), as migration
# 0009 backfills it: refresh_search_vector runs on every message and tag change.
SEARCH_COLUMNS = {
    "ticket_id": "st.id",
    "tenant_id": "%(tenant)s::uuid",
    "indexed_at": "coalesce(st.m3, st.updated_at)",
    "document": (
        "setweight(to_tsvector('english'::regconfig, st.subject), 'A')"
        " || setweight(to_tsvector('english'::regconfig,"
        " concat_ws(' ', nullif(st.contact_name, ''), st.contact_email, st.company_name)"
        " || ' ' || array_to_string(ARRAY(SELECT (%(tag_names)s::text[])[i]"
        " FROM unnest(st.tag_idx) AS i), ' ')), 'B')"
        " || setweight(to_tsvector('english'::regconfig,"
        " left(st.b3 || ' ' || st.b2 || ' ' || st.b1, 200000)), 'C')"
    ),
}
MESSAGE_COLUMNS = {
    "id": "m.id",
    "tenant_id": "%(tenant)s::uuid",
    "created_at": "m.at",
    "updated_at": "m.at",
    "ticket_id": "st.id",
    "kind": "m.kind",
    "body_text": "m.body",
    "body_html": "m.html",
    "author_member_id": "m.member",
    "author_contact_id": "m.contact",
    "event": "jsonb_build_object()",
    "email_message_id": "m.msgid",
    "quoted_text": "''",
    "is_automatic": "false",
    # Seeded replies stand for mail settled long ago (before the outbox): its recorded state.
    "legacy_delivery_status": "m.delivery",
    "legacy_delivery_error": "''",
    "email_subject": "''",
}
MESSAGE_SOURCE = """bench_stage AS st CROSS JOIN LATERAL (VALUES
    (st.m1_id, st.created_at, 'customer', st.b1, st.html1, NULL::uuid, st.contact_id,
     st.msgid1, ''),
    (st.m2_id, st.m2, 'reply', st.b2, '', st.agent_id, NULL::uuid, st.msgid2, 'delivered'),
    (st.m3_id, st.m3, st.kind3, st.b3, '',
     CASE WHEN st.kind3 = 'note' THEN st.agent_id END,
     CASE WHEN st.kind3 = 'customer' THEN st.contact_id END, st.msgid3, '')
) AS m(id, at, kind, body, html, member, contact, msgid, delivery)
ORDER BY m.at"""
TAG_COLUMNS = {
    "id": "pg_temp.uuid7(st.created_at, st.n * 4 + x.i, %(s)s + 315)",
    "tenant_id": "%(tenant)s::uuid",
    "created_at": "st.created_at",
    "updated_at": "st.created_at",
    "ticket_id": "st.id",
    "tag_id": "(%(tag_ids)s::uuid[])[x.t]",
}
TAG_SOURCE = "bench_stage AS st CROSS JOIN LATERAL unnest(st.tag_idx) WITH ORDINALITY AS x(t, i)"
# Every ticket's product field as tickets.services.update_ticket stores it: a row with the
# digest of the value's JSON text (tickets.models.field_value_digest; the products are plain
# ASCII, for which PostgreSQL's JSON text is Python's; checked after loading).
FIELD_VALUE_DIGEST_SQL = "encode(sha256(convert_to(to_jsonb({}::text)::text, 'UTF8')), 'hex')"
FIELD_VALUE_COLUMNS = {
    "id": "pg_temp.uuid7(st.created_at, st.n, %(s)s + 330)",
    "tenant_id": "%(tenant)s::uuid",
    "created_at": "st.created_at",
    "updated_at": "st.created_at",
    "ticket_id": "st.id",
    "key": "'product'",
    "digest": FIELD_VALUE_DIGEST_SQL.format("st.product"),
}
# The agent who replied read the ticket then (or at their note); later customer mail is
# unread for them, as tickets.services.mark_read leaves it.
READ_COLUMNS = {
    "id": "pg_temp.uuid7(st.read_at, st.n, %(s)s + 312)",
    "tenant_id": "%(tenant)s::uuid",
    "created_at": "st.read_at",
    "updated_at": "st.read_at",
    "ticket_id": "st.id",
    "member_id": "st.agent_id",
    "read_at": "st.read_at",
}
READ_SOURCE = (
    "(SELECT *, CASE WHEN kind3 = 'note' THEN m3 ELSE m2 END AS read_at FROM bench_stage) AS st"
)
CONTACT_COLUMNS = {
    "id": _contact_id("k"),
    "tenant_id": "%(tenant)s::uuid",
    "created_at": _contact_created("k"),
    "updated_at": _contact_created("k"),
    "email": _contact_email("k", "x.company"),
    "name": _contact_name("k"),
    "company_id": f"CASE WHEN x.company IS NOT NULL THEN {_company_id('x.company')} END",
    "email_bounced_at": "NULL",
    "phone": "''",
    "notes": "''",
    "custom_fields": "jsonb_build_object()",
    "merged_into_id": "NULL",
}
CONTACT_SOURCE = (
    "generate_series(1, %(contacts)s::bigint) AS k"
    f" CROSS JOIN LATERAL (SELECT {_contact_company('k')} AS company) AS x"
)
COMPANY_COLUMNS = {
    "id": _company_id("j"),
    "tenant_id": "%(tenant)s::uuid",
    "created_at": _company_created("j"),
    "updated_at": _company_created("j"),
    "name": _company_name("j"),
    "domains": f"jsonb_build_array({_company_domain('j')})",
    "notes": "''",
    "custom_fields": "jsonb_build_object()",
}
COMPANY_SOURCE = "generate_series(1, %(companies)s::bigint) AS j"
COUNTER_COLUMNS = {
    "id": "pg_temp.uuid7(%(now)s::timestamptz, 1, %(s)s + 324)",
    "tenant_id": "%(tenant)s::uuid",
    "created_at": "%(now)s::timestamptz",
    "updated_at": "%(now)s::timestamptz",
    "last_number": "%(tickets)s::int",
}
ZERO_VALUES = {
    "boolean": "false",
    "smallint": "0",
    "integer": "0",
    "bigint": "0",
    "numeric": "0",
    "double precision": "0",
    "real": "0",
    "text": "''",
    "character varying": "''",
    "jsonb": "jsonb_build_object()",
    "timestamp with time zone": "%(now)s::timestamptz",
    "date": "%(now)s::date",
}


def stage_statement() -> Any:
    from psycopg import sql

    return sql.SQL(STAGE).format(
        contact_id=sql.SQL(_contact_id("t1.contact_k")),
        contact_first=sql.SQL(_contact_first("t1.contact_k")),
        contact_name=sql.SQL(_contact_name("t1.contact_k")),
        contact_email=sql.SQL(_contact_email("t1.contact_k", "x.company")),
        contact_company=sql.SQL(_contact_company("t1.contact_k")),
        company_name=sql.SQL(_company_name("x.company")),
    )


def insert_statement(
    connection: Any, table: str, values: dict[str, str], source: str, notes: set[str]
) -> Any:
    """INSERT INTO table (...) SELECT ... FROM source, fitted to the table as migrated now:
    a column the benchmark knows but the table lacks is left out, and a NOT NULL column
    without a default that the benchmark does not know gets a zero value."""
    from psycopg import sql

    rows = connection.execute(
        "SELECT column_name, is_nullable = 'NO', column_default IS NOT NULL, data_type,"
        " is_generated = 'ALWAYS' OR is_identity = 'YES'"
        " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        [table],
    ).fetchall()
    columns = {
        name: (not_null, default, kind, generated)
        for name, not_null, default, kind, generated in rows
    }
    chosen: dict[str, str] = {}
    for name, expression in values.items():
        if name in columns and not columns[name][3]:
            chosen[name] = expression
        else:
            notes.add(f"{table}.{name}: not in the table, left out")
    for name, (not_null, default, kind, generated) in columns.items():
        if name in chosen or generated or not not_null or default:
            continue
        if kind not in ZERO_VALUES:
            raise RuntimeError(
                f"{table}.{name} ({kind}) is NOT NULL; bench/workspace.py needs a value"
            )
        chosen[name] = ZERO_VALUES[kind]
        notes.add(f"{table}.{name}: new NOT NULL column, filled with {ZERO_VALUES[kind]}")
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(name) for name in chosen),
        sql.SQL(", ").join(sql.SQL(expression) for expression in chosen.values()),
        sql.SQL(source),
    )


# --- The cached database ----------------------------------------------------------------------


def migrations_fingerprint() -> dict[str, Any]:
    """A hash of every migration file (names and contents) and the latest migration per app."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256()
    for key in sorted(loader.disk_migrations):
        module = sys.modules[loader.disk_migrations[key].__module__]
        digest.update(repr(key).encode())
        digest.update(Path(module.__file__ or "").read_bytes())
    latest = dict(sorted(loader.graph.leaf_nodes()))
    return {"hash": digest.hexdigest()[:20], "latest": latest}


def migrations_only_added(cached_latest: dict[str, str]) -> bool:
    """Whether the code's migrations continue the cached database's: each app's latest
    migration then is still in the graph (new ones were only added after it), and no app
    it knew has lost its migrations."""
    from django.db.migrations.loader import MigrationLoader

    if not cached_latest:
        return False
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    return all((app, name) in graph.nodes for app, name in cached_latest.items())


def _migrate_cached_forward(
    context: Context, template: str, stamp: dict[str, Any], fingerprint: dict[str, Any]
) -> dict[str, Any]:
    """A copy of the cached database with the migrations added since it was loaded applied
    (minutes, where loading again takes most of an hour on a busy machine), then cached
    again under the new fingerprint. The loaded rows are the same; tables and columns that
    are new since then hold what their migrations put there."""
    from psycopg import sql

    from bench.run import DATABASE_NAME

    print(
        f"  database: copy of {template} (loaded {stamp['loaded_at']}), migrated forward",
        flush=True,
    )
    copy_seconds = _copy_database(context, source=template, target=DATABASE_NAME)
    context.manage("setup_database")
    started = time.monotonic()
    context.manage("migrate", "--no-input")
    migrate_seconds = round(time.monotonic() - started, 1)
    context.redis().flushdb()
    forward = {
        "from": stamp["migrations"],
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": migrate_seconds,
    }
    updated = {
        **stamp,
        "migrations": fingerprint,
        "migrated_forward": [*stamp.get("migrated_forward", []), forward],
    }
    # Cache the migrated copy, so the next run copies it as it is.
    updated["snapshot_seconds"] = _copy_database(context, source=DATABASE_NAME, target=template)
    with context.admin_connection("postgres") as admin:
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(template), sql.Literal(json.dumps(updated))
            )
        )
    return {
        **updated,
        "from_cache": True,
        "copy_seconds": copy_seconds,
        "template": template,
    }


def _template_stamp(context: Context, template: str) -> dict[str, Any] | None:
    with context.admin_connection("postgres") as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
    if row is None or not row[0]:
        return None
    try:
        stored: dict[str, Any] = json.loads(row[0])
    except ValueError:
        return None
    return stored


def _copy_database(context: Context, *, source: str, target: str) -> float:
    """DROP target, CREATE DATABASE target TEMPLATE source (file copy); seconds taken."""
    import psycopg
    from django.db import connections
    from psycopg import sql

    from bench.run import DATABASE_NAME

    connections.close_all()
    started = time.monotonic()
    with context.admin_connection("postgres") as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target))
        )
        for attempt in range(120):
            try:
                admin.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                        sql.Identifier(target), sql.Identifier(source)
                    )
                )
                break
            except psycopg.errors.ObjectInUse:
                # An autovacuum worker still on the source: it leaves within seconds.
                if attempt == 119:
                    raise
                time.sleep(1)
        if target != DATABASE_NAME:
            admin.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(target)
                )
            )
    return round(time.monotonic() - started, 1)


def prepare_database(context: Context, tickets: int, *, reload: bool) -> dict[str, Any]:
    """helpdesk_bench with the workspace data: a copy of the cached database when its
    migrations and data version match, else built and loaded now (and cached)."""
    from psycopg import sql

    from bench.run import DATABASE_NAME

    template = f"{TEMPLATE_PREFIX}{tickets}"
    fingerprint = migrations_fingerprint()
    stamp = _template_stamp(context, template)
    same_data = (
        not reload
        and stamp is not None
        and stamp.get("data_version") == DATA_VERSION
        and stamp.get("tickets") == tickets
    )
    if same_data and stamp is not None:
        cached = stamp.get("migrations", {})
        if cached.get("hash") == fingerprint["hash"]:
            print(f"  database: copy of {template} (loaded {stamp['loaded_at']})", flush=True)
            seconds = _copy_database(context, source=template, target=DATABASE_NAME)
            context.manage("setup_database")  # owner and CONNECT grants of the new database
            context.redis().flushdb()
            return {**stamp, "from_cache": True, "copy_seconds": seconds, "template": template}
        if migrations_only_added(cached.get("latest", {})):
            return _migrate_cached_forward(context, template, stamp, fingerprint)
    reason = (
        "--reload"
        if reload
        else "no cached database"
        if stamp is None
        else "migrations or data version changed"
    )
    print(f"  database: building and loading {template} ({reason})", flush=True)
    started = time.monotonic()
    context.prepare()
    steps = {"migrate_seconds": round(time.monotonic() - started, 1)}
    load = load_data(context, tickets)
    stamp = {
        "data_version": DATA_VERSION,
        "tickets": tickets,
        "migrations": fingerprint,
        "loaded_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_seconds": round(time.monotonic() - started, 1),
        **steps,
        **load,
    }
    stamp["snapshot_seconds"] = _copy_database(context, source=DATABASE_NAME, target=template)
    with context.admin_connection("postgres") as admin:
        admin.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(template), sql.Literal(json.dumps(stamp))
            )
        )
    return {**stamp, "from_cache": False, "template": template}


# --- Loading ------------------------------------------------------------------------------------


@dataclass
class Provisioned:
    """What the bulk statements of one tenant need: ids of the rows made by services."""

    plan: TenantPlan
    tenant_id: UUID
    departments: list[UUID]
    mailboxes: list[UUID]
    topic_department: list[int]
    department_agents: list[UUID]
    department_agent_names: list[str]
    slots: int
    types: list[UUID]
    custom_statuses: dict[str, UUID]
    tag_ids: list[UUID]
    tag_names: list[str]
    topic_tag: list[int]


def provision(context: Context, plan: TenantPlan) -> Provisioned:
    """Tenant, admin, agents, departments with their mailboxes, tags, ticket types and custom
    statuses through the real services and models (small numbers of rows)."""
    from django.conf import settings

    from departments import services as department_services
    from departments.models import Department
    from helpdesk.accounts import services as account_services
    from helpdesk.ops import services as ops_services
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Membership, MembershipRole, Tenant
    from tickets.configuration import services as configuration
    from tickets.models import CustomField, CustomStatus, SavedView, Tag, TicketType

    tenant = Tenant.objects.filter(slug=plan.slug).first()
    if tenant is None:
        tenant = ops_services.create_tenant(
            slug=plan.slug,
            name=plan.name,
            admin_email=f"admin@{plan.slug}.test",
            admin_password=None,
        ).tenant
    admin = Membership.objects.get(tenant=tenant, role=MembershipRole.ADMIN)
    agents: list[tuple[Membership, str]] = []
    for number in range(plan.agents + plan.light_agents):
        name = AGENT_NAMES[(number + plan.index * 7) % len(AGENT_NAMES)]
        user = account_services.get_or_create_user(email=plan.agent_email(number), name=name)
        role = MembershipRole.AGENT if number < plan.agents else MembershipRole.LIGHT_AGENT
        agents.append((account_services.add_member(tenant=tenant, user=user, role=role), name))
    with tenant_context(tenant.id):
        departments = []
        for name in plan.departments:
            department = Department.objects.filter(name=name).first()
            if department is None:
                department = department_services.create_department(name=name)
                department_services.create_mailbox(
                    address=f"{name.lower()}@{plan.slug}.{settings.HELPDESK_BASE_DOMAIN}",
                    department=department,
                    display_name=f"{plan.name} {name}",
                )
            departments.append(department)
        mailboxes = [d.mailboxes.order_by("-is_default", "created_at")[0].id for d in departments]
        by_department: dict[int, list[tuple[UUID, str]]] = defaultdict(list)
        by_department[0].append((admin.id, "Admin"))
        department_services.add_department_member(department=departments[0], membership=admin)
        for number, (membership, name) in enumerate(agents):
            home = number % len(departments)
            department_services.add_department_member(
                department=departments[home], membership=membership
            )
            if membership.role == MembershipRole.AGENT:
                by_department[home].append((membership.id, name))
        slots = max(len(v) for v in by_department.values())
        flat: list[tuple[UUID, str]] = []
        for index in range(len(departments)):
            members = by_department[index] or by_department[0]
            flat += [members[i % len(members)] for i in range(slots)]
        names = {d.name: i + 1 for i, d in enumerate(departments)}
        topic_department = [
            names.get(t.department) or names[SMALL_DEPARTMENT_FALLBACK[t.department]]
            for t in TOPICS
        ]
        tag_names = list(dict.fromkeys([t.tag for t in TOPICS] + list(EXTRA_TAGS)))
        Tag.objects.bulk_create(
            [Tag(name=name, tenant_id=tenant.id) for name in tag_names], ignore_conflicts=True
        )
        tags = {t.name: t.id for t in Tag.objects.filter(name__in=tag_names)}
        TicketType.objects.bulk_create(
            [
                TicketType(name=name, position=i, tenant_id=tenant.id)
                for i, name in enumerate(TICKET_TYPES)
            ],
            ignore_conflicts=True,
        )
        types = list(TicketType.objects.order_by("position").values_list("id", flat=True))
        CustomStatus.objects.bulk_create(
            [
                CustomStatus(name=name, base_status=base, position=i, tenant_id=tenant.id)
                for i, (name, base) in enumerate(CUSTOM_STATUSES)
            ],
            ignore_conflicts=True,
        )
        statuses = {c.base_status: c.id for c in CustomStatus.objects.all()}
        if not CustomField.objects.filter(target="ticket", key="product").exists():
            configuration.save_custom_field(
                target="ticket", label="Product", type="select", options=list(PRODUCTS)
            )
        if plan.index == 0 and not SavedView.objects.exists():
            owner = next(m for m, _ in agents if m.user.email == plan.agent_email(MEASURED_AGENT))
            SavedView.objects.create(
                name="Urgent technical",
                owner=owner,
                is_shared=True,
                filters={
                    "department": str(departments[BIG_DEPARTMENTS.index("Technical")].id),
                    "priority": "high,urgent",
                    "status": "open,waiting,on_hold",
                },
                sort="-priority",
            )
    return Provisioned(
        plan=plan,
        tenant_id=tenant.id,
        departments=[d.id for d in departments],
        mailboxes=mailboxes,
        topic_department=topic_department,
        department_agents=[m for m, _ in flat],
        department_agent_names=[n for _, n in flat],
        slots=slots,
        types=types,
        custom_statuses=statuses,
        tag_ids=[tags[name] for name in tag_names],
        tag_names=tag_names,
        topic_tag=[tag_names.index(t.tag) + 1 for t in TOPICS],
    )


def _parameters(tenant: Provisioned, now: datetime) -> dict[str, Any]:
    from django.conf import settings

    plan = tenant.plan
    start = now - timedelta(days=365)
    span = timedelta(days=365) - timedelta(hours=1)
    return {
        "s": plan.salt,
        "tenant": tenant.tenant_id,
        "tenant_name": plan.name,
        "mail_domain": f"{plan.slug}.{settings.HELPDESK_BASE_DOMAIN}",
        "tickets": plan.tickets,
        "contacts": plan.contacts,
        "companies": plan.companies,
        "now": now,
        "start": start,
        "step": span.total_seconds() / plan.tickets,
        "topics": len(TOPICS),
        "subjects": _flat(TOPICS, "subjects"),
        "subject_count": len(TOPICS[0].subjects),
        "customer": _flat(TOPICS, "customer"),
        "customer_count": len(TOPICS[0].customer),
        "reply": _flat(TOPICS, "reply"),
        "reply_count": len(TOPICS[0].reply),
        "products": list(PRODUCTS),
        "greetings": list(GREETINGS),
        "signoffs": list(SIGNOFFS),
        "agent_signoffs": list(AGENT_SIGNOFFS),
        "followups": list(FOLLOWUPS),
        "notes": list(NOTES),
        "rare_words": list(RARE_WORDS),
        "rare_sentences": list(RARE_SENTENCES),
        "first_names": FIRST_NAMES,
        "last_names": LAST_NAMES,
        "free_mail": list(FREE_MAIL),
        "company_first": COMPANY_FIRST,
        "company_second": COMPANY_SECOND,
        "company_suffix": list(COMPANY_SUFFIXES),
        "depts": tenant.departments,
        "dept_mailboxes": tenant.mailboxes,
        "topic_dept": tenant.topic_department,
        "dept_agents": tenant.department_agents,
        "dept_agent_names": tenant.department_agent_names,
        "slots": tenant.slots,
        "types": tenant.types,
        "cs_on_hold": tenant.custom_statuses["on_hold"],
        "cs_waiting": tenant.custom_statuses["waiting"],
        "tag_ids": tenant.tag_ids,
        "tag_names": tenant.tag_names,
        "topic_tag": tenant.topic_tag,
    }


def _loader_connection(context: Context) -> Any:
    """A superuser connection (no RLS) that skips FK triggers: the generated references are
    consistent by construction and checked once at the end (verify_references)."""
    import psycopg

    connection = context.admin_connection()
    connection.cursor_factory = psycopg.ClientCursor  # parameters inside CREATE TABLE AS
    connection.execute("SET session_replication_role = replica")
    connection.execute("SET synchronous_commit = off")
    connection.execute("SET temp_buffers = '512MB'")
    connection.execute("SET work_mem = '256MB'")
    for helper in HELPERS:
        connection.execute(helper)
    return connection


def _run_parallel(
    context: Context, jobs: list[Any], work: Callable[[Any, Any], None], *, loader: bool = True
) -> None:
    """Run work(connection, job) for every job on LOADERS connections; re-raise the first error."""
    pending: queue.Queue[Any] = queue.Queue()
    for job in jobs:
        pending.put(job)
    errors: list[BaseException] = []

    def worker() -> None:
        connection = _loader_connection(context) if loader else context.admin_connection()
        try:
            while not errors:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                work(connection, job)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(LOADERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _drop_secondary_indexes(connection: Any) -> list[tuple[str, str, str]]:
    """Drop the indexes of the loaded tables that no constraint uses; returns (table, name,
    definition) to build them again after loading, which is much faster than keeping them."""
    from psycopg import sql

    rows = connection.execute(
        "SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)"
        " FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"
        " ORDER BY pg_relation_size(c.oid) DESC, i.relname",
        [list(LOADED_TABLES)],
    ).fetchall()
    for _, name, _ in rows:
        connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [(table, name, definition) for table, name, definition in rows]


def _set_autovacuum(connection: Any, enabled: bool) -> None:
    from psycopg import sql

    for table in LOADED_TABLES:
        statement = (
            "ALTER TABLE {} RESET (autovacuum_enabled)"
            if enabled
            else "ALTER TABLE {} SET (autovacuum_enabled = false)"
        )
        connection.execute(sql.SQL(statement).format(sql.Identifier(table)))


def verify_references(connection: Any) -> dict[str, int]:
    """Rows whose reference does not resolve (FK triggers were off while loading): all 0."""
    checks = {
        "ticket.contact": "SELECT count(*) FROM tickets_ticket t WHERE NOT EXISTS (SELECT 1 FROM tickets_contact c WHERE c.tenant_id = t.tenant_id AND c.id = t.contact_id)",  # noqa: E501
        "ticket.department": "SELECT count(*) FROM tickets_ticket t WHERE NOT EXISTS (SELECT 1 FROM departments_department d WHERE d.tenant_id = t.tenant_id AND d.id = t.department_id)",  # noqa: E501
        "ticket.assignee": "SELECT count(*) FROM tickets_ticket t WHERE t.assignee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tenancy_membership m WHERE m.tenant_id = t.tenant_id AND m.id = t.assignee_id)",  # noqa: E501
        "ticket.mailbox": "SELECT count(*) FROM tickets_ticket t WHERE NOT EXISTS (SELECT 1 FROM departments_mailbox b WHERE b.tenant_id = t.tenant_id AND b.id = t.mailbox_id AND b.department_id = t.department_id)",  # noqa: E501
        "message.ticket": "SELECT count(*) FROM tickets_message m WHERE NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.tenant_id = m.tenant_id AND t.id = m.ticket_id)",  # noqa: E501
        "message.author_contact": "SELECT count(*) FROM tickets_message m WHERE m.author_contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tickets_contact c WHERE c.tenant_id = m.tenant_id AND c.id = m.author_contact_id)",  # noqa: E501
        "tickettag.ticket": "SELECT count(*) FROM tickets_tickettag x WHERE NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.tenant_id = x.tenant_id AND t.id = x.ticket_id)",  # noqa: E501
        "ticketread.ticket": "SELECT count(*) FROM tickets_ticketread r WHERE NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.tenant_id = r.tenant_id AND t.id = r.ticket_id)",  # noqa: E501
        "ticketfieldvalue.ticket": "SELECT count(*) FROM tickets_ticketfieldvalue v WHERE NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.tenant_id = v.tenant_id AND t.id = v.ticket_id)",  # noqa: E501
        "contact.company": "SELECT count(*) FROM tickets_contact c WHERE c.company_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tickets_company o WHERE o.tenant_id = c.tenant_id AND o.id = c.company_id)",  # noqa: E501
        "ticketsearch.ticket": "SELECT count(*) FROM tickets_ticketsearch s WHERE NOT EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.tenant_id = s.tenant_id AND t.id = s.ticket_id)",  # noqa: E501
        # Not a reference: every ticket has its search document, as refresh_search_vector
        # leaves it.
        "ticket.search document": "SELECT count(*) FROM tickets_ticket t WHERE NOT EXISTS (SELECT 1 FROM tickets_ticketsearch s WHERE s.ticket_id = t.id)",  # noqa: E501
    }
    from tickets.models import field_value_digest

    broken = {name: connection.execute(query).fetchone()[0] for name, query in checks.items()}
    # The field values' digests were made in SQL: each must be the one the filter looks for.
    digest_sql = "SELECT " + FIELD_VALUE_DIGEST_SQL.format("%s")
    broken["ticketfieldvalue.digest"] = sum(
        connection.execute(digest_sql, [product]).fetchone()[0] != field_value_digest(product)
        for product in PRODUCTS
    )
    return broken


def load_data(context: Context, tickets: int) -> dict[str, Any]:
    """Provision every tenant, then generate their rows in parallel; indexes, VACUUM ANALYZE."""
    from django.db import connections
    from psycopg import sql

    timings: dict[str, float] = {}
    mark = time.monotonic()

    def step(name: str) -> None:
        nonlocal mark
        timings[name] = round(time.monotonic() - mark, 1)
        print(f"  load: {name} {timings[name]} s", flush=True)
        mark = time.monotonic()

    plans = tenant_plans(tickets, context.tenant_slug)
    tenants = [provision(context, plan) for plan in plans]
    connections.close_all()
    step("tenants, agents, departments, mailboxes (services)")

    now = datetime.now(UTC).replace(microsecond=0)
    notes: set[str] = set()
    with _loader_connection(context) as connection:
        statements = {
            "stage": stage_statement(),
            "tags": insert_statement(
                connection, "tickets_tickettag", TAG_COLUMNS, TAG_SOURCE, notes
            ),
            "messages": insert_statement(
                connection, "tickets_message", MESSAGE_COLUMNS, MESSAGE_SOURCE, notes
            ),
            "reads": insert_statement(
                connection, "tickets_ticketread", READ_COLUMNS, READ_SOURCE, notes
            ),
            "tickets": insert_statement(
                connection, "tickets_ticket", TICKET_COLUMNS, "bench_stage AS st", notes
            ),
            "fields": insert_statement(
                connection,
                "tickets_ticketfieldvalue",
                FIELD_VALUE_COLUMNS,
                "bench_stage AS st",
                notes,
            ),
            "search": insert_statement(
                connection, "tickets_ticketsearch", SEARCH_COLUMNS, "bench_stage AS st", notes
            ),
            "contacts": insert_statement(
                connection, "tickets_contact", CONTACT_COLUMNS, CONTACT_SOURCE, notes
            ),
            "companies": insert_statement(
                connection, "tickets_company", COMPANY_COLUMNS, COMPANY_SOURCE, notes
            ),
            "counter": insert_statement(
                connection,
                "tickets_ticketcounter",
                COUNTER_COLUMNS,
                "(SELECT 1) AS one",
                notes,
            ),
        }
        indexes = _drop_secondary_indexes(connection)
        _set_autovacuum(connection, enabled=False)
    jobs: list[tuple[str, Provisioned, int, int]] = []
    for tenant in tenants:
        jobs.append(("people", tenant, 0, 0))
        jobs += [
            ("tickets", tenant, a, min(a + CHUNK - 1, tenant.plan.tickets))
            for a in range(1, tenant.plan.tickets + 1, CHUNK)
        ]
    lock = threading.Lock()
    done = Counter[str]()

    def generate(connection: Any, job: tuple[str, Provisioned, int, int]) -> None:
        kind, tenant, a, b = job
        parameters = {**_parameters(tenant, now), "a": a, "b": b}
        began = time.monotonic()
        with connection.transaction():
            if kind == "people":
                connection.execute(
                    "DELETE FROM tickets_ticketcounter WHERE tenant_id = %(tenant)s", parameters
                )
                connection.execute(statements["companies"], parameters)
                connection.execute(statements["contacts"], parameters)
                connection.execute(statements["counter"], parameters)
            else:
                connection.execute(statements["stage"], parameters)
                for name in ("tags", "messages", "reads", "tickets", "fields", "search"):
                    connection.execute(statements[name], parameters)
        with lock:
            done[kind] += b - a + 1 if kind == "tickets" else 0
            print(
                f"  load: {tenant.plan.slug} {kind} {f'{a}-{b}' if b else ''}"
                f" {time.monotonic() - began:.1f} s ({done['tickets']:,} tickets so far)",
                flush=True,
            )

    try:
        _run_parallel(context, jobs, generate)
        step("rows (INSERT … SELECT, 2 connections)")

        def build(connection: Any, index: tuple[str, str, str]) -> None:
            began = time.monotonic()
            connection.execute("SET maintenance_work_mem = '1GB'")
            connection.execute(sql.SQL(index[2]))
            print(f"  load: index {index[1]} {time.monotonic() - began:.1f} s", flush=True)

        with context.admin_connection() as connection:
            sizes = dict(
                connection.execute(
                    "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)",
                    [list(LOADED_TABLES)],
                ).fetchall()
            )
        # The slowest first (GIN, then the biggest tables), so the two connections end together.
        indexes.sort(key=lambda index: ("USING gin" not in index[2], -sizes.get(index[0], 0)))
        _run_parallel(context, indexes, build, loader=False)
        step(f"{len(indexes)} secondary indexes")
    finally:
        with context.admin_connection() as connection:
            _set_autovacuum(connection, enabled=True)
    with context.admin_connection() as connection:
        broken = verify_references(connection)
        if any(broken.values()):
            raise RuntimeError(f"generated rows with dangling references: {broken}")
        step("reference check")
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = 'public'::regnamespace ORDER BY pg_relation_size(oid) DESC"
            ).fetchall()
        ]

    def vacuum(connection: Any, table: str) -> None:
        connection.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))

    _run_parallel(context, tables, vacuum, loader=False)
    step("VACUUM ANALYZE")
    with context.admin_connection() as connection:
        connection.execute("CHECKPOINT")
    return {
        "now": now.isoformat(),
        "steps_seconds": timings,
        "schema_notes": sorted(notes),
        "references_checked": broken,
        "rebuilt_indexes": [name for _, name, _ in indexes],
    }


def describe_data(context: Context, plans: list[TenantPlan]) -> dict[str, Any]:
    """Row counts, sizes and the status mix of the big tenant, for the report."""
    from psycopg import sql

    with context.admin_connection() as connection:
        sizes = {}
        for table in LOADED_TABLES:
            rows, total = connection.execute(
                sql.SQL("SELECT count(*), pg_total_relation_size({}) FROM {}").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            ).fetchone()
            sizes[table] = {"rows": rows, "mb": round(total / 2**20, 1)}
        database_mb = round(
            connection.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20,
            1,
        )
        big = connection.execute(
            "SELECT id FROM tenancy_tenant WHERE slug = %s", [plans[0].slug]
        ).fetchone()[0]
        statuses = dict(
            connection.execute(
                "SELECT status, count(*) FROM tickets_ticket WHERE tenant_id = %s GROUP BY 1",
                [big],
            ).fetchall()
        )
        unassigned_open = connection.execute(
            "SELECT count(*) FROM tickets_ticket WHERE tenant_id = %s AND status = 'open'"
            " AND assignee_id IS NULL",
            [big],
        ).fetchone()[0]
        server = dict(
            connection.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)",
                [list(SERVER_SETTINGS)],
            ).fetchall()
        )
    return {
        "tenants": [
            {"slug": p.slug, "tickets": p.tickets, "contacts": p.contacts, "companies": p.companies}
            for p in plans
        ],
        "tables": sizes,
        "database_mb": database_mb,
        "big_tenant_statuses": statuses,
        "big_tenant_unassigned_open": unassigned_open,
        "server_settings": server,
    }


# --- Measuring ----------------------------------------------------------------------------------


@dataclass
class RequestType:
    key: str
    label: str
    urls: list[str]
    kind: str = "page"  # page: inbox or ticket targets; search: the search target
    probe: Callable[[list[tuple[str, Any]]], bool] | None = None
    probe_failure: str = "the inbox view ignores this parameter at this commit"
    note: str = ""


@dataclass
class Sample:
    url: str
    status: int
    seconds: float
    queries: int
    statements: list[tuple[str, Any, float]] = field(default_factory=list)
    error: str = ""


_IN_LIST = re.compile(r"%s(?:, %s)+")
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_TOKENS = re.compile(r"[()]|\bFROM\b", re.IGNORECASE)
_COLUMN = re.compile(r'(?<![(\w])"\w+"\."\w+"(?: AS "\w+")?(?:, |(?=\s*$))')
_WRITE_IN_WITH = re.compile(r'\b(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', re.IGNORECASE)
_TABLE = re.compile(r'FROM\s+"?(\w+)"?', re.IGNORECASE)


def _top_level_from(statement: str) -> int | None:
    """Where the outermost FROM starts (not a subquery's), or None."""
    masked = _QUOTED.sub(lambda match: "_" * len(match.group()), statement)
    depth = 0
    for match in _TOKENS.finditer(masked):
        if match.group() == "(":
            depth += 1
        elif match.group() == ")":
            depth -= 1
        elif depth == 0:
            return match.start()
    return None


def sql_group(statement: str) -> str:
    """`SELECT tickets_ticket`, `SELECT count(*) tickets_ticket`, `SAVEPOINT`, ...: named
    after the outermost FROM (an EXISTS subquery does not name the statement)."""
    text = statement.strip()
    if text[:4].upper() == "WITH":
        write = _WRITE_IN_WITH.search(text)
        return f"WITH … {write.group(1).upper()} {write.group(2)}" if write else "WITH"
    position = _top_level_from(text) if text[:6].upper() == "SELECT" else None
    if position is None or "set_config" in text:
        return other_group(text)
    table = _TABLE.match(text, position)
    columns = text[6:position].strip()
    label = "count(*) " if columns.upper().startswith("COUNT(") else ""
    return f"SELECT {label}{table.group(1) if table else '?'}"


_JOIN_CONDITION = re.compile(r'(JOIN "\w+"(?: \w+)?) ON \((?:[^()]|\([^()]*\))*\)')


def brief(statement: str) -> str:
    """The statement on one line, a long select list replaced by an ellipsis and the join
    conditions left out (they follow the foreign keys)."""
    text = _JOIN_CONDITION.sub(r"\1", " ".join(statement.split()))
    position = _top_level_from(text) if text[:6].upper() == "SELECT" else None
    if position is not None and position > 80:
        # Keep the expressions of the select list (an EXISTS, a rank), drop plain columns.
        expressions = _COLUMN.sub("", text[6:position]).strip(" ,")
        text = "SELECT … " + (f"{expressions} " if expressions else "") + text[position:]
    return text


def statement_pattern(statement: str) -> str:
    """The statement with IN lists of any length alike, to group repeats."""
    return _IN_LIST.sub("%s, …", statement)


def _figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 2),
        "mean": round(statistics.fmean(ordered), 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


def _uses(*markers: str) -> Callable[[list[tuple[str, Any]]], bool]:
    """A probe: the request's SQL (text or parameters) mentions every marker."""

    def probe(statements: list[tuple[str, Any]]) -> bool:
        text = " ".join(f"{sql} {params!r}" for sql, params in statements)
        return all(marker in text for marker in markers)

    return probe


def request_types(context: Context, plan: TenantPlan, count: int) -> list[RequestType]:
    """Every request type, WARMUP + count URLs each (parameters vary where they can).

    The ticket page is measured on assigned tickets: opening an unassigned one assigns it
    ("open it and you own it", a write and a history event), so a row of distinct
    unassigned tickets is measured apart, last, as it changes what the lists show."""
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant
    from tickets.models import SavedView, Tag, Ticket, TicketStatus

    total = WARMUP + count
    rng = random.Random(SEED)
    tenant = Tenant.objects.get(slug=plan.slug)
    with context.admin_connection() as connection:
        departments = [
            str(row[0])
            for row in connection.execute(
                "SELECT id FROM departments_department WHERE tenant_id = %s ORDER BY name",
                [tenant.id],
            ).fetchall()
        ]
        numbers = rng.sample(range(1, plan.tickets + 1), k=min(plan.tickets, 4 * total))
        orders = [
            row[0]
            for row in connection.execute(
                "SELECT (1000000 + mod(hashint8extended(n, %s) & 9223372036854775807, 9000000))"
                "::text FROM unnest(%s::bigint[]) AS n",
                [plan.salt + 4, numbers[2 * total : 3 * total]],
            ).fetchall()
        ]
    unsolved_statuses = [TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.ON_HOLD]
    with tenant_context(tenant.id):
        listed = Ticket.objects.filter(is_spam=False, merged_into__isnull=True).order_by("number")
        unsolved_assigned = list(
            listed.filter(status__in=unsolved_statuses, assignee__isnull=False).values_list(
                "number", flat=True
            )
        )
        any_assigned = set(
            listed.filter(number__in=numbers, assignee__isnull=False).values_list(
                "number", flat=True
            )
        )
        unsolved_unassigned = list(
            listed.filter(status__in=unsolved_statuses, assignee__isnull=True).values_list(
                "number", flat=True
            )
        )
        saved = SavedView.objects.order_by("created_at").first()
        tag_names = list(
            Tag.objects.filter(name__in=[t.tag for t in TOPICS]).values_list("name", flat=True)
        )
    # Half unsolved, half of any status (mostly closed), every one already assigned.
    opened = rng.sample(unsolved_assigned, k=min(len(unsolved_assigned), total))
    assigned_others = any_assigned.difference(opened)
    others = [n for n in numbers if n in assigned_others]
    ticket_numbers = [
        opened[i // 2] if i % 2 == 0 and i // 2 < len(opened) else others[i] for i in range(total)
    ]
    claimed = rng.sample(unsolved_unassigned, k=min(len(unsolved_unassigned), total))

    def cycle(values: list[str], pattern: str) -> list[str]:
        return [pattern.format(values[i % len(values)]) for i in range(total)]

    unsolved = "status=open,waiting,on_hold"
    priority_filter = _uses('"tickets_ticket"."priority" IN', "urgent")
    types = [
        RequestType("inbox", "inbox, default view (`/inbox/`: open)", ["/inbox/"] * total),
        RequestType(
            "inbox_mine", "inbox `?view=mine` (mine, unsolved)", ["/inbox/?view=mine"] * total
        ),
        RequestType(
            "inbox_unassigned",
            "inbox `?view=unassigned` (open, nobody's)",
            ["/inbox/?view=unassigned"] * total,
        ),
        RequestType(
            "inbox_department",
            f"inbox `?{unsolved}&department=<id>` (sidebar link; 8 departments in turn)",
            cycle(departments, f"/inbox/?{unsolved}&department={{}}"),
            probe=_uses(departments[0]),
        ),
        RequestType(
            "inbox_open_tag",
            "inbox `?view=open&tag=<name>` (8 tags in turn)",
            cycle(tag_names, "/inbox/?view=open&tag={}"),
            probe=_uses(tag_names[0]),
        ),
        RequestType(
            "inbox_open_priority",
            "inbox `?view=open&priority=urgent`",
            ["/inbox/?view=open&priority=urgent"] * total,
            probe=priority_filter,
        ),
        RequestType(
            "inbox_sort_priority",
            "inbox `?sort=-priority` (open)",
            ["/inbox/?sort=-priority"] * total,
            probe=_uses('ORDER BY "tickets_ticket"."priority_rank" DESC'),
        ),
        RequestType(
            "inbox_sort_sla",
            "inbox `?sort=sla` (open, first SLA due first)",
            ["/inbox/?sort=sla"] * total,
            probe=_uses('ORDER BY "tickets_ticket"."sla_due_at" ASC'),
        ),
        RequestType(
            "inbox_sla_breached",
            f"inbox `?{unsolved}&sla=breached&sort=sla` (SLA overdue)",
            [f"/inbox/?{unsolved}&sla=breached&sort=sla"] * total,
            probe=_uses('"tickets_ticket"."sla_due_at" <='),
        ),
        RequestType(
            "inbox_saved",
            "inbox `?saved=<id>` (shared view: Technical, high and urgent, unsolved)",
            [f"/inbox/?saved={saved.id}"] * total if saved else [],
            probe=_uses(str(saved.id)) if saved else None,
        ),
        RequestType("inbox_closed", "inbox `?view=closed`", ["/inbox/?view=closed"] * total),
        RequestType(
            "inbox_open_field",
            "inbox `?view=open&cf_product=<value>` (custom field; 15 products in turn)",
            cycle([quote(p) for p in PRODUCTS], "/inbox/?view=open&cf_product={}"),
            probe=_uses('"tickets_ticketfieldvalue"'),
        ),
        RequestType(
            "inbox_department_any",
            "inbox `?department=<id>`, any status (8 departments in turn)",
            cycle(departments, "/inbox/?department={}"),
            probe=_uses(departments[0]),
        ),
        RequestType(
            "inbox_tag_any",
            "inbox `?tag=<name>`, any status (8 tags in turn)",
            cycle(tag_names, "/inbox/?tag={}"),
            probe=_uses(tag_names[0]),
        ),
        RequestType(
            "inbox_priority_any",
            "inbox `?priority=urgent`, any status",
            ["/inbox/?priority=urgent"] * total,
            probe=priority_filter,
        ),
        RequestType(
            "ticket",
            "ticket page `/tickets/<n>/`, assigned (half unsolved, half any status)",
            [f"/tickets/{n}/" for n in ticket_numbers],
        ),
        RequestType(
            "ticket_sla",
            "ticket SLA panel `/tickets/<n>/sla/` (htmx, the same tickets)",
            [f"/tickets/{n}/sla/" for n in ticket_numbers],
        ),
        RequestType(
            "search_common",
            "search, common word (`?q=refund`, 10 words in turn)",
            cycle(list(SEARCH_COMMON), "/inbox/?q={}"),
            kind="search",
        ),
        RequestType(
            "search_rare",
            "search, rare word (`?q=kerberos`, 10 words in turn)",
            cycle(list(SEARCH_RARE), "/inbox/?q={}"),
            kind="search",
        ),
        RequestType(
            "search_number",
            "search, an order number (one ticket)",
            [f"/inbox/?q={order}" for order in orders],
            kind="search",
        ),
        # Last: each request assigns its ticket to the measured agent (and bumps updated_at).
        RequestType(
            "ticket_unassigned",
            "ticket page, unsolved and unassigned: opening assigns it (a write each time)",
            [f"/tickets/{n}/" for n in claimed] if len(claimed) == total else [],
            probe=_uses('INSERT INTO "tickets_message"'),
            probe_failure="opening the ticket did not assign it (auto-assign off?)",
        ),
    ]
    return [t for t in types if t.urls]


def _get(client: Any, url: str) -> tuple[Sample, list[tuple[str, Any]]]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    recorded: list[tuple[str, Any, float]] = []
    reset_queries()  # Django keeps 9,000 at most; a full log would count nothing

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            recorded.append((sql, params, time.perf_counter() - began))

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
        began = time.perf_counter()
        response = client.get(url, secure=True)
        elapsed = time.perf_counter() - began
    sample = Sample(url, response.status_code, elapsed, len(captured), recorded)
    if getattr(response, "exc_info", None):
        error = response.exc_info[1]
        sample.error = f"{type(error).__name__}: {error}"
    return sample, [(sql, params) for sql, params, _ in recorded]


def _enable_auto_assign(tenant: Any) -> None:
    """Turn "open it and you own it" on for the bench tenant (off by default), through the
    settings service (as the system), so the ticket_unassigned row is measured."""
    from helpdesk.tenancy.context import tenant_context
    from tickets.configuration import services as configuration

    with tenant_context(tenant.id):
        if not configuration.get_settings().auto_assign_on_open:
            configuration.update_settings(actor=None, auto_assign_on_open=True)


def measure(context: Context, plan: TenantPlan, count: int) -> dict[str, Any]:
    """Every request type: probe, WARMUP requests, then `count` measured ones; then EXPLAIN."""
    from django.conf import settings
    from django.test import Client

    from helpdesk.tenancy.models import Membership, Tenant

    tenant = Tenant.objects.get(slug=plan.slug)
    member = Membership.objects.select_related("user").get(
        tenant=tenant, user__email=plan.agent_email(MEASURED_AGENT)
    )
    # A server error is a result to report, not a reason to stop (the code may be mid-edit).
    client = Client(
        raise_request_exception=False, HTTP_HOST=f"{plan.slug}.{settings.HELPDESK_BASE_DOMAIN}"
    )
    client.force_login(member.user)
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    _enable_auto_assign(tenant)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    samples_by_type: dict[str, list[Sample]] = {}
    load_start = [round(value, 2) for value in os.getloadavg()]
    for request_type in request_types(context, plan, count):
        # A first request: the page works, and the view understands the parameter.
        probe, statements = _get(client, request_type.urls[0])
        if probe.status != 200 or (request_type.probe and not request_type.probe(statements)):
            if probe.status != 200:
                reason = f"HTTP {probe.status} {probe.error}".strip()
            else:
                reason = request_type.probe_failure
            skipped.append({"key": request_type.key, "label": request_type.label, "reason": reason})
            print(f"  {request_type.key}: skipped ({reason})", flush=True)
            continue
        load_before = os.getloadavg()[0]
        samples = []
        for number, url in enumerate(request_type.urls):
            sample, _ = _get(client, url)
            if number >= WARMUP:
                samples.append(sample)
        samples_by_type[request_type.key] = samples
        result = summarize(request_type, samples)
        result["load_average_before"] = round(load_before, 2)
        results.append(result)
        print(
            f"  {request_type.key}: median {result['ms']['median']} ms, p95"
            f" {result['ms']['p95']} ms, {result['queries']['median']:g} queries,"
            f" {result['verdict']}",
            flush=True,
        )
    load_end = [round(value, 2) for value in os.getloadavg()]
    explain = explain_statements(context, tenant.id, samples_by_type)
    for result in results:
        result["flagged_statements"] = [
            s["pattern_id"]
            for s in explain["statements"]
            if s.get("flags") and result["key"] in s["used_by"]
        ]
    return {
        "agent": plan.agent_email(MEASURED_AGENT),
        "host": f"{plan.slug}.{settings.HELPDESK_BASE_DOMAIN}",
        "requests": results,
        "skipped": skipped,
        "load_average": {"start": load_start, "end": load_end},
        "explain": explain,
    }


def summarize(request_type: RequestType, samples: list[Sample]) -> dict[str, Any]:
    milliseconds = [s.seconds * 1000 for s in samples]
    sql_ms = [sum(t for _, _, t in s.statements) * 1000 for s in samples]
    app_ms = [total - sql for total, sql in zip(milliseconds, sql_ms, strict=True)]
    queries = [float(s.queries) for s in samples]
    errors = Counter(s.status for s in samples if s.status != 200)
    first_error = next((s.error for s in samples if s.error), "")
    per_statement: dict[str, list[float]] = defaultdict(list)
    groups: Counter[str] = Counter()
    for sample in samples:
        for sql, _, seconds in sample.statements:
            per_statement[statement_pattern(sql)].append(seconds * 1000)
            groups[sql_group(sql)] += 1
    top = sorted(per_statement.items(), key=lambda item: -sum(item[1]))[:5]
    ms, queries_figures = _figures(milliseconds), _figures(queries)
    if request_type.kind == "search":
        target = f"median < {TARGET_SEARCH_MS:g} ms"
        misses = [f"median {ms['median']} ms"] if ms["median"] >= TARGET_SEARCH_MS else []
    else:
        target = f"median < {TARGET_PAGE_MS:g} ms, ≤ {TARGET_PAGE_QUERIES} queries"
        misses = [f"median {ms['median']} ms"] if ms["median"] >= TARGET_PAGE_MS else []
        if queries_figures["max"] > TARGET_PAGE_QUERIES:
            low, high = queries_figures["min"], queries_figures["max"]
            misses.append(f"{low:g} to {high:g} queries" if low != high else f"{high:g} queries")
    if errors:
        misses.append("HTTP " + ", ".join(f"{k} x{v}" for k, v in sorted(errors.items())))
    return {
        "key": request_type.key,
        "label": request_type.label,
        "kind": request_type.kind,
        "example_url": request_type.urls[WARMUP] if len(request_type.urls) > WARMUP else "",
        "requests": len(samples),
        "ms": ms,
        "sql_ms": _figures(sql_ms),
        "app_ms": _figures(app_ms),
        "queries": queries_figures,
        "statement_groups_per_request": {
            k: round(v / len(samples), 2) for k, v in groups.most_common()
        },
        "top_statements": [
            {
                "pattern": pattern,
                "per_request": round(len(times) / len(samples), 2),
                "ms_per_request": round(sum(times) / len(samples), 2),
                "max_ms": round(max(times), 2),
            }
            for pattern, times in top
        ],
        "http_errors": dict(errors),
        "first_error": first_error,
        "target": target,
        "met": not misses,
        "verdict": "met" if not misses else "missed: " + "; ".join(misses),
    }


# --- EXPLAIN ------------------------------------------------------------------------------------

EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def _walk(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield depth, node
    for child in node.get("Plans", []):
        yield from _walk(child, depth + 1)


def _node_line(node: dict[str, Any]) -> str:
    text = node["Node Type"]
    if node.get("Parallel Aware"):
        text = "Parallel " + text
    if node.get("Relation Name"):
        text += f" on {node['Relation Name']}"
    if node.get("Index Name"):
        text += f" using {node['Index Name']}"
    if node.get("Sort Method"):
        text += f" ({node['Sort Method']})"
    text += f" (est {node.get('Plan Rows', 0):,}"
    if "Actual Rows" in node:
        loops = node.get("Actual Loops", 1)
        text += f"; actual {node['Actual Rows']:,}{f' x {loops:,} loops' if loops > 1 else ''}"
        text += f"; {node.get('Actual Total Time', 0):,.2f} ms"
    text += ")"
    removed = node.get("Rows Removed by Filter") or node.get("Rows Removed by Index Recheck")
    if removed:
        text += f"; removed by filter {removed:,}"
    for key in ("Index Cond", "Filter"):
        if node.get(key):
            condition = node[key]
            text += f"; {key.lower()}: {condition[:140]}{'…' if len(condition) > 140 else ''}"
    return str(text)


def summarize_plan(plan: dict[str, Any], limit: int = 30) -> list[str]:
    lines = ["  " * depth + _node_line(node) for depth, node in _walk(plan["Plan"])]
    if len(lines) > limit:
        lines = [*lines[:limit], f"… {len(lines) - limit} more nodes"]
    return lines


def scan_flags(plan: dict[str, Any], tables: dict[str, tuple[int, bool]]) -> list[str]:
    """A Seq Scan on a table of more than TINY_TABLE_ROWS rows, or any scan that reads
    LARGE_SCAN_ROWS rows or more (returned plus filtered out, all loops and workers)."""
    flags = []
    for _, node in _walk(plan["Plan"]):
        relation = node.get("Relation Name")
        if relation is None:
            continue
        rows, rls = tables.get(relation, (0, False))
        where = f"{relation} ({rows:,} rows{', tenant table' if rls else ''})"
        read = (
            node.get("Actual Rows", 0)
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        ) * node.get("Actual Loops", 1)
        if node["Node Type"] == "Seq Scan" and rows > TINY_TABLE_ROWS:
            flags.append(f"Seq Scan on {where}")
        elif read >= LARGE_SCAN_ROWS:
            share = f", {100 * read / rows:.0f}% of it" if rows else ""
            index = f" using {node['Index Name']}" if node.get("Index Name") else ""
            flags.append(f"{node['Node Type']} on {where}{index} reads {read:,} rows{share}")
    return flags


def explain_without_rls(context: Context, statement: str) -> dict[str, Any]:
    """The same SELECT as the superuser, whom row-level security does not apply to: when its
    plan is much faster, the policy is what keeps the planner from an index (a qual whose
    operator is not LEAKPROOF, such as @@, cannot go into an index scan under RLS)."""
    from bench.run import DATABASE_NAME

    try:
        with context.admin_connection(DATABASE_NAME) as admin:
            admin.execute("BEGIN")  # rolled back, whatever the statement is
            row = admin.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement).fetchone()
            admin.execute("ROLLBACK")
        plan = (json.loads(row[0]) if isinstance(row[0], str) else row[0])[0]
    except Exception as error:  # reported; the measured figures stand without it
        return {"error": str(error)}
    return {"execution_ms": plan.get("Execution Time"), "plan": summarize_plan(plan, 12)}


def explain_statements(
    context: Context, tenant_id: UUID, samples: dict[str, list[Sample]]
) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) each distinct statement of the measured requests with the
    parameters of its slowest run, as the app role in the tenant's context (so under RLS),
    inside a transaction that is rolled back (the ticket page writes)."""
    from django.db import connection, transaction

    from helpdesk.tenancy.context import tenant_context

    # Per pattern and request type: runs, total seconds and the slowest run. A pattern that
    # costs SPLIT_MS or more and serves several request types (the search rows) is explained
    # once per type, with that type's parameters; any other once, with its slowest run.
    runs: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for key, items in samples.items():
        for sample in items:
            for sql, params, seconds in sample.statements:
                entry = runs[statement_pattern(sql)].setdefault(
                    key, {"sql": sql, "params": params, "seconds": -1.0, "count": 0, "total": 0.0}
                )
                entry["count"] += 1
                entry["total"] += seconds
                if seconds > entry["seconds"]:
                    entry.update(sql=sql, params=params, seconds=seconds)
    jobs: list[dict[str, Any]] = []
    for by_type in runs.values():
        count = sum(e["count"] for e in by_type.values())
        total = sum(e["total"] for e in by_type.values())
        groups = (
            [[item] for item in by_type.items()]
            if len(by_type) > 1 and 1000 * total / count >= SPLIT_MS
            else [list(by_type.items())]
        )
        for group in groups:
            entries = [e for _, e in group]
            slowest = max(entries, key=lambda e: e["seconds"])
            mean = 1000 * sum(e["total"] for e in entries) / sum(e["count"] for e in entries)
            jobs.append(
                {
                    **slowest,
                    "used_by": {k: e["count"] for k, e in group},
                    "mean_ms": round(mean, 2),
                }
            )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint, relrowsecurity FROM pg_class"
            " WHERE relkind IN ('r', 'p') AND relnamespace = 'public'::regnamespace"
        )
        tables = {name: (rows, rls) for name, rows, rls in cursor.fetchall()}
    statements = []
    with tenant_context(tenant_id):
        for number, entry in enumerate(sorted(jobs, key=lambda job: -job["seconds"])):
            sql = entry["sql"]
            verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
            if verb not in EXPLAINABLE or "set_config" in sql:
                continue
            record: dict[str, Any] = {
                "pattern_id": f"S{number + 1}",
                "group": sql_group(sql),
                "used_by": entry["used_by"],
                "slowest_ms": round(entry["seconds"] * 1000, 2),
                "mean_ms": entry["mean_ms"],
                # PostgreSQL's operations have compose_sql; the stubs type the base class.
                "statement": connection.ops.compose_sql(sql, entry["params"]),  # type: ignore[attr-defined]
                "statement_sql": sql,
            }
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, entry["params"]
                    )
                    document = cursor.fetchone()[0]
                    transaction.set_rollback(True)
            except Exception as error:  # reported; the other statements still run
                record["error"] = str(error)
                statements.append(record)
                continue
            plan = (json.loads(document) if isinstance(document, str) else document)[0]
            flags = scan_flags(plan, tables)
            record.update(
                flags=flags,
                execution_ms=plan.get("Execution Time"),
                planning_ms=plan.get("Planning Time"),
                jit_ms=(plan.get("JIT") or {}).get("Timing", {}).get("Total"),
                plan=summarize_plan(plan),
            )
            statements.append(record)
        transaction.set_rollback(True)
    flagged = [s for s in statements if s.get("flags")]
    for statement in flagged:
        if statement["group"].startswith("SELECT"):
            statement["without_rls"] = explain_without_rls(context, statement["statement"])
    return {"statements": statements, "flagged": [s["pattern_id"] for s in flagged]}


# --- Entry points for bench.run -----------------------------------------------------------------


def run(context: Context, options: dict[str, Any]) -> dict[str, Any]:
    """Prepare (or reuse) the loaded database, then measure; `options` may set tickets,
    requests and reload."""
    tickets = int(options.get("tickets") or TICKETS)
    count = int(options.get("requests") or REQUESTS)
    plans = tenant_plans(tickets, context.tenant_slug)
    database = prepare_database(context, tickets, reload=bool(options.get("reload")))
    data = describe_data(context, plans)
    measured = measure(context, plans[0], count)
    return {
        "parameters": {
            "tickets": tickets,
            "other_tenants": OTHER_TENANTS,
            "other_tenant_tickets": plans[1].tickets,
            "messages_per_ticket": 3,
            "warmup": WARMUP,
            "requests": count,
            "targets": {
                "page_ms": TARGET_PAGE_MS,
                "page_queries": TARGET_PAGE_QUERIES,
                "search_ms": TARGET_SEARCH_MS,
            },
            "data_version": DATA_VERSION,
        },
        "database": database,
        "data": data,
        **measured,
    }


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def markdown(result: dict[str, Any]) -> str:
    """The README section for one result."""
    parameters, database, data = result["parameters"], result["database"], result["data"]
    tables = data["tables"]
    statuses = data["big_tenant_statuses"]
    big = parameters["tickets"]
    status_mix = ", ".join(
        f"{name} {100 * statuses.get(name, 0) / big:.1f}%"
        for name in ("open", "waiting", "on_hold", "solved", "closed")
    )
    if database.get("from_cache"):
        origin = (
            f"copied from the cached `{database['template']}` in {database['copy_seconds']} s"
            f" (that one was built and loaded on {database['loaded_at']} in"
            f" {database['load_seconds']} s)"
        )
    else:
        origin = (
            f"built (migrate) and loaded in {database['load_seconds']} s, then cached as"
            f" `{database['template']}` in {database['snapshot_seconds']} s"
        )
    steps = "; ".join(f"{k} {v} s" for k, v in database.get("steps_seconds", {}).items())
    lines = [
        "### Workspace pages",
        "",
        f"One tenant with {big:,} tickets and {parameters['other_tenants']} with"
        f" {parameters['other_tenant_tickets']:,} each;"
        f" {tables.get('tickets_ticket', {}).get('rows', 0):,} tickets,"
        f" {tables.get('tickets_message', {}).get('rows', 0):,} messages,"
        f" {tables.get('tickets_contact', {}).get('rows', 0):,} contacts,"
        f" {tables.get('tickets_tickettag', {}).get('rows', 0):,} ticket tags,"
        f" {tables.get('tickets_ticketread', {}).get('rows', 0):,} read markers,"
        f" {tables.get('tickets_ticketsearch', {}).get('rows', 0):,} search documents"
        f" ({tables.get('tickets_ticketsearch', {}).get('mb', 0):,.0f} MB with its indexes);"
        f" database {data['database_mb'] / 1024:.1f} GB, {origin}."
        + (f" Load steps: {steps}." if steps else "")
        + f" Big tenant: {status_mix}; {data['big_tenant_unassigned_open']:,} open and"
        " unassigned. PostgreSQL settings: "
        + ", ".join(f"{k} {v}" for k, v in sorted(data["server_settings"].items()))
        + ".",
        "",
        f"In process through the full middleware stack as `{result['agent']}` on"
        f" `{result['host']}`: {parameters['warmup']} warm-up requests, then"
        f" {parameters['requests']} measured per row. Queries: statements per request"
        " (CaptureQueriesContext): BEGIN and COMMIT (the tenant context is a transaction),"
        " savepoints and the tenant `set_config` included.",
        "",
    ]
    rows = []
    for item in result["requests"]:
        flagged = item.get("flagged_statements") or []
        rows.append(
            [
                item["label"],
                f"**{item['ms']['median']}**",
                item["ms"]["p95"],
                f"{item['queries']['median']:g}"
                + (
                    f" ({item['queries']['min']:g} to {item['queries']['max']:g})"
                    if item["queries"]["min"] != item["queries"]["max"]
                    else ""
                ),
                item["sql_ms"]["median"],
                item.get("app_ms", {}).get("median", "-"),
                item.get("load_average_before", "-"),
                item["target"],
                ("met" if item["met"] else f"**{item['verdict']}**")
                + (f"; scan flagged: {', '.join(flagged)}" if flagged else ""),
            ]
        )
    lines += _table(
        [
            "request",
            "median ms",
            "p95 ms",
            "queries",
            "SQL ms (median)",
            "rest ms (median)",
            "load",
            "target",
            "result",
        ],
        rows,
    )
    lines += [
        "",
        "SQL ms: time in the database driver; rest: everything else in the request (middleware,"
        " view, ORM, template); load: the machine's 1-minute load average before the row"
        " (the benchmark itself, client and PostgreSQL backend taking turns, keeps about one"
        " CPU busy: more is other work, which shows in the p95 too)."
        + (
            f" Load average (1, 5, 15 min) when measuring began:"
            f" {', '.join(map(str, result['load_average']['start']))}; when it ended:"
            f" {', '.join(map(str, result['load_average']['end']))}."
            if result.get("load_average")
            else ""
        ),
    ]
    for item in result.get("skipped", []):
        lines.append(f"\nNot measured: {item['label']}: {item['reason']}.")
    statements = {s["pattern_id"]: s for s in result["explain"]["statements"]}
    flagged = [statements[i] for i in result["explain"]["flagged"]]
    lines += [
        "",
        "#### Scans flagged by EXPLAIN ANALYZE",
        "",
        f"A Seq Scan on a table of more than {TINY_TABLE_ROWS:,} rows, or any scan reading"
        f" {LARGE_SCAN_ROWS:,} rows or more (as `helpdesk_app`, under row-level security). For"
        " a SELECT, the plan of the same statement as the superuser (no row-level security)"
        " follows.",
        "",
    ]
    if not flagged:
        lines.append("None.")
    for statement in flagged:
        lines += _statement_markdown(statement)
    missed = [item for item in result["requests"] if not item["met"]]
    if missed:
        lines += ["", "#### Where the time goes in the requests that miss a target", ""]
        for item in missed:
            lines.append(f"**{item['label']}** ({item['verdict']}):")
            lines.append("")
            lines += _table(
                ["statement", "per request", "ms per request", "slowest ms"],
                [
                    [
                        f"`{_shorten(brief(s['pattern']), 160)}`",
                        s["per_request"],
                        s["ms_per_request"],
                        s["max_ms"],
                    ]
                    for s in item["top_statements"][:3]
                ],
            )
            lines.append("")
        by_pattern = {
            (statement_pattern(s["statement_sql"]), key): s
            for s in result["explain"]["statements"]
            if "statement_sql" in s
            for key in s["used_by"]
        }
        slow = []
        for item in missed:
            top = item["top_statements"][0] if item["top_statements"] else None
            statement = by_pattern.get((top["pattern"], item["key"])) if top else None
            if statement and not statement.get("flags") and statement not in slow:
                slow.append(statement)
        if slow:
            lines += ["Plans of their slowest statements not listed above:", ""]
            for statement in slow:
                lines += _statement_markdown(statement)
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _statement_markdown(statement: dict[str, Any]) -> list[str]:
    used = ", ".join(f"{k} ({v})" for k, v in statement["used_by"].items())
    head = (
        f"- **{statement['pattern_id']}** `{statement['group']}` in {used}; mean"
        f" {statement['mean_ms']} ms, slowest {statement['slowest_ms']} ms in the requests,"
        f" {statement.get('execution_ms')} ms under EXPLAIN ANALYZE"
        + (f" (JIT {statement['jit_ms']:.1f} ms)" if statement.get("jit_ms") else "")
        + (f"; {'; '.join(statement['flags'])}" if statement.get("flags") else "")
    )
    lines = [
        head,
        "",
        "  ```sql",
        "  " + _shorten(brief(statement["statement"]), 1500),
        "  ```",
        "",
        "  ```",
        *("  " + line for line in statement.get("plan", [])[:16]),
        "  ```",
        "",
    ]
    other = statement.get("without_rls")
    if other and "plan" in other:
        lines += [
            f"  Without row-level security (superuser): {other['execution_ms']} ms.",
            "",
            "  ```",
            *("  " + line for line in other["plan"]),
            "  ```",
            "",
        ]
    return lines
