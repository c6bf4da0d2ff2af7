"""Mail the help desk sends on a ticket: public replies, acknowledgements, status mails and
surveys (all `Message` rows of kind reply).

Every outgoing email is a `Message` row first (with our own Message-ID, so a customer's
answer threads even before the mail leaves) and an `OutboundEmail` in the outbox
(helpdesk.mail), built in the same transaction and sent by its delivery task: claimed with a
compare-and-set, sent once, recorded, queued again on a temporary failure, swept when its
task was lost. The message links to it and shows its delivery state. What is the ticket's
here: which template, the threading headers (In-Reply-To and References chain the
conversation), From the mailbox, Reply-To the ticket's plus-address token, `[#123]` in the
subject, `Auto-Submitted: auto-replied` on automatic mail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.template.defaultfilters import linebreaksbr, urlize
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.html import conditional_escape
from django.utils.translation import gettext as _

from departments.models import Mailbox
from helpdesk.core import placeholders
from helpdesk.core.errors import is_infrastructure_error
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmail, OutboundEmailKind, OutboundEmailStatus
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.attribution import rule_marker
from tickets.configuration import services as configuration
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import templates
from tickets.models import (
    DeliveryStatus,
    EmailTemplateKind,
    InboundEmail,
    Message,
    MessageKind,
    Ticket,
)
from tickets.ticket import services

if TYPE_CHECKING:
    from django.core.mail import EmailMultiAlternatives

logger = logging.getLogger(__name__)
MAX_REFERENCES = 20


def reply_address(mailbox_address: str, reply_token: str) -> str:
    local, _, domain = mailbox_address.partition("@")
    return f"{local}+t-{reply_token}@{domain}"


def new_message_id(kind: str, key: UUID, mailbox: Mailbox | None) -> str:
    domain = mailbox.address.rpartition("@")[2] if mailbox else settings.HELPDESK_BASE_DOMAIN
    return f"<{kind}-{key}@{domain}>"


def _thread_headers(message: Message, earlier: list[str] | None = None) -> dict[str, str]:
    """In-Reply-To the latest mail before this one; References the chain (first + recent):
    the mails the requester saw (theirs and our replies), never an internal note (an
    outsider's mail kept as one) or a forward, whose ids the requester should not learn.
    `earlier`: those Message-IDs, oldest first, when the caller knows them."""
    if earlier is None:
        earlier = list(
            Message.objects.filter(
                ticket_id=message.ticket_id,
                created_at__lte=message.created_at,
                kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY],
            )
            .exclude(id=message.id)
            .exclude(email_message_id="")
            .order_by("created_at", "id")
            .values_list("email_message_id", flat=True)
        )
    if not earlier:
        return {}
    chain = earlier if len(earlier) <= MAX_REFERENCES else [earlier[0], *earlier[-19:]]
    return {"In-Reply-To": earlier[-1], "References": " ".join(chain)}


def build_email(
    message: Message,
    *,
    tenant_name: str,
    language: str = "en",
    attachments: bool = True,
    earlier: list[str] | None = None,
    frames: ReplyFrames | None = None,
) -> mail.Email:
    """The email for a public reply (agent or automatic) or an agent's forward, built by
    the one builder: the ticket's part is which template, the threading headers and the
    Reply-To plus address. A reply written in the editor (it has HTML) goes out as that
    sanitized HTML with the text as its plain-text alternative, and its pasted pictures as
    inline parts (`cid:`). `frames`: the batch's reply template rendered once (a batch of
    acknowledgements), which gives the same parts as rendering it for this email."""
    ticket = message.ticket
    mailbox = mail_out_selectors.get_reply_mailbox(ticket)
    author = message.author_member.user.display_name if message.author_member else ""
    is_forward = message.kind == MessageKind.FORWARD
    html_body = ""
    if message.is_automatic or is_forward:
        text = message.body_text  # composed with its template and layout when queued
        html_body = message.body_html
    else:
        values = templates.placeholder_values(ticket, mailbox, tenant_name, agent_name=author)
        signature = configuration.member_signature(message.author_member)
        if already_signed(message.body_text, names=(author, signature)):
            # A canned response that signs off itself: the template's sign-off would say
            # the agent's name a second time.
            values["agent.name"] = values["agent.signature"] = ""
        else:
            values["agent.signature"] = signature
        values["reply.body"] = REPLY_BODY_MARK
        try:
            _, framed = templates.compose(
                kind=EmailTemplateKind.REPLY,
                department_id=ticket.department_id,
                values=values,
                language=language,
            )
        except placeholders.UnknownPlaceholder:
            framed = REPLY_BODY_MARK  # a template broken after it was saved: send the reply
        text = framed.replace(REPLY_BODY_MARK, message.body_text)
        if message.body_html:
            framed_html = linebreaksbr(urlize(framed, autoescape=True), autoescape=False)
            html_body = str(framed_html).replace(REPLY_BODY_MARK, message.body_html)
    # `attachments=False`: a message built before it is stored (an acknowledgement of a
    # batch), which has none.
    files, html_body = (
        _attachments_and_pictures(message, html_body) if attachments else ([], html_body)
    )
    context = {
        "ticket": ticket,
        "text": text,
        "html_body": html_body,
        "language": language,
        "subject_has_re": ticket.subject.lower().startswith(("re:", "aw:")),
    }
    copied = {ticket.contact.email.lower()}
    cc = []
    if not message.is_automatic and not is_forward:  # automatic mail: the customer alone
        for address in [
            *(
                f.contact.email
                for f in ticket.followers.select_related("contact")
                if f.contact.email_bounced_at is None
                # a follower from before mail's Cc was checked: one bad one failed it all
                and mail.is_sendable_address(f.contact.email)
            ),
            *message.email_cc,
        ]:
            if address.lower() not in copied:
                copied.add(address.lower())
                cc.append(address)
    from_address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    display = mailbox.display_name if mailbox and mailbox.display_name else tenant_name
    subject = message.email_subject
    if is_forward:
        subject = f"Fwd: {ticket.subject} [#{ticket.number}]"
    rendered = frames.render(context) if frames is not None and subject else None
    return mail.build(
        kind=OutboundEmailKind.AUTO_REPLY if message.is_automatic else OutboundEmailKind.REPLY,
        key=f"message:{message.id}",
        template="reply",
        context=context,
        subject=subject,
        to=list(message.email_to) if is_forward else [ticket.contact.email],
        cc=cc,
        bcc=[a for a in message.email_bcc if a.lower() not in copied],
        from_address=from_address,
        display_name=display,
        reply_to=[reply_address(from_address, ticket.reply_token)],
        message_id=message.email_message_id,
        headers={"X-Helpdesk-Ticket": str(ticket.number), **_thread_headers(message, earlier)},
        automatic="auto-replied" if message.is_automatic else "",
        attachments=files,
        tags=["auto-reply" if message.is_automatic else "forward" if is_forward else "reply"],
        # The ESP returns it with delivery-status events (tickets.mail_in.esp).
        metadata={"message_id": str(message.id)},
        rendered=rendered,
    )


class ReplyFrames:
    """The reply template (`emails/reply.*`) rendered once for a batch of automatic mail in
    one language, with markers where each email's own values go; `render` puts them in.

    An acknowledgement's parts differ only by its text (the HTML part's `urlize` and
    `linebreaksbr` of it, much the largest cost of rendering) and its ticket number, so a
    batch renders the templates once, and `urlize` once per distinct word. The first email
    of each batch is also rendered in full and compared: a template that would render
    differently from the frame (one that tests the text, or filters it otherwise) is then
    rendered in full for every email, as before."""

    # No white space, dot, colon or at sign: urlize, linebreaksbr and escaping leave them
    # as they are.
    TEXT = "\x00text\x00"
    NUMBER = "\x00number\x00"

    def __init__(self, *, language: str) -> None:
        self.language = language
        self._frames: tuple[str, str] | None = None
        self._checked = False
        self._usable = True
        self._words: dict[str, str] = {}

    def render(self, context: dict[str, Any]) -> tuple[str, str, str] | None:
        """(subject, text, HTML) of the reply template for `context` (that of build_email):
        the subject left empty (the caller gives its own), None when the frame does not
        apply (a part written as HTML, a text with carriage returns, another language, a
        template the frame does not match)."""
        text: str = context["text"]
        if (
            not self._usable
            or context["html_body"]
            or context["language"] != self.language
            or "\r" in text
            or self.TEXT in text
            or self.NUMBER in text
        ):
            return None
        frames = self._frames
        if frames is None:
            frames = self._frames = self._render_frames()
            if frames is None:
                self._usable = False
                return None
        text_frame, html_frame = frames
        number = str(conditional_escape(formats.localize(context["ticket"].number)))
        html = html_frame.replace(self.NUMBER, number).replace(self.TEXT, self._urlized(text))
        parts = ("", text_frame.replace(self.NUMBER, number).replace(self.TEXT, text), html)
        if not self._checked:
            self._checked = True
            _, full_text, full_html = mail.render("reply", context)
            if (full_text, full_html) != parts[1:]:
                logger.warning("the reply template does not match its frame: rendered in full")
                self._usable = False
                return None
        return parts

    def _render_frames(self) -> tuple[str, str] | None:
        context = {
            "ticket": {"number": self.NUMBER, "subject": ""},
            "text": self.TEXT,
            "html_body": "",
            "language": self.language,
            "subject_has_re": False,
        }
        _, text, html = mail.render("reply", context)
        if text.count(self.TEXT) != 1 or html.count(self.TEXT) != 1:
            return None
        return text, html

    def _urlized(self, text: str) -> str:
        """linebreaksbr(urlize(text)) as the template's filters give it, urlize asked once
        per distinct word of the batch. urlize works word by word and escapes what lies
        between words (white space stays as it is), so the words' results joined with the
        white space between them are the whole text's; then each line break a <br>."""
        pieces = _WHITE_SPACE.split(text)
        for position in range(0, len(pieces), 2):  # the words; white space between them
            word = pieces[position]
            urlized = self._words.get(word)
            if urlized is None:
                urlized = self._words[word] = urlize(word, autoescape=True)
            pieces[position] = urlized
        return "".join(pieces).replace("\n", "<br>")


