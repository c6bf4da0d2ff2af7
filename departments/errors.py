from helpdesk.core.errors import Conflict, DomainError, NotFound


class DepartmentNotFound(NotFound):
    code = "department_not_found"
    message = "No such department."


class DepartmentNameTaken(Conflict):
    code = "department_name_taken"
    message = "A department with that name exists."


class InvalidDepartment(DomainError):
    code = "invalid_department"
    message = "A department needs a name."


class InvalidAssignmentSettings(DomainError):
    code = "invalid_assignment_settings"
    message = "Those assignment settings are not valid."


class DepartmentInUse(Conflict):
    code = "department_in_use"
    message = "The department is still in use."


class DefaultDepartmentRequired(Conflict):
    code = "default_department_required"
    message = "New tickets need a default department: make another one the default first."


class MailboxAddressTaken(Conflict):
    code = "mailbox_address_taken"
    message = "That address already belongs to a mailbox."


class InvalidMailboxAddress(DomainError):
    code = "invalid_mailbox_address"
    message = "That is not a valid email address."


class MailboxNotFound(NotFound):
    code = "mailbox_not_found"
    message = "No such mailbox."


class DefaultMailboxRequired(Conflict):
    code = "default_mailbox_required"
    message = "The default mailbox cannot be deleted; make another mailbox the default first."


class InvalidMailboxTemplate(DomainError):
    code = "invalid_mailbox_template"
    message = "The acknowledgement template uses an unknown placeholder."


class BusinessHoursNotFound(NotFound):
    code = "business_hours_not_found"
    message = "No such business hours."


class BusinessHoursNameTaken(Conflict):
    code = "business_hours_name_taken"
    message = "Business hours with that name exist."


class InvalidBusinessHours(DomainError):
    code = "invalid_business_hours"
    message = "Those business hours are not valid."


class BusinessHoursInUse(Conflict):
    code = "business_hours_in_use"
    message = "An SLA policy counts on these business hours; give it other hours first."
