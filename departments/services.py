"""Departments: names unique per tenant (case-insensitive), one default; a mailbox address is
unique across the installation and kept in the global InboundAddress index."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from departments.errors import DepartmentNameTaken, InvalidMailboxAddress, MailboxAddressTaken
from departments.models import Department, DepartmentMember, Mailbox
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import InboundAddress, Membership


@transaction.atomic
def create_department(
    *, name: str, description: str = "", is_default: bool = False, actor: Membership | None = None
) -> Department:
    """A new department. Raises DepartmentNameTaken."""
    name = name.strip()
    if Department.objects.filter(name__iexact=name).exists():
        raise DepartmentNameTaken(name=name)
    if is_default:
        Department.objects.filter(is_default=True).update(is_default=False)
    return Department.objects.create(name=name, description=description, is_default=is_default)


@transaction.atomic
def add_department_member(*, department: Department, membership: Membership) -> DepartmentMember:
    """Seat a member of the current tenant in the department (idempotent)."""
    if membership.tenant_id != require_tenant_id():
        raise ValueError("membership of another tenant")
    member, _ = DepartmentMember.objects.get_or_create(department=department, membership=membership)
    return member


@transaction.atomic
def create_mailbox(
    *, address: str, department: Department, display_name: str = "", is_default: bool = False
) -> Mailbox:
    """A mailbox and its InboundAddress. Raises InvalidMailboxAddress, MailboxAddressTaken."""
    address = address.strip().lower()
    try:
        validate_email(address)
    except ValidationError as error:
        raise InvalidMailboxAddress(address=address) from error
    if InboundAddress.objects.filter(address=address).exists():
        raise MailboxAddressTaken(address=address)
    mailbox = Mailbox.objects.create(
        address=address, department=department, display_name=display_name, is_default=is_default
    )
    try:
        with transaction.atomic():
            tenancy_services.register_inbound_address(
                tenant_id=mailbox.tenant_id, address=address, mailbox_id=mailbox.id
            )
    except IntegrityError as error:  # another tenant took it between the check and now
        raise MailboxAddressTaken(address=address) from error
    return mailbox