_WHITE_SPACE = re.compile(r"(\s+)")


# Stands for the reply while the template is composed, so the HTML part can put the
# reply's own HTML where the text part has its text.
REPLY_BODY_MARK = "\x00reply-body\x00"
# The last lines of a reply that count as its sign-off.
SIGN_OFF_LINES = 3


def already_signed(body: str, *, names: tuple[str, ...]) -> bool:
    """Whether the reply's last lines already sign it with one of `names` (the agent's
    name, their signature): a canned response that ends "Best, {{ agent.name }}"."""
    lines = [line.strip(" *_>-,.") for line in body.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-SIGN_OFF_LINES:]).casefold()
    for name in names:
        name = name.strip()
        if not name:
            continue
        first_line = name.splitlines()[0].strip(" *_>-,.").casefold()
        if first_line and first_line in tail:
            return True
    return False


def _attachments_and_pictures(message: Message, html: str) -> tuple[list[dict[str, str]], str]:
    """The message's files for the outbox, and its HTML with each picture it shows from an
    attachment (`/attachments/<id>/`) pointing at that file's `cid:` instead."""
    files = []
    for item in message.attachments.all():
        entry = {"path": str(item.file.name), "filename": item.filename}
        entry["content_type"] = item.content_type
        url = reverse("tickets:attachment", args=[item.id])
        if html and item.content_id and f'src="{url}"' in html:
            html = html.replace(f'src="{url}"', f'src="cid:{item.content_id}"')
            entry["content_id"] = item.content_id
        files.append(entry)
    return files, html


