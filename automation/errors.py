from helpdesk.core.errors import Conflict, DomainError, NotFound, PermissionDenied


class CannedResponseNotFound(NotFound):
    code = "canned_response_not_found"
    message = "No such canned response."


class SharedResponseNeedsAdmin(PermissionDenied):
    code = "shared_response_needs_admin"
    message = "Only admins may create or change responses shared with others."


class InvalidCannedResponse(DomainError):
    code = "invalid_canned_response"
    message = "The canned response is not valid."


class SlaPolicyNotFound(NotFound):
    code = "sla_policy_not_found"
    message = "No such SLA policy."


class InvalidSlaPolicy(DomainError):
    code = "invalid_sla_policy"
    message = "The SLA policy is not valid."


class SlaPolicyNameTaken(Conflict):
    code = "sla_policy_name_taken"
    message = "An SLA policy with that name exists."


class RuleNotFound(NotFound):
    code = "rule_not_found"
    message = "No such rule."


class InvalidRule(DomainError):
    code = "invalid_rule"
    message = "The rule is not valid."


class RuleNameTaken(Conflict):
    code = "rule_name_taken"
    message = "A rule with that name exists."


class InvalidRuleOrder(DomainError):
    code = "invalid_rule_order"
    message = "Send the id of every rule once, in the order they should run."


class InvalidReportRange(DomainError):
    code = "invalid_report_range"
    message = "The report's dates are not valid."


class ReportOfOthers(PermissionDenied):
    code = "report_of_others"
    message = "Only admins see the whole team's reports and other agents' figures."


class ReportAgentNotFound(NotFound):
    code = "report_agent_not_found"
    message = "No such agent in this help desk."


class UnknownReportBreakdown(NotFound):
    code = "unknown_report_breakdown"
    message = "No such breakdown."


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    message = "No such webhook."


class InvalidWebhook(DomainError):
    code = "invalid_webhook"
    message = "The webhook is not valid."


class WebhookTargetRefused(DomainError):
    code = "webhook_target_refused"
    message = "Webhooks may not call loopback or private addresses."


class IntegrationNotFound(NotFound):
    code = "integration_not_found"
    message = "No such integration."


class ContactAppNotFound(NotFound):
    code = "contact_app_not_found"
    message = "No such contact app."


class ExternalTaskNotFound(NotFound):
    code = "external_task_not_found"
    message = "No such linked item."


class InvalidIntegration(DomainError):
    code = "invalid_integration"
    message = "The integration is not valid."


class IntegrationTargetRefused(DomainError):
    code = "integration_target_refused"
    message = "Integrations may not call loopback or private addresses."


class IntegrationNameTaken(Conflict):
    code = "integration_name_taken"
    message = "Another integration has this name."


class IntegrationInactive(Conflict):
    code = "integration_inactive"
    message = "The integration is turned off."


class ExternalTaskNotRetryable(Conflict):
    code = "external_task_not_retryable"
    message = "Only a failed item (or one stuck for minutes) can be tried again."
