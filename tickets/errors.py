from helpdesk.core.errors import Conflict, DomainError, NotFound, PermissionDenied


class TicketNotFound(NotFound):
    code = "ticket_not_found"
    message = "No such ticket."


class TicketTransitionNotAllowed(Conflict):
    code = "ticket_transition_not_allowed"
    message = "The ticket cannot move to that status from its current one."


class TicketClosed(Conflict):
    code = "ticket_closed"
    message = "The ticket is closed; open a follow-up ticket instead."


class EmptyMessage(DomainError):
    code = "empty_message"
    message = "A message needs a body."


class ReplyNotAllowed(PermissionDenied):
    code = "reply_not_allowed"
    message = "Light agents may write internal notes only."


class AssigneeNotAgent(DomainError):
    code = "assignee_not_agent"
    message = "Tickets can be assigned to agents and admins only."


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    message = "No such attachment."


class InboundEmailNotFound(NotFound):
    code = "inbound_email_not_found"
    message = "No such inbound email."


class InboundEmailNotRetryable(Conflict):
    code = "inbound_email_not_retryable"
    message = "Only failed or rejected mail can be processed again."


class MessageNotFound(NotFound):
    code = "message_not_found"
    message = "No such message."


class InvalidEmailTemplate(DomainError):
    code = "invalid_email_template"
    message = "The template uses an unknown placeholder."


class EmailTemplateNotFound(NotFound):
    code = "email_template_not_found"
    message = "No such kind of email template."
