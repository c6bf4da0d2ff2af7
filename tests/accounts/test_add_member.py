"""`manage.py add_member SLUG EMAIL --role R [--password P] [--name N]`: scripted
onboarding. It creates the login when new, seats it active with the role, prints the member
id alone, sends no mail, and says clearly what is wrong otherwise."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from helpdesk.accounts import services
from helpdesk.accounts.models import User
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership
from tests.conftest import PASSWORD, TenantSetup, subprocess_environment

ROOT = Path(__file__).resolve().parents[2]


def _add(*args: str) -> str:
    out = io.StringIO()
    call_command("add_member", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_new_person_gets_a_login_and_a_seat(acme: TenantSetup) -> None:
    out = _add(
        "acme",
        "Nina@Example.test",
        "--role",
        "agent",
        "--password",
        "s3cret-pass",
        "--name",
        "Nina",
    )
    member_id = out.strip()
    assert out == f"{member_id}\n"
    seat = Membership.objects.select_related("user").get(id=member_id)
    assert (seat.tenant_id, seat.role, seat.is_active) == (acme.id, "agent", True)
    assert (seat.user.email, seat.user.name) == ("nina@example.test", "Nina")
    assert seat.user.check_password("s3cret-pass")
    assert mail.outbox == []
    client = acme.client()
    login = client.post(
        "/accounts/login/", {"email": "nina@example.test", "password": "s3cret-pass"}
    )
    assert login.status_code == 302


def test_an_existing_login_is_seated_as_it_is(acme: TenantSetup, globex: TenantSetup) -> None:
    out = _add("acme", "admin@globex.test", "--role", "light_agent", "--password", "other-one")
    seat = Membership.objects.get(id=out.strip())
    assert (seat.user_id, seat.role) == (globex.admin.user_id, "light_agent")
    user = User.objects.get(id=globex.admin.user_id)
    assert user.check_password(PASSWORD)  # an existing password is never changed
    # Run again with another role: the same seat, the role updated.
    again = _add("acme", "ADMIN@globex.test", "--role", "admin")
    assert again.strip() == str(seat.id)
    assert Membership.objects.get(id=seat.id).role == "admin"


def test_an_inactive_seat_is_reactivated(acme: TenantSetup) -> None:
    seat_id = _add("acme", "ben@example.test", "--role", "agent").strip()
    seat = Membership.objects.get(id=seat_id)
    with tenant_context(acme.id):
        services.change_member(membership=seat, actor=acme.admin, is_active=False)
    assert _add("acme", "ben@example.test", "--role", "admin").strip() == seat_id
    seat.refresh_from_db()
    assert (seat.is_active, seat.role) == (True, "admin")
    assert not seat.user.has_usable_password()  # no --password: a reset sets one


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nowhere", "a@example.test", "--role", "agent"), "no tenant 'nowhere'"),
        (("acme", "not-an-address", "--role", "agent"), "'not-an-address' is not a valid email"),
        (("acme", "a@example.test", "--role", "boss"), "invalid choice: 'boss'"),
        (("acme", "a@example.test"), "the following arguments are required: --role"),
        (("acme", "a@example.test", "--role", "agent", "--password", ""), "may not be empty"),
    ],
)
def test_bad_input_is_a_clear_error(acme: TenantSetup, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        _add(*args)
    assert not User.objects.filter(email__iexact="a@example.test").exists()
    assert not User.objects.filter(email="not-an-address").exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_and_prints_only_the_id(acme: TenantSetup) -> None:
    command = [sys.executable, "manage.py", "add_member", "acme", "zoe@example.test"]
    env = subprocess_environment()
    ok = subprocess.run(
        [*command, "--role", "agent"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert Membership.objects.filter(id=ok.stdout.strip(), tenant=acme.tenant).exists()
    assert ok.stdout.count("\n") == 1
    bad = subprocess.run(
        [*command, "--role", "owner"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert bad.stdout == ""
    assert "invalid choice: 'owner'" in bad.stderr
    unknown = subprocess.run(
        [sys.executable, "manage.py", "add_member", "nope", "zoe@example.test", "--role", "agent"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode != 0
    assert "no tenant 'nope'" in unknown.stderr