def queue_message_email(
    *, message: Message, status: str = OutboundEmailStatus.QUEUED, error: str = ""
) -> OutboundEmail:
    """Queue the email of a public reply in the outbox (helpdesk.mail) in the caller's
    transaction and link the message to it. An email that cannot be built (a broken
    template) is stored failed with the reason, shown in the thread; an outage raises.
    `status` and `error`: the state it is stored in (a queued one is sent)."""
    tenant = tenancy_selectors.get_tenant(message.tenant_id)
    try:
        email = build_email(message, tenant_name=tenant.name, language=tenant.language)
    except Exception as build_error:
        if is_infrastructure_error(build_error):
            raise
        logger.exception("message %s cannot be emailed", message.id)
        outbound = mail.queue_email(
            _unbuildable(message),
            status=OutboundEmailStatus.FAILED,
            error=f"{type(build_error).__name__}: {build_error}",
        )
    else:
        outbound = mail.queue_email(email, status=status, error=error)
    message.outbound_email = outbound
    message.save(update_fields=["outbound_email", "updated_at"])
    return outbound


def _unbuildable(message: Message) -> mail.Email:
    """What the outbox keeps of a message whose email cannot be built (stored failed)."""
    return mail.Email(
        kind=OutboundEmailKind.REPLY,
        key=f"message:{message.id}",
        to=[message.ticket.contact.email],
        subject=message.email_subject or message.ticket.subject,
        body_text=message.body_text,
        message_id=message.email_message_id,
    )


IN_FLIGHT_BEFORE_THE_OUTBOX = Q(
    legacy_delivery_status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING],
    outbound_email__isnull=True,
)


