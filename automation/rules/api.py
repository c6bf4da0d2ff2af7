"""Rules API: /api/v1/rules/ (list in running order, create), /api/v1/rules/<id>/ (read,
change, delete), /api/v1/rules/reorder/ and /api/v1/rules/<id>/dry-run/. Members read;
admins write and dry-run."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from automation.rules import selectors, services
from automation.rules.serializers import (
    RuleCreateInput,
    RuleDryRunInput,
    RuleDryRunOutput,
    RuleOutput,
    RuleReorderInput,
    RuleUpdateInput,
)
from helpdesk.api.pagination import IdCursorPagination
from helpdesk.api.permissions import IsTenantAdmin, IsTenantAdminOrReadOnly, IsTenantMember
from helpdesk.api.views import TenantAPIView
from tickets.ticket import selectors as ticket_selectors


class RulePagination(IdCursorPagination):
    """Rules in running order (position, then id), not newest first."""

    # DRF takes several fields (the stubs say one): the cursor follows the first.
    ordering = ("position", "id")  # type: ignore[assignment]
    page_size = 200


class RuleListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]
    pagination_class = RulePagination

    @extend_schema(responses=RuleOutput(many=True))
    def get(self, request: Request) -> Response:
        """Every rule in running order: on each event, the active rules of its trigger run
        lowest position first."""
        return self.paginate(request, selectors.list_rules(), RuleOutput)

    @extend_schema(request=RuleCreateInput, responses={201: RuleOutput})
    def post(self, request: Request) -> Response:
        """A new rule (last unless `position` is given). A condition, action or id that is
        not valid, or not this help desk's, is a 400 naming it."""
        data: dict[str, Any] = dict(self.validate(RuleCreateInput, request.data))
        rule = services.create_rule(actor=self.membership, **data)
        return Response(RuleOutput(rule).data, status=http.HTTP_201_CREATED)


class RuleDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]

    @extend_schema(responses=RuleOutput)
    def get(self, request: Request, rule_id: UUID) -> Response:
        return Response(RuleOutput(selectors.get_rule(rule_id)).data)

    @extend_schema(request=RuleUpdateInput, responses=RuleOutput)
    def patch(self, request: Request, rule_id: UUID) -> Response:
        """Change some fields; the whole rule is checked again."""
        data = dict(self.validate(RuleUpdateInput, request.data))
        rule = services.update_rule(rule=selectors.get_rule(rule_id), actor=self.membership, **data)
        return Response(RuleOutput(rule).data)

    @extend_schema(request=RuleCreateInput, responses=RuleOutput)
    def put(self, request: Request, rule_id: UUID) -> Response:
        """Replace the rule (name and actions required; the rest back to defaults when left
        out)."""
        data = dict(self.validate(RuleCreateInput, request.data))
        defaults = {
            "trigger": "ticket_created",
            "match": "all",
            "conditions": [],
            "is_active": True,
            "stop_processing": False,
        }
        rule = selectors.get_rule(rule_id)
        rule = services.update_rule(rule=rule, actor=self.membership, **(defaults | data))
        return Response(RuleOutput(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, rule_id: UUID) -> Response:
        services.delete_rule(rule=selectors.get_rule(rule_id), actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class RuleReorderAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]
    pagination_class = None

    @extend_schema(request=RuleReorderInput, responses=RuleOutput(many=True))
    def post(self, request: Request) -> Response:
        """Put the rules in this order: every rule's id once (positions become 0, 1, 2, …).
        A list that misses a rule or names another is a 400."""
        data = self.validate(RuleReorderInput, request.data)
        rules = services.reorder_rules(actor=self.membership, rule_ids=data["ids"])
        return Response(RuleOutput(rules, many=True).data)


class RuleDryRunAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=RuleDryRunInput, responses=RuleDryRunOutput)
    def post(self, request: Request, rule_id: UUID) -> Response:
        """What the rule would do to the ticket now, active or not: each condition met or
        not and the changes, in words. Nothing is written, no mail or notification sent."""
        data = self.validate(RuleDryRunInput, request.data)
        rule = selectors.get_rule(rule_id)
        ticket = ticket_selectors.get_ticket_by_number(data["ticket"])
        result = services.dry_run(rule=rule, ticket=ticket, actor=self.membership)
        return Response(
            RuleDryRunOutput(
                {
                    "matched": result.matched,
                    "conditions": result.conditions,
                    "changes": result.changes,
                }
            ).data
        )
