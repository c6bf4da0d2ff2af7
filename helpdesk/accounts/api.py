"""The team API: /api/v1/members/ (everyone reads; admins invite) and /api/v1/members/<id>/
(admins change a role or a seat, and anyone's availability; a member their own
availability); /api/v1/invitations/ (admins: pending invitations, resend, revoke)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.accounts import selectors, services, sso, two_factor
from helpdesk.accounts.models import Invitation, SsoProvider
from helpdesk.api.permissions import (
    CanManageTeam,
    CanManageTeamOrReadOnly,
    IsTenantAdmin,
    IsTenantMember,
)
from helpdesk.api.views import TenantAPIView
from helpdesk.core.errors import PermissionDenied
from helpdesk.tenancy import permissions
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.http import MemberRequest
from helpdesk.tenancy.models import Availability, Membership, MembershipRole


class MemberOutput(serializers.ModelSerializer[Membership]):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.display_name")
    availability = serializers.ChoiceField(
        choices=Availability.choices,
        help_text="online: takes new tickets now; away: stepped away (after "
        "HELPDESK_AWAY_AFTER_MINUTES without activity, or by choice); offline: not working "
        "(by choice, logged out, or outside their shift).",
    )
    availability_is_manual = serializers.BooleanField(
        help_text="Chosen by the member or an admin (false: set by activity, inactivity or "
        "the shift clock)."
    )
    availability_changed_at = serializers.DateTimeField(allow_null=True)
    on_shift = serializers.BooleanField(
        help_text="Inside the member's shift and not on leave (always, without a shift; "
        "see /api/v1/members/<id>/shift/)."
    )

    class Meta:
        model = Membership
        fields = [
            "id",
            "email",
            "name",
            "role",
            "is_active",
            "availability",
            "availability_is_manual",
            "availability_changed_at",
            "on_shift",
            "created_at",
            "updated_at",
        ]


class InvitationOutput(serializers.ModelSerializer[Invitation]):
    name = serializers.CharField(help_text="As the inviter typed it.")
    expires_at = serializers.DateTimeField(
        read_only=True, help_text="When the link of the last email stops working."
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "name",
            "role",
            "status",
            "sent_at",
            "expires_at",
            "created_at",
            "updated_at",
        ]


class InviteInput(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.AGENT)


class MemberUpdateInput(serializers.Serializer[Any]):
    role = serializers.ChoiceField(
        choices=MembershipRole.choices, required=False, help_text="Admins only."
    )
    is_active = serializers.BooleanField(
        required=False,
        help_text="Admins only. false deactivates: no login, unsolved tickets unassigned.",
    )
    availability = serializers.ChoiceField(
        choices=Availability.choices,
        required=False,
        help_text="Set by hand: a member their own, admins anyone's. Away and offline hold "
        "until changed, the shift ends or the member logs out; online lapses to away after "
        "HELPDESK_AWAY_AFTER_MINUTES without activity.",
    )


class MemberListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageTeamOrReadOnly]

    @extend_schema(responses=MemberOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(request, selectors.list_team(), MemberOutput)

    @extend_schema(request=InviteInput, responses={201: InvitationOutput})
    def post(self, request: MemberRequest) -> Response:
        """Invite someone: a pending invitation (see /api/v1/invitations/) and an email with
        a link to accept it. They get a seat only when they accept. The answer is the same
        whether or not the address has a login elsewhere."""
        data = self.validate(InviteInput, request.data)
        invitation = services.invite_member(
            tenant=request.tenant,
            actor=self.membership,
            email=data["email"],
            name=data.get("name", ""),
            role=data["role"],
        )
        return Response(InvitationOutput(invitation).data, status=http.HTTP_201_CREATED)


class MemberDetailAPI(TenantAPIView):
    # Who may change what is decided per field below; a member without MANAGE_TEAM may
    # PATCH only their own seat, and only its availability.
    permission_classes = [IsTenantMember]

    @extend_schema(responses=MemberOutput)
    def get(self, request: Request, member_id: UUID) -> Response:
        return Response(MemberOutput(selectors.get_seat(member_id)).data)

    @extend_schema(request=MemberUpdateInput, responses=MemberOutput)
    def patch(self, request: Request, member_id: UUID) -> Response:
        """Admins change a member's role, seat and availability; any member sets their own
        availability (and nothing else: 403)."""
        actor = self.membership
        fields = set(request.data) if isinstance(request.data, dict) else set()
        own_availability_only = fields <= {"availability"} and member_id == actor.id
        manages_team = permissions.can_manage_team(actor)
        if not (own_availability_only or manages_team):
            raise PermissionDenied(
                "You may set your own availability; anything else here is for admins."
            )
        data = self.validate(MemberUpdateInput, request.data)
        seat = selectors.get_seat(member_id)
        if "availability" in data:
            seat = services.set_availability(
                membership=seat, availability=data["availability"], actor=actor
            )
        if "role" in data or "is_active" in data or (not data and manages_team):
            seat = services.change_member(
                membership=seat,
                actor=actor,
                role=data.get("role"),
                is_active=data.get("is_active"),
            )
        return Response(MemberOutput(seat).data)


class InvitationListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageTeam]

    @extend_schema(responses=InvitationOutput(many=True))
    def get(self, request: Request) -> Response:
        """Pending invitations (not yet accepted or revoked), newest first. Invite with
        POST /api/v1/members/."""
        return self.paginate(request, selectors.list_pending_invitations(), InvitationOutput)


class InvitationDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageTeam]

    @extend_schema(responses=InvitationOutput)
    def get(self, request: Request, invitation_id: UUID) -> Response:
        return Response(InvitationOutput(selectors.get_invitation(invitation_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, invitation_id: UUID) -> Response:
        """Revoke a pending invitation: its link stops working (409 once accepted)."""
        services.revoke_invitation(
            invitation=selectors.get_invitation(invitation_id), actor=self.membership
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


class InvitationResendAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageTeam]

    @extend_schema(request=None, responses=InvitationOutput)
    def post(self, request: Request, invitation_id: UUID) -> Response:
        """Email the invitation again with a new link; the previous link stops working."""
        invitation = services.resend_invitation(
            invitation=selectors.get_invitation(invitation_id), actor=self.membership
        )
        return Response(InvitationOutput(invitation).data)


class SecuritySettingsOutput(serializers.Serializer[Any]):
    require_two_factor = serializers.BooleanField(
        help_text="Every member signs in with a second factor (TOTP or a recovery code); "
        "a member without one sets it up before their next page. API tokens are not "
        "affected."
    )


class SecuritySettingsInput(serializers.Serializer[Any]):
    require_two_factor = serializers.BooleanField()


class SecuritySettingsAPI(TenantAPIView):
    """/api/v1/security/: the tenant's sign-in rules (admins)."""

    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=SecuritySettingsOutput)
    def get(self, request: Request) -> Response:
        return Response(SecuritySettingsOutput(self.membership.tenant).data)

    @extend_schema(request=SecuritySettingsInput, responses=SecuritySettingsOutput)
    def patch(self, request: Request) -> Response:
        data = self.validate(SecuritySettingsInput, request.data)
        tenant = tenancy_services.set_two_factor_requirement(
            tenant=self.membership.tenant,
            actor=self.membership,
            required=data["require_two_factor"],
        )
        return Response(SecuritySettingsOutput(tenant).data)


