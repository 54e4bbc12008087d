"""What the instructor reads: grades.csv, the printed grade table and an HTML class report to work from."""
from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter, defaultdict
from pathlib import Path

from .course import SOURCE
from .outline import GradedCell, read_graded_cells
from .results import CellScore, Result, Status

CSV_FIELDS = ("student", "name", "assignment", "score", "max_score", "status", "late", "submitted_at", "reason",
              "flags")
#: Submissions with no notebook to score: left out of means, histograms and pass rates.
NOT_HANDED_IN = (Status.MISSING, Status.UNREADABLE)
STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.num{text-align:right}"
         "td.full{background:#e8f5e9}td.zero{background:#ffebee}td.part{background:#fff8e1}"
         "td.awaits{background:#e3f2fd;font-style:italic}th.part{background:#f5f5f5;text-align:center}"
         "span.name{color:#555;font-size:90%}span.late{color:#b71c1c;font-weight:bold}"
         "td.none{color:#666;font-style:italic;background:#fafafa}")


def names(gradebook: Path) -> dict[str, str]:
    """Student id -> "First Last" for the students the gradebook names (a roster import), {} without a gradebook."""
    if not gradebook.is_file():
        return {}
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{gradebook}") as gb:
        return {s.id: " ".join(n for n in (s.first_name, s.last_name) if n) for s in gb.students
                if s.first_name or s.last_name}


def _when(iso: str) -> str:
    """grades.csv's ISO 8601 time as a person reads it: 2026-12-02 09:40 UTC."""
    return f"{iso[:10]} {iso[11:16]} UTC" if iso.endswith("Z") and len(iso) >= 16 else iso


def _row(r: Result, name: str, readable: bool = False) -> list[str]:
    """One submission's row of grades.csv (readable: its time as a person reads it, for the report)."""
    when = r.submitted_at
    return [r.student, name, r.assignment, f"{r.score:g}", f"{r.max_score:g}", r.status, r.late,
            _when(when) if readable else when, r.reason, " | ".join(r.flags)]


def write_csv(results: list[Result], path: Path) -> None:
    """grades.csv; names come from the gradebook beside it (written first by the pipeline), when it has them."""
    known = names(Path(path).parent / "gradebook.db")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in results:
            writer.writerow(_row(r, known.get(r.student, "")))


