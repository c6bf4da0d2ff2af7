"""Login, logout, password reset, tenant switching, the member's API tokens, the team and
accepting an invitation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from helpdesk.accounts import handoff, selectors, services, sso, sso_page, two_factor
from helpdesk.accounts.activity import passive
from helpdesk.accounts.errors import (
    InvitationLinkInvalid,
    InvitationNotFound,
    LoginRequired,
    SsoSignInFailed,
    TwoFactorCodeInvalid,
    TwoFactorNotOn,
)
from helpdesk.accounts.forms import (
    InvitationLoginForm,
    InvitationSignupForm,
    InviteForm,
    LoginForm,
    TenantPasswordResetForm,
    normalize_login_email,
)
from helpdesk.accounts.models import ApiToken, User
from helpdesk.core import ratelimit
from helpdesk.core.errors import DomainError
from helpdesk.tenancy import audit, sessions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest, TenantHttpRequest, UserHttpRequest
from helpdesk.tenancy.models import AuditAction, Membership, MembershipRole
from helpdesk.tenancy.permissions import Capability


def _home(request: HttpRequest) -> str:
    return reverse("tickets:inbox") if getattr(request, "tenant", None) else "/"


def _log_in_to_seat(request: HttpRequest, membership: Membership, *, method: str) -> None:
    """Open a session on this tenant's host for the seat, in its current generation (a
    later deactivation ends it for good), and put the sign-in in the audit log."""
    login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
    sessions.remember_seat(request.session, membership)
    audit.record_audit_event(
        action=AuditAction.SIGN_IN_SUCCEEDED,
        actor=membership,
        target_type="member",
        target_id=membership.id,
        target_label=membership.user.email,
        details={"method": method},
    )


def _record_refused_sign_in(request: HttpRequest, email: str) -> None:
    """A wrong address or password on a tenant's host: kept in the audit log although the
    refused request's transaction rolls back (TenantMiddleware writes it after)."""
    if getattr(request, "tenant", None) is None:
        return
    audit.record_after_request(
        request,
        action=AuditAction.SIGN_IN_FAILED,
        actor=None,
        actor_email=email[:254],
        target_type="member",
        target_label=email[:300],
        details={"method": "password"},
    )


def _login_lockout(request: HttpRequest, email: str) -> int:
    """Seconds this login must wait: failed attempts for the address (any tenant) or from
    the client's IP are over their limit. 0 when it may try."""
    return max(
        ratelimit.retry_after("login_ip", ratelimit.client_ip(request)),
        ratelimit.retry_after("login_account", email) if email else 0,
    )


@contextmanager
def _password_attempt(request: HttpRequest, email: str) -> Iterator[int]:
    """The turn of one password check for the address: yields the seconds to wait (a
    lockout, or another check of the same address in flight), or 0 to go on. Inside the
    block the password is checked and a failure counted (`_count_failure`) before the next
    check of the address may start: read-then-count alone let a burst of parallel guesses
    all pass the lockout before any was counted."""
    if not email:  # the form refuses it; only the IP limit applies
        yield _login_lockout(request, email)
        return
    with ratelimit.one_at_a_time("login_account", email) as my_turn:
        yield _login_lockout(request, email) if my_turn else ratelimit.IN_FLIGHT_RETRY_SECONDS


def _count_failure(request: HttpRequest, email: str) -> None:
    ratelimit.hit("login_ip", ratelimit.client_ip(request))
    ratelimit.hit("login_account", email)


def _locked_out(request: HttpRequest, wait: int, *, reset_link: bool = False) -> HttpResponse:
    return ratelimit.too_many_requests(
        request,
        retry_after=wait,
        message="Too many failed logins for this account or from your network.",
        reset_link=reset_link,
    )


def login_view(request: HttpRequest) -> HttpResponse:
    """Email and password. Failed attempts are counted per address and per IP; past either
    limit the form is refused with a 429 for a while (a password reset still works, and
    ends the address's lockout). Successful logins are never counted."""
    if getattr(request, "membership", None) is not None:
        return redirect(_home(request))
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST":
        email = normalize_login_email(request.POST.get("email", ""))
        with _password_attempt(request, email) as wait:
            if wait:
                return _locked_out(request, wait, reset_link=True)
            valid = form.is_valid()
            if form.credentials_refused:
                _count_failure(request, email)
                _record_refused_sign_in(request, email)
        if valid:
            return _logged_in(request, form)
    return render(
        request,
        "accounts/login.html",
        {
            "form": form,
            "next": request.GET.get("next", ""),
            "sso": getattr(request, "tenant", None) is not None
            and sso.enabled_provider() is not None,
        },
        status=400 if request.method == "POST" else 200,
    )


