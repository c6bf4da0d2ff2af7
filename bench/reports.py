"""Reports benchmark: a year's report of a tenant the size of the 1,000,000-ticket workspace
tenant, read from rollups.

The report reads only automation_reportrollup, so its cost follows the number of rollup
rows, not tickets. This loads the rows a year of such a tenant produces (2,740 tickets a
day; 4 channels, 8 departments, 40 agents, 6 types, 4 priorities, 8 mailboxes: 71 rows a
day, 25,915 in the year, histograms over about 40 buckets) and their month rows, then times
`read_report` + `report_payload` for the whole year (what the summary API and the page
do), inside the tenant's context as helpdesk_app under row-level security.

    DATABASE_URL=postgresql://…/helpdesk_bench_reports .venv/bin/python -m bench.reports

(the database set up with `manage.py setup_database` and `migrate`). Not yet measured:
rebuilding from a million real tickets (needs the workspace benchmark's data).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[1]
DAYS = 365
PER_DAY = 2740
KEYS = {"channel": 4, "department": 8, "agent": 40, "type": 6, "priority": 4, "mailbox": 8}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import transaction

    from automation.models import ReportRollup
    from automation.reports import selectors, services
    from automation.reports.buckets import EDGES
    from helpdesk.ops import services as ops_services
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant

    tenant = Tenant.objects.filter(slug="bench-reports").first()
    if tenant is None:
        tenant = ops_services.create_tenant(
            slug="bench-reports",
            name="Bench reports",
            admin_email="admin@bench-reports.test",
            admin_password=secrets.token_urlsafe(16),
            admin_name="Admin",
        ).tenant
    rng = random.Random(5)
    end = datetime.date(2026, 11, 30)
    start = end - datetime.timedelta(days=DAYS - 1)

    def hist(total: int) -> list[int]:
        counts = [0] * 40
        for _ in range(min(total, 200)):
            counts[min(39, int(rng.expovariate(1 / 12)))] += 1
        scale = total / max(1, sum(counts))
        return [round(c * scale) for c in counts]

    loaded = time.perf_counter()
    with tenant_context(tenant.id), transaction.atomic():
        ReportRollup.objects.all().delete()  # the benchmark's own tenant
        rows = []
        for n in range(DAYS):
            day = start + datetime.timedelta(days=n)
            keys = [("all", "")] + [
                (dimension, str(uuid.UUID(int=k + 1000 * i)))
                for i, (dimension, count) in enumerate(KEYS.items())
                for k in range(count)
            ]
            for dimension, key in keys:
                share = 1 if dimension == "all" else 1 / KEYS[dimension]
                created = round(PER_DAY * share)
                rows.append(
                    ReportRollup(
                        tenant_id=tenant.id,
                        day=day,
                        dimension=dimension,
                        key=key,
                        created=created,
                        solved=created,
                        reopened=created // 20,
                        replies=created * 2,
                        first_response_count=created,
                        first_response_minutes=created * 14,
                        first_response_hist=hist(created),
                        resolution_count=created,
                        resolution_minutes=created * 600,
                        resolution_hist=hist(created),
                        sla_met={"first_response": created * 9 // 10, "resolution": created // 2},
                        sla_missed={"first_response": created // 10, "resolution": created // 2},
                        csat_good=created // 10,
                        csat_bad=created // 100,
                    )
                )
        ReportRollup.objects.bulk_create(rows, batch_size=2000)
        services.sum_months(
            tenant.id,
            {
                (start.replace(day=1) + datetime.timedelta(days=31 * n)).replace(day=1)
                for n in range(13)
            },
        )
    loaded = time.perf_counter() - loaded
    assert len(EDGES) >= 40
    timings = []
    with tenant_context(tenant.id):
        for n in range(25):
            began = time.perf_counter()
            payload = selectors.report_payload(selectors.read_report(start, end))
            if n >= 5:
                timings.append((time.perf_counter() - began) * 1000)
    result = {
        "rollup_rows": len(rows),
        "load_seconds": round(loaded, 1),
        "tickets_in_year": payload["tickets_created"],
        "year_report_ms_median": round(statistics.median(timings), 1),
        "year_report_ms_max": round(max(timings), 1),
        "measured": len(timings),
    }
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest-reports.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
