"""Start the test provider as a subprocess on loopback: its own SQLite database, four
people (nina@example.com and olga@other.test verified, ivan@example.com not, and
admin@acme.test) whose passwords are `pw-<name>`, and the client `helpdesk-client` /
`helpdesk-secret` registered with the help desk's callback URL. Used by
tests/accounts/test_sso_sign_in.py and the browser test of the settings page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]
CLIENT_ID = "helpdesk-client"
CLIENT_SECRET = "helpdesk-secret"  # the throwaway test provider's client

MIGRATE = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
"""
SETUP = """
import os
from django.contrib.auth.models import Group, User
from oauth2_provider.models import Application
verified = Group.objects.create(name="verified")
for name, email, ok in [("nina", "nina@example.com", True), ("olga", "olga@other.test", True),
                        ("ivan", "ivan@example.com", False), ("admin", "admin@acme.test", True)]:
    user = User.objects.create_user(name, email, "pw-" + name)
    if ok:
        user.groups.add(verified)
Application.objects.create(
    name="helpdesk", client_id="helpdesk-client", client_secret="helpdesk-secret",
    hash_client_secret=False, client_type="confidential",
    authorization_grant_type="authorization-code", redirect_uris=os.environ["OIDC_CALLBACK"],
    algorithm="RS256", skip_authorization=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_provider(folder: Path, callback: str) -> Iterator[str]:
    """The provider's issuer URL (http://127.0.0.1:<port>/o), while it runs."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "tests.accounts.oidc_provider.settings",
        "OIDC_PROVIDER_DB": str(folder / "provider.sqlite3"),
        "OIDC_CALLBACK": callback,
    }
    run = [sys.executable, "-m", "django"]
    # Migrate and fill the database in one process: each start of Django here (and of
    # the settings, which make an RSA key) costs about a second of CPU.
    subprocess.run([*run, "shell", "-c", MIGRATE + SETUP], env=env, check=True, cwd=folder)
    port = _free_port()
    server = subprocess.Popen(
        [*run, "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    issuer = f"http://127.0.0.1:{port}/o"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OpenID Connect provider did not start")
            time.sleep(0.3)
        yield issuer
    finally:
        server.terminate()
        server.wait(timeout=20)
