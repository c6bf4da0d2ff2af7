"""Automatic assignment benchmark: 10,000 tickets of one department handed out to 7 agents by
4 worker processes at once (issue 16, point 5).

On the bench database of `bench.run`: seven agents, online, seated in one department per
scenario; 10,000 open unassigned tickets written at once (bulk inserts: the path measured
starts after them), then ANALYZE, as a production table has statistics. Then, with one
`celery worker -Q automation --concurrency 4` (four prefork processes) ready, the
benchmark queues `automation.assignment.tasks.assign_tickets` in batches of 50 ids,
shuffled (the ticket-event pipeline hands assignment a batch per inbound transaction),
every batch of one department, so the four processes contend for one department lock all
along. Throughput is assignments over the time from the first task
queued to the last assignment's history event. Scenarios: round-robin without a cap;
round-robin with a cap of 1,500 per agent (each batch counts every agent's unsolved
tickets); load balancing; and the backlog: 10,000 tickets waiting while every agent is
offline, handed out by `drain_member_departments` when one comes online (500 per
transaction, each full batch queueing the next, so one process at a time).

After each scenario the invariants are checked in SQL: every ticket assigned (or, with a
cap, exactly the cap per agent and the rest waiting), one assignee event and one
notification per assigned ticket, no cap exceeded, round-robin counts within one.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from bench.run import Context

ROOT = Path(__file__).resolve().parents[1]
TICKETS = 10_000
AGENTS = 7
PROCESSES = 4
BATCH = 50
CAP = 1_500
DRAIN_BATCH = 500
TARGET_PER_SECOND = 500
SEED = 16


class Worker:
    """One `celery worker -Q automation --concurrency N` subprocess (prefork)."""

    def __init__(self, context: Context, concurrency: int) -> None:
        self.log_path = context.var_dir / "worker-assignment.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "-Q",
                "automation",
                "--concurrency",
                str(concurrency),
                "-l",
                "info",
                "-n",
                "bench-assign@%h",
            ],
            cwd=ROOT,
            env=context.subprocess_environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped by its id, alone
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log_path.read_text()[-3000:]}")
            if re.search(r"bench-assign@\S+ ready\.", self.log_path.read_text(errors="replace")):
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s")

    def cpu_seconds(self) -> float:
        import psutil

        try:
            main = psutil.Process(self.process.pid)
            processes = [main, *main.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def errors(self) -> list[str]:
        text = self.log_path.read_text(errors="replace")
        return re.findall(r"Task [\w.]+\[[0-9a-f-]+\] (?:raised|retry).*", text)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def _postgres_cpu_seconds(context: Context) -> float | None:
    """CPU seconds of the PostgreSQL server so far (postmaster, live backends and the ones
    that ended), when it runs on this machine; None when it cannot be told."""
    import psutil

    with context.admin_connection() as connection:
        backend = int(connection.execute("SELECT pg_backend_pid()").fetchone()[0])
    try:
        postmaster = psutil.Process(backend).parent()
        if postmaster is None or "postgres" not in postmaster.name():
            return None
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        return total
    except psutil.Error:
        return None


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _purge_automation_queue() -> None:
    from helpdesk.celery import app

    with app.connection_for_write() as connection:
        for queue in app.conf.task_queues:
            if queue.name == "automation":
                queue.bind(connection.default_channel).purge()


def _queue_idle() -> bool:
    from helpdesk.celery import app

    with app.connection_for_write() as connection:
        client = connection.default_channel.client  # type: ignore[attr-defined]
        return bool(client.llen("automation") == 0 and client.hlen("unacked") == 0)


def _agents(tenant: Any) -> list[Any]:
    from helpdesk.accounts import services as accounts
    from helpdesk.tenancy.models import MembershipRole

    return [
        accounts.add_member(
            tenant=tenant,
            user=accounts.get_or_create_user(
                email=f"router{i}@bench.test", name=f"Router {i}", password="x" * 12
            ),
            role=MembershipRole.AGENT,
        )
        for i in range(AGENTS)
    ]


def _set_availability(agents: list[Any], availability: str) -> None:
    from helpdesk.tenancy.models import Membership

    Membership.objects.filter(id__in=[a.id for a in agents]).update(availability=availability)


def _department(name: str, agents: list[Any], mode: str, cap: int | None) -> Any:
    from departments import services as departments

    department = departments.create_department(name=name)
    return departments.update_department(
        department=department, members=agents, assignment_mode=mode, max_open_per_agent=cap
    )


def _tickets(department: Any, count: int, first_number: int) -> list[UUID]:
    """Open unassigned tickets in bulk, priorities mixed, with a few customers."""
    from tickets.models import Contact, Ticket

    rng = random.Random(SEED + first_number)
    contacts = [
        Contact.objects.create(email=f"customer{first_number + i}@example.test") for i in range(20)
    ]
    ids: list[UUID] = []
    for start in range(0, count, 2_000):
        rows = Ticket.objects.bulk_create(
            [
                Ticket(
                    tenant_id=department.tenant_id,
                    number=first_number + start + i,
                    subject=f"Request {first_number + start + i}",
                    contact=rng.choice(contacts),
                    department=department,
                    priority=rng.choice(["low", "normal", "normal", "normal", "high", "urgent"]),
                )
                for i in range(min(2_000, count - start))
            ]
        )
        ids.extend(ticket.id for ticket in rows)
    return ids


def _analyze(context: Context) -> None:
    """Statistics for the tickets just written, as a production table has them (the
    planner would otherwise take the new department for empty)."""
    with context.admin_connection() as connection:
        connection.execute("ANALYZE tickets_ticket")


def _invariants(
    context: Context, department_id: UUID, cap: int | None, mode: str
) -> dict[str, Any]:
    """What must hold after the run, read as the admin (no row-level security in the way)."""
    with context.admin_connection() as connection:
        per_agent = dict(
            connection.execute(
                "SELECT assignee_id, count(*) FROM tickets_ticket WHERE department_id = %s"
                " AND assignee_id IS NOT NULL GROUP BY assignee_id",
                [department_id],
            ).fetchall()
        )
        waiting = connection.execute(
            "SELECT count(*) FROM tickets_ticket WHERE department_id = %s AND assignee_id IS NULL",
            [department_id],
        ).fetchone()[0]
        events = connection.execute(
            "SELECT count(*), count(DISTINCT m.ticket_id), max(m.created_at)"
            " FROM tickets_message m JOIN tickets_ticket t ON t.id = m.ticket_id"
            " WHERE t.department_id = %s AND m.kind = 'event' AND m.event->>'field' = 'assignee'",
            [department_id],
        ).fetchone()
        notified = connection.execute(
            "SELECT count(*), count(DISTINCT n.ticket_id) FROM tickets_notification n"
            " JOIN tickets_ticket t ON t.id = n.ticket_id"
            " WHERE t.department_id = %s AND n.kind = 'assigned'",
            [department_id],
        ).fetchone()
    assigned = sum(per_agent.values())
    counts = sorted(per_agent.values())
    checks = {
        "one_event_per_assigned_ticket": events[0] == events[1] == assigned,
        "one_notification_per_assigned_ticket": notified[0] == notified[1] == assigned,
        "no_cap_exceeded": cap is None or all(c <= cap for c in counts),
        "everyone_got_tickets": len(counts) == AGENTS,
    }
    if mode == "round_robin":
        checks["round_robin_within_one"] = bool(counts) and counts[-1] - counts[0] <= 1
    return {
        "assigned": assigned,
        "waiting": waiting,
        "per_agent_min": counts[0] if counts else 0,
        "per_agent_max": counts[-1] if counts else 0,
        "last_event_at": events[2],
        "checks": checks,
        "ok": all(checks.values()),
    }


def _wait_for(context: Context, department_id: UUID, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with context.admin_connection() as connection:
            assigned = connection.execute(
                "SELECT count(*) FROM tickets_ticket WHERE department_id = %s"
                " AND assignee_id IS NOT NULL",
                [department_id],
            ).fetchone()[0]
        if assigned >= expected and _queue_idle():
            return
        time.sleep(0.2)
    raise RuntimeError(f"only part of {expected} assignments after {timeout}s")


def _measure(
    context: Context,
    worker: Worker,
    *,
    department: Any,
    cap: int | None,
    mode: str,
    expected: int,
    enqueue: Any,
) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    cpu_before, machine_before = worker.cpu_seconds(), _machine_busy_seconds()
    postgres_before = _postgres_cpu_seconds(context)
    started = datetime.now(UTC)
    tasks_queued = enqueue()
    _wait_for(context, department.id, expected, timeout=600)
    worker_cpu = worker.cpu_seconds() - cpu_before
    machine_cpu = _machine_busy_seconds() - machine_before
    postgres_after = _postgres_cpu_seconds(context)
    figures = _invariants(context, department.id, cap, mode)
    seconds = (figures.pop("last_event_at") - started).total_seconds()
    assigned = figures["assigned"]
    postgres_ms = (
        round(1000 * (postgres_after - postgres_before) / assigned, 3)
        if postgres_before is not None and postgres_after is not None
        else None
    )
    worker_ms = round(1000 * worker_cpu / assigned, 3)
    return {
        **figures,
        "tasks_queued": tasks_queued,
        "seconds": round(seconds, 2),
        "per_second": round(assigned / seconds, 1),
        "worker_cpu_ms_per_assignment": worker_ms,
        "postgres_cpu_ms_per_assignment": postgres_ms,
        # What two cores would sustain on the worker's and the server's CPU alone (the
        # producer, Redis and everything else on the machine left out).
        "cpu_bound_per_second_on_2_cores": (
            round(2000 / (worker_ms + postgres_ms)) if postgres_ms is not None else None
        ),
        "machine_cpu_ms_per_assignment": round(1000 * machine_cpu / assigned, 3),
        "load_average_before": round(load_before, 2),
    }


def run(context: Context, options: dict[str, Any]) -> dict[str, Any]:
    from automation.assignment import tasks
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Availability, Tenant

    count = int(options.get("assignment_tickets") or TICKETS)
    context.prepare()
    tenant = Tenant.objects.get(slug=context.tenant_slug)
    agents = _agents(tenant)
    _set_availability(agents, Availability.ONLINE)
    worker = Worker(context, PROCESSES)
    scenarios: list[dict[str, Any]] = []
    try:
        worker.wait_ready()
        batches_of = [
            ("round_robin", None, "Round-robin"),
            ("round_robin", CAP, "Round-robin, capped"),
            ("load_balanced", None, "Load-balanced"),
        ]
        number = 1
        for mode, cap, name in batches_of:
            with tenant_context(tenant.id):
                department = _department(name, agents, mode, cap)
                ids = _tickets(department, count, number)
            _analyze(context)
            number += count
            _purge_automation_queue()  # the drain the new settings queued: not measured here
            batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
            random.Random(SEED).shuffle(batches)

            def enqueue(batches: list[list[UUID]] = batches) -> int:
                for batch in batches:
                    tasks.assign_tickets.delay(
                        tenant_id=str(tenant.id), ticket_ids=[str(i) for i in batch]
                    )
                return len(batches)

            expected = count if cap is None else min(count, cap * AGENTS)
            print(f"  {name}: {count:,} tickets in batches of {BATCH}", flush=True)
            figures = _measure(
                context,
                worker,
                department=department,
                cap=cap,
                mode=mode,
                expected=expected,
                enqueue=enqueue,
            )
            scenarios.append({"name": name, "mode": mode, "cap": cap, "path": "batches", **figures})

        _set_availability(agents, Availability.OFFLINE)
        with tenant_context(tenant.id):
            department = _department("Backlog", agents, "round_robin", None)
            _tickets(department, count, number)
        _analyze(context)
        _purge_automation_queue()
        _set_availability(agents, Availability.ONLINE)

        def drain() -> int:
            tasks.drain_member_departments.delay(
                tenant_id=str(tenant.id), membership_id=str(agents[0].id)
            )
            return 1

        print(f"  Backlog: {count:,} tickets handed out by drains", flush=True)
        figures = _measure(
            context,
            worker,
            department=department,
            cap=None,
            mode="round_robin",
            expected=count,
            enqueue=drain,
        )
        scenarios.append(
            {
                "name": "Backlog drain",
                "mode": "round_robin",
                "cap": None,
                "path": "drain",
                **figures,
            }
        )
        task_errors = worker.errors()
    finally:
        worker.stop()
    return {
        "parameters": {
            "tickets": count,
            "agents": AGENTS,
            "worker_processes": PROCESSES,
            "batch": BATCH,
            "cap": CAP,
            "drain_batch": DRAIN_BATCH,
            "target_per_second": TARGET_PER_SECOND,
        },
        "scenarios": scenarios,
        "task_errors": task_errors[:20],
        "ok": all(s["ok"] for s in scenarios),
    }


def markdown(result: dict[str, Any]) -> str:
    """The README section for one result."""
    parameters = result["parameters"]
    lines = [
        "### Automatic assignment",
        "",
        f"{parameters['tickets']:,} tickets per scenario in one department of"
        f" {parameters['agents']} agents, one worker with {parameters['worker_processes']}"
        f" processes (`-Q automation --concurrency {parameters['worker_processes']}`);"
        f" `assign_tickets` tasks of {parameters['batch']} ids, all queued at once; the"
        f" backlog drains {parameters['drain_batch']} per transaction. Target:"
        f" {parameters['target_per_second']} assignments per second on 2 cores.",
        "",
        "| scenario | tasks | seconds | assignments/s | per agent | waiting |"
        " CPU ms / assignment: worker + PostgreSQL | CPU-bound on 2 cores /s |"
        " machine CPU ms / assignment | load before | invariants |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scenario in result["scenarios"]:
        cap = f" (cap {scenario['cap']:,})" if scenario["cap"] else ""
        failed = [name for name, held in scenario["checks"].items() if not held]
        lines.append(
            f"| {scenario['name']}{cap} | {scenario['tasks_queued']} | {scenario['seconds']} |"
            f" **{scenario['per_second']:,}** |"
            f" {scenario['per_agent_min']:,} to {scenario['per_agent_max']:,} |"
            f" {scenario['waiting']:,} | {scenario['worker_cpu_ms_per_assignment']} +"
            f" {scenario.get('postgres_cpu_ms_per_assignment', '?')} |"
            f" {scenario.get('cpu_bound_per_second_on_2_cores') or '?'} |"
            f" {scenario['machine_cpu_ms_per_assignment']} | {scenario['load_average_before']} |"
            f" {'FAILED: ' + ', '.join(failed) if failed else 'ok'} |"
        )
    lines += [
        "",
        "Assignments per second run from the first task queued to the last assignment's"
        " history event, on the machine as it was (the load average says how busy): other"
        " work slows them. The CPU columns do not depend on it as much: the worker's"
        " processes and the PostgreSQL server's, per assignment, and what two cores would"
        " sustain on that CPU alone. Invariants, checked in SQL after each scenario: one"
        " assignee event and one notification per assigned ticket, no cap exceeded, every"
        " agent given tickets, and round-robin counts within one of each other.",
    ]
    if result.get("task_errors"):
        lines += ["", "Task errors in the worker log:", ""]
        lines += [f"- `{line}`" for line in result["task_errors"]]
    return "\n".join(lines)