def _logged_in(request: HttpRequest, form: LoginForm) -> HttpResponse:
    tenant = getattr(request, "tenant", None)
    user: User = form.user  # type: ignore[assignment]  # set by a valid form
    seat = None
    if tenant is not None:
        seat = tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user.pk)
        if seat is None:  # deactivated between the form's check and here
            raise Http404
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = _home(request)
    return _sign_in(request, user, seat=seat, method="password", target=target)


# The sign-in waiting for its second factor (or for one to be set up): the login, how it
# began, where it goes next and until when (a Unix time) the step may be finished.
TWO_FACTOR_PENDING = "two_factor_pending"
TWO_FACTOR_STEP_SECONDS = 600


def _sign_in(
    request: HttpRequest, user: User, *, seat: Membership | None, method: str, target: str
) -> HttpResponse:
    """Open the session now, or after the second factor: a login with an authenticator
    types a code (except on a tenant switch, whose session on the other host passed it);
    a login that must have one and does not sets it up first."""
    tenant = getattr(request, "tenant", None)
    enrolled = two_factor.is_enrolled(user)
    step = ""
    if enrolled and method != "tenant_switch":
        step = "verify"
    elif not enrolled and two_factor.is_required(user=user, tenant=tenant):
        step = "enrol"
    if not step:
        _complete_sign_in(request, user, seat=seat, method=method, verified=enrolled)
        return HttpResponseRedirect(target)
    request.session[TWO_FACTOR_PENDING] = {
        "user": str(user.pk),
        "method": method,
        "next": target,
        "step": step,
        "until": int(timezone.now().timestamp()) + TWO_FACTOR_STEP_SECONDS,
    }
    return redirect("accounts:two-factor-verify" if step == "verify" else "accounts:two-factor")


def _complete_sign_in(
    request: HttpRequest, user: User, *, seat: Membership | None, method: str, verified: bool
) -> None:
    if seat is not None:
        _log_in_to_seat(request, seat, method=method)
    else:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.pop(TWO_FACTOR_PENDING, None)
    request.session[two_factor.SESSION_VERIFIED] = verified
    handoff.remember_sign_in(request.session, method)


@passive  # leaving is not activity: it would bring the member back online
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    if membership is not None:
        services.record_logout(membership=membership)
    logout(request)
    return redirect("accounts:login")


@login_required
def switch_tenant(request: UserHttpRequest, slug: str) -> HttpResponse:
    """Go to another tenant of the same user, logged in there through a handoff token; to
    its login page when this session came from this tenant's single sign-on (see
    handoff.may_hand_over)."""
    membership = next(
        (m for m in selectors.list_user_memberships(request.user) if m.tenant.slug == slug), None
    )
    if membership is None:
        raise Http404
    base = tenancy_selectors.tenant_base_url(membership.tenant)
    if not handoff.may_hand_over(request.session):
        return HttpResponseRedirect(f"{base}{reverse('accounts:login')}")
    token = handoff.make_token(user_id=request.user.id, tenant_id=membership.tenant_id)
    return HttpResponseRedirect(f"{base}{reverse('accounts:handoff')}?token={token}")


def handoff_view(request: HttpRequest) -> HttpResponse:
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        raise Http404
    user_id = handoff.read_token(request.GET.get("token", ""), tenant_id=tenant.id)
    membership = (
        tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user_id) if user_id else None
    )
    if membership is None:
        messages.error(request, "That sign-in link has expired. Please log in.")
        return redirect("accounts:login")
    return _sign_in(
        request,
        membership.user,
        seat=membership,
        method="tenant_switch",
        target=reverse("tickets:inbox"),
    )


@login_required
def api_tokens(request: UserHttpRequest) -> HttpResponse:
    """The member's API tokens: create (the key is shown once) and revoke."""
    membership = request.membership
    if membership is None:
        raise Http404
    new_key = None
    if request.method == "POST":
        if request.POST.get("revoke"):
            token = (
                selectors.list_member_tokens(membership).filter(id=request.POST["revoke"]).first()
            )
            if token is None:
                raise Http404
            services.revoke_api_token(token=token)
            messages.success(request, f"Token {token.prefix}… revoked.")
        else:
            name = (request.POST.get("name") or "API token").strip()[:100]
            _, new_key = services.create_api_token(membership=membership, name=name)
    tokens: list[ApiToken] = list(selectors.list_member_tokens(membership))
    return render(request, "accounts/api_tokens.html", {"tokens": tokens, "new_key": new_key})


