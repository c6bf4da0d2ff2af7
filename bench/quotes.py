# ruff: noqa: RUF001 - attribution lines in Japanese and Chinese end with a fullwidth colon
"""Quote and signature separation on the corpus of tests/fixtures/quotes (issue 17, point 5).

    .venv/bin/python -m bench.quotes [--skip-libraries] [--libraries-python PATH]

Every sample is a mail as its client writes it (`<client>/<language>-<case>.eml`) with the
text an agent should see first (`.txt`). Each goes through `parse_email` and
`tickets.mail_in.quotes.separate`, as the inbound pipeline runs them; a sample counts as
right when the visible text has the expected lines (runs of spaces made one; blank lines
left out, as they depend on how each library writes HTML as text; the test suite holds ours
to the blank lines too). Accuracy per client family, per language and overall; the CPU time
`separate` takes per mail (parsing excluded).

The same corpus then goes through the maintained libraries (talon, quotequail,
mail-parser-reply, email-reply-parser), in their own virtualenv (`var/bench-quote-libraries`,
made with pip from the package index on the first run; `--libraries-python` names another
interpreter that has them) so that none of them is installed into the help desk's. A
library is credited when its visible text equals ours, or would but for an attribution line
it keeps at the end (quotequail shows it on purpose).

Writes bench/results/quotes-<UTC time>.json and latest-quotes.json, and the tables between
the quotes markers of bench/README.md. Needs no database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "quotes"
README = ROOT / "bench" / "README.md"
README_START = "<!-- bench:quotes:start (written by bench/quotes.py) -->"
README_END = "<!-- bench:quotes:end -->"
LIBRARIES_VENV = ROOT / "var" / "bench-quote-libraries"
LIBRARIES = ("talon", "quotequail", "mail-parser-reply", "email-reply-parser")
# Columns of the comparison: talon twice, without and with its signature extraction.
COLUMNS = ("talon", "talon+signature", "quotequail", "mail-parser-reply", "email-reply-parser")
TIMING_ROUNDS = 20
LANGUAGES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "sv": "Swedish",
    "ru": "Russian",
    "ja": "Japanese",
    "zh": "Chinese",
}
CLIENTS = {
    "gmail": "Gmail",
    "apple": "Apple Mail (macOS, iOS)",
    "outlook": "Outlook desktop (Windows, Mac)",
    "owa": "Outlook on the web, new Outlook, Outlook mobile",
    "thunderbird": "Thunderbird",
    "yahoo": "Yahoo Mail",
    "yandex": "Yandex Mail",
    "mailru": "Mail.ru",
    "plain": "plain-text mail (Outlook plain, Samsung, K-9, mutt, forwards, prose)",
}


@dataclass
class Sample:
    id: str  # "<client>/<name>"
    client: str
    language: str
    text: str
    html: str
    expected: str


def normalize(text: str) -> str:
    """The lines with text, runs of spaces made one: blank lines depend on how a library
    writes HTML as text, not on where it cuts."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def load_corpus() -> list[Sample]:
    from tickets.mail_in.parsing import parse_email

    samples = []
    for path in sorted(CORPUS.glob("*/*.eml")):
        parsed = parse_email(path.read_bytes())
        samples.append(
            Sample(
                id=f"{path.parent.name}/{path.stem}",
                client=path.parent.name,
                language=path.stem.split("-", 1)[0],
                text=parsed.text,
                html=parsed.html,
                expected=path.with_suffix(".txt").read_text(encoding="utf-8"),
            )
        )
    return samples


def credited(visible: str | None, expected: str) -> bool:
    if visible is None:
        return False
    got, want = normalize(visible), normalize(expected)
    if got == want:
        return True
    lines = got.split("\n")
    # An attribution line kept under the new part ("On …, X wrote:"): the split is right.
    return (
        len(lines) > 1
        and lines[-1].endswith((":", "："))
        and normalize("\n".join(lines[:-1])) == want
    )


def accuracy(rows: list[tuple[Sample, bool]]) -> dict[str, Any]:
    def share(items: list[tuple[Sample, bool]]) -> dict[str, Any]:
        right = sum(1 for _, ok in items if ok)
        return {"right": right, "total": len(items), "percent": round(100 * right / len(items), 1)}

    by_client: dict[str, list[tuple[Sample, bool]]] = defaultdict(list)
    by_language: dict[str, list[tuple[Sample, bool]]] = defaultdict(list)
    for sample, ok in rows:
        by_client[sample.client].append((sample, ok))
        by_language[sample.language].append((sample, ok))
    return {
        "overall": share(rows),
        "clients": {client: share(items) for client, items in sorted(by_client.items())},
        "languages": {lang: share(items) for lang, items in sorted(by_language.items())},
        "wrong": [sample.id for sample, ok in rows if not ok],
    }


