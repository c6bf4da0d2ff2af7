"""The team API: /api/v1/members/ (everyone reads; admins invite) and /api/v1/members/<id>/
(admins change a role or a seat)."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.accounts import selectors, services
from helpdesk.api.permissions import IsTenantAdminOrReadOnly, IsTenantMember
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy.models import Membership, MembershipRole


class MemberOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.display_name")

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "is_active", "created_at", "updated_at"]


class InviteInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.AGENT)


class MemberUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=MembershipRole.choices, required=False)
    is_active = serializers.BooleanField(
        required=False, help_text="false deactivates: no login, unsolved tickets unassigned."
    )


class MemberListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]

    @extend_schema(responses=MemberOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(request, selectors.list_team(), MemberOutput)

    @extend_schema(request=InviteInput, responses={201: MemberOutput})
    def post(self, request: Request) -> Response:
        """Invite someone: their seat now, an email to choose a password (or log in)."""
        data = self.validate(InviteInput, request.data)
        seat = services.invite_member(
            tenant=request.tenant,  # type: ignore[attr-defined]
            actor=self.membership,
            email=data["email"],
            name=data.get("name", ""),
            role=data["role"],
        )
        return Response(MemberOutput(seat).data, status=http.HTTP_201_CREATED)


class MemberDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]

    @extend_schema(responses=MemberOutput)
    def get(self, request: Request, member_id: UUID) -> Response:
        return Response(MemberOutput(selectors.get_seat(member_id)).data)

    @extend_schema(request=MemberUpdateInput, responses=MemberOutput)
    def patch(self, request: Request, member_id: UUID) -> Response:
        data = self.validate(MemberUpdateInput, request.data)
        seat = services.change_member(
            membership=selectors.get_seat(member_id),
            actor=self.membership,
            role=data.get("role"),
            is_active=data.get("is_active"),
        )
        return Response(MemberOutput(seat).data)
