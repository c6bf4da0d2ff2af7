"""helpdesk.core.queries.insert_rows: many rows in one statement, every column the caller
leaves out at the model's default, under the tenant's row-level security."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.core.queries import insert_rows
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import Message, MessageKind


def test_rows_get_their_values_and_the_models_defaults(tenant: TenantSetup) -> None:
    first, second = make_ticket(), make_ticket()
    ids = [new_id(), new_id()]
    now = timezone.now()
    inserted = insert_rows(
        Message,
        {
            "id": [str(i) for i in ids],
            "ticket_id": [str(first.id), str(second.id)],
            "event": [json.dumps({"field": "x", "to": n}) for n in (1, 2)],
        },
        {"tenant_id": tenant.id, "kind": MessageKind.EVENT, "created_at": now, "updated_at": now},
    )
    assert inserted == 2
    rows = {m.id: m for m in Message.objects.filter(id__in=ids)}
    assert (rows[ids[0]].ticket_id, rows[ids[1]].event) == (first.id, {"field": "x", "to": 2})
    stored = rows[ids[0]]
    assert (stored.body_text, stored.email_cc, stored.is_automatic, stored.author_member_id) == (
        "",
        [],
        False,
        None,
    )
    assert stored.created_at == now
    assert insert_rows(Message, {"id": []}, {}) == 0


def test_varying_columns_of_different_lengths_are_refused(tenant: TenantSetup) -> None:
    with pytest.raises(ValueError, match="one value per row"):
        insert_rows(Message, {"id": [str(new_id())], "ticket_id": []}, {})
