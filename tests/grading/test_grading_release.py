"""`release --check` on the tiny course: a fresh release matches, any edit is reported."""
from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("grading_conftest_release", Path(__file__).with_name("conftest.py"))
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)


def test_release_check_passes_then_reports_drift(tmp_path):
    from autograder.release import check, generate

    source = _conftest.write_source(tmp_path)
    release = tmp_path / "release"
    generate(release, source=source)
    nb = release / _conftest.AID / f"{_conftest.AID}.ipynb"
    text = nb.read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "return x * x" not in text  # no hidden test, no solution
    (release / "stray.txt").write_text("x")
    nb.write_text(text.replace("Implement", "Write"))
    assert sorted(check(release, source)) == ["differs from a fresh release: tiny/tiny.ipynb",
                                              "not generated from source/: stray.txt"]
    nb.write_text(text)
    (release / "stray.txt").unlink()
    assert check(release, source) == []


def _edit_test(source, grade_id: str, old: str, new: str) -> None:
    import nbformat

    path = source / _conftest.AID / f"{_conftest.AID}.ipynb"
    nb = nbformat.read(path, 4)
    cell = next(c for c in nb.cells if c.get("id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def test_each_release_of_changed_tests_records_a_version(tmp_path):
    """Re-releasing unchanged tests records nothing (byte-stable); an edited test is a new version, and
    `release --check` says so until the release is regenerated."""
    import json

    import nbformat

    from autograder.release import check, generate

    source, release = _conftest.write_source(tmp_path), tmp_path / "release"
    generate(release, source=source)
    first = (release / "versions.json").read_bytes()
    generate(release, source=source)
    assert (release / "versions.json").read_bytes() == first and check(release, source) == []
    _edit_test(source, "test_warn", "square(0) == 0", "square(1) == 1")
    assert "differs from a fresh release: versions.json" in check(release, source)
    generate(release, source=source)
    history = json.loads((release / "versions.json").read_text())["tiny/tiny.ipynb"]
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["tests"]["test_square"] == history[1]["tests"]["test_square"]
    assert history[0]["tests"]["test_warn"] != history[1]["tests"]["test_warn"]
    nb = nbformat.read(release / "tiny" / "tiny.ipynb", 4)
    assert nb.metadata["autograder"]["release"] == history[1]["id"] and check(release, source) == []


def test_a_submission_is_checked_against_the_version_its_student_received(tmp_path):
    """An instructor's later edit is not the student's: only tests that match no version they received count."""
    import nbformat

    from autograder.course import build_course
    from autograder.release import generate
    from autograder.versions import compare_with_received

    source, release = _conftest.write_source(tmp_path), tmp_path / "release"
    generate(release, source=source)
    received = nbformat.read(release / "tiny" / "tiny.ipynb", 4)
    _edit_test(source, "test_warn", "square(0) == 0", "square(1) == 1")
    generate(release, source=source)
    build_course(tmp_path / "course", ["tiny"], source)  # as grading builds it: the history travels along
    current = nbformat.read(tmp_path / "course" / "release" / "tiny" / "tiny.ipynb", 4)

    missing, edited, note = compare_with_received(received, current, tmp_path / "course", "tiny", "tiny.ipynb")
    assert (missing, edited) == ([], []) and "release v1" in note and "test_warn changed" in note
    anonymous = nbformat.reads(nbformat.writes(received), 4)
    del anonymous.metadata["autograder"]  # metadata lost (another editor): the cells' checksums still tell
    assert compare_with_received(anonymous, current, tmp_path / "course", "tiny", "tiny.ipynb")[:2] == ([], [])
    next(c for c in received.cells if c.get("id") == "test_square").source = "assert True"
    assert compare_with_received(received, current, tmp_path / "course", "tiny", "tiny.ipynb")[1] == ["test_square"]
    fresh = nbformat.read(release / "tiny" / "tiny.ipynb", 4)
    next(c for c in fresh.cells if c.get("id") == "test_warn").source = "assert True"
    assert compare_with_received(fresh, current, tmp_path / "course", "tiny", "tiny.ipynb")[1:] == (["test_warn"], "")




def test_an_instructor_edit_after_release_regrades_with_the_new_test_and_no_one_tampered(tmp_path):
    """Release, students hand in, the instructor edits a test and re-releases, the class is graded: a student who
    left the tests as received is graded with the new test and is not `tampered`; one who edited a test still is."""
    import nbformat

    from autograder.pipeline import grade
    from autograder.release import generate

    source, release = _conftest.write_source(tmp_path), tmp_path / "release"
    generate(release, source=source)
    received = release / "tiny" / "tiny.ipynb"
    bodies = {"exact": "def square(x):\n    return x * x",
              "small_only": "def square(x):\n    return x * x if x < 4 else 0"}  # passes square(0), not square(5)
    for student, body in bodies.items():
        (tmp_path / "class" / student / "tiny").mkdir(parents=True)
        (tmp_path / "class" / student / "tiny" / "tiny.ipynb").write_bytes(_conftest._student_copy(received, body))

    def weaken(nb):
        next(c for c in nb.cells if c.get("id") == "test_square").source = "assert True"

    (tmp_path / "class" / "editor" / "tiny").mkdir(parents=True)
    (tmp_path / "class" / "editor" / "tiny" / "tiny.ipynb").write_bytes(
        _conftest._student_copy(received, bodies["exact"], weaken))
    _edit_test(source, "test_warn", "square(0) == 0", "square(5) == 25")
    generate(release, source=source)
    assert "square(5) == 25" in nbformat.read(received, 4).cells[-1].source

    results = {r.student: r for r in grade(tmp_path / "class", tmp_path / "out", workers=1, source=source,
                                           progress=False)}
    assert (results["exact"].score, results["exact"].status) == (3.0, "graded")
    assert "handed in from release v1" in results["exact"].reason and "test_warn changed" in results["exact"].reason
    assert (results["small_only"].score, results["small_only"].status) == (2.0, "graded")  # the new test_warn ran
    assert results["editor"].status == "tampered" and "test_square" in results["editor"].reason
    page = (tmp_path / "out" / "feedback" / "exact" / "tiny" / "tiny.html").read_text()
    assert "Status: graded" in page and "tampered" not in page


def test_a_stub_says_what_to_write(tmp_path):
    """`### BEGIN SOLUTION: <what to write>` in the source becomes the release's NotImplementedError message;
    without text after the delimiter the stub is nbgrader's own."""
    import nbformat

    from autograder.release import generate

    source = _conftest.write_source(tmp_path)
    generate(tmp_path / "plain", source=source)
    path = source / _conftest.AID / f"{_conftest.AID}.ipynb"
    nb = nbformat.read(path, 4)
    cell = next(c for c in nb.cells if c.get("id") == "square")
    cell.source = cell.source.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION: return x times itself")
    nbformat.write(nb, path)
    generate(tmp_path / "release", source=source)

    def stub(release):
        released = nbformat.read(release / _conftest.AID / f"{_conftest.AID}.ipynb", 4)
        return next(c for c in released.cells if c.get("id") == "square").source

    assert stub(tmp_path / "plain") == "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert stub(tmp_path / "release") == ("def square(x):\n    # YOUR CODE HERE\n"
                                          "    raise NotImplementedError('return x times itself')")
