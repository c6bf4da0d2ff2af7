"""Tenant isolation on every path: ORM, raw SQL, composite FKs, tasks, cross-tenant reads."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.utils import DatabaseError
from psycopg import pq

from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import execute_in_tenant, tenant_context
from helpdesk.tenancy.errors import CrossTenantWrite, NoTenantError, TenantSwitchError
from helpdesk.tenancy.managers import cross_tenant
from tests.conftest import TenantSetup, make_tenant
from tests.factories.tickets import make_ticket
from tickets.mail_in import intake
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail, Ticket


def _tickets_in(setup: TenantSetup) -> list[Ticket]:
    with tenant_context(setup.id):
        return [
            make_ticket(subject=f"{setup.tenant.slug} one"),
            make_ticket(subject=f"{setup.tenant.slug} two"),
        ]


def _raw_subjects() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT subject FROM tickets_ticket ORDER BY subject")
        return [row[0] for row in cursor.fetchall()]


def test_scoped_manager_raises_without_a_tenant(acme: TenantSetup) -> None:
    with pytest.raises(NoTenantError):
        list(Ticket.objects.all())


def test_orm_sees_only_the_current_tenants_rows(acme: TenantSetup, globex: TenantSetup) -> None:
    _tickets_in(acme)
    _tickets_in(globex)
    with tenant_context(acme.id):
        assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["acme one", "acme two"]
    with tenant_context(globex.id):
        assert Ticket.objects.count() == 2
        assert not Ticket.objects.filter(subject__startswith="acme").exists()


def test_raw_sql_with_no_tenant_returns_no_rows(acme: TenantSetup, globex: TenantSetup) -> None:
    _tickets_in(acme)
    _tickets_in(globex)
    with transaction.atomic():
        assert _raw_subjects() == []


def test_raw_sql_in_a_tenant_returns_only_its_rows(acme: TenantSetup, globex: TenantSetup) -> None:
    _tickets_in(acme)
    _tickets_in(globex)
    with tenant_context(globex.id):
        assert _raw_subjects() == ["globex one", "globex two"]


def test_runtime_role_is_neither_superuser_nor_bypassrls(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, is_super, bypasses = cursor.fetchone()
    assert user == settings.HELPDESK_DB_ROLES["app"]
    assert settings.DATABASES["owner"]["USER"] != user
    assert (is_super, bypasses) == (False, False)


def test_raw_insert_for_another_tenant_is_refused_by_the_policy(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    _tickets_in(acme)
    insert = (
        "INSERT INTO tickets_tag (id, tenant_id, name, created_at, updated_at)"
        " VALUES (%s, %s, 'sneaky', now(), now())"
    )
    with (
        tenant_context(acme.id),
        pytest.raises(DatabaseError, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(insert, [new_id(), globex.id])


def test_raw_update_cannot_reach_another_tenants_rows(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    _tickets_in(globex)
    with tenant_context(acme.id), connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET subject = 'hijacked'")
        assert cursor.rowcount == 0
    with tenant_context(globex.id):
        assert not Ticket.objects.filter(subject="hijacked").exists()


def test_saving_a_row_of_another_tenant_raises(acme: TenantSetup, globex: TenantSetup) -> None:
    [ticket, _] = _tickets_in(globex)
    ticket.subject = "moved"
    with tenant_context(acme.id), pytest.raises(CrossTenantWrite):
        ticket.save()


def test_composite_foreign_key_refuses_cross_tenant_references(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """RLS does not apply to FK checks; the (tenant_id, ticket_id) key does."""
    [foreign_ticket, _] = _tickets_in(globex)
    insert = (
        "INSERT INTO tickets_message (id, tenant_id, ticket_id, kind, body_text,"
        " body_html, event, email_message_id, created_at, updated_at)"
        " VALUES (%s, %s, %s, 'note', 'x', '', '{}', '', now(), now())"
    )
    with (  # noqa: PT012 - the insert is deferred; the check fires at SET CONSTRAINTS
        tenant_context(acme.id),
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(insert, [new_id(), acme.id, foreign_ticket.id])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_ticket_cannot_be_assigned_to_another_tenants_member(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """Memberships are global (no RLS), but a tenant row's reference to one is keyed by
    (tenant_id, membership_id): a member of Globex cannot be an Acme ticket's assignee."""
    [ticket, _] = _tickets_in(acme)
    with (  # noqa: PT012 - the update is deferred; the check fires at SET CONSTRAINTS
        tenant_context(acme.id),
        pytest.raises(IntegrityError, match="tickets_ticket_assignee_tenant_fk"),
        transaction.atomic(),
    ):
        Ticket.objects.filter(id=ticket.id).update(assignee_id=globex.admin.id)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with tenant_context(acme.id):
        Ticket.objects.filter(id=ticket.id).update(assignee_id=acme.admin.id)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # its own member: accepted


