"""The rules admin page and its forms (included by helpdesk/urls.py)."""

from django.urls import URLPattern, path

from automation.rules import views

app_name = "rules"

urlpatterns: list[URLPattern] = [
    path("settings/rules/", views.rules, name="rules"),
    path("settings/rules/reorder/", views.rules_reorder, name="rules-reorder"),
    path("settings/rules/<uuid:rule_id>/", views.rules, name="rule-edit"),
    path("settings/rules/<uuid:rule_id>/delete/", views.rule_delete, name="rule-delete"),
    path("settings/rules/<uuid:rule_id>/toggle/", views.rule_toggle, name="rule-toggle"),
    path("settings/rules/<uuid:rule_id>/move/", views.rule_move, name="rule-move"),
    path("settings/rules/<uuid:rule_id>/dry-run/", views.rule_dry_run, name="rule-dry-run"),
]
