"""Query helpers every app shares."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Value
from django.db.models.functions import Lower


def named(rows: QuerySet[Any], name: str) -> QuerySet[Any]:
    """Rows whose `name` equals `name` as the apps' unique indexes on Lower("name") compare:
    lower() in PostgreSQL, which differs from Python's str.lower() and from iexact's upper()
    for some letters (the Kelvin sign, ß)."""
    matching: QuerySet[Any] = rows.alias(name_key=Lower("name")).filter(name_key=Lower(Value(name)))
    return matching
