"""Privileges of the runtime roles on every table, granted after each migrate."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections


def grant_runtime_privileges(*, using: str = "default", **kwargs: Any) -> None:
    """Give helpdesk_app read/write and helpdesk_ops read on all tables and sequences.

    Idempotent. RLS still decides which rows each role sees; these grants only make the
    tables reachable at all.
    """
    roles = settings.HELPDESK_DB_ROLES
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user")
        (current_user,) = cursor.fetchone()
        if current_user in {roles["app"], roles["ops"]}:
            return
        app, ops = roles["app"], roles["ops"]
        cursor.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app}"; '
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app}"; '
            f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{ops}"'
        )
