from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest

from helpdesk.accounts import selectors
from helpdesk.accounts.models import Invitation, User
from helpdesk.core.ids import new_id
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmailKind
from helpdesk.tenancy.models import Membership, MembershipRole


def normalize_login_email(value: str) -> str:
    """A login's address as it is looked up and counted for rate limits: trimmed, lower
    case, no longer than an email field takes."""
    return value.strip().lower()[:320]


class LoginForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    error_message = "Email or password is incorrect."

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user: User | None = None
        self.credentials_refused = False  # a well-formed attempt that failed: counted
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        user = authenticate(
            self.request, email=normalize_login_email(data["email"]), password=data["password"]
        )
        tenant = getattr(self.request, "tenant", None)
        allowed = user is not None and (
            Membership.objects.filter(tenant=tenant, user=user, is_active=True).exists()
            if tenant is not None
            else user.is_staff
        )
        if not allowed:
            self.credentials_refused = True
            # One message whatever failed, so the form does not reveal who is a member.
            raise forms.ValidationError(self.error_message)
        self.user = user
        return data


class TenantPasswordResetForm(PasswordResetForm):
    """Sends reset links only to members of the tenant whose host the form is on."""

    def __init__(self, *args: Any, tenant: Any = None, **kwargs: Any) -> None:
        self.tenant = tenant
        super().__init__(*args, **kwargs)

    def get_users(self, email: str) -> Any:
        users = selectors.users_with_email(email).filter(is_active=True)
        if self.tenant is not None:
            users = users.filter(memberships__tenant=self.tenant, memberships__is_active=True)
        else:
            users = users.filter(is_staff=True)
        return (u for u in users if u.has_usable_password())

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """Through the one mail path: built from emails/password_reset.*, queued in the
        tenant's outbox, one email per request (two requests within a second get the same
        token, and each is answered). Platform staff
        reset on no tenant's host, where there is no outbox: sent at once, built alike."""
        email = mail.build(
            kind=OutboundEmailKind.PASSWORD_RESET,
            key=f"password_reset:{new_id()}",
            template="password_reset",
            context=context,
            to=[to_email],
            from_address=from_email or "",
            automatic="auto-generated",
        )
        if self.tenant is None:
            mail.send_platform_email(email)
        else:
            mail.queue_email(email)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email")
    name = forms.CharField(max_length=200, required=False, label="Name")
    role = forms.ChoiceField(choices=MembershipRole.choices, initial=MembershipRole.AGENT)


class InvitationSignupForm(forms.Form):
    """Accepting an invitation without a login yet: a name and a new password."""

    name = forms.CharField(max_length=200, required=False, label="Your name")
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, invitation: Invitation, *args: Any, **kwargs: Any) -> None:
        self.invitation = invitation
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, second = data.get("password1"), data.get("password2")
        if first and second:
            if first != second:
                self.add_error("password2", "The two passwords differ.")
            else:
                try:
                    password_validation.validate_password(
                        first, User(email=self.invitation.email, name=data.get("name", ""))
                    )
                except forms.ValidationError as error:
                    self.add_error("password1", error)
        return data


class InvitationLoginForm(forms.Form):
    """Accepting an invitation with the login the address already has: its password."""

    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(
        self, request: HttpRequest, invitation: Invitation, *args: Any, **kwargs: Any
    ) -> None:
        self.request = request
        self.invitation = invitation
        self.user: User | None = None
        self.credentials_refused = False  # a wrong password: counted like a failed login
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        user = authenticate(self.request, email=self.invitation.email, password=data["password"])
        if user is None:
            self.credentials_refused = True
            raise forms.ValidationError("That password is incorrect.")
        self.user = user
        return data


class SsoProviderForm(forms.Form):
    """The single sign-on settings page. The secret is write-only: empty keeps the stored
    one. Domains are one per line (or separated by commas or spaces). The service checks
    the values (helpdesk.accounts.sso.save_sso_provider)."""

    issuer = forms.CharField(
        label="Issuer",
        max_length=500,
        help_text="The provider's address, exactly as its discovery document names it "
        "(https://login.example.com/realms/acme).",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}
        ),
    )
    client_id = forms.CharField(
        label="Client id",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    client_secret = forms.CharField(
        label="Client secret",
        max_length=500,
        required=False,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    allowed_domains = forms.CharField(
        label="Email domains that get a seat on first sign-in",
        required=False,
        max_length=13000,
        help_text="One per line (example.com). People of these domains whom the provider "
        "vouches for become agents when they first sign in; leave empty to let only "
        "existing members in.",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )
    is_enabled = forms.BooleanField(label="Offer single sign-on on the login page", required=False)

    def clean_allowed_domains(self) -> list[str]:
        raw = str(self.cleaned_data.get("allowed_domains") or "")
        return [part for part in raw.replace(",", " ").split() if part]
