"""The instructor's report and the student's feedback, read from one small graded class: a part with two tests,
a written answer awaiting a person, an equation in the prose, and students who pass, fail and hand in nothing."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

AID = "rep"
SOLUTION = "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION"
TEST_VALUE = ("# cube(2) is 8\nfrom losslab.grading import check_close\n"
              "check_close(cube(2), 8.0, rtol=0, atol=1e-9, what='cube(2), the value of x ** 3 at x = 2, which is "
              "compared with the reference value computed by the course helpers package on the grader side')")
TEST_HIDDEN = ("# cube on negative numbers\n### BEGIN HIDDEN TESTS\nassert cube(-2) == -8, 'SECRET-NEG'\n"
               "### END HIDDEN TESTS")


def _meta(gid: str, *, grade: bool, solution: bool, points: float = 0, kind: str = "code") -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": gid, "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _source(root: Path) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("# Cubes\nThe cube is $y = x^3$. 3 points are autograded; the written answer is graded "
                          "by hand (2 points).", id="intro"),
        new_markdown_cell("## Part 1: Cubes (3 points)", id="part1"),
        new_code_cell(SOLUTION, id="cube", metadata=_meta("cube", grade=False, solution=True)),
        new_code_cell(TEST_VALUE, id="test_value", metadata=_meta("test_value", grade=True, solution=False, points=2)),
        new_code_cell(TEST_HIDDEN, id="test_neg", metadata=_meta("test_neg", grade=True, solution=False, points=1)),
        new_markdown_cell("## Part 2: Why\nWhy is $x^3$ odd? *(2 points)*", id="part2"),
        new_markdown_cell("YOUR ANSWER HERE", id="q1", metadata=_meta("q1", grade=True, solution=True, points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    (root / "source" / AID).mkdir(parents=True)
    nbformat.write(nb, root / "source" / AID / f"{AID}.ipynb")
    return root / "source"


def _submit(release_nb: Path, dest: Path, student: str, body: str) -> None:
    nb = nbformat.read(release_nb, 4)
    for cell in nb.cells:
        if cell.get("id") == "cube":
            cell.source = body
        if cell.get("id") == "q1":
            cell.source = "Because (-x)^3 = -x^3."
    (dest / student / AID).mkdir(parents=True)
    nbformat.write(nb, dest / student / AID / f"{AID}.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """The class graded once: 'ref' passes, 'wrong' fails the visible test, 'absent' hands in nothing."""
    from autograder.pipeline import grade
    from autograder.release import generate
    from autograder.report import write_html

    root = tmp_path_factory.mktemp("report")
    source = _source(root)
    generate(root / "release", [AID], source)
    release_nb = root / "release" / AID / f"{AID}.ipynb"
    _submit(release_nb, root / "submitted", "ref", "def cube(x):\n    return x ** 3")
    _submit(release_nb, root / "submitted", "wrong", "def cube(x):\n    return x * x")
    (root / "submitted" / "absent").mkdir()
    out = root / "out"
    results = grade(root / "submitted", out, workers=1, source=source, progress=False)
    write_html(results, out / "report.html", source)  # the pipeline's own call may not pass this source
    return {"out": out, "results": {r.student: r for r in results}, "source": source}


def _report(graded) -> str:
    return (graded["out"] / "report.html").read_text()


def test_tests_appear_in_notebook_order_with_points_and_parts(graded):
    page = _report(graded)
    assert page.index("test_value (2)") < page.index("test_neg (1)") < page.index("q1 (2, by hand)")
    assert re.search(r"colspan='2'>Part 1: Cubes<", page) and re.search(r"colspan='1'>Part 2: Why<", page)


def test_without_the_source_the_autograded_copies_give_the_order(graded, tmp_path):
    from autograder.report import write_html

    page_path = graded["out"] / "report-from-copies.html"
    write_html(list(graded["results"].values()), page_path, tmp_path)  # a source folder without this assignment
    page = page_path.read_text()
    assert page.index("test_value (2)") < page.index("test_neg (1)") < page.index("q1 (2, by hand)")
    assert "colspan='2'>Part 1: Cubes<" in page


def test_student_rows_link_to_their_feedback_pages(graded):
    page, out = _report(graded), graded["out"]
    links = re.findall(r"href='(feedback/[^']+)'", page)
    assert "feedback/ref/rep/rep.html" in links and "feedback/wrong/rep/rep.html" in links
    assert all((out / link).is_file() for link in links)


def test_manual_queue_lists_each_unanswered_written_answer(graded):
    page = _report(graded)
    queue = page[page.index("<h2>Manual grading queue</h2>"):page.index("<h2>All submissions</h2>")]
    assert "2 written answers await a person" in queue
    assert "<td>ref</td>" in queue and "<td>wrong</td>" in queue and "absent" not in queue


def test_means_count_only_graded_points(graded):
    from autograder.report import graded_points

    results = graded["results"]
    assert graded_points(results["ref"]) == (3.0, 3.0) and graded_points(results["wrong"])[1] == 3.0
    expected = (3.0 + graded_points(results["wrong"])[0]) / 2
    assert f"Mean {expected:.2f} of 3.00 graded points (assignment total 5)" in _report(graded)
    assert "count neither as zero nor in the total" in _report(graded)


def test_histogram_ticks_are_whole_numbers():
    from autograder.report import histogram

    for scores, top in (([0.0, 1.0, 3.0, 3.0], 3.0), ([0.5] * 7 + [17.0] * 30, 17.0)):
        ax = histogram(scores, top, "t").axes[0]
        ticks = [*ax.get_xticks(), *ax.get_yticks()]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert sum(p.get_height() for p in ax.patches) == len(scores)


@pytest.fixture(scope="module")
def feedback(graded) -> dict[str, str]:
    """Each student's page from nbgrader's GenerateFeedback with the student template, on the graded class."""
    from nbgrader.converters import GenerateFeedback

    from autograder.config import feedback_config
    from autograder.course import run_converter
    from autograder.feedback import configure

    from nbgrader.api import Gradebook

    out = graded["out"]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:  # as a roster import would name a student
        gb.update_or_create_student("ref", first_name="Ada", last_name="Lovelace")
    config = configure(feedback_config(out))
    config.CourseDirectory.feedback_directory = "student_feedback"
    pages = {}
    for student in ("ref", "wrong"):
        run = run_converter(GenerateFeedback, config, assignment_id=AID, student_id=student, force=True)
        assert run["success"], run["log"][-3000:]
        pages[student] = (out / "student_feedback" / student / AID / f"{AID}.html").read_text()
    return pages


def test_feedback_summary_names_each_test(feedback):
    page = feedback["wrong"]
    toc = page[page.index("<div id=\"toc\">"):page.index("</ol>")]
    assert "Test cell" not in toc and "Written response" not in toc
    assert ">cube(2) is 8</a> (Score: 0.0 / 2.0)" in toc and ">cube on negative numbers</a>" in toc


def test_a_written_answer_awaiting_a_person_shows_no_zero(feedback):
    page = feedback["ref"]
    assert ">q1</a> (awaits manual grading: 2.0 points)" in page
    answer = page[page.index('<a name="q1"></a>'):]
    assert "awaits manual grading" in answer[:600] and "Score: 0.0 / 2.0" not in answer[:600]
    assert "(Score: 3.0 / 5.0, of which 2.0 points await manual grading)" in page


def test_the_page_names_the_student(feedback):
    assert "Student: <b>Ada Lovelace</b>, id <code>ref</code>" in feedback["ref"]
    assert "Student: id <code>wrong</code>" in feedback["wrong"]  # no name in the gradebook: the id alone


def test_tracebacks_keep_the_students_frames_and_wrap_the_message(feedback):
    page = feedback["wrong"]
    assert "grading.py" not in page and "check_close" not in page.split("frames inside")[1][:300]
    assert "got 4, expected 8" in page and "frames inside the course's grading code" in page
    assert "white-space: pre-wrap" in page
    assert "SECRET-NEG" not in page and "a hidden test failed" in page


def test_student_frames_drop_module_frames_only():
    from autograder.feedback import GRADER_FRAMES_NOTE, student_frames

    tb = ["---", "AssertionError   Traceback", "\x1b[36mCell In[1], line 3\x1b[39m\n----> 3 check(x)",
          "\x1b[36mFile \x1b[39m/x/losslab/grading.py:71, in check\n---> 71 raise", "AssertionError: got 4"]
    assert student_frames(tb) == [*tb[:3], GRADER_FRAMES_NOTE, tb[4]]
    assert student_frames(tb[:3] + tb[4:]) == tb[:3] + tb[4:]


def test_equations_are_drawn_into_the_page(feedback):
    page = feedback["wrong"]
    assert re.search(r'<img alt="y = x\^3" class="math" src="data:image/svg\+xml;base64,', page)
    assert "$y = x^3$" not in page and "$x^3$" not in page


@pytest.mark.parametrize("assignment", ["a2_losses_optimizers", "a3_gradients_lr"])
def test_every_equation_of_the_course_prose_is_drawn(assignment):
    """mathtext lacks part of LaTeX: the assignments' own equations must all be within what it draws."""
    from autograder.course import REPO
    from autograder.offline_math import MATH, render_math

    nb = nbformat.read(REPO / "release" / assignment / f"{assignment}.ipynb", 4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            left = MATH.findall(re.sub(r"<img[^>]*>", "", render_math(cell.source)))
            assert not left, f"{assignment}: not drawn: {left}"
    assert render_math("costs $5 and `$x$`") == "costs $5 and `$x$`"


def test_a_traceback_relayed_from_the_student_kernel_keeps_only_the_students_frames():
    from autograder.feedback import student_frames

    message = ("\x1b[31mValueError\x1b[39m: ValueError: boom\n--- in your code (student kernel) ---\n"
               "Traceback (most recent call last):\n"
               '  File "/lsbx/autograder/bridge.py", line 245, in serve\n    result = fn(*args, **kwargs)\n'
               "             ^^^^^^^^^^^^^^^^^^^\n"
               '  File "/tmp/ipykernel_2/991239426.py", line 4, in cube\n    return helper(x)\n'
               '  File "/x/site-packages/torch/nn/functional.py", line 9, in mse_loss\n    raise X\n'
               '  File "/tmp/ipykernel_2/991239426.py", line 2, in helper\n    raise ValueError("boom")\n'
               "ValueError: boom")
    text = student_frames(["Cell In[2], line 3\n----> 3 cube(2)", "File /lsbx/autograder/bridge.py:380, in call",
                           message])[-1]
    assert "bridge.py" not in text and "fn(*args" not in text and "torch" not in text and "raise X" not in text
    assert 'line 4, in cube\n    return helper(x)' in text and 'line 2, in helper' in text
    assert text.endswith("ValueError: boom") and text.startswith("\x1b[31mValueError")


def test_a_graded_written_answer_shows_its_score_again(graded, tmp_path):
    """Once a person has graded it (formgrader sets the manual score), the answer shows its score, not 'awaits'."""
    import shutil

    from nbgrader.api import Gradebook
    from nbgrader.converters import GenerateFeedback

    from autograder.config import feedback_config
    from autograder.course import run_converter
    from autograder.feedback import configure

    course = tmp_path / "course"
    shutil.copytree(graded["out"], course, ignore=shutil.ignore_patterns("*feedback*"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("q1", AID, AID, "wrong")
        grade.manual_score = 1.5
        grade.needs_manual_grade = False
        gb.find_comment("q1", AID, AID, "wrong").manual_comment = "Name the symmetry: (-x)^3 = -(x^3)."
        gb.db.commit()
    run = run_converter(GenerateFeedback, configure(feedback_config(course)), assignment_id=AID,
                        student_id="wrong", force=True)
    assert run["success"], run["log"][-3000:]
    page = (course / "feedback" / "wrong" / AID / f"{AID}.html").read_text()
    assert ">q1</a> (Score: 1.5 / 2.0)" in page and "awaits manual grading" not in page
    assert '>Comment on q1</a>: Name the symmetry: (-x)^3 = -(x^3).</li>' in page  # named, not "Comment" alone


def test_names_from_the_roster_in_the_gradebook_reach_grades_csv_and_the_report(graded, tmp_path):
    """The roster's names live in the gradebook (nbgrader's Student); grades.csv and the report read them there."""
    import csv
    import shutil

    from nbgrader.api import Gradebook

    from autograder.report import write_csv, write_html

    shutil.copyfile(graded["out"] / "gradebook.db", tmp_path / "gradebook.db")
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.update_or_create_student("wrong", first_name="Charles", last_name="Babbage", lms_user_id="1202")
    results = sorted(graded["results"].values(), key=lambda r: r.student)
    write_csv(results, tmp_path / "grades.csv")
    write_html(results, tmp_path / "report.html", graded["source"])
    with (tmp_path / "grades.csv").open() as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert rows["wrong"]["name"] == "Charles Babbage" and rows["absent"]["name"] == ""  # no name: empty
    page = (tmp_path / "report.html").read_text()
    assert "<td>wrong <span class='name'>Charles Babbage</span></td>" in page
    assert re.search(r"<td>absent</td><td class='none' colspan='3'>no submission", page)  # nothing to score: no zeros


def test_the_feedback_page_shows_when_it_was_handed_in_and_the_due_date(graded, tmp_path):
    """nbgrader's own record (the submission's timestamp, the assignment's due date) is shown under the name."""
    import datetime as dt
    import shutil

    from nbgrader.api import Gradebook
    from nbgrader.converters import GenerateFeedback

    from autograder.config import feedback_config
    from autograder.course import run_converter

    course = tmp_path / "course"
    shutil.copytree(graded["out"], course, ignore=shutil.ignore_patterns("*feedback*"))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment(AID, duedate=dt.datetime(2026, 11, 30, 23, 59))
        gb.find_submission(AID, "wrong").timestamp = dt.datetime(2026, 12, 1, 8, 5, 30)
        gb.db.commit()
    run = run_converter(GenerateFeedback, feedback_config(course), assignment_id=AID, student_id="wrong", force=True)
    assert run["success"], run["log"][-3000:]
    page = (course / "feedback" / "wrong" / AID / f"{AID}.html").read_text()
    assert "Handed in 2026-12-01 08:05 UTC; due 2026-11-30 23:59 UTC" in page
    assert "Handed in" not in (graded["out"] / "feedback" / "ref" / AID / f"{AID}.html").read_text()  # not known


def test_lateness_reaches_grades_csv_and_the_report(tmp_path):
    import csv

    from autograder.report import write_csv, write_html
    from autograder.results import Result, Status

    late = "1 d 9 h 41 min after the due date 2026-11-30 23:59 UTC; the LMS marked the file LATE"
    rows = [Result("ada", AID, 3.0, 5.0, Status.GRADED, "ok", submitted_at="2026-11-30T20:15:00Z"),
            Result("charles", AID, 0.0, 5.0, Status.GRADED, "ok", submitted_at="2026-12-02T09:40:00Z", late=late)]
    write_csv(rows, tmp_path / "grades.csv")
    write_html(rows, tmp_path / "report.html", tmp_path)
    with (tmp_path / "grades.csv").open() as fh:
        table = {row["student"]: row for row in csv.DictReader(fh)}
    assert (table["charles"]["late"], table["charles"]["submitted_at"]) == (late, "2026-12-02T09:40:00Z")
    assert table["ada"]["late"] == ""
    page = (tmp_path / "report.html").read_text()
    assert "<span class='late'>1 late</span>: charles." in page and f"title='{late}'>late</span>" in page
    assert "<td>2026-12-02 09:40 UTC</td>" in page
