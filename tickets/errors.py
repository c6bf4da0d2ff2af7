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


class ConfigurationInvalid(DomainError):
    code = "configuration_invalid"
    message = "That configuration is not valid."


class CustomFieldInvalid(DomainError):
    code = "custom_field_invalid"
    message = "A custom field value is not valid."


class CustomFieldNotFound(NotFound):
    code = "custom_field_not_found"
    message = "No such custom field."


class CustomStatusNotFound(NotFound):
    code = "custom_status_not_found"
    message = "No such status."


class TicketTypeNotFound(NotFound):
    code = "ticket_type_not_found"
    message = "No such ticket type."


class SavedViewNotYours(PermissionDenied):
    code = "saved_view_not_yours"
    message = "Only the view's owner or an admin may change a shared view."


class SavedViewNotFound(NotFound):
    code = "saved_view_not_found"
    message = "No such view."


class InvalidFilter(DomainError):
    code = "invalid_filter"
    message = "That filter is not valid."


class StaleReply(Conflict):
    code = "stale_reply"
    message = "New messages arrived on the ticket since you started writing; read them first."
    public_details = True  # the ids of the new messages and the latest one, to send again


class MergeNotAllowed(Conflict):
    code = "merge_not_allowed"
    message = "Those tickets cannot be merged."


class ContactNotFound(NotFound):
    code = "contact_not_found"
    message = "No such contact."


class CompanyNotFound(NotFound):
    code = "company_not_found"
    message = "No such company."


class ContactInvalid(DomainError):
    code = "contact_invalid"
    message = "Those contact details are not valid."


class AddressInvalid(DomainError):
    code = "address_invalid"
    message = "That is not an email address we can send to."


class FollowerNotFound(NotFound):
    code = "follower_not_found"
    message = "That person does not follow this ticket."


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    message = "No such notification."


class SatisfactionScoreInvalid(DomainError):
    code = "satisfaction_score_invalid"
    message = "Choose good or bad."


class SatisfactionCommentTooLong(DomainError):
    code = "satisfaction_comment_too_long"
    message = "The comment is too long."


class SatisfactionSurveyNotFound(NotFound):
    code = "satisfaction_survey_not_found"
    message = "No such satisfaction survey."


class TaskNotFound(NotFound):
    code = "task_not_found"
    message = "No such task."


class TaskInvalid(DomainError):
    code = "task_invalid"
    message = "The task is not valid."
