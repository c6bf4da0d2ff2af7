"""API shapes of rules (/api/v1/rules/…). The conditions and actions are checked by the
vocabulary in the service (its errors name the entry); here only their outline."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automation.models import Rule, RuleMatch, RuleTrigger
from automation.rules import vocabulary
from helpdesk.api.fields import UUIDField


class RuleConditionInput(serializers.Serializer[Any]):
    field = serializers.CharField(
        max_length=60,
        help_text="One of "
        + ", ".join(f"`{name}`" for name in vocabulary.CONDITION_FIELDS)
        + ", or `custom_fields.<key>` for a ticket custom field.",
    )
    operator = serializers.ChoiceField(choices=list(vocabulary.OPERATOR_LABELS))
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="What the field is compared with: a text, an id, a list for in / not_in.",
    )


class RuleActionInput(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=list(vocabulary.ACTIONS))
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="An id, a text, a list of tags or addresses, or {key, value}: see the list.",
    )


_VOCABULARY = vocabulary.vocabulary_text()


@extend_schema_field(RuleConditionInput)
class RuleConditionJSON(serializers.JSONField):
    """A condition as sent: checked by the vocabulary, whose errors name it."""


@extend_schema_field(RuleActionInput)
class RuleActionJSON(serializers.JSONField):
    """An action as sent: checked by the vocabulary, whose errors name it."""


class RuleUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    trigger = serializers.ChoiceField(choices=RuleTrigger.choices, required=False)
    match = serializers.ChoiceField(
        choices=RuleMatch.choices, required=False, help_text="all or any of the conditions."
    )
    conditions = serializers.ListField(
        child=RuleConditionJSON(),
        required=False,
        allow_empty=True,
        max_length=vocabulary.MAX_CONDITIONS,
        help_text='[{"field", "operator", "value"}]; none: every ticket.\n\n' + _VOCABULARY,
    )
    actions = serializers.ListField(
        child=RuleActionJSON(),
        required=False,
        allow_empty=False,
        max_length=vocabulary.MAX_ACTIONS,
        help_text='[{"action", "value"}]: see the vocabulary under conditions.',
    )
    position = serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, help_text="Lowest runs first."
    )
    is_active = serializers.BooleanField(required=False)
    stop_processing = serializers.BooleanField(
        required=False, help_text="When this rule matched, no later rule runs on the ticket."
    )


class RuleCreateInput(RuleUpdateInput):
    name = serializers.CharField(max_length=120)
    actions = serializers.ListField(
        child=RuleActionJSON(),
        allow_empty=False,
        max_length=vocabulary.MAX_ACTIONS,
        help_text='[{"action", "value"}]: see the vocabulary under conditions.',
    )


class RuleConditionOutput(serializers.Serializer[Any]):
    field = serializers.CharField()
    operator = serializers.CharField()
    value = serializers.JSONField(allow_null=True)


class RuleActionOutput(serializers.Serializer[Any]):
    action = serializers.CharField()
    value = serializers.JSONField(allow_null=True)


class RuleOutput(serializers.ModelSerializer[Rule]):
    conditions = RuleConditionOutput(many=True)
    actions = RuleActionOutput(many=True)

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "trigger",
            "match",
            "conditions",
            "actions",
            "position",
            "is_active",
            "stop_processing",
            "created_at",
            "updated_at",
        ]


class RuleReorderInput(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=UUIDField(),
        allow_empty=True,
        max_length=10_000,
        help_text="Every rule's id once, in the order they should run.",
    )


class RuleDryRunInput(serializers.Serializer[Any]):
    ticket = serializers.IntegerField(
        min_value=1, max_value=2_147_483_647, help_text="Ticket number."
    )


class RuleDryRunConditionOutput(serializers.Serializer[Any]):
    condition = serializers.CharField(help_text="The condition in words.")
    met = serializers.BooleanField()


class RuleDryRunOutput(serializers.Serializer[Any]):
    matched = serializers.BooleanField(help_text="Whether the rule's conditions hold now.")
    conditions = RuleDryRunConditionOutput(many=True)
    changes = serializers.ListField(
        child=serializers.CharField(),
        help_text="What the rule would change, in words; nothing was written or sent.",
    )
