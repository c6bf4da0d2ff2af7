"""Create the database and its three roles; safe to run again (make run does, every time).

Connects with the user and password of DATABASE_URL (or the embedded server's superuser),
which must be able to create roles and databases.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from helpdesk.core.env import env_str


def _connect(dbname: str) -> psycopg.Connection[Any]:
    server = settings.HELPDESK_DATABASE_SERVER
    kwargs: dict[str, Any] = {
        "host": server["HOST"],
        "port": server["PORT"],
        "dbname": dbname,
        "user": server["ADMIN_USER"],
        "autocommit": True,
    }
    if server["ADMIN_PASSWORD"]:
        kwargs["password"] = server["ADMIN_PASSWORD"]
    if server["SSLMODE"]:
        kwargs["sslmode"] = server["SSLMODE"]
    return psycopg.connect(**kwargs)


class Command(BaseCommand):
    help = "Create the helpdesk database and its owner, app and ops roles (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        roles = settings.HELPDESK_DB_ROLES
        name = settings.HELPDESK_DATABASE_SERVER["NAME"]
        attributes = {
            # Owns the tables and runs migrations; CREATEDB so the test runner can build its
            # database. Member of app and ops (below).
            "owner": "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOBYPASSRLS",
            # Web and workers: row-level security always applies.
            "app": "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
            # Cross-tenant reads for platform jobs only.
            "ops": "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS",
        }
        try:
            with _connect("postgres") as admin:
                # Parallel test workers may run this at once; roles are cluster-wide.
                admin.execute("SELECT pg_advisory_lock(7243001)")
                for key, role in roles.items():
                    exists = admin.execute(
                        "SELECT 1 FROM pg_roles WHERE rolname = %s", [role]
                    ).fetchone()
                    verb = "ALTER" if exists else "CREATE"
                    statement = sql.SQL("{} ROLE {} " + attributes[key]).format(
                        sql.SQL(verb), sql.Identifier(role)
                    )
                    admin.execute(statement)
                    password = env_str(f"HELPDESK_DB_{key.upper()}_PASSWORD")
                    if password:
                        admin.execute(
                            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                                sql.Identifier(role), sql.Literal(password)
                            )
                        )
                # Owner is a member of app (tests SET ROLE to it) and of ops: a migration
                # gives ops the view the search reads (tickets 0021), which only a member
                # of ops may do.
                for member_of in ("app", "ops"):
                    admin.execute(
                        sql.SQL("GRANT {} TO {}").format(
                            sql.Identifier(roles[member_of]), sql.Identifier(roles["owner"])
                        )
                    )
                if not admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone():
                    admin.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                            sql.Identifier(name), sql.Identifier(roles["owner"])
                        )
                    )
                    self.stdout.write(f"created database {name}")
                # Still under the lock: workers that found the database would otherwise
                # change its schema's owner at once ("tuple concurrently updated").
                with _connect(name) as database:
                    database.execute(
                        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                            sql.Identifier(name), sql.Identifier(roles["owner"])
                        )
                    )
                    database.execute(
                        sql.SQL("ALTER SCHEMA public OWNER TO {}").format(
                            sql.Identifier(roles["owner"])
                        )
                    )
                    database.execute(
                        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
                            sql.Identifier(name),
                            sql.Identifier(roles["app"]),
                            sql.Identifier(roles["ops"]),
                        )
                    )
        except psycopg.Error as error:
            raise CommandError(f"database setup failed: {error}") from error
        self.stdout.write(f"database {name} ready; roles {', '.join(roles.values())}")
