"""The workspace benchmark reuses its cached million-ticket database across migrations."""

from __future__ import annotations

from bench.workspace import migrations_fingerprint, migrations_only_added


def test_a_cache_from_the_current_migrations_can_be_migrated_forward() -> None:
    assert migrations_only_added(migrations_fingerprint()["latest"])


def test_a_cache_with_a_migration_the_code_no_longer_has_is_loaded_again() -> None:
    latest = dict(migrations_fingerprint()["latest"])
    latest["tickets"] = "9999_a_migration_that_was_squashed_away"
    assert not migrations_only_added(latest)
    assert not migrations_only_added({})


def test_an_older_cache_continues_into_the_current_graph() -> None:
    latest = dict(migrations_fingerprint()["latest"])
    latest["tickets"] = "0001_initial"  # loaded before every later tickets migration
    assert migrations_only_added(latest)
