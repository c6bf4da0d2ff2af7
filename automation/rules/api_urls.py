"""The rules API under /api/v1/ (included by helpdesk/urls.py)."""

from django.urls import URLPattern, path

from automation.rules import api

app_name = "rules-api"

urlpatterns: list[URLPattern] = [
    path("rules/", api.RuleListAPI.as_view(), name="rule-list"),
    path("rules/reorder/", api.RuleReorderAPI.as_view(), name="rule-reorder"),
    path("rules/<uuid:rule_id>/", api.RuleDetailAPI.as_view(), name="rule-detail"),
    path("rules/<uuid:rule_id>/dry-run/", api.RuleDryRunAPI.as_view(), name="rule-dry-run"),
]
