"""Database aliases: `default` (helpdesk_app), `owner` (migrations), `ops` (cross-tenant reads)."""

from __future__ import annotations

from typing import Any


class HelpdeskRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return None

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # One physical database; migrations run through `owner` (or `default` in tests, whose
        # login is the owner). `ops` never migrates.
        return db != "ops"