def test_entering_another_tenant_inside_a_tenant_raises(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id), pytest.raises(TenantSwitchError), tenant_context(globex.id):
        pass


def test_context_is_cleared_after_the_block(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        pass
    with pytest.raises(NoTenantError):
        Ticket.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_task_runs_in_its_tenant_and_cannot_reach_another(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    raw = b"From: a@example.test\r\nTo: support@acme.localhost\r\nSubject: hi\r\n\r\nbody\r\n"
    address = intake.find_inbound_address(acme.mailbox.address)
    assert address is not None
    accepted = intake.store_inbound_email(
        raw=raw,
        recipient=address,
        envelope_from="",
        envelope_to=[acme.mailbox.address],
        channel="test",
    )
    with pytest.raises(InboundEmail.DoesNotExist):
        mail_in_tasks.process_inbound_email.apply(
            kwargs={"tenant_id": str(globex.id), "email_id": accepted.email_id}, throw=True
        )
    with tenant_context(acme.id):
        assert InboundEmail.objects.get(id=accepted.email_id).status == "queued"


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_cross_tenant_reads_need_a_reason_and_use_the_ops_role() -> None:
    from tests.conftest import make_tenant

    acme, globex = make_tenant("acme", "Acme"), make_tenant("globex", "Globex")
    _tickets_in(acme)
    _tickets_in(globex)
    with pytest.raises(RuntimeError, match="cross_tenant"):
        list(Ticket.all_tenants.all())
    with cross_tenant(reason="test: count every tenant's tickets"):
        assert Ticket.all_tenants.count() == 4
    with tenant_context(acme.id), cross_tenant(reason="nested"), pytest.raises(RuntimeError):
        Ticket.all_tenants.count()


def test_unknown_column_errors_are_not_swallowed(tenant: TenantSetup) -> None:
    with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM tickets_ticket")


def test_tenant_command_works_inside_its_tenant_only(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    import io

    from django.core.management import CommandError, call_command

    with tenant_context(acme.id):
        make_ticket(subject="Acme one")
    with tenant_context(globex.id):
        make_ticket(subject="Globex one")
        make_ticket(subject="Globex two")
    out = io.StringIO()
    call_command("rebuild_search_index", "--tenant", "globex", stdout=out)
    assert out.getvalue().strip() == "reindexed 2 tickets of globex"
    with pytest.raises(CommandError, match="no tenant"):
        call_command("rebuild_search_index", "--tenant", "nope", stdout=out)


# --- execute_in_tenant: one statement, its own transaction, one round trip ----------------

_SUBJECTS = "SELECT subject FROM tickets_ticket WHERE tenant_id = %s ORDER BY subject"


def test_one_statement_as_a_tenant_sees_only_that_tenant_and_leaves_no_setting(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    _tickets_in(acme)
    _tickets_in(globex)
    rows = execute_in_tenant(acme.id, "SELECT subject FROM tickets_ticket ORDER BY subject", [])
    assert rows == [("acme one",), ("acme two",)]  # RLS: globex's rows are not there
    assert execute_in_tenant(acme.id, _SUBJECTS, [str(globex.id)]) == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchone()[0] in ("", None)
    assert _raw_subjects() == []


def test_one_statement_as_a_tenant_inside_its_context_or_another(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    _tickets_in(acme)
    with tenant_context(acme.id):
        assert len(execute_in_tenant(acme.id, _SUBJECTS, [str(acme.id)])) == 2
        with pytest.raises(TenantSwitchError):
            execute_in_tenant(globex.id, _SUBJECTS, [str(globex.id)])


@pytest.mark.django_db(transaction=True)
def test_one_statement_as_a_tenant_commits_alone_or_not_at_all() -> None:
    """Outside any transaction, as the outbox's delivery runs it: the statement is committed
    when it returns, a failing one leaves nothing, and the setting ends with it."""
    acme = make_tenant("acme", "Acme")
    _tickets_in(acme)
    renamed = execute_in_tenant(
        acme.id,
        "UPDATE tickets_ticket SET subject = subject || '!' WHERE tenant_id = %s RETURNING id",
        [str(acme.id)],
    )
    assert len(renamed) == 2
    assert not connection.in_atomic_block
    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE
    with pytest.raises(DatabaseError):
        execute_in_tenant(
            acme.id,
            "WITH changed AS (UPDATE tickets_ticket SET subject = 'lost' WHERE tenant_id = %s"
            " RETURNING 1) SELECT 1 / 0 FROM changed",
            [str(acme.id)],
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchone()[0] in ("", None)
    assert _raw_subjects() == []
    with tenant_context(acme.id):
        assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
            "acme one!",
            "acme two!",
        ]