@transaction.atomic(savepoint=False)
def adopt_mail_from_before_the_outbox() -> int:
    """Replies that were queued or being sent when the outbox arrived (migration tickets
    0023 left them marked by their legacy status, with no outbox email) get their outbox
    email now, built by the live builder with the Message-ID they already carry. A queued
    one is sent (once: the outbox's claim; its old task, still in Redis, delegates to the
    same email). A sending one stays sending from the time it was claimed, so the sweeper
    marks a send the deploy cut short unknown and never sends it twice. Returns how many."""
    in_flight = list(
        Message.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(IN_FLIGHT_BEFORE_THE_OUTBOX)
        .select_related("ticket__contact", "ticket__department", "ticket__mailbox")
        .order_by("created_at", "id")
    )
    for message in in_flight:
        claimed_at = message.updated_at
        outbound = queue_message_email(
            message=message,
            status=message.legacy_delivery_status,
            error=message.legacy_delivery_error,
        )
        if outbound.status == OutboundEmailStatus.SENDING:
            OutboundEmail.objects.filter(id=outbound.id).update(updated_at=claimed_at)
        Message.objects.filter(id=message.id).update(
            legacy_delivery_status=DeliveryStatus.NONE, legacy_delivery_error=""
        )
    return len(in_flight)


def claim_message_email(
    *, message_id: UUID, tenant_name: str = "", language: str = "en"
) -> EmailMultiAlternatives | None:
    """Claim the outbox email of one message for sending (helpdesk.mail's claim); None when
    another run claimed it first, it is no longer queued, or the message has none."""
    outbound_email_id = (
        Message.objects.filter(id=message_id).values_list("outbound_email_id", flat=True).first()
    )
    if outbound_email_id is None:
        return None
    return mail.claim(outbound_email_id)


def recent_auto_replies(contact_id: UUID) -> int:
    since = timezone.now() - timedelta(hours=1)
    return Message.objects.filter(
        is_automatic=True, ticket__contact_id=contact_id, created_at__gte=since
    ).count()


@transaction.atomic(savepoint=False)
def queue_auto_acknowledgement(*, email_id: UUID, tenant_name: str) -> Message | None:
    """Queue the acknowledgement of a processed mail that opened a ticket, unless it exists
    (the inbound pipeline calls `acknowledge` itself, with what it holds)."""
    email = (
        InboundEmail.objects.select_for_update(of=("self",))
        .select_related("mailbox", "ticket__contact", "ticket__department")
        .defer("raw")
        .filter(id=email_id)
        .first()
    )
    if email is None or email.ticket is None or email.mailbox is None:
        return None
    if Message.objects.filter(email_message_id=acknowledgement_id(email)).exists():
        return None
    return acknowledge(email=email, ticket=email.ticket, tenant_name=tenant_name)


def acknowledgement_id(email: InboundEmail) -> str:
    """The acknowledgement's own Message-ID: one per inbound mail."""
    return new_message_id("ack", email.id, email.mailbox)


def recent_auto_replies_by_contact(contact_ids: Iterable[UUID]) -> dict[UUID, int]:
    """recent_auto_replies for many contacts in one query (an inbound batch's senders)."""
    since = timezone.now() - timedelta(hours=1)
    return dict(
        Message.objects.filter(
            is_automatic=True, ticket__contact_id__in=list(contact_ids), created_at__gte=since
        )
        .values_list("ticket__contact_id")
        .annotate(sent=Count("id"))
        .values_list("ticket__contact_id", "sent")
    )


def acknowledge(
    *, email: InboundEmail, ticket: Ticket, tenant_name: str, auto_replies: int | None = None
) -> Message | None:
    """Queue the acknowledgement of `email` (from a mailbox), which opened `ticket`, in the
    caller's transaction; skipped when the sender already got the hourly maximum of
    automatic replies (`auto_replies`: how many they got, when the caller counted them)."""
    mailbox = email.mailbox
    if mailbox is None:
        return None
    ack_id = acknowledgement_id(email)
    if auto_replies is None:
        auto_replies = recent_auto_replies(ticket.contact_id)
    if auto_replies >= int(settings.HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR):
        return None
    subject, body = _acknowledgement_text(ticket, mailbox, tenant_name)
    return services.queue_email_message(
        ticket=ticket, body=body, email_message_id=ack_id, is_automatic=True, subject=subject
    )


