"""Ticket services: the business rules every entry point (views, API, tasks, commands)
calls. Numbers are sequential per tenant and never reused; every change of a field is
recorded as an event message; status changes follow TICKET_TRANSITIONS; light agents write
internal notes only; messages are never added to closed tickets."""

from tickets.ticket.services.agent_mail import (
    FORWARD_SEPARATOR,
    follow_ticket,
    forward_message,
    start_outbound_ticket,
    unfollow_ticket,
)
from tickets.ticket.services.base import (
    MAX_TAG_LENGTH,
    TICKET_TRANSITIONS,
    next_ticket_number,
    normalize_tag,
    record_event,
    refresh_last_message,
    refresh_search_vector,
    snippet,
)
from tickets.ticket.services.conversation import (
    add_customer_message,
    add_message,
    add_system_note,
)
from tickets.ticket.services.lifecycle import (
    STATUS_EMAILS,
    assign_ticket,
    change_status,
    create_ticket,
    mark_spam,
    record_sla_breach,
    release_member_tickets,
    set_sla_state,
    take_if_unassigned,
    update_ticket,
)
from tickets.ticket.services.messages import (
    MessageContent,
    NewAttachment,
    attachments_from_uploads,
    delete_orphaned_attachment_files,
    queue_email_message,
    record_delivery_failure,
    record_delivery_status,
    store_attachments,
)
from tickets.ticket.services.outgoing import (
    BodyFormat,
    copied_addresses,
    formatted_body,
    parse_addresses,
)
from tickets.ticket.services.people import add_followers, get_or_create_contact
from tickets.ticket.services.reading import mark_read, open_ticket

__all__ = [
    "FORWARD_SEPARATOR",
    "MAX_TAG_LENGTH",
    "STATUS_EMAILS",
    "TICKET_TRANSITIONS",
    "BodyFormat",
    "MessageContent",
    "NewAttachment",
    "add_customer_message",
    "add_followers",
    "add_message",
    "add_system_note",
    "assign_ticket",
    "attachments_from_uploads",
    "change_status",
    "copied_addresses",
    "create_ticket",
    "delete_orphaned_attachment_files",
    "follow_ticket",
    "formatted_body",
    "forward_message",
    "get_or_create_contact",
    "mark_read",
    "mark_spam",
    "next_ticket_number",
    "normalize_tag",
    "open_ticket",
    "parse_addresses",
    "queue_email_message",
    "record_delivery_failure",
    "record_delivery_status",
    "record_event",
    "record_sla_breach",
    "refresh_last_message",
    "refresh_search_vector",
    "release_member_tickets",
    "set_sla_state",
    "snippet",
    "start_outbound_ticket",
    "store_attachments",
    "take_if_unassigned",
    "unfollow_ticket",
    "update_ticket",
]
