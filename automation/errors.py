from helpdesk.core.errors import DomainError, NotFound, PermissionDenied


class CannedResponseNotFound(NotFound):
    code = "canned_response_not_found"
    message = "No such canned response."


class SharedResponseNeedsAdmin(PermissionDenied):
    code = "shared_response_needs_admin"
    message = "Only admins may create or change responses shared with others."


class InvalidCannedResponse(DomainError):
    code = "invalid_canned_response"
    message = "The canned response is not valid."
