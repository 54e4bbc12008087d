"""What the instructor reads: grades.csv, the printed grade table and an HTML class report."""
from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter, defaultdict
from pathlib import Path

from .results import Result

CSV_FIELDS = ("student", "assignment", "score", "max_score", "status", "reason")


def write_csv(results: list[Result], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in results:
            writer.writerow([r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", r.status, r.reason])


def table(results: list[Result]) -> str:
    """The grade table as aligned text, for the terminal."""
    rows = [("student", "assignment", "score", "status", "reason")]
    rows += [(r.student, r.assignment, f"{r.score:g}/{r.max_score:g}", r.status,
              r.reason if len(r.reason) <= 70 else r.reason[:67] + "...") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines.insert(1, "-" * min(max(len(line) for line in lines), 120))
    return "\n".join(lines)


def pass_rates(results: list[Result]) -> dict[str, float]:
    """Per autograded question: the share of handed-in submissions that got its full points."""
    tried, passed = Counter(), Counter()
    for r in results:
        if r.status in ("missing", "unreadable"):
            continue
        for cell in r.cells:
            if cell.autograded:
                key = cell.grade_id if cell.notebook == r.assignment else f"{cell.notebook}/{cell.grade_id}"
                tried[key] += 1
                passed[key] += cell.score >= cell.max_score > 0
    return {key: passed[key] / tried[key] for key in tried}


def histogram_png(scores: list[float], max_score: float, title: str) -> str:
    """A score histogram as base64 PNG (Figure without pyplot: no display backend, no global state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 2.6), dpi=100)
    ax = fig.add_subplot()
    bins = min(20, max(int(max_score), 1))
    ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#3f6fb5", edgecolor="white")
    ax.set(title=title, xlabel="score", ylabel="students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_html(results: list[Result], path: Path) -> None:
    """The class report: per assignment a histogram, status counts and per-question pass rates; then all rows."""
    by_assignment: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_assignment[r.assignment].append(r)
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}</style></head><body>",
             "<h1>Class report</h1>"]
    for aid, rows in sorted(by_assignment.items()):
        max_score = max(r.max_score for r in rows)
        scores = [r.score for r in rows if r.status != "missing"]  # the histogram shows work handed in
        mean = sum(scores) / len(scores) if scores else 0.0
        statuses = Counter(r.status for r in rows)
        parts.append(f"<h2>{html.escape(aid)}</h2><p>{len(scores)} of {len(rows)} students handed in, "
                     f"mean {mean:.2f} / {max_score:g}; "
                     + ", ".join(f"{html.escape(s)}: {n}" for s, n in sorted(statuses.items())) + "</p>")
        parts.append(f"<img alt='score histogram for {html.escape(aid)}' "
                     f"src='data:image/png;base64,{histogram_png(scores, max_score, aid)}'>")
        parts.append("<table><tr><th>question</th><th>pass rate</th></tr>")
        parts += [f"<tr><td>{html.escape(q)}</td><td>{rate:.0%}</td></tr>" for q, rate in pass_rates(rows).items()]
        parts.append("</table>")
    parts.append("<h2>All submissions</h2><table><tr>" + "".join(f"<th>{f}</th>" for f in CSV_FIELDS) + "</tr>")
    parts += ["<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in
                               (r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", r.status, r.reason))
              + "</tr>" for r in results]
    parts.append("</table></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
