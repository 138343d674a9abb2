"""The class report: a CSV of every notebook's outcome and an HTML summary for the instructor.

The HTML page shows, per assignment, how many submissions were graded and how
each ended, the pass rate of every exercise, and the submissions that need a
human look, with the reason (a timeout, a memory limit, an edited test cell,
a renamed notebook, code that tampered with the grader, ...).
"""

from __future__ import annotations

import csv
import html
from collections import Counter, defaultdict
from pathlib import Path

from autograder.instructors import ledger

COLUMNS = ("assignment", "student", "notebook", "status", "score", "max_score", "reason", "review", "failed")


def _failed(row: dict) -> list[str]:
    return sorted(gid for gid, (passed, _) in row["tests"].items() if not passed)


def needs_review(row: dict) -> str:
    """Why a person should look at this notebook ('' when nothing is odd)."""
    reasons = []
    if row["status"] != "graded":
        reasons.append(f"{row['status']}: {row['reason']}")
    reasons += row["review"]
    if not row["finished"]:
        reasons.append("grading did not finish")
    return "; ".join(reasons)


def write_csv(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow(
                [r["assignment"], r["student"], r["notebook"], r["status"], r["score"], r["max_score"],
                 r["reason"], " | ".join(r["review"]), " ".join(_failed(r))]
            )  # fmt: skip
    return path


def _pass_rates(rows: list[dict]) -> dict[str, dict[str, tuple[int, int]]]:
    rates: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in rows:
        for gid, (passed, _) in r["tests"].items():
            cell = rates[r["assignment"]][gid]
            cell[0] += int(bool(passed))
            cell[1] += 1
    return {a: {g: (p, n) for g, (p, n) in sorted(v.items())} for a, v in sorted(rates.items())}


def write_html(rows: list[dict], path: Path) -> Path:
    e = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Grading report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
        ".bar{background:#4a90d9;height:.8em}"
        ".warn{background:#fff4e0}</style>",
        "<h1>Grading report</h1>",
    ]
    by_assignment: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_assignment[r["assignment"]].append(r)
    rates = _pass_rates(rows)
    for assignment, items in sorted(by_assignment.items()):
        students = {r["student"] for r in items}
        statuses = Counter(r["status"] for r in items)
        parts.append(f"<h2>{e(assignment)}</h2><p>{len(students)} students; notebooks: ")
        parts.append(", ".join(f"{n} {e(s)}" for s, n in sorted(statuses.items())) + "</p>")
        parts.append("<table><tr><th>exercise</th><th>passed</th><th></th></tr>")
        for gid, (passed, total) in rates.get(assignment, {}).items():
            width = 200 * passed / total if total else 0
            parts.append(
                f"<tr><td>{e(gid)}</td><td>{passed}/{total} ({100 * passed / max(total, 1):.0f}%)</td>"
                f"<td><div class='bar' style='width:{width:.0f}px'></div></td></tr>"
            )
        parts.append("</table>")
        flagged = [(r, why) for r in items if (why := needs_review(r))]
        parts.append(f"<h3>Needs a human look ({len(flagged)})</h3>")
        if flagged:
            parts.append("<table><tr><th>student</th><th>notebook</th><th>score</th><th>why</th></tr>")
            for r, why in flagged:
                score = "" if r["score"] is None else f"{r['score']:g}/{r['max_score']:g}"
                parts.append(
                    f"<tr class='warn'><td>{e(r['student'])}</td><td>{e(r['notebook'])}</td>"
                    f"<td>{score}</td><td>{e(why)}</td></tr>"
                )
            parts.append("</table>")
        else:
            parts.append("<p>None.</p>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write(root: Path, out: Path, assignment: str | None = None) -> tuple[Path, Path]:
    """report.csv and report.html for the course root (one assignment or all)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = ledger.rows(root, assignment)
    return write_csv(rows, out / "report.csv"), write_html(rows, out / "report.html")
