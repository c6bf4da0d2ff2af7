from helpdesk.core.errors import Conflict, DomainError, NotFound


class DepartmentNotFound(NotFound):
    code = "department_not_found"
    message = "No such department."


class DepartmentNameTaken(Conflict):
    code = "department_name_taken"
    message = "A department with that name exists."


class MailboxAddressTaken(Conflict):
    code = "mailbox_address_taken"
    message = "That address already belongs to a mailbox."


class InvalidMailboxAddress(DomainError):
    code = "invalid_mailbox_address"
    message = "That is not a valid email address."