@passive  # a choice by hand: not activity, which could first make the member online
@member_required
@require_POST
def availability(request: MemberHttpRequest) -> HttpResponse:
    """The top bar's switch: the member sets their own availability (by hand). htmx gets
    the switch back; a plain post returns to the page it came from."""
    error = ""
    try:
        request.membership = services.set_availability(
            membership=request.membership,
            availability=request.POST.get("availability", ""),
            actor=request.membership,
        )
    except DomainError as refused:
        error = str(refused)
    if request.htmx:
        response = render(
            request,
            "accounts/availability_switch.html",
            {"availability_error": error, "availability_next": request.POST.get("next", "")},
            status=400 if error else 200,
        )
    else:
        if error:
            messages.error(request, error)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = _home(request)
        response = HttpResponseRedirect(target)
    response["Vary"] = "HX-Request"
    return response


@member_required(may=Capability.MANAGE_TEAM)
def team(request: MemberHttpRequest) -> HttpResponse:
    """The team: invite someone (a pending invitation until they accept), resend or revoke
    an invitation, change a member's role, deactivate or bring back a seat."""
    actor = request.membership
    action = request.POST.get("action", "")
    form = InviteForm(request.POST if action == "invite" else None)
    if request.method == "POST":
        try:
            if action == "invite":
                if form.is_valid():
                    invited = services.invite_member(
                        tenant=request.tenant,
                        actor=actor,
                        **form.cleaned_data,
                    )
                    messages.success(
                        request, f"{invited.email} is invited; an email is on its way."
                    )
                    return redirect("accounts:team")
            elif action in {"resend", "revoke"}:
                try:
                    invitation = selectors.get_invitation(request.POST.get("invitation", ""))
                except InvitationNotFound:
                    raise Http404 from None
                if action == "resend":
                    services.resend_invitation(invitation=invitation, actor=actor)
                    messages.success(request, f"Invitation to {invitation.email} sent again.")
                else:
                    services.revoke_invitation(invitation=invitation, actor=actor)
                    messages.success(request, f"Invitation to {invitation.email} revoked.")
                return redirect("accounts:team")
            elif action == "security":
                required = request.POST.get("require_two_factor") == "on"
                tenancy_services.set_two_factor_requirement(
                    tenant=request.tenant, actor=actor, required=required
                )
                messages.success(
                    request,
                    "Two-factor sign-in is required for every member: anyone without it sets"
                    " it up before their next page."
                    if required
                    else "Two-factor sign-in is up to each member.",
                )
                return redirect("accounts:team")
            elif action == "reset_two_factor":
                seat = selectors.get_seat(request.POST.get("member", ""))
                two_factor.reset_for_member(seat=seat, actor=actor)
                messages.success(
                    request, f"{seat.user.display_name}: two-factor sign-in was reset."
                )
                return redirect("accounts:team")
            else:
                seat = selectors.get_seat(request.POST.get("member", ""))
                active = {"deactivate": False, "activate": True}.get(action)
                services.change_member(
                    membership=seat,
                    actor=actor,
                    role=request.POST.get("role") or None,
                    is_active=active,
                )
                messages.success(request, f"{seat.user.display_name}: saved.")
                return redirect("accounts:team")
        except (DomainError, ValidationError) as error:
            if form.is_bound:
                form.add_error("email", str(error))
            else:
                messages.error(request, str(error))
                return redirect("accounts:team")
    now = timezone.now()
    invitations = [
        (invitation, invitation.is_expired(now))
        for invitation in selectors.list_pending_invitations()
    ]
    seats = list(selectors.list_team())
    return render(
        request,
        "accounts/team.html",
        {
            "form": form,
            "seats": seats,
            "two_factor_on": two_factor.enrolled_user_ids([seat.user_id for seat in seats]),
            "invitations": invitations,
            "roles": MembershipRole.choices,
        },
        status=400 if form.errors else 200,
    )


