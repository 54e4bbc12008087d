"""One gradebook for the class, merged from the per-submission gradebooks that the workers threw away."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning

from .results import Outcome, Status


def merge(template_db: Path, dest: Path, outcomes: list[Outcome]) -> None:
    """Copy the assignments' gradebook and write every handed-in submission's cell scores and comments into it.

    Through nbgrader's own Gradebook API, so formgrader and `nbgrader export` read it as if nbgrader had graded
    the class itself. Missing submissions get no row: nbgrader counts them as zero already."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    dest.unlink(missing_ok=True)
    shutil.copyfile(template_db, dest)
    with Gradebook(f"sqlite:///{dest}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission autoflush notice
        for outcome in sorted(outcomes, key=lambda o: (o.result.student, o.result.assignment)):
            result = outcome.result
            if result.status == Status.MISSING:
                continue
            gb.update_or_create_student(result.student)
            gb.update_or_create_submission(result.assignment, result.student,
                                           timestamp=parse_utc(result.submitted_at) if result.submitted_at else None)
            for cell in result.cells:
                grade = gb.find_grade(cell.grade_id, cell.notebook, result.assignment, result.student)
                grade.auto_score = cell.auto_score
                grade.needs_manual_grade = cell.needs_manual_grade
            for (notebook, name), text in outcome.comments.items():
                gb.find_comment(name, notebook, result.assignment, result.student).auto_comment = text
            gb.db.commit()
