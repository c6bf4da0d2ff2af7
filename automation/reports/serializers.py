"""The reports API's bodies (output only: the input is the date range in the query)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class _WithFrom(serializers.Serializer[Any]):
    """Bodies that start with the range's `from` (a Python keyword, so added here)."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        return {"from": serializers.DateField(help_text="First day of the range"), **fields}


class ReportFiguresOutput(serializers.Serializer[Any]):
    tickets_created = serializers.IntegerField()
    tickets_solved = serializers.IntegerField()
    tickets_reopened = serializers.IntegerField()
    first_response_median_minutes = serializers.IntegerField(allow_null=True)
    first_response_p90_minutes = serializers.IntegerField(allow_null=True)
    first_response_business_median_minutes = serializers.IntegerField(allow_null=True)
    first_response_business_p90_minutes = serializers.IntegerField(allow_null=True)
    resolution_median_minutes = serializers.IntegerField(allow_null=True)
    resolution_p90_minutes = serializers.IntegerField(allow_null=True)
    resolution_business_median_minutes = serializers.IntegerField(allow_null=True)
    resolution_business_p90_minutes = serializers.IntegerField(allow_null=True)
    replies_per_ticket = serializers.FloatField(allow_null=True)
    sla_met = serializers.IntegerField()
    sla_missed = serializers.IntegerField()
    sla_met_percent = serializers.FloatField(allow_null=True)
    csat_good = serializers.IntegerField()
    csat_okay = serializers.IntegerField(help_text="Okay answers: neither good nor bad")
    csat_bad = serializers.IntegerField()
    csat_percent = serializers.FloatField(
        allow_null=True, help_text="Good answers of all answers (good, okay and bad)"
    )


class ReportBreakdownRowOutput(ReportFiguresOutput):
    key = serializers.CharField(help_text='The id or value ("" for none)')
    # The metaclass takes declared fields off the class, so `Field.label` is untouched.
    label = serializers.CharField()  # type: ignore[assignment]
    open_now = serializers.IntegerField(
        required=False, help_text="Agents only: their unsolved tickets now"
    )


class ReportSlaMetricOutput(serializers.Serializer[Any]):
    met = serializers.IntegerField()
    missed = serializers.IntegerField()


class ReportDayOutput(serializers.Serializer[Any]):
    day = serializers.DateField()
    created = serializers.IntegerField()
    solved = serializers.IntegerField()
    backlog = serializers.IntegerField(
        allow_null=True, help_text="Unsolved at the end of the day; null for days to come"
    )


class ReportWeekOutput(serializers.Serializer[Any]):
    week = serializers.DateField(help_text="Its Monday (or the range's first day)")
    created = serializers.IntegerField()
    solved = serializers.IntegerField()
    first_response_median_minutes = serializers.IntegerField(allow_null=True)
    csat_percent = serializers.FloatField(allow_null=True)


class ReportBucketOutput(serializers.Serializer[Any]):
    from_minutes = serializers.IntegerField()
    tickets = serializers.IntegerField()


class ReportSummaryOutput(_WithFrom, ReportFiguresOutput):
    to = serializers.DateField()
    agent_id = serializers.UUIDField(
        allow_null=True, help_text="Whose figures these are; null: the whole team"
    )
    deflections = serializers.IntegerField(
        allow_null=True, help_text="Help-center deflections (null in an agent's report)"
    )
    deflection_rate_percent = serializers.FloatField(
        allow_null=True,
        help_text="Deflections out of deflections plus requests from the web form (null"
        " without either, or in an agent's report)",
    )
    breakdown_values_left_out = serializers.DictField(
        child=serializers.IntegerField(),
        help_text=(
            "Tags and companies beyond the 50 largest, by breakdown: "
            "/api/v1/reports/breakdowns/<dimension>/ lists them all"
        ),
    )
    sla_by_metric = serializers.DictField(child=ReportSlaMetricOutput())
    first_response_distribution = ReportBucketOutput(many=True)
    daily = ReportDayOutput(many=True)
    weekly = ReportWeekOutput(many=True)
    created_by_weekday_hour = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Seven rows (Monday first) of 24 hours, in the help desk's time zone",
    )
    by_channel = ReportBreakdownRowOutput(many=True)
    by_department = ReportBreakdownRowOutput(many=True)
    by_agent = ReportBreakdownRowOutput(many=True)
    by_type = ReportBreakdownRowOutput(many=True)
    by_priority = ReportBreakdownRowOutput(many=True)
    by_mailbox = ReportBreakdownRowOutput(many=True)
    by_tag = ReportBreakdownRowOutput(many=True)
    by_company = ReportBreakdownRowOutput(many=True)


class ReportBreakdownOutput(_WithFrom):
    to = serializers.DateField()
    dimension = serializers.CharField()
    results = ReportBreakdownRowOutput(many=True)
