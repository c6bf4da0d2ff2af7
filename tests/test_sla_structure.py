"""The SLA in one place: what the ticket's `sla_*` columns mean is answered only by
tickets/sla/selectors.py, and only automation writes them (ARCHITECTURE.md, "The SLA")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THE_SLA_MODULE = Path("tickets/sla/selectors.py")
SOURCES = ("helpdesk", "tickets", "departments", "knowledge_base", "automation", "bench")

# Deciding an SLA state: a lookup or comparison on the due time, the due-soon window, the
# states themselves, a filter on the paused flag, the SLA order.
SLA_MEANING = re.compile(
    r"sla_due_at__|sla_due_at\s*[<>]|SLA_DUE_SOON|\bSlaState\b|sla_paused\s*=\s*True"
    r"|F\(\s*[\"']sla_due_at[\"']\s*\)"
)
# Writing the columns (and the breach events): automation.sla alone.
SLA_WRITE = re.compile(r"(?<!def )\b(set_sla_state|record_sla_breach)\(")
SLA_WRITERS = {Path("automation/sla.py")}


def _files(*patterns: str) -> list[Path]:
    found: list[Path] = []
    for top in SOURCES:
        for pattern in patterns:
            found.extend(
                path.relative_to(ROOT)
                for path in (ROOT / top).rglob(pattern)
                if "migrations" not in path.parts
            )
    found.extend(path.relative_to(ROOT) for path in (ROOT / "templates").rglob("*.html"))
    return sorted(set(found))


def _hits(pattern: re.Pattern[str], exempt: set[Path]) -> list[str]:
    return [
        f"{path}:{number}: {line.strip()}"
        for path in _files("*.py", "*.html")
        if path not in exempt
        for number, line in enumerate((ROOT / path).read_text().splitlines(), start=1)
        if pattern.search(line)
    ]


def test_sla_state_is_decided_only_in_the_sla_selectors() -> None:
    assert _hits(SLA_MEANING, {THE_SLA_MODULE}) == [], (
        "Ask tickets.sla.selectors (sla_state, filter_by_sla_state, SLA_ORDERING, …) "
        "instead of reading the SLA columns' meaning here"
    )


def test_only_automation_writes_the_sla_columns() -> None:
    assert _hits(SLA_WRITE, SLA_WRITERS) == []


def test_the_scan_sees_the_sla_module() -> None:
    """Guard against a scan that finds nothing (a moved root, a renamed module)."""
    assert THE_SLA_MODULE in _files("*.py")
    assert SLA_MEANING.search((ROOT / THE_SLA_MODULE).read_text())
