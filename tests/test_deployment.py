"""docker-compose.yml, the Dockerfile and .env.example agree with the code (no Docker here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.cache import cache
from django.core.management import get_commands

from helpdesk.core.tasks import BEAT_HEARTBEAT_KEY, record_beat_heartbeat
from tests.conftest import subprocess_environment

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "helpdesk" / "settings.py",
    ROOT / "helpdesk" / "core" / "embedded.py",
    *ROOT.glob("*/management/commands/*.py"),
    *ROOT.glob("helpdesk/*/management/commands/*.py"),
]
ENV_READ = re.compile(
    r"""(?:env_(?:str|bool|int|list|networks|rate)|os\.environ\.get)\(\s*f?["']([A-Z][A-Za-z0-9_{}.()]+)["']"""
)


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return compose


def _variables_read_by_code() -> set[str]:
    names = set()
    for source in SOURCES:
        for name in ENV_READ.findall(source.read_text()):
            if "{" in name:  # HELPDESK_DB_{role.upper()}_PASSWORD
                names |= {re.sub(r"\{[^}]+\}", role, name) for role in ("APP", "OWNER", "OPS")}
            else:
                names.add(name)
    return names | {"DATABASE_URL", "REDIS_URL"}


def _env_example() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_compose_has_every_service_with_health_checks() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "smtpd", "migrate"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis", "web", "worker", "smtpd"):
        assert "healthcheck" in services[name], name
    assert "postgres-data" in _compose()["volumes"]


def test_compose_commands_exist() -> None:
    services = _compose()["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "helpdesk.wsgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "helpdesk", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "helpdesk", "beat"]
    commands = get_commands()
    for name in ("smtpd", "setup_database", "migrate"):
        assert name in commands
    assert "smtpd" in services["smtpd"]["command"]
    migrate = " ".join(services["migrate"]["command"])
    assert "setup_database" in migrate
    assert "migrate" in migrate
    queues = services["worker"]["command"][services["worker"]["command"].index("-Q") + 1]
    from helpdesk.celery import app

    assert set(queues.split(",")) == {q.name for q in app.conf.task_queues}


def test_app_services_wait_for_migrations_and_use_the_services() -> None:
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "smtpd"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        environment = service["environment"]
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"].startswith("redis://redis:6379")


def test_compose_and_example_name_only_variables_the_code_reads() -> None:
    read = _variables_read_by_code()
    compose_vars = set()
    for service in _compose()["services"].values():
        compose_vars |= set(service.get("environment", {}))
    ours = {v for v in compose_vars if v.startswith("HELPDESK_")} | {"DATABASE_URL", "REDIS_URL"}
    assert ours <= read
    assert {
        v for v in _env_example() if v != "POSTGRES_PASSWORD" and not v.startswith("ANYMAIL_")
    } <= read


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = _env_example()
    readme = (ROOT / "docs" / "configuration.md").read_text()
    missing_example = _variables_read_by_code() - documented
    missing_readme = {v for v in _variables_read_by_code() if f"`{v}`" not in readme}
    assert missing_example == set()
    assert missing_readme == set()


def test_dockerfile_runs_as_non_root_and_serves_gunicorn() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER helpdesk" in dockerfile
    assert "collectstatic" in dockerfile
    assert "gunicorn" in dockerfile


def test_app_services_restart_on_failure_and_migrate_runs_once() -> None:
    services = _compose()["services"]
    for name in ("postgres", "redis", "web", "worker", "beat", "smtpd"):
        assert services[name]["restart"] in {"unless-stopped", "on-failure", "always"}, name
    assert services["migrate"]["restart"] == "no"


def test_every_long_running_service_has_a_shell_form_health_check() -> None:
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "smtpd"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"}, name
    # The worker's node name comes from the container's hostname: only a shell expands it.
    worker = services["worker"]["healthcheck"]["test"]
    assert worker[0] == "CMD-SHELL"
    assert "$$HOSTNAME" in worker[1]
    assert "-n" not in services["worker"]["command"]  # so its node name is celery@<hostname>
    assert services["beat"]["healthcheck"]["test"][0] == "CMD-SHELL"


def test_redis_keeps_queued_tasks_across_restarts() -> None:
    command = _compose()["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=False))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] in {"everysec", "always"}
    assert options["--maxmemory-policy"] == "noeviction"


def _health_check_shell(service: str) -> str:
    """The service's health check as the container's shell gets it ($$ is compose's $)."""
    command: str = _compose()["services"][service]["healthcheck"]["test"][1]
    return command.replace("$$", "$")


def _image_environment(**extra: str) -> dict[str, str]:
    """The test database and broker, with `celery` and `python` on PATH as in the image."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**subprocess_environment(), "PATH": path, **extra}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_health_check_passes_for_a_live_worker_and_fails_without_one(
    broker_mode: None, tmp_path: Path
) -> None:
    hostname = f"health-{os.getpid()}"
    environment = _image_environment(HOSTNAME=hostname)
    check = _health_check_shell("worker")
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool", "solo"),
                *("-n", f"celery@{hostname}", "-Q", "default", "-l", "info"),
            ],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while b" ready." not in log.read_bytes() and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.5)
        assert b" ready." in log.read_bytes(), log.read_text()
        result = subprocess.run(["sh", "-c", check], cwd=ROOT, env=environment, check=False)
        assert result.returncode == 0, log.read_text()
    finally:
        worker.terminate()
        worker.wait(30)
    # With no worker the ping waits out its timeout: compose's 10 s, shortened here.
    assert "--timeout 10 " in check
    without = check.replace("--timeout 10 ", "--timeout 2 ")
    assert subprocess.run(["sh", "-c", without], cwd=ROOT, env=environment).returncode != 0


@pytest.mark.django_db(transaction=True)
def test_beat_health_check_follows_the_beat_heartbeat() -> None:
    # The cache this test process writes to (the workers' broker database is another one).
    environment = _image_environment(
        REDIS_URL=settings.CACHES["default"]["LOCATION"], HELPDESK_CACHE_PREFIX=cache.key_prefix
    )
    check = _health_check_shell("beat")
    cache.delete(BEAT_HEARTBEAT_KEY)
    assert subprocess.run(["sh", "-c", check], cwd=ROOT, env=environment).returncode == 1
    record_beat_heartbeat.apply()
    assert subprocess.run(["sh", "-c", check], cwd=ROOT, env=environment).returncode == 0


def test_only_the_proxy_on_the_host_reaches_web_and_it_is_the_trusted_one() -> None:
    """Web is published on the host's loopback only, and the address .env.example trusts
    for X-Forwarded-For is the gateway a proxy on the host connects from: a client cannot
    reach gunicorn directly and write its own X-Forwarded-For."""
    compose = _compose()
    assert compose["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]
    gateway = compose["networks"]["default"]["ipam"]["config"][0]["gateway"]
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["HELPDESK_BEHIND_PROXY"] == "1"
    assert example["HELPDESK_TRUSTED_PROXIES"] == gateway
