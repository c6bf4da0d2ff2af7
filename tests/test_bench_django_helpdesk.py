"""The django-helpdesk comparison's generated project and mail (bench/django_helpdesk.py),
without installing django-helpdesk: the settings are valid Python a Django project can run
on, and every reply is fed in a form django-helpdesk threads."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

from bench import django_helpdesk, inbound


def test_project_settings_are_valid(tmp_path: Path) -> None:
    files = django_helpdesk.project_files(
        tmp_path, name="helpdesk_bench_dh", host="127.0.0.1", port=5432, user="pg"
    )
    assert set(files) == {"bench_settings.py", "bench_urls.py", "run_import.py"}
    for filename, text in files.items():
        compile(text, filename, "exec")  # each one parses
    namespace: dict[str, object] = {}
    exec(files["bench_settings.py"], namespace)  # noqa: S102 - our own generated settings
    assert "helpdesk" in namespace["INSTALLED_APPS"]  # type: ignore[operator]
    assert "django.contrib.sites" in namespace["INSTALLED_APPS"]  # type: ignore[operator]
    assert namespace["DATABASES"] == {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "helpdesk_bench_dh",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "USER": "pg",
        }
    }
    # No pinax-teams to install; mail into the temporary directory, never a relay.
    assert namespace["HELPDESK_TEAMS_MODE_ENABLED"] is False
    assert namespace["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert namespace["EMAIL_FILE_PATH"] == str(tmp_path / "outbox")
    assert "PASSWORD" not in files["bench_settings.py"].replace("PGPASSWORD", "")


def test_every_reply_carries_a_marker_django_helpdesk_reads() -> None:
    specs = inbound.generate(900, seed=inbound.SEED, namespace="bench")
    tickets = django_helpdesk.expected_tickets(specs)
    assert sorted(tickets.values()) == list(range(1, sum(s.kind == "new" for s in specs) + 1))
    vias = set()
    for spec in specs:
        fed = django_helpdesk.tagged_for_django_helpdesk(spec, tickets.get(spec.root, 0))
        message = email.message_from_bytes(inbound.render(fed)[0], policy=policy.default)
        subject = str(message["Subject"])
        if spec.kind == "new" or spec.via == "in-reply-to":
            assert fed == spec
            assert not re.search(r"\[bench-\d+\]", subject)
            continue
        vias.add(spec.via)
        assert subject.endswith(f"[bench-{tickets[spec.root]}]")
        assert message["In-Reply-To"] is None
        assert str(message["To"]) == f"Bench Support <{inbound.SUPPORT}>"
        assert (message["References"] is not None) == (spec.via == "references")
    assert vias == {"references", "subject-tag", "plus-address"}
