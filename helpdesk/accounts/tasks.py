"""Team mail: the invitation, sent after it is committed (and again on each resend)."""

from __future__ import annotations

from uuid import UUID

from django.urls import reverse

from helpdesk.accounts import selectors
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmailKind
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import MembershipRole
from helpdesk.tenancy.tasks import tenant_task


@tenant_task(queue="email")
def send_invitation(*, tenant_id: str, invitation_id: str, inviter: str) -> None:
    """Mail the accept link of a pending invitation. The same text whether or not the
    address has a login: the link's page asks for what is needed. Revoked or accepted
    before the mail went out: nothing is sent. A resend before this ran: the newest link
    goes out (the row holds the current nonce)."""
    tenant = tenancy_selectors.get_tenant(tenant_id)
    invitation = selectors.list_pending_invitations().filter(id=UUID(invitation_id)).first()
    if invitation is None:
        return
    link = reverse("accounts:invitation-accept", args=[selectors.invitation_token(invitation)])
    # One email per link: a redelivered task finds it queued already; a resend (a new
    # nonce) is a new email.
    email = mail.build(
        kind=OutboundEmailKind.INVITATION,
        key=f"invitation:{invitation.id}:{invitation.nonce}",
        template="invitation",
        context={
            "name": invitation.name,
            "email": invitation.email,
            "inviter": inviter,
            "tenant": tenant.name,
            "role": MembershipRole(invitation.role).label.lower(),
            "accept_url": tenancy_selectors.tenant_base_url(tenant) + link,
            "expires_at": invitation.expires_at,
        },
        to=[invitation.email],
        automatic="auto-generated",
    )
    mail.queue_email(email)