def measure_ours(samples: list[Sample]) -> dict[str, Any]:
    from tickets.mail_in.quotes import separate

    rows = []
    for sample in samples:
        result = separate(sample.text, sample.html)
        rows.append((sample, credited(result.visible, sample.expected)))
    times: list[float] = []
    for sample in samples:
        # CPU time, not wall time: steadier on a machine that runs other work.
        started = time.process_time()
        for _ in range(TIMING_ROUNDS):
            separate(sample.text, sample.html)
        times.append((time.process_time() - started) * 1000 / TIMING_ROUNDS)
    times.sort()
    return {
        **accuracy(rows),
        "ms_per_mail": {
            "mean": round(statistics.fmean(times), 3),
            "p50": round(times[len(times) // 2], 3),
            "p95": round(times[int(len(times) * 0.95)], 3),
            "max": round(times[-1], 3),
        },
        "mean_html_kb": round(statistics.fmean(len(s.html.encode()) for s in samples) / 1024, 1),
    }


def libraries_python(explicit: str | None) -> tuple[str | None, str]:
    """An interpreter with the libraries: the one named, or var/bench-quote-libraries."""
    if explicit:
        return explicit, ""
    python = LIBRARIES_VENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(LIBRARIES_VENV)],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    *LIBRARIES,
                ],
                check=True,
                capture_output=True,
                timeout=900,
            )
        except (subprocess.SubprocessError, OSError) as error:
            return None, f"could not install the libraries: {error}"
    return str(python), ""


def measure_libraries(samples: list[Sample], python: str) -> dict[str, Any]:
    payload = json.dumps([{"id": s.id, "text": s.text, "html": s.html} for s in samples])
    completed = subprocess.run(
        [python, str(ROOT / "bench" / "quotes_libraries.py")],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    answer = json.loads(completed.stdout)
    figures: dict[str, Any] = {"versions": answer["versions"], "errors": answer["errors"]}
    for name, visible in answer["results"].items():
        rows = [(sample, credited(visible.get(sample.id), sample.expected)) for sample in samples]
        figures[name] = accuracy(rows)
    return figures


def run(options: dict[str, Any]) -> dict[str, Any]:
    samples = load_corpus()
    result: dict[str, Any] = {"samples": len(samples), "ours": measure_ours(samples)}
    if options.get("skip_libraries"):
        result["libraries"] = {"skipped": "--skip-libraries"}
        return result
    python, problem = libraries_python(options.get("libraries_python"))
    if python is None:
        result["libraries"] = {"skipped": problem}
    else:
        result["libraries"] = measure_libraries(samples, python)
    return result


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "tickets/mail_in",
            "tests/fixtures/quotes",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}",
    }


def _cell(figure: dict[str, Any] | None) -> str:
    if not figure:
        return "–"
    return f"{figure['percent']}% ({figure['right']}/{figure['total']})"


def markdown(document: dict[str, Any]) -> str:
    result, facts = document["result"], document["machine"]
    ours = result["ours"]
    libraries = result.get("libraries", {})
    names = [name for name in COLUMNS if isinstance(libraries.get(name), dict)]
    header = "| | ours | " + " | ".join(
        f"{name} {libraries['versions'].get(name, '')}" for name in names
    )
    lines = [
        f"Run {facts['date']}, commit {facts['commit']}: {facts['nproc']} x {facts['cpu_model']},"
        f" Python {facts['python']}, load average"
        f" {', '.join(str(value) for value in facts.get('load_average', []))}."
        f" {result['samples']} samples.",
        "",
        header.rstrip() + " |",
        "| --- | --- |" + " --- |" * len(names),
    ]

    def row(label: str, key: str, group: str) -> str:
        cells = [_cell(ours[group].get(key))]
        cells += [_cell(libraries[name][group].get(key)) for name in names]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines.append(
        "| **overall** | **"
        + _cell(ours["overall"])
        + "** | "
        + " | ".join(_cell(libraries[name]["overall"]) for name in names)
        + " |"
    )
    for client, label in CLIENTS.items():
        if client in ours["clients"]:
            lines.append(row(label, client, "clients"))
    for code, label in LANGUAGES.items():
        if code in ours["languages"]:
            lines.append(row(label, code, "languages"))
    timing = ours["ms_per_mail"]
    lines += [
        "",
        f"`separate`, CPU per mail (parsing excluded, mean HTML part {ours['mean_html_kb']} kB):"
        f" mean {timing['mean']} ms, p50 {timing['p50']} ms, p95 {timing['p95']} ms,"
        f" max {timing['max']} ms.",
    ]
    if ours["wrong"]:
        lines += ["", "Wrong here: " + ", ".join(f"`{name}`" for name in ours["wrong"]) + "."]
    if "skipped" in libraries:
        lines += ["", f"Libraries not measured: {libraries['skipped']}."]
    for name, error in sorted(libraries.get("errors", {}).items()):
        lines += ["", f"{name} did not load: {error}."]
    return "\n".join(lines)


def write(document: dict[str, Any]) -> Path:
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path = results / f"quotes-{stamp}.json"
    path.write_text(text)
    (results / "latest-quotes.json").write_text(text)
    readme = README.read_text()
    if README_START in readme:
        before, _, rest = readme.partition(README_START)
        _, _, after = rest.partition(README_END)
        README.write_text(f"{before}{README_START}\n{markdown(document)}\n{README_END}{after}")
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quotes", description=__doc__)
    parser.add_argument("--skip-libraries", action="store_true")
    parser.add_argument("--libraries-python", help="an interpreter with the four libraries")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    result = run(
        {
            "skip_libraries": arguments.skip_libraries,
            "libraries_python": arguments.libraries_python,
        }
    )
    document = {
        "benchmark": "quotes",
        "machine": machine(),
        "seconds": round(time.monotonic() - started, 1),
        "result": result,
    }
    path = write(document)
    print(markdown(document))
    print(f"quotes: {document['seconds']} s; figures in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
