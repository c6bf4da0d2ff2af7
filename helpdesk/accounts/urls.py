from django.urls import path

from helpdesk.accounts import audit_log, sso_page, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.two_factor_verify, name="two-factor-verify"),
    path("two-factor/", views.two_factor_page, name="two-factor"),
    path("sso/", views.sso_start, name="sso"),
    path("sso/callback/", views.sso_callback, name="sso-callback"),
    path("sso/settings/", sso_page.sso_settings, name="sso-settings"),
    path("sso/settings/test/", sso_page.sso_discovery_check, name="sso-settings-test"),
    path("sso/settings/delete/", sso_page.sso_settings_delete, name="sso-settings-delete"),
    path("logout/", views.logout_view, name="logout"),
    path("switch/<slug:slug>/", views.switch_tenant, name="switch"),
    path("handoff/", views.handoff_view, name="handoff"),
    path("api-tokens/", views.api_tokens, name="api-tokens"),
    path("team/", views.team, name="team"),
    path("audit-log/", audit_log.audit_log, name="audit-log"),
    path("availability/", views.availability, name="availability"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
]
