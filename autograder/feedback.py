"""Student feedback: nbgrader's HTML with hidden tests AND their error tracebacks removed, plus a status banner."""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbgrader
from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets.config import Config

from .offline_math import OfflineMath
from .outline import cell_name
from .results import Status

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: IPython names the failing line of the cell itself as "Cell In[7], line 12" (older: "<ipython-input-...> 12").
CELL_LINE = re.compile(r"(?:Cell In\s*\[\d*\],\s*line\s+(\d+))|(?:<ipython-input-[^>]*>\s+in\s+\S+\n-*>\s*(\d+))")
HIDDEN_MESSAGE = "{ename}: a hidden test failed (its code and message are not shown)"


def hidden_lines(source: str) -> set[int]:
    """1-based line numbers of a cell's hidden-test regions, delimiters included."""
    lines, inside = set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN in line:
            inside = True
        if inside:
            lines.add(number)
        if END in line:
            inside = False
    return lines


def failing_line(traceback: list[str]) -> int | None:
    """The line of the cell itself where the error was raised (its outermost frame), if the traceback says."""
    match = CELL_LINE.search(ANSI.sub("", "\n".join(traceback)))
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


class HideHiddenTestErrors(NbGraderPreprocessor):
    """Replaces errors of cells with hidden tests: a hidden line's error says only its exception type, a visible
    line's error keeps its message but loses the traceback, whose context lines could show hidden code.
    Everything else such a cell printed is dropped: student code called by a hidden test can read the running
    cell's source from IPython's history and print it."""

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int
                        ) -> tuple[NotebookNode, ResourcesDict]:
        hidden = hidden_lines(cell.source) if cell.cell_type == "code" else set()
        if not hidden:
            return cell, resources
        cell.outputs = [output for output in cell.get("outputs", []) if output.output_type == "error"]
        for output in cell.outputs:
            if output.output_type != "error":
                continue
            line = failing_line(output.traceback)
            if line is None or line in hidden:
                output.evalue = ""
                output.traceback = [HIDDEN_MESSAGE.format(ename=output.ename)]
            else:
                output.traceback = [f"{output.ename}: {output.evalue} (line {line})"]
        return cell, resources


def banner(status: Status | str, reason: str, late: str = "") -> str:
    """An HTML block that tells the student how the submission was graded, and whether it counts as late."""
    color = "#2e7d32" if status == Status.GRADED else "#b71c1c"
    late_line = f'<br><b class="late" style="color:#b71c1c">Late: {html.escape(late)}</b>' if late else ""
    return (f'<div class="status-banner" style="border:2px solid {color};padding:8px;margin:8px;'
            f'font-family:sans-serif"><b>Status: {html.escape(status)}</b><br>{html.escape(reason)}{late_line}</div>')


def with_banner(page: bytes, status: Status | str, reason: str, late: str = "") -> bytes:
    """nbgrader's feedback page with the status banner first in its page container (else first in its body)."""
    text = page.decode("utf-8")
    anchor = r'(<div class="container">)' if '<div class="container">' in text else r"(<body[^>]*>)"
    text = re.sub(anchor, lambda m: m.group(1) + banner(status, reason, late), text, count=1)
    return text.encode("utf-8")


def plain_page(student: str, assignment: str, score: float, max_score: float, status: Status | str, reason: str,
               late: str = "") -> bytes:
    """Feedback for a submission nbgrader could not run (missing, unreadable, kernel died)."""
    title = html.escape(f"{assignment} - {student}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{banner(status, reason, late)}<p>Score: {score:g} / {max_score:g}</p></body></html>"
            ).encode("utf-8")


TEMPLATE_DIR = Path(__file__).parent / "feedback_template"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
#: The start of a traceback entry for a frame in a module file (the grader's helpers, the bridge, libraries),
#: as opposed to "Cell In[3], line 2" for the notebook's own cells.
MODULE_FRAME = re.compile(r"^\s*File\s")
#: How the page writes nbgrader's (naive UTC) handed-in time and due date.
CLOCK = "%Y-%m-%d %H:%M UTC"
GRADER_FRAMES_NOTE = "(frames inside the course's grading code and libraries are not shown)"


#: A frame line of a traceback printed as text, as the bridge relays the student kernel's: its file decides.
TEXT_FRAME = re.compile(r'^\s+File "([^"]+)", line \d+')


def _student_text(message: str) -> str:
    """A message that carries a printed traceback, without the frames outside the student's cells (ipykernel's
    files): the bridge's own `serve` frame and library frames go, with their source lines."""
    out, skipping = [], False
    for line in message.split("\n"):
        frame = TEXT_FRAME.match(ANSI.sub("", line))
        if frame:
            skipping = "ipykernel" not in frame.group(1)
        elif not (skipping and line.startswith("    ")):
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out)


def student_frames(traceback: list[str]) -> list[str]:
    """A traceback without the frames of module files: the notebook's cells and the message stay, and a
    traceback relayed inside the message keeps only the student's frames."""
    kept = [entry for entry in traceback if not MODULE_FRAME.match(ANSI.sub("", entry))]
    if len(kept) < len(traceback):
        kept.insert(len(kept) - 1, GRADER_FRAMES_NOTE)
    if kept:
        kept[-1] = _student_text(kept[-1])
    return kept


class StudentFeedback(NbGraderPreprocessor):
    """Fills the student feedback template: each graded cell's name and whether it awaits a person, the student's
    name, and tracebacks cut to the student's own frames. Runs after GetGrades, inside its gradebook's reach."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                student = gb.find_student(info["student"])
                name = " ".join(n for n in (student.first_name, student.last_name) if n)
            except MissingEntry:
                name = ""
            submission = gb.find_submission(info["assignment"], info["student"])
            handed_in = submission.timestamp
            due = submission.duedate
            waiting = {}
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade"):
                    grade = gb.find_grade(meta["grade_id"], info["notebook"], info["assignment"], info["student"])
                    meta["display_name"] = cell_name(cell, meta["grade_id"])
                    meta["awaits_manual_grade"] = bool(grade.needs_manual_grade and grade.manual_score is None)
                    if meta["awaits_manual_grade"]:
                        waiting[meta["grade_id"]] = float(grade.max_score)
        info["student_name"] = name
        info["handed_in"] = handed_in.strftime(CLOCK) if handed_in else ""
        info["due"] = due.strftime(CLOCK) if due else ""
        info["awaiting_points"] = sum(waiting.values())
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = student_frames(output.traceback)
        return nb, resources


def configure(c: Config) -> Config:
    """Point nbgrader's GenerateFeedback at the student template; add StudentFeedback and OfflineMath after GetGrades."""
    c.HTMLExporter.template_name = "student_feedback"  # its conf.json names nbgrader's "feedback" as its base
    c.HTMLExporter.template_file = "student.html.j2"  # extends the base's index.html.j2
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATE_DIR), str(NBGRADER_TEMPLATES)]
    steps = list(c.GenerateFeedback.get("preprocessors", []))
    for step in (OfflineMath, StudentFeedback):
        if step not in steps:
            steps.insert(steps.index(GetGrades) + 1 if GetGrades in steps else 0, step)
    c.GenerateFeedback.preprocessors = steps
    return c