def acknowledge_many(
    *,
    acknowledgements: list[tuple[InboundEmail, Ticket]],
    tenant_name: str,
    language: str,
    thread: dict[UUID, list[str]],
) -> list[Message]:
    """`acknowledge` for a batch's new tickets in three statements, whatever their number:
    the senders' recent automatic replies counted at once, the outbox emails inserted at
    once, then their messages (linked to them) at once. The same messages and emails as
    one `acknowledge` each; an email that cannot be built is stored failed with the reason,
    as queue_message_email does. `thread`: each ticket's Message-IDs so far, oldest first
    (the batch wrote them: the acknowledgement's In-Reply-To and References)."""
    wanted = [(email, ticket) for email, ticket in acknowledgements if email.mailbox is not None]
    if not wanted:
        return []
    sent = recent_auto_replies_by_contact({ticket.contact_id for _, ticket in wanted})
    limit = int(settings.HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR)
    tenant_id = require_tenant_id()
    wordings: templates.Wordings = {}
    frames = ReplyFrames(language=language)
    messages: list[Message] = []
    emails: list[tuple[mail.Email, str, str]] = []
    for email, ticket in wanted:
        if sent.get(ticket.contact_id, 0) >= limit:
            continue
        sent[ticket.contact_id] = sent.get(ticket.contact_id, 0) + 1
        assert email.mailbox is not None  # noqa: S101 - filtered above
        subject, body = _acknowledgement_text(
            ticket, email.mailbox, tenant_name, language, wordings=wordings
        )
        message = Message(
            tenant_id=tenant_id,
            ticket=ticket,
            kind=MessageKind.REPLY,
            body_text=body,
            email_message_id=acknowledgement_id(email),
            is_automatic=True,
            email_subject=subject[:250],
            event=rule_marker(),
        )
        messages.append(message)
        try:
            built = build_email(
                message,
                tenant_name=tenant_name,
                language=language,
                attachments=False,
                earlier=thread.get(ticket.id, []),
                frames=frames,
            )
        except Exception as build_error:
            if is_infrastructure_error(build_error):
                raise
            logger.exception("message %s cannot be emailed", message.id)
            emails.append(
                (
                    _unbuildable(message),
                    OutboundEmailStatus.FAILED,
                    f"{type(build_error).__name__}: {build_error}",
                )
            )
        else:
            emails.append((built, OutboundEmailStatus.QUEUED, ""))
    for message, outbound in zip(messages, mail.queue_emails(emails), strict=True):
        message.outbound_email = outbound
    Message.objects.bulk_create(messages)
    return messages


def _acknowledgement_text(
    ticket: Ticket,
    mailbox: Mailbox,
    tenant_name: str,
    language: str | None = None,
    *,
    wordings: templates.Wordings | None = None,
) -> tuple[str, str]:
    """(subject, body) of an acknowledgement; built-in wording in `language` (default: the
    current tenant's). `wordings`: the wording in force by (department, kind), kept across
    a batch's acknowledgements, which all have the same language and configuration."""
    values = templates.placeholder_values(ticket, mailbox, tenant_name)
    try:
        subject, body = templates.compose(
            kind=EmailTemplateKind.ACKNOWLEDGEMENT,
            department_id=ticket.department_id,
            values=values,
            language=language,
            wordings=wordings,
        )
        # The mailbox's own wording (Admin → mailbox), where it has one, wins field by field.
        if mailbox.auto_ack_subject:
            subject = templates.tidy_subject(placeholders.render(mailbox.auto_ack_subject, values))
        if mailbox.auto_ack_body:
            layout = templates.render(
                templates.wording_in_force(
                    EmailTemplateKind.LAYOUT, ticket.department_id, language, wordings
                ),
                values,
            )
            body = "\n\n".join(
                p
                for p in (
                    layout.header,
                    placeholders.render(mailbox.auto_ack_body, values),
                    layout.footer,
                )
                if p.strip()
            )
    except placeholders.UnknownPlaceholder as error:
        # A template broken after it was saved: a plain acknowledgement, still translated.
        language = language or templates.tenant_language()
        subject = templates.tidy_subject(
            placeholders.render(
                templates.built_in(EmailTemplateKind.ACKNOWLEDGEMENT, "subject", language),
                values,
            )
        )
        with translation.override(language):
            body = _("We received your message and opened request #%(number)s.") % {
                "number": ticket.number
            }
        services.record_event(
            ticket=ticket,
            actor=None,
            field="auto_acknowledgement",
            old=None,
            new=f"template error: {error}",
        )
    return subject, body