def invitation_accept(request: TenantHttpRequest, token: str) -> HttpResponse:
    """The link of an invitation email: someone new chooses a password; an address with a
    login proves it with that password. Either way they are then seated and logged in."""
    if getattr(request, "tenant", None) is None:
        raise Http404
    invitation = selectors.find_invitation_for_token(token)
    if invitation is None:
        return _invitation_invalid(request)
    user = selectors.users_with_email(invitation.email).first()
    needs_login = user is not None and (user.has_usable_password() or not user.is_active)
    data = request.POST if request.method == "POST" else None
    form: InvitationLoginForm | InvitationSignupForm = (
        InvitationLoginForm(request, invitation, data=data)
        if needs_login
        else InvitationSignupForm(invitation, data=data, initial={"name": invitation.name})
    )
    valid = False
    if data is not None and needs_login:
        # The password of an existing login is checked here too: the login form's limits.
        with _password_attempt(request, invitation.email) as wait:
            if wait:
                return _locked_out(request, wait)
            valid = form.is_valid()
            if isinstance(form, InvitationLoginForm) and form.credentials_refused:
                _count_failure(request, invitation.email)
    elif data is not None:
        valid = form.is_valid()
    if valid:
        try:
            if isinstance(form, InvitationLoginForm):
                seat = services.accept_invitation_with_login(
                    invitation=invitation,
                    user=form.user,  # type: ignore[arg-type]  # set by a valid form
                )
            else:
                seat = services.accept_invitation_as_new(
                    invitation=invitation,
                    name=form.cleaned_data["name"],
                    password=form.cleaned_data["password1"],
                )
        except InvitationLinkInvalid:
            return _invitation_invalid(request)
        except LoginRequired as error:  # a login was made for the address meanwhile
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"Welcome to the {request.tenant.name} help desk.",
            )
            return _sign_in(
                request,
                seat.user,
                seat=seat,
                method="invitation",
                target=reverse("tickets:inbox"),
            )
    return render(
        request,
        "accounts/invitation_accept.html",
        {"invitation": invitation, "form": form, "needs_login": needs_login},
        status=400 if form.errors else 200,
    )


def _invitation_invalid(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/invitation_accept.html",
        {"invitation": None, "message": InvitationLinkInvalid.message},
        status=404,
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    """The member's own password, with the current one. Django keeps this session
    (update_session_auth_hash) and every other session of the login, in every tenant, ends:
    they carry the old password's hash."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password-change")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The current password is checked like a login's (it would otherwise be a way to
        guess it without limit from a stolen session): under the same per-address and
        per-IP limits, a wrong one counted."""
        email = normalize_login_email(request.user.email)  # type: ignore[union-attr]  # logged in
        with _password_attempt(request, email) as wait:
            if wait:
                return _locked_out(request, wait)
            form = self.get_form()
            if form.is_valid():
                return self.form_valid(form)
            if form.has_error("old_password", "password_incorrect"):
                _count_failure(request, email)
        return self.form_invalid(form)

    def form_invalid(self, form: PasswordChangeForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Password changed. Your other sessions are logged out.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset.subject.txt"
    form_class = TenantPasswordResetForm
    success_url = reverse_lazy("accounts:password-reset-done")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "tenant": getattr(self.request, "tenant", None)}

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        """Counted per address (whether or not it has a login, so the 429 tells nothing)
        and per IP; past either limit no mail is sent and the answer is a 429."""
        wait = max(
            ratelimit.hit("password_reset_ip", ratelimit.client_ip(self.request)),
            ratelimit.hit(
                "password_reset_address", normalize_login_email(form.cleaned_data["email"])
            ),
        )
        if wait:
            return ratelimit.too_many_requests(
                self.request,
                retry_after=wait,
                message="Too many password resets for this address or from your network.",
            )
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def get_user(self, uidb64: str) -> User | None:
        user = super().get_user(uidb64)
        tenant = getattr(self.request, "tenant", None)
        if (
            user is not None
            and tenant is not None
            and tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user.pk) is None
        ):
            return None
        return user

    def form_valid(self, form: SetPasswordForm[User]) -> HttpResponse:
        # The new password ends a login lockout of the address: the person proved they
        # read its mail, and should not wait out a window an attacker keeps full.
        response = super().form_valid(form)
        ratelimit.clear("login_account", normalize_login_email(form.user.email))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Two-factor sign-in ---------------------------------------------------------------------


def _pending_sign_in(request: HttpRequest, step: str) -> tuple[User, dict[str, Any]] | None:
    """The login waiting for this step of its sign-in, if the step has not expired."""
    pending = request.session.get(TWO_FACTOR_PENDING)
    if not isinstance(pending, dict) or pending.get("step") != step:
        return None
    if int(pending.get("until", 0)) < timezone.now().timestamp():
        request.session.pop(TWO_FACTOR_PENDING, None)
        return None
    user = selectors.find_user(str(pending.get("user", "")))
    if user is None or not user.is_active:
        return None
    return user, pending


