"""API shapes for departments (with their assignment settings), mailboxes (the IMAP
password is write-only) and business hours."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from departments.models import (
    MAX_OPEN_PER_AGENT_LIMIT,
    AssignmentMode,
    BusinessHours,
    Department,
    ImapSecurity,
    Mailbox,
)
from helpdesk.api.fields import UUIDField


class DepartmentOutput(serializers.ModelSerializer[Department]):
    members = serializers.SerializerMethodField(help_text="Member ids of the agents seated here.")

    class Meta:
        model = Department
        fields = [
            "id",
            "name",
            "description",
            "is_default",
            "members",
            "assignment_mode",
            "max_open_per_agent",
            "assign_offline_agents",
            "hand_back_when_offline",
            "created_at",
            "updated_at",
        ]

    def get_members(self, department: Department) -> list[str]:
        return [str(seat.membership_id) for seat in department.members.all()]


class DepartmentUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    is_default = serializers.BooleanField(
        required=False, help_text="true makes this the default department (where mail lands)."
    )
    members = serializers.ListField(
        child=UUIDField(),
        required=False,
        max_length=1000,
        help_text="Member ids: exactly these are seated in the department.",
    )
    assignment_mode = serializers.ChoiceField(
        choices=AssignmentMode.choices,
        required=False,
        help_text="How new tickets are assigned: manual (agents pick them), round_robin "
        "(eligible agents in turn) or load_balanced (the eligible agent with the fewest "
        "unsolved tickets here).",
    )
    max_open_per_agent = serializers.IntegerField(
        min_value=1,
        max_value=MAX_OPEN_PER_AGENT_LIMIT,
        allow_null=True,
        required=False,
        help_text="Automatic assignment gives an agent no more once they hold this many "
        "unsolved tickets of the department; null: no limit. Direct assignment is not limited.",
    )
    assign_offline_agents = serializers.BooleanField(
        required=False, help_text="Away and offline agents get tickets in turn too."
    )
    hand_back_when_offline = serializers.BooleanField(
        required=False,
        help_text="An agent going offline returns their unsolved tickets here to the backlog "
        "(needs assign_offline_agents false).",
    )


class DepartmentCreateInput(DepartmentUpdateInput):
    name = serializers.CharField(max_length=120)


class MailboxOutput(serializers.ModelSerializer[Mailbox]):
    department = UUIDField(source="department_id")
    imap_password_set = serializers.SerializerMethodField()

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "address",
            "aliases",
            "display_name",
            "department",
            "is_default",
            "is_active",
            "auto_ack_enabled",
            "auto_ack_subject",
            "auto_ack_body",
            "imap_enabled",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_username",
            "imap_password_set",
            "imap_folder",
            "imap_archive_folder",
            "imap_last_polled_at",
            "imap_last_error",
            "created_at",
            "updated_at",
        ]

    def get_imap_password_set(self, mailbox: Mailbox) -> bool:
        return bool(mailbox.imap_password_encrypted)


class MailboxUpdateInput(serializers.Serializer[Any]):
    address = serializers.EmailField(max_length=254, required=False)
    aliases = serializers.ListField(
        child=serializers.EmailField(max_length=254), required=False, max_length=50
    )
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    department = UUIDField(required=False)
    is_default = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    auto_ack_enabled = serializers.BooleanField(required=False)
    auto_ack_subject = serializers.CharField(
        max_length=250,
        required=False,
        allow_blank=True,
        help_text="Empty: the acknowledgement email template's subject.",
    )
    auto_ack_body = serializers.CharField(
        max_length=20_000,
        required=False,
        allow_blank=True,
        help_text="Empty: the acknowledgement email template's body.",
    )
    imap_enabled = serializers.BooleanField(required=False)
    imap_host = serializers.CharField(max_length=253, required=False, allow_blank=True)
    imap_port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    imap_security = serializers.ChoiceField(choices=ImapSecurity.choices, required=False)
    imap_username = serializers.CharField(max_length=254, required=False, allow_blank=True)
    imap_password = serializers.CharField(max_length=500, required=False, write_only=True)
    imap_folder = serializers.CharField(max_length=200, required=False)
    imap_archive_folder = serializers.CharField(max_length=200, required=False, allow_blank=True)


class MailboxCreateInput(MailboxUpdateInput):
    address = serializers.EmailField(max_length=254)


class BusinessHoursIntervalData(serializers.Serializer[Any]):
    day = serializers.IntegerField(min_value=0, max_value=6, help_text="0 Monday … 6 Sunday.")
    start = serializers.CharField(max_length=5, help_text="HH:MM, local time.")
    end = serializers.CharField(max_length=5, help_text="HH:MM, local time; 24:00 for midnight.")


class HolidayData(serializers.Serializer[Any]):
    date = serializers.DateField()
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class BusinessHoursOutput(serializers.ModelSerializer[BusinessHours]):
    intervals = BusinessHoursIntervalData(many=True)
    holidays = HolidayData(many=True, source="holidays.all")

    class Meta:
        model = BusinessHours
        fields = ["id", "name", "timezone", "intervals", "holidays", "created_at", "updated_at"]


class BusinessHoursInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    timezone = serializers.CharField(max_length=64, help_text="IANA name, e.g. Europe/Berlin.")
    # many=True makes these ListSerializers, which take max_length; the stubs do not know.
    intervals = BusinessHoursIntervalData(many=True, max_length=100)  # type: ignore[call-arg]
    holidays = HolidayData(  # type: ignore[call-arg]
        many=True, required=False, default=list, max_length=1000
    )
