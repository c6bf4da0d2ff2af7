"""Two-factor sign-in: a TOTP authenticator (pyotp) and ten one-time recovery codes per
login, asked for after the password on every host the login signs in to.

A login turns it on by scanning a QR code (segno, an inline SVG: nothing leaves the
server) and typing a code from the app; the device is stored only then, with its secret
encrypted at rest (helpdesk.core.crypto). The ten recovery codes are shown once and kept
as SHA-256 hashes. A TOTP code is accepted once (`last_step`), a recovery code once
(`used_at`). It is required for a login that is platform staff, and for every member of a
tenant whose admins turned `Tenant.require_two_factor` on. API tokens are not affected:
a token is a secret of its own, made by a member who signed in.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from uuid import UUID

import pyotp
import segno
from django.db import transaction
from django.utils import timezone

from helpdesk.accounts.errors import TwoFactorAlreadyOn, TwoFactorCodeInvalid, TwoFactorNotOn
from helpdesk.accounts.models import RecoveryCode, TwoFactorDevice, User
from helpdesk.core import crypto
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.models import AuditAction, Membership, Tenant
from helpdesk.tenancy.permissions import Capability

# In the session: whether this session passed (or set up) a second factor.
SESSION_VERIFIED = "two_factor_verified"
# In the session: the secret being set up, until a code confirms it.
SESSION_NEW_SECRET = "two_factor_new_secret"  # noqa: S105  # a session key
RECOVERY_CODE_COUNT = 10
ISSUER = "Help desk"
# One step either side: a phone's clock a little off, or a code typed as it changed.
VALID_WINDOW = 1


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(*, user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_svg(uri: str) -> str:
    """The URI as an SVG QR code to put in the page as it is (no script, no style)."""
    svg: str = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#111", light="#fff", omitsize=True
    )
    return svg


def is_enrolled(user: User) -> bool:
    """Whether the login has a confirmed authenticator."""
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def is_required(*, user: User, tenant: Tenant | None) -> bool:
    """Platform staff always sign in with a second factor; a tenant's members when the
    tenant requires it."""
    return bool(user.is_staff or (tenant is not None and tenant.require_two_factor))


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=_hash(code)) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _audit(action: AuditAction, *, actor: Membership | None, user: User, **details: str) -> None:
    # The factor belongs to the login; the entry goes to the tenant whose host it was
    # changed on (none on the platform host).
    if actor is None:
        return
    audit.record_audit_event(
        action=action,
        actor=actor,
        target_type="member",
        target_id=user.pk,
        target_label=user.email,
        details=details,
    )


@transaction.atomic
def enable(*, user: User, secret: str, code: str, actor: Membership | None) -> list[str]:
    """Turn two-factor sign-in on with the secret the member scanned, once a code from
    their app matches it. Returns the ten recovery codes, which are never shown again.
    Raises TwoFactorCodeInvalid for a wrong code or a malformed secret, TwoFactorAlreadyOn
    when the login has a device already."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    if is_enrolled(user):
        raise TwoFactorAlreadyOn()
    try:
        totp = pyotp.TOTP(secret)
        now = timezone.now()
        matched = totp.verify(_digits(code), for_time=now, valid_window=VALID_WINDOW)
    except (ValueError, TypeError):  # a secret that is not base32
        matched = False
    if not matched:
        raise TwoFactorCodeInvalid()
    TwoFactorDevice.objects.filter(user=user).delete()
    TwoFactorDevice.objects.create(
        user=user,
        secret_encrypted=crypto.encrypt(secret),
        confirmed_at=now,
        last_step=totp.timecode(now),
    )
    codes = _new_recovery_codes(user)
    _audit(AuditAction.TWO_FACTOR_ENABLED, actor=actor, user=user)
    return codes


def _digits(code: str) -> str:
    """The code without spaces; typed with another script's digits (Arabic-Indic,
    full-width), in ASCII digits."""
    text = "".join(code.split())
    if text and all(character.isdecimal() for character in text):
        return "".join(str(unicodedata.decimal(character)) for character in text)
    return text


@transaction.atomic
def verify(*, user: User, code: str, actor: Membership | None = None) -> str:
    """Check a second factor at sign-in: a current TOTP code not used before, or an unused
    recovery code (then spent). Returns "totp" or "recovery_code". Raises
    TwoFactorCodeInvalid (the caller counts it like a wrong password) and TwoFactorNotOn."""
    device = TwoFactorDevice.objects.select_for_update().filter(user=user).first()
    if device is None or device.confirmed_at is None:
        raise TwoFactorNotOn()
    code = code.strip()[:64]
    digits = _digits(code)
    if digits.isascii() and digits.isdigit() and len(digits) == 6:
        try:
            totp = pyotp.TOTP(crypto.decrypt(device.secret_encrypted))
        except crypto.DecryptionFailed:
            raise TwoFactorCodeInvalid() from None
        now = timezone.now()
        current = totp.timecode(now)
        for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
            if step > device.last_step and secrets.compare_digest(totp.generate_otp(step), digits):
                device.last_step = step
                device.save(update_fields=["last_step", "updated_at"])
                return "totp"
        raise TwoFactorCodeInvalid()
    normalized = _normalize_recovery_code(code)
    spent = RecoveryCode.objects.filter(
        user=user, code_hash=_hash(normalized), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not spent:
        raise TwoFactorCodeInvalid()
    _audit(AuditAction.RECOVERY_CODE_USED, actor=actor, user=user)
    return "recovery_code"


def enrolled_user_ids(user_ids: list[UUID]) -> set[UUID]:
    """Which of these logins have a confirmed authenticator (the team page)."""
    return set(
        TwoFactorDevice.objects.filter(
            user_id__in=user_ids, confirmed_at__isnull=False
        ).values_list("user_id", flat=True)
    )


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the login has."""
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def regenerate_recovery_codes(*, user: User, actor: Membership | None) -> list[str]:
    """Ten new recovery codes; the old ones stop working. Raises TwoFactorNotOn."""
    if not is_enrolled(user):
        raise TwoFactorNotOn()
    codes = _new_recovery_codes(user)
    _audit(AuditAction.TWO_FACTOR_ENABLED, actor=actor, user=user, recovery_codes="renewed")
    return codes


@transaction.atomic
def disable(*, user: User, actor: Membership | None) -> None:
    """The member turns their own second factor off (the view has checked their password).
    Raises TwoFactorNotOn."""
    if not is_enrolled(user):
        raise TwoFactorNotOn()
    TwoFactorDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    _audit(AuditAction.TWO_FACTOR_DISABLED, actor=actor, user=user)


@transaction.atomic
def reset_for_member(*, seat: Membership, actor: Membership | None) -> None:
    """An admin removes another member's second factor (a lost phone and no recovery code):
    they sign in with their password next and, where it is required, set up a new one.
    Admins only (PermissionDenied); not for platform staff logins, whose factor only they
    change. Raises TwoFactorNotOn."""
    permissions.require(actor, Capability.MANAGE_TEAM)
    user = seat.user
    if user.is_staff or not is_enrolled(user):
        raise TwoFactorNotOn()
    TwoFactorDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    _audit(AuditAction.TWO_FACTOR_RESET, actor=actor, user=user)