def _finish_pending(
    request: HttpRequest, user: User, pending: dict[str, Any], *, method: str
) -> HttpResponse | None:
    """Open the session the pending sign-in asked for; None when the seat is gone."""
    tenant = getattr(request, "tenant", None)
    seat = None
    if tenant is not None:
        seat = tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user.pk)
        if seat is None:
            request.session.pop(TWO_FACTOR_PENDING, None)
            return None
    elif not user.is_staff:
        return None
    _complete_sign_in(request, user, seat=seat, method=method, verified=True)
    return None


def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of a sign-in: a code from the authenticator app, or a recovery
    code. Wrong codes count against the same per-address and per-IP limits as wrong
    passwords, and each is in the audit log."""
    found = _pending_sign_in(request, "verify")
    if found is None:
        messages.error(request, "Please log in again.")
        return redirect("accounts:login")
    user, pending = found
    error = ""
    if request.method == "POST":
        email = normalize_login_email(user.email)
        with _password_attempt(request, email) as wait:
            if wait:
                return _locked_out(request, wait, reset_link=True)
            code = request.POST.get("code", "")
            try:
                if not code.strip():
                    raise TwoFactorCodeInvalid()
                tenant = getattr(request, "tenant", None)
                seat = (
                    tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user.pk)
                    if tenant is not None
                    else None
                )
                kind = two_factor.verify(user=user, code=code, actor=seat)
            except (TwoFactorCodeInvalid, TwoFactorNotOn):
                _count_failure(request, email)
                if getattr(request, "tenant", None) is not None:
                    audit.record_after_request(
                        request,
                        action=AuditAction.SIGN_IN_FAILED,
                        actor=None,
                        actor_email=email[:254],
                        target_type="member",
                        target_label=email[:300],
                        details={"method": f"{pending['method']}+second_factor"},
                    )
                error = TwoFactorCodeInvalid.message
            else:
                method = f"{pending['method']}+{kind}"
                target = str(pending.get("next") or _home(request))
                _finish_pending(request, user, pending, method=method)
                if not request.user.is_authenticated:
                    messages.error(request, "Please log in again.")
                    return redirect("accounts:login")
                if kind == "recovery_code":
                    left = two_factor.recovery_codes_left(user)
                    messages.warning(
                        request,
                        f"You signed in with a recovery code; {left} left. Make new ones"
                        " on the two-factor page if you are running short.",
                    )
                return HttpResponseRedirect(target)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"error": error},
        status=400 if error else 200,
    )


def _two_factor_user(request: HttpRequest) -> tuple[User | None, dict[str, Any] | None]:
    """Whose factor the page is about: the signed-in login, or the one whose sign-in is
    waiting to set one up."""
    if request.user.is_authenticated:
        if getattr(request, "tenant", None) is not None and not getattr(
            request, "membership", None
        ):
            return None, None
        return request.user, None
    found = _pending_sign_in(request, "enrol")
    return (found[0], found[1]) if found else (None, None)


def two_factor_page(request: HttpRequest) -> HttpResponse:
    """The member's second factor: set it up (QR code and secret, confirmed by a code;
    the ten recovery codes shown once), make new recovery codes or turn it off (with the
    password). A sign-in that must have one and has not lands here before its session
    opens."""
    user, pending = _two_factor_user(request)
    if user is None:
        return redirect("accounts:login")
    membership = getattr(request, "membership", None)
    enrolled = two_factor.is_enrolled(user)
    if enrolled and pending is None and not request.session.get(two_factor.SESSION_VERIFIED):
        required = two_factor.is_required(user=user, tenant=getattr(request, "tenant", None))
        if required:
            # A session opened before the factor was set up elsewhere: sign in with it.
            logout(request)
            messages.info(request, "Please log in again with your authentication code.")
            return redirect("accounts:login")
    context: dict[str, Any] = {
        "enrolled": enrolled,
        "pending": pending is not None,
        "required": two_factor.is_required(user=user, tenant=getattr(request, "tenant", None)),
    }
    status = 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action == "enable" and not enrolled:
        secret = str(request.session.get(two_factor.SESSION_NEW_SECRET) or "")
        try:
            codes = two_factor.enable(
                user=user, secret=secret, code=request.POST.get("code", ""), actor=membership
            )
        except DomainError as refused:
            context["error"] = str(refused)
            status = 400
        else:
            request.session.pop(two_factor.SESSION_NEW_SECRET, None)
            next_url = reverse("accounts:two-factor")
            if pending is not None:
                next_url = str(pending.get("next") or _home(request))
                _finish_pending(request, user, pending, method=f"{pending['method']}+enrolment")
                if not request.user.is_authenticated:
                    return redirect("accounts:login")
            request.session[two_factor.SESSION_VERIFIED] = True
            return render(
                request,
                "accounts/two_factor_codes.html",
                {"codes": codes, "next_url": next_url, "first": True},
            )
    elif action in {"disable", "new_codes"} and enrolled and pending is None:
        email = normalize_login_email(user.email)
        with _password_attempt(request, email) as wait:
            if wait:
                return _locked_out(request, wait)
            if not user.check_password(request.POST.get("password", "")):
                _count_failure(request, email)
                context["password_error"] = "That password is incorrect."  # noqa: S105
                status = 400
        if status == 200:
            if action == "new_codes":
                codes = two_factor.regenerate_recovery_codes(user=user, actor=membership)
                return render(
                    request,
                    "accounts/two_factor_codes.html",
                    {"codes": codes, "next_url": reverse("accounts:two-factor"), "first": False},
                )
            two_factor.disable(user=user, actor=membership)
            request.session[two_factor.SESSION_VERIFIED] = False
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("accounts:two-factor")
    elif request.method == "POST":
        context["error"] = "Nothing to do: reload the page."
        status = 400
    enrolled = two_factor.is_enrolled(user)
    context["enrolled"] = enrolled
    if enrolled:
        context["codes_left"] = two_factor.recovery_codes_left(user)
    else:
        secret = str(request.session.get(two_factor.SESSION_NEW_SECRET) or "")
        if not secret:
            secret = two_factor.new_secret()
            request.session[two_factor.SESSION_NEW_SECRET] = secret
        uri = two_factor.provisioning_uri(user=user, secret=secret)
        context["secret"] = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        context["qr_svg"] = mark_safe(two_factor.qr_code_svg(uri))  # noqa: S308  # segno's SVG
    return render(request, "accounts/two_factor.html", context, status=status)


# --- Single sign-on -------------------------------------------------------------------------

SSO_PENDING = "sso_pending"


def _sso_redirect_uri(request: HttpRequest) -> str:
    return sso_page.callback_url(request)  # the one the settings page shows


def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the tenant's OpenID Connect provider (state, nonce and a PKCE
    verifier kept in the session). Counted per IP like a login."""
    tenant = getattr(request, "tenant", None)
    provider = sso.enabled_provider() if tenant is not None else None
    if provider is None:
        raise Http404
    wait = ratelimit.retry_after("login_ip", ratelimit.client_ip(request))
    if wait:
        return _locked_out(request, wait)
    try:
        url, pending = sso.authorization_request(
            provider=provider, redirect_uri=_sso_redirect_uri(request)
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("accounts:login")
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = _home(request)
    request.session[SSO_PENDING] = {**pending, "next": target}
    return HttpResponseRedirect(url)


def sso_callback(request: HttpRequest) -> HttpResponse:
    """The provider sends the browser back with a code: checked against the state, the ID
    token verified, the seat found (or made, for an allowed domain), then the same
    sign-in as a password's (a second factor when the login has one)."""
    tenant = getattr(request, "tenant", None)
    provider = sso.enabled_provider() if tenant is not None else None
    pending = request.session.pop(SSO_PENDING, None)
    if provider is None:
        raise Http404
    state = request.GET.get("state", "")
    code = request.GET.get("code", "")
    if (
        not isinstance(pending, dict)
        or not state
        or not code
        or not constant_time_compare(state, str(pending.get("state", "")))
    ):
        messages.error(request, SsoSignInFailed.message)
        return redirect("accounts:login")
    try:
        email = sso.verified_email(
            provider=provider,
            code=code[:2000],
            redirect_uri=_sso_redirect_uri(request),
            pending=pending,
        )
        seat = sso.seat_for_sso(provider=provider, email=email)
    except DomainError as error:
        ratelimit.hit("login_ip", ratelimit.client_ip(request))
        audit.record_after_request(
            request,
            action=AuditAction.SIGN_IN_FAILED,
            actor=None,
            target_type="member",
            details={"method": "oidc"},
        )
        messages.error(request, str(error))
        return redirect("accounts:login")
    return _sign_in(
        request,
        seat.user,
        seat=seat,
        method="oidc",
        target=str(pending.get("next") or "") or _home(request),
    )
