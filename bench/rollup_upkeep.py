"""What keeping the report rollups costs while inbound mail streams in (issue 17), in
process, without the worker: CPU of the rollup tasks per 1,000 inbound mails.

    HELPDESK_BENCH_DATABASE=helpdesk_rollups HELPDESK_BENCH_REDIS_DATABASE=10 \\
        .venv/bin/python -m bench.rollup_upkeep [--warm 6000] [--measured 1000]

A new bench database (bench.run's Context: dropped, set up, migrated, one tenant). The
inbound benchmark's generated mail (bench.inbound.generate, same seed) is accepted and
drained here, a hundred a batch by `process_batch`, as the worker's drain does. Every
REFRESH_EVERY batches (the 5 s coalescing window at RATE mails a second),
`refresh_pending_report_rollups` runs for the tenant; `recompute_report_rollups` runs when
tasks._schedule_recompute would start it, on a clock that counts mails at RATE a second.
Only these calls are measured: this process's CPU and its PostgreSQL backend's (from
/proc). The first `--warm` mails fill today (about 56% open a ticket); the next
`--measured` mails give the figures per 1,000 mails of a busy day. At the end, one
recompute of today is timed on its own (what a change to one of today's tickets costs)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH = 100
REFRESH_EVERY = 2
# Mails a second on the simulated clock (the inbound benchmark's throughput, 6 December).
RATE = 40.0


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """CPU seconds of this process and of its PostgreSQL backend over measured calls."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.python = self.postgres = self.wall = 0.0
        self.calls = 0

    def measure(self, call: Any) -> Any:
        python, postgres, wall = time.process_time(), _backend_cpu(self.pid), time.perf_counter()
        result = call()
        self.python += time.process_time() - python
        self.postgres += _backend_cpu(self.pid) - postgres
        self.wall += time.perf_counter() - wall
        self.calls += 1
        return result

    def per_thousand(self, mails: int) -> dict[str, float]:
        return {
            "python_ms": round(1000 * 1000 * self.python / mails, 1),
            "postgres_ms": round(1000 * 1000 * self.postgres / mails, 1),
            "wall_ms": round(1000 * 1000 * self.wall / mails, 1),
            "calls": self.calls,
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollup_upkeep", description=__doc__)
    parser.add_argument("--warm", type=int, default=6000)
    parser.add_argument("--measured", type=int, default=1000)
    arguments = parser.parse_args(argv)

    from bench.run import Context, bench_database_url, bench_redis_url

    context = Context(
        database_url=bench_database_url(),
        redis_url=bench_redis_url(),
        var_dir=Path(tempfile.mkdtemp(prefix="helpdesk-rollups-")),
    )
    os.environ.update(context.variables())
    import django

    django.setup()
    from django.db import connection

    from automation.models import ReportDirtyDay, ReportRollup
    from automation.reports import selectors, services, tasks
    from bench.inbound import SEED, accept_unqueued, generate, note_tickets
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant
    from tickets.mail_in import services as inbound
    from tickets.models import Ticket

    load_before = os.getloadavg()
    context.prepare()
    tenant_id = Tenant.objects.get(slug=context.tenant_slug).id
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    specs = generate(arguments.warm + arguments.measured, seed=SEED, namespace="bench")
    tickets: dict[str, tuple[int, str]] = {}
    clocks = {"warm": Clock(pid), "measured": Clock(pid)}
    recomputes = {"warm": 0, "measured": 0}
    # The recompute's schedule as tasks._schedule_recompute sets it, on a simulated clock:
    # mails arrive at RATE a second (the inbound benchmark's throughput), and a recompute
    # runs max(DEBOUNCE_SECONDS, RECOMPUTE_SPACING x the last one's duration) after the
    # refresh that found days marked.
    due: float | None = None
    took = 0.0

    def refresh() -> None:
        tasks.refresh_pending_report_rollups.apply(kwargs={"tenant_id": str(tenant_id)}).get()

    def recompute() -> None:
        tasks.recompute_report_rollups.apply(kwargs={"tenant_id": str(tenant_id)}).get()

    began = time.perf_counter()
    for number, start in enumerate(range(0, len(specs), BATCH), start=1):
        chunk = specs[start : start + BATCH]
        accept_unqueued(chunk, tickets)
        with tenant_context(tenant_id):
            inbound.process_batch(limit=BATCH)
        note_tickets(tenant_id, chunk, tickets)
        phase = "warm" if start < arguments.warm else "measured"
        now = (start + len(chunk)) / RATE
        if number % REFRESH_EVERY == 0 or start + BATCH >= len(specs):
            clocks[phase].measure(refresh)
            with tenant_context(tenant_id):
                dirty = ReportDirtyDay.objects.exists()
            if dirty and due is None:
                due = now + max(tasks.DEBOUNCE_SECONDS, tasks.RECOMPUTE_SPACING * took)
        if due is not None and now >= due:
            wall = clocks[phase].wall
            clocks[phase].measure(recompute)
            took = clocks[phase].wall - wall
            recomputes[phase] += 1
            due = None
        if start + len(chunk) == arguments.warm:
            print(
                f"  warm: {arguments.warm} mails, {time.perf_counter() - began:.0f} s", flush=True
            )
    with tenant_context(tenant_id):
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        created_today = Ticket.objects.filter(is_spam=False, merged_into__isnull=True).count()
        rolled = ReportRollup.objects.get(span="day", day=today, dimension="all").created
        alone = Clock(pid)
        alone.measure(lambda: services.recompute_days(days=[today]))
        recomputed = ReportRollup.objects.get(span="day", day=today, dimension="all").created
    warm, measured = clocks["warm"], clocks["measured"]
    result = {
        "mails": {"warm": arguments.warm, "measured": arguments.measured},
        "tickets_today": created_today,
        "rollup_created_today": rolled,
        "rollup_created_today_after_recompute": recomputed,
        "warm_per_1000": warm.per_thousand(arguments.warm),
        "measured_per_1000": measured.per_thousand(arguments.measured),
        "all_per_1000": {
            key: round(
                (
                    warm.per_thousand(arguments.warm)[key] * arguments.warm
                    + measured.per_thousand(arguments.measured)[key] * arguments.measured
                )
                / (arguments.warm + arguments.measured),
                1,
            )
            for key in ("python_ms", "postgres_ms", "wall_ms")
        },
        "recomputes": recomputes,
        "recompute_today_alone": {
            "python_ms": round(1000 * alone.python, 1),
            "postgres_ms": round(1000 * alone.postgres, 1),
            "wall_ms": round(1000 * alone.wall, 1),
        },
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "day": today.isoformat(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
