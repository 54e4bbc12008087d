"""An assignment's graded cells in notebook order, each with its points, its part (the heading above it) and a name
a person can read; and the point totals its prose claims, so that report, feedback and tests share one reading."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
#: "(10 points)" or "(8 points, graded by hand)" at the end of a heading.
HEADING_POINTS = re.compile(r"\((\d+(?:\.\d+)?) points?\b[^)]*\)\s*$")
AUTOGRADED_CLAIM = re.compile(r"(\d+(?:\.\d+)?) points? (?:are|is) autograded")
MANUAL_CLAIM = re.compile(r"graded by hand \((\d+(?:\.\d+)?) points?")
#: "*(2 points)*" closing a question: the points of the answer cell that follows.
QUESTION_CLAIM = re.compile(r"\*\((\d+(?:\.\d+)?) points?\)\*\s*$")


@dataclass(frozen=True)
class GradedCell:
    """One cell that earns points, as the source notebook defines it."""
    grade_id: str
    points: float
    autograded: bool  # a test cell; False for an answer a person grades
    part: str  # the nearest "##" heading above it ("" when none)
    name: str  # the test's first comment line, else its grade_id


@dataclass(frozen=True)
class Claim:
    """A point total written in the prose, the cells it covers, and the sentence it was read from."""
    sentence: str
    claimed: float
    grade_ids: tuple[str, ...]


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_name(cell, grade_id: str) -> str:
    """What a person calls a graded cell: a test's first comment line (not an nbgrader marker), else its grade_id."""
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    text = first.lstrip("#").strip()
    if cell.cell_type == "code" and first.startswith("#") and text and not text.startswith(("BEGIN ", "END ")):
        return text
    return grade_id


def graded_cells(nb) -> list[GradedCell]:
    """The notebook's point-earning cells in the order a student meets them."""
    cells, part = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                match = HEADING.match(line)
                if match and len(match.group(1)) == 2:
                    part = HEADING_POINTS.sub("", match.group(2)).strip()
        meta = _nbgrader(cell)
        if meta.get("grade"):
            gid = meta["grade_id"]
            autograded = cell.cell_type == "code" and not meta.get("solution")
            cells.append(GradedCell(gid, float(meta.get("points", 0)), autograded, part, cell_name(cell, gid)))
    return cells


def read_graded_cells(source: Path, assignment: str) -> dict[str, list[GradedCell]]:
    """{notebook name without .ipynb: its graded cells} for one assignment of a source folder."""
    return {path.stem: graded_cells(nbformat.read(path, 4))
            for path in sorted((Path(source) / assignment).glob("*.ipynb"))}


def claims(nb) -> list[Claim]:
    """Every point total the prose states: whole-notebook totals, per-heading totals and per-question points."""
    graded = graded_cells(nb)
    found: list[Claim] = []
    autograded = tuple(c.grade_id for c in graded if c.autograded)
    manual = tuple(c.grade_id for c in graded if not c.autograded)
    open_headings: list[tuple[int, str, float, list[str]]] = []  # level, sentence, claimed, grade ids so far
    pending_question: tuple[str, float] | None = None

    def close(level: int) -> None:
        while open_headings and open_headings[-1][0] >= level:
            _, sentence, claimed, ids = open_headings.pop()
            found.append(Claim(sentence, claimed, tuple(ids)))

    for cell in nb.cells:
        if cell.cell_type == "markdown" and not _nbgrader(cell).get("grade"):
            for line in cell.source.splitlines():
                for pattern, ids in ((AUTOGRADED_CLAIM, autograded), (MANUAL_CLAIM, manual)):
                    for match in pattern.finditer(line):
                        found.append(Claim(line.strip(), float(match.group(1)), ids))
                heading = HEADING.match(line)
                if heading:
                    close(len(heading.group(1)))
                    points = HEADING_POINTS.search(heading.group(2))
                    if points:
                        open_headings.append((len(heading.group(1)), line.strip(), float(points.group(1)), []))
                question = QUESTION_CLAIM.search(line)
                if question:
                    pending_question = (line.strip(), float(question.group(1)))
        meta = _nbgrader(cell)
        if meta.get("grade"):
            for heading_claim in open_headings:
                heading_claim[3].append(meta["grade_id"])
            if pending_question is not None:
                found.append(Claim(pending_question[0], pending_question[1], (meta["grade_id"],)))
                pending_question = None
    close(0)
    return found


def mismatches(nb) -> list[str]:
    """Each prose total that differs from the points of the cells it covers, said with the right number."""
    points = {c.grade_id: c.points for c in graded_cells(nb)}
    out = []
    for claim in claims(nb):
        actual = sum(points[g] for g in claim.grade_ids)
        if actual != claim.claimed:
            out.append(f"{claim.sentence!r} says {claim.claimed:g} points; its cells "
                       f"({', '.join(claim.grade_ids) or 'none'}) are worth {actual:g}: write {actual:g}")
    return out
