"""Team mail: the invitation, sent after the seat is committed."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from helpdesk.core.tasks import tenant_task
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership


@tenant_task(queue="email")
def send_invitation(*, tenant_id: str, membership_id: str, inviter: str) -> None:
    tenant = tenancy_selectors.get_tenant(tenant_id)
    membership = (
        Membership.objects.in_current_tenant()
        .select_related("user")
        .filter(id=UUID(membership_id), is_active=True)
        .first()
    )
    if membership is None:  # deactivated again before the mail went out
        return
    user = membership.user
    body = render_to_string(
        "emails/invitation.txt",
        {
            "name": user.name,
            "email": user.email,
            "inviter": inviter,
            "tenant": tenant.name,
            "role": membership.get_role_display().lower(),
            "base_url": tenancy_selectors.tenant_base_url(tenant),
            "has_password": user.has_usable_password(),
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    EmailMessage(
        subject=f"{inviter} added you to the {tenant.name} help desk",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    ).send()