class MemberTwoFactorResetAPI(TenantAPIView):
    """/api/v1/members/<id>/two-factor/reset/: an admin removes a member's authenticator
    and recovery codes (409 when they have none). Audited."""

    permission_classes = [IsTenantMember, CanManageTeam]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, member_id: UUID) -> Response:
        seat = selectors.get_seat(member_id)
        two_factor.reset_for_member(seat=seat, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class SsoProviderOutput(serializers.ModelSerializer[SsoProvider]):
    has_client_secret = serializers.SerializerMethodField(
        help_text="A secret is stored (it is never returned)."
    )

    class Meta:
        model = SsoProvider
        fields = [
            "issuer",
            "client_id",
            "has_client_secret",
            "allowed_domains",
            "is_enabled",
            "created_at",
            "updated_at",
        ]

    def get_has_client_secret(self, provider: SsoProvider) -> bool:
        return bool(provider.client_secret_encrypted)


class SsoProviderInput(serializers.Serializer[Any]):
    issuer = serializers.CharField(max_length=500)
    client_id = serializers.CharField(max_length=200)
    client_secret = serializers.CharField(
        max_length=500,
        required=False,
        help_text="Required the first time; leave out to keep the stored one.",
    )
    allowed_domains = serializers.ListField(
        child=serializers.CharField(max_length=253), max_length=50, required=False, default=list
    )
    is_enabled = serializers.BooleanField(required=False, default=False)


class SsoProviderAPI(TenantAPIView):
    """/api/v1/sso/: the tenant's OpenID Connect provider (admins). PUT sets it up or
    changes it; DELETE removes it."""

    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=SsoProviderOutput)
    def get(self, request: Request) -> Response:
        return Response(SsoProviderOutput(sso.get_sso_provider()).data)

    @extend_schema(request=SsoProviderInput, responses=SsoProviderOutput)
    def put(self, request: Request) -> Response:
        data = self.validate(SsoProviderInput, request.data)
        provider = sso.save_sso_provider(
            actor=self.membership,
            issuer=data["issuer"],
            client_id=data["client_id"],
            client_secret=data.get("client_secret"),
            allowed_domains=data["allowed_domains"],
            is_enabled=data["is_enabled"],
        )
        return Response(SsoProviderOutput(provider).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        sso.delete_sso_provider(actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class SsoDiscoveryTestInput(serializers.Serializer[Any]):
    issuer = serializers.CharField(
        max_length=500, help_text="The issuer to test (saved or not): its https:// address."
    )


class SsoDiscoveryTestOutput(serializers.Serializer[Any]):
    issuer = serializers.CharField()
    authorization_endpoint = serializers.CharField()
    token_endpoint = serializers.CharField()
    jwks_uri = serializers.CharField()


class SsoDiscoveryTestAPI(TenantAPIView):
    """/api/v1/sso/test/: fetch an issuer's discovery document (admins), as the settings
    page's *Test discovery* does. 409 `sso_provider_unreachable` says what went wrong;
    nothing is saved."""

    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=SsoDiscoveryTestInput, responses=SsoDiscoveryTestOutput)
    def post(self, request: Request) -> Response:
        data = self.validate(SsoDiscoveryTestInput, request.data)
        document = sso.check_discovery(actor=self.membership, issuer=data["issuer"])
        return Response(SsoDiscoveryTestOutput(document).data)
