"""`manage.py run_web ADDRPORT`: Django's development server, as `run_all` starts it.

runserver checks for unapplied migrations each time it starts, the autoreloader's
restarts included. With the database down, that check raises in the server thread: the
thread dies, the reloader process lives on, and the web answers nothing while a
supervisor sees it running. Here an unreachable database only skips the check, with a
warning; the pages answer 503 until the database is back.
"""

from __future__ import annotations

from django.contrib.staticfiles.management.commands.runserver import (
    Command as RunserverCommand,
)
from django.db import DatabaseError


class Command(RunserverCommand):
    help = "The development web server, serving (503) while the database is unreachable."

    def check_migrations(self) -> None:
        try:
            super().check_migrations()
        except DatabaseError as error:
            self.stderr.write(f"Database unreachable, migrations not checked: {error}")
