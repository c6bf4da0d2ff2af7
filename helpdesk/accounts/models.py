"""Users (global, one login across tenants), per-tenant API tokens and invitations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower

from helpdesk.core.models import BaseModel
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import MembershipRole, TenantModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("a user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    """A person. Platform staff have is_staff; tenant roles live on Membership."""

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform staff (the ops area).")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_uniq"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@", 1)[0]


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def in_current_tenant(self) -> ApiTokenQuerySet:
        return self.filter(tenant_id=require_tenant_id())


class ApiToken(BaseModel):
    """A secret for `Authorization: Token <key>`: one user in one tenant. Only a hash is kept."""

    # No index of its own: the (tenant, user) index leads with it.
    tenant = models.ForeignKey(
        "tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="API token")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        # Lookup of a user's tokens in one tenant (the tokens page).
        indexes = [models.Index(fields=["tenant", "user"], name="accounts_apitoken_user_idx")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


# How long an invitation link works after it was (last) sent.
INVITATION_VALID_FOR = timedelta(days=7)


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"


class Invitation(TenantModel):
    """An offer of a seat, sent by email. Nobody is seated until the person accepts through
    the link (choosing a password, or proving the login they have), so an invitation says
    nothing about whether the address has a login anywhere. `nonce` is in the signed link:
    a resend replaces it (the old link stops working); accepting or revoking ends it."""

    email = models.EmailField(max_length=254, help_text="Lowercased.")
    name = models.CharField(max_length=200, blank=True, help_text="As the inviter typed it.")
    role = models.CharField(max_length=16, choices=MembershipRole.choices)
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    nonce = models.CharField(max_length=64)
    sent_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            # One open invitation per address and tenant: a second is a resend.
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(status="pending"),
                name="accounts_invitation_one_pending",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values),
                name="accounts_invitation_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=MembershipRole.values),
                name="accounts_invitation_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"

    @property
    def expires_at(self) -> datetime:
        return self.sent_at + INVITATION_VALID_FOR

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class TwoFactorDevice(BaseModel):
    """A login's TOTP authenticator (RFC 6238, 30-second steps, 6 digits). Global like the
    user: one second factor for every tenant the login has a seat in. The secret is
    encrypted at rest (helpdesk.core.crypto); `confirmed_at` is empty while the member is
    still enrolling, and only a confirmed device is asked for at sign-in. `last_step` is
    the last time step accepted, so one code never signs in twice."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor")
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"TOTP of {self.user_id}"


class RecoveryCode(BaseModel):
    """A one-time code for signing in without the authenticator. Only a SHA-256 of the
    code is kept (the codes are random, 50 bits each, so a slow hash adds nothing);
    `used_at` is set by the one sign-in that spends it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "code_hash"], name="accounts_recoverycode_user_code_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class SsoProvider(TenantModel):
    """The tenant's OpenID Connect provider for single sign-on: where it is (`issuer`,
    whose /.well-known/openid-configuration describes it), the client the tenant
    registered there, and the email domains whose people get a seat on first sign-in.
    The client secret is encrypted at rest (helpdesk.core.crypto) and never read back
    through the API. One per tenant."""

    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=200)
    client_secret_encrypted = models.TextField()
    allowed_domains = models.JSONField(
        default=list, blank=True, help_text="Lowercased domains; empty: no seats on sign-in."
    )
    is_enabled = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="accounts_ssoprovider_one_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.issuer
