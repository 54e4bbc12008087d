"""nbgrader configuration built in code, so every run grades with the same settings (no config files to drift)."""
from __future__ import annotations

from pathlib import Path
from traitlets.config import Config

#: Every stderr stream is dropped before scoring: a test fails by raising, never by a library warning.
STDERR_PATTERN = r"(?s).*"


def course_config(root: Path) -> Config:
    """The settings every nbgrader step shares: one course directory and its own gradebook."""
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    c.CourseDirectory.course_id = "default_course"
    return c


def autograde_config(root: Path) -> Config:
    """Autograde settings: warnings free, deleted test cells restored (time limits come from `sandbox.apply`)."""
    c = course_config(root)
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = STDERR_PATTERN
    c.OverwriteCells.add_missing_cells = True
    return c


def feedback_config(root: Path) -> Config:
    """Feedback settings: hidden tests and their tracebacks removed before the HTML is written."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    from .feedback import HideHiddenTestErrors, configure

    c = course_config(root)
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTestErrors, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
    return configure(c)  # the student template: named tests, the student's frames, "awaits manual grading"