def table(results: list[Result]) -> str:
    """The grade table as aligned text, for the terminal."""
    rows = [("student", "assignment", "score", "status", "reason")]
    rows += [(r.student, r.assignment, f"{r.score:g}/{r.max_score:g}", r.status,
              r.reason if len(r.reason) <= 70 else r.reason[:67] + "...") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines.insert(1, "-" * min(max(len(line) for line in lines), 120))
    return "\n".join(lines)


def awaiting(result: Result) -> list[CellScore]:
    """The written answers of a submission that a person has yet to grade."""
    return [c for c in result.cells if c.needs_manual_grade]


def graded_points(result: Result) -> tuple[float, float]:
    """(score, max) over the points already graded: answers awaiting a person count neither as 0 nor in the max."""
    pending = awaiting(result)
    return (result.score - sum(c.score for c in pending), result.max_score - sum(c.max_score for c in pending))


def columns(rows: list[Result], source: Path, folder: Path) -> list[tuple[str, GradedCell]]:
    """(notebook, cell) for every graded cell of an assignment in notebook order: the source's, else (a source
    folder without it) an autograded copy's beside the report; cells neither names follow in the grades' order."""
    aid = rows[0].assignment
    copies = sorted((folder / "autograded").glob(f"*/{aid}"))
    outline = (read_graded_cells(source, aid) if (Path(source) / aid).is_dir()
               else read_graded_cells(copies[0].parent, aid) if copies else {})
    ordered = [(nb, cell) for nb, cells in outline.items() for cell in cells]
    known = {(nb, cell.grade_id) for nb, cell in ordered}
    for r in rows:
        for c in r.cells:
            if (c.notebook, c.grade_id) not in known:
                known.add((c.notebook, c.grade_id))
                ordered.append((c.notebook, GradedCell(c.grade_id, c.max_score, c.autograded, "", c.grade_id)))
    return ordered


def histogram(scores: list[float], max_score: float, title: str):
    """A score histogram, one bar per whole point, whole-number ticks on both axes
    (a Figure without pyplot: no display backend, no global state)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    top = max(int(round(max_score)), 1)
    fig = Figure(figsize=(5.5, 2.8), dpi=100)
    ax = fig.add_subplot()
    ax.hist(scores, bins=[b - 0.5 for b in range(top + 2)], color="#3f6fb5", edgecolor="white")
    ax.set(title=title, xlabel=f"graded points (of {max_score:g})", ylabel="students", xlim=(-0.6, top + 0.6))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def histogram_png(scores: list[float], max_score: float, title: str) -> str:
    """The histogram as base64 PNG, for an <img> inside the report."""
    buf = io.BytesIO()
    histogram(scores, max_score, title).savefig(buf, format="png", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _esc(value: object) -> str:
    return html.escape(str(value))


def _feedback_links(r: Result, folder: Path) -> str:
    pages = sorted((folder / "feedback" / r.student / r.assignment).glob("*.html"))
    return " ".join(f"<a href='{_esc(p.relative_to(folder).as_posix())}'>{_esc(p.stem)}</a>" for p in pages) or "-"


def _score_cell(cell: CellScore | None) -> str:
    if cell is None:
        return "<td>-</td>"
    if cell.needs_manual_grade:
        return f"<td class='awaits' title='awaits manual grading'>awaits / {cell.max_score:g}</td>"
    kind = "full" if cell.score >= cell.max_score else "zero" if cell.score <= 0 else "part"
    return f"<td class='num {kind}'>{cell.score:g}</td>"


def _student_cell(r: Result, known: dict[str, str]) -> str:
    name = f" <span class='name'>{_esc(known[r.student])}</span>" if r.student in known else ""
    late = f" <span class='late' title='{_esc(r.late)}'>late</span>" if r.late else ""
    return f"<td>{_esc(r.student)}{name}{late}</td>"


def _assignment_section(aid: str, rows: list[Result], folder: Path, source: Path) -> list[str]:
    handed_in = [r for r in rows if r.status not in NOT_HANDED_IN]
    graded = [graded_points(r) for r in handed_in]
    mean = sum(s for s, _ in graded) / len(graded) if graded else 0.0
    mean_max = sum(m for _, m in graded) / len(graded) if graded else 0.0
    max_score = max(r.max_score for r in rows)
    pending = sum(len(awaiting(r)) for r in handed_in)
    statuses = Counter(r.status for r in rows)
    late = [r for r in handed_in if r.late]
    known = names(folder / "gradebook.db")
    parts = [f"<h2 id='{_esc(aid)}'>{_esc(aid)}</h2>",
             f"<p>{len(handed_in)} of {len(rows)} students handed in. Mean {mean:.2f} of {mean_max:.2f} graded "
             f"points (assignment total {max_score:g}). Written answers not yet graded count neither as zero nor "
             f"in the total: {pending} await manual grading. Statuses: "
             + ", ".join(f"{_esc(s)}: {n}" for s, n in sorted(statuses.items(), key=lambda i: Status(i[0]).severity))
             + ". "
             + (f"<span class='late'>{len(late)} late</span>: {', '.join(_esc(r.student) for r in late)}."
                if late else "") + "</p>",
             f"<img alt='histogram of graded points for {_esc(aid)}' "
             f"src='data:image/png;base64,{histogram_png([s for s, _ in graded], mean_max or max_score, aid)}'>"]
    cols = columns(rows, source, folder)
    single = len({nb for nb, _ in cols}) <= 1
    groups: list[tuple[str, int]] = []
    for _, cell in cols:
        if groups and groups[-1][0] == cell.part:
            groups[-1] = (cell.part, groups[-1][1] + 1)
        else:
            groups.append((cell.part, 1))
    parts.append("<h3>Students x tests</h3><table><tr><th rowspan='2'>student</th>"
                 + "".join(f"<th class='part' colspan='{n}'>{_esc(p) or '&nbsp;'}</th>" for p, n in groups)
                 + "<th rowspan='2'>score</th><th rowspan='2'>status</th><th rowspan='2'>feedback</th></tr><tr>"
                 + "".join(f"<th title='{_esc(cell.name)}'>{_esc(cell.grade_id if single else f'{nb}/{cell.grade_id}')}"
                           f" ({cell.points:g}{'' if cell.autograded else ', by hand'})</th>" for nb, cell in cols)
                 + "</tr>")
    for r in rows:
        by_id = {(c.notebook, c.grade_id): c for c in r.cells}
        score, graded_max = graded_points(r)
        tests = (f"<td class='none' colspan='{len(cols)}'>{_esc(r.reason)}</td>" if r.status in NOT_HANDED_IN
                 else "".join(_score_cell(by_id.get((nb, cell.grade_id))) for nb, cell in cols))
        parts.append(f"<tr>{_student_cell(r, known)}{tests}"
                     + f"<td class='num'>{score:g} / {graded_max:g}</td><td title='{_esc(r.reason)}'>"
                     f"{_esc(r.status)}</td><td>{_feedback_links(r, folder)}</td></tr>")
    means = []
    for nb, cell in cols:
        got = [c for r in handed_in for c in r.cells
               if (c.notebook, c.grade_id) == (nb, cell.grade_id) and not c.needs_manual_grade]
        means.append(f"<td class='num'>{sum(c.score for c in got) / len(got):.2f}</td>" if got else "<td>-</td>")
    parts.append("<tr><th>mean (graded)</th>" + "".join(means) + "<td></td><td></td><td></td></tr></table>")
    return parts


def _manual_queue(results: list[Result], folder: Path) -> list[str]:
    queue = [(r, c) for r in results for c in awaiting(r)]
    if not queue:
        return ["<h2>Manual grading queue</h2><p>No written answer awaits manual grading.</p>"]
    parts = [f"<h2>Manual grading queue</h2><p>{len(queue)} written answers await a person "
             "(grade them in formgrader, then run <code>autograder finalize</code>).</p>",
             "<table><tr><th>student</th><th>assignment</th><th>notebook</th><th>answer</th><th>points</th>"
             "<th>feedback</th></tr>"]
    parts += [f"<tr><td>{_esc(r.student)}</td><td>{_esc(r.assignment)}</td><td>{_esc(c.notebook)}</td>"
              f"<td>{_esc(c.grade_id)}</td><td class='num'>{c.max_score:g}</td><td>{_feedback_links(r, folder)}</td></tr>"
              for r, c in queue]
    parts.append("</table>")
    return parts


def flagged_section(results: list[Result]) -> list[str]:
    """Submissions whose code reaches into the shell or the interpreter, or calls the reference implementation
    (autograder.flags): graded as usual, listed first for a person to read."""
    flagged = [r for r in results if r.flags]
    if not flagged:
        return []
    rows = [f"<tr><td>{html.escape(r.student)}</td><td>{html.escape(r.assignment)}</td><td>{r.score:g}</td><td><ul>"
            + "".join(f"<li><code>{html.escape(f)}</code></li>" for f in r.flags) + "</ul></td></tr>" for r in flagged]
    return [f"<h2>Flagged for a person</h2><p>{len(flagged)} submission(s) graded as usual whose code reaches into "
            "the notebook shell or the interpreter, or calls the reference implementation: read each before the "
            "grade stands.</p><table><tr><th>student</th><th>assignment</th><th>score</th><th>flags (cell, line, "
            "construct, code)</th></tr>", *rows, "</table>"]


def write_html(results: list[Result], path: Path, source: Path = SOURCE) -> None:
    """The class report: per assignment the graded-points histogram and a student x test table (tests in notebook
    order, grouped by part, with points, links to each feedback page); the manual-grading queue; then all rows."""
    by_assignment: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_assignment[r.assignment].append(r)
    folder = Path(path).parent
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title>",
             f"<style>{STYLE}</style></head><body>", "<h1>Class report</h1>"]
    parts += flagged_section(results)
    for aid, rows in sorted(by_assignment.items()):
        parts += _assignment_section(aid, sorted(rows, key=lambda r: r.student), folder, source)
    parts += _manual_queue(results, folder)
    known = names(folder / "gradebook.db")
    parts.append("<h2>All submissions</h2><table><tr>" + "".join(f"<th>{f}</th>" for f in CSV_FIELDS) + "</tr>")
    parts += ["<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in _row(r, known.get(r.student, ""), True)) + "</tr>"
              for r in results]
    parts.append("</table></body></html>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
