"""Reads for departments and mailboxes (always in the current tenant)."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, QuerySet

from departments.errors import DepartmentNotFound, MailboxNotFound
from departments.models import Department, DepartmentMember, Mailbox


def list_departments() -> QuerySet[Department]:
    return Department.objects.order_by("name")


def list_departments_with_counts() -> QuerySet[Department]:
    return Department.objects.annotate(member_count=Count("members", distinct=True)).order_by(
        "name"
    )


def get_department(department_id: UUID | str) -> Department:
    department = Department.objects.filter(id=department_id).first()
    if department is None:
        raise DepartmentNotFound(department_id=str(department_id))
    return department


def find_department_by_name(name: str) -> Department | None:
    return Department.objects.filter(name__iexact=name.strip()).first()


def get_default_department() -> Department:
    department = Department.objects.filter(is_default=True).first()
    if department is None:
        department = Department.objects.order_by("created_at").first()
    if department is None:
        raise DepartmentNotFound(department_id="default")
    return department


def list_mailboxes() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("department").order_by("address")


def is_agent_of(membership_id: UUID, department_id: UUID) -> bool:
    return DepartmentMember.objects.filter(
        membership_id=membership_id, department_id=department_id
    ).exists()


def get_mailbox(mailbox_id: UUID | str) -> Mailbox:
    mailbox = Mailbox.objects.select_related("department").filter(id=mailbox_id).first()
    if mailbox is None:
        raise MailboxNotFound(mailbox_id=str(mailbox_id))
    return mailbox
