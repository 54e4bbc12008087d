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
