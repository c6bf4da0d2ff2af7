"""PostgreSQL CPU per mail of the batched inbound path, statement by statement (issue 17).

`python -m bench.inbound_postgres [--batches N]`: a new bench database (its own name and
Redis database, HELPDESK_BENCH_DATABASE / HELPDESK_BENCH_REDIS_DATABASE as for bench.run),
then the benchmark's generated mail accepted here by `intake.accept` (not queued) and
drained by `process_batch` 100 at a time in this process, as batch_sql in bench/inbound.py
does. The PostgreSQL backend's CPU is read around every statement from its CPU clock
(`clock_getcpuclockid`: nanoseconds, where /proc/<pid>/stat counts 10 ms ticks), so the
server's CPU per mail splits into statement kinds; what falls outside every statement is
the transaction's BEGIN and COMMIT (deferred foreign-key checks run at COMMIT). The first
batch warms the caches and is not counted. As in bench/inbound.py, tables are analyzed as
autovacuum would when the server's autovacuum is off (`--no-analyze`: never, the plans a
server without statistics makes). Needs the server on this machine.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

BATCH = 100


class _Timespec(ctypes.Structure):
    _fields_ = [("seconds", ctypes.c_long), ("nanoseconds", ctypes.c_long)]


_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of another process on this machine, to the nanosecond."""
    clock = ctypes.c_int()
    if _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)):
        raise OSError(f"no CPU clock for process {pid}")
    spec = _Timespec()
    if _LIBC.clock_gettime(clock, ctypes.byref(spec)):
        raise OSError(ctypes.get_errno(), "clock_gettime")
    return float(spec.seconds) + float(spec.nanoseconds) / 1e9


class StatementMeter:
    """An execute_wrapper: the backend's CPU and the statements, by kind."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.cpu: dict[str, float] = defaultdict(float)
        self.count: Counter[str] = Counter()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        from bench.inbound import sql_group

        before = process_cpu_seconds(self.pid)
        try:
            return execute(sql, params, many, context)
        finally:
            group = sql_group(sql)
            self.cpu[group] += process_cpu_seconds(self.pid) - before
            self.count[group] += 1


def measure(tenant_slug: str, batches: int, seed: int) -> dict[str, Any]:
    """Accept and drain `batches` batches of generated mail; CPU per mail by step."""
    from django.db import connection

    from bench.inbound import SEED, accept_unqueued, generate, note_tickets
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant
    from tickets.mail_in import services as inbound

    tenant_id = Tenant.objects.get(slug=tenant_slug).id
    specs = generate(
        BATCH * batches, seed=SEED + seed, namespace=f"pgcost{seed}", gap=BATCH, window=BATCH
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    accept_meter, batch_meter = StatementMeter(pid), StatementMeter(pid)
    totals: dict[str, float] = defaultdict(float)
    tickets: dict[str, tuple[int, str]] = {}
    counted = 0
    for start in range(0, len(specs), BATCH):
        chunk = specs[start : start + BATCH]
        warm = start == 0
        accept_backend = process_cpu_seconds(pid)
        accept_python = time.process_time()
        with connection.execute_wrapper(StatementMeter(pid) if warm else accept_meter):
            accept_unqueued(chunk, tickets)
        accept_python = time.process_time() - accept_python
        accept_backend = process_cpu_seconds(pid) - accept_backend
        batch_backend = process_cpu_seconds(pid)
        batch_python = time.process_time()
        with (
            connection.execute_wrapper(StatementMeter(pid) if warm else batch_meter),
            tenant_context(tenant_id),
        ):
            done = inbound.process_batch(limit=BATCH)
        batch_python = time.process_time() - batch_python
        batch_backend = process_cpu_seconds(pid) - batch_backend
        note_tickets(tenant_id, chunk, tickets)
        if warm:
            continue
        counted += len(done)
        totals["accept_python"] += accept_python
        totals["accept_backend"] += accept_backend
        totals["batch_python"] += batch_python
        totals["batch_backend"] += batch_backend

    def per_mail(seconds: float) -> float:
        return round(1000 * seconds / max(1, counted), 3)

    def kinds(meter: StatementMeter, backend: float) -> dict[str, Any]:
        rows: dict[str, dict[str, float | None]] = {
            group: {
                "backend_ms_per_mail": per_mail(cpu),
                "statements_per_mail": round(meter.count[group] / max(1, counted), 2),
            }
            for group, cpu in sorted(meter.cpu.items(), key=lambda item: -item[1])
        }
        rows["(outside statements: BEGIN, COMMIT, deferred checks)"] = {
            "backend_ms_per_mail": per_mail(backend - sum(meter.cpu.values())),
            "statements_per_mail": None,
        }
        return rows

    return {
        "messages": counted,
        "load_average": os.getloadavg(),
        "accept": {
            "python_ms_per_mail": per_mail(totals["accept_python"]),
            "backend_ms_per_mail": per_mail(totals["accept_backend"]),
            "by_kind": kinds(accept_meter, totals["accept_backend"]),
        },
        "batch": {
            "python_ms_per_mail": per_mail(totals["batch_python"]),
            "backend_ms_per_mail": per_mail(totals["batch_backend"]),
            "by_kind": kinds(batch_meter, totals["batch_backend"]),
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inbound_postgres", description=__doc__)
    parser.add_argument("--batches", type=int, default=6, help="batches of 100 (first: warm-up)")
    parser.add_argument("--rounds", type=int, default=1, help="measurements on one database")
    parser.add_argument("--keep-database", action="store_true", help="do not build it again")
    parser.add_argument("--seed", type=int, default=100, help="another seed on a kept database")
    parser.add_argument("--no-analyze", action="store_true", help="no statistics (autovacuum off)")
    arguments = parser.parse_args(argv)

    from bench import run as bench_run

    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    context = bench_run.Context(
        database_url=bench_run.bench_database_url(),
        redis_url=bench_run.bench_redis_url(),
        var_dir=var_dir,
    )
    os.environ.update(context.variables())
    import django

    django.setup()
    if not arguments.keep_database:
        context.prepare()
    from bench.inbound import AutoAnalyze

    analyze = AutoAnalyze(context)
    if not arguments.no_analyze:
        analyze.start()
    try:
        for round_ in range(arguments.rounds):
            result = measure(context.tenant_slug, arguments.batches, seed=arguments.seed + round_)
            result["analyzed"] = dict(analyze.analyzed)
            print(json.dumps(result, indent=1), flush=True)
    finally:
        analyze.stop()
    context.redis().flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
