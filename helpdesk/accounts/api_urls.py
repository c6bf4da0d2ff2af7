from django.urls import path

from helpdesk.accounts import api, audit_log

app_name = "accounts-api"

urlpatterns = [
    path("audit-log/", audit_log.AuditLogAPI.as_view(), name="audit-log"),
    path("members/", api.MemberListAPI.as_view(), name="member-list"),
    path("members/<uuid:member_id>/", api.MemberDetailAPI.as_view(), name="member-detail"),
    path(
        "members/<uuid:member_id>/two-factor/reset/",
        api.MemberTwoFactorResetAPI.as_view(),
        name="member-two-factor-reset",
    ),
    path("security/", api.SecuritySettingsAPI.as_view(), name="security"),
    path("sso/", api.SsoProviderAPI.as_view(), name="sso"),
    path("sso/test/", api.SsoDiscoveryTestAPI.as_view(), name="sso-test"),
    path("invitations/", api.InvitationListAPI.as_view(), name="invitation-list"),
    path(
        "invitations/<uuid:invitation_id>/",
        api.InvitationDetailAPI.as_view(),
        name="invitation-detail",
    ),
    path(
        "invitations/<uuid:invitation_id>/resend/",
        api.InvitationResendAPI.as_view(),
        name="invitation-resend",
    ),
]
