"""Hidden-test errors in feedback: which line failed decides what the student may see (no kernel needed)."""
from __future__ import annotations

from nbformat.v4 import new_code_cell, new_output

from autograder.feedback import HideHiddenTestErrors, failing_line, hidden_lines, with_banner

SOURCE = "assert f(2) == 4\n### BEGIN HIDDEN TESTS\nassert f(3) == 9, 'secret 9'\n### END HIDDEN TESTS"


def _error(line: int, evalue: str) -> dict:
    tb = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
          "\x1b[0;31mAssertionError\x1b[0m                            Traceback (most recent call last)",
          f"Cell \x1b[0;32mIn[3], line {line}\x1b[0m\n\x1b[1;32m      1\x1b[0m assert f(2) == 4\n"
          f"\x1b[1;32m      3\x1b[0m assert f(3) == 9, 'secret 9'",
          f"\x1b[0;31mAssertionError\x1b[0m: {evalue}"]
    return new_output("error", ename="AssertionError", evalue=evalue, traceback=tb)


def _run(line: int, evalue: str) -> dict:
    cell = new_code_cell(SOURCE, outputs=[_error(line, evalue)])
    cell, _ = HideHiddenTestErrors().preprocess_cell(cell, {}, 0)
    return cell.outputs[0]


def test_hidden_region_lines_include_delimiters():
    assert hidden_lines(SOURCE) == {2, 3, 4}
    assert hidden_lines("assert True") == set()


def test_failing_line_is_read_through_ansi_colours():
    assert failing_line(_error(3, "x")["traceback"]) == 3
    assert failing_line(["ValueError: no frame"]) is None


def test_a_hidden_failure_shows_neither_code_nor_message():
    out = _run(3, "secret 9")
    text = out.evalue + "".join(out.traceback)
    assert "secret" not in text and "f(3)" not in text and "hidden test failed" in text


def test_a_visible_failure_keeps_its_message_but_not_the_context_lines():
    out = _run(1, "f(2) should be 4")
    text = "".join(out.traceback)
    assert "f(2) should be 4" in text and "secret" not in text and "f(3)" not in text


def test_what_a_hidden_test_cell_printed_is_dropped():
    # student code called by a hidden test can print the running cell's source (IPython keeps it in In[])
    leak = new_output("stream", name="stdout", text=SOURCE)
    cell = new_code_cell(SOURCE, outputs=[leak, _error(3, "secret 9")])
    cell, _ = HideHiddenTestErrors().preprocess_cell(cell, {}, 0)
    assert [o.output_type for o in cell.outputs] == ["error"]
    visible = new_code_cell("print('hi')", outputs=[new_output("stream", name="stdout", text="hi")])
    assert HideHiddenTestErrors().preprocess_cell(visible, {}, 0)[0].outputs[0].text == "hi"


def test_banner_goes_first_in_the_body():
    page = with_banner(b"<html><body class='x'><p>nb</p></body></html>", "tampered", "edited <test>").decode()
    assert page.index("Status: tampered") < page.index("<p>nb</p>") and "&lt;test&gt;" in page


def test_the_banner_says_why_a_submission_is_late():
    page = with_banner(b"<body><div class=\"container\"><p>nb</p></div></body>", "graded", "3/3 test cells passed",
                       late="2 h 0 min after the due date 2026-11-30 23:59 UTC").decode()
    assert page.index('<div class="container">') < page.index("Status: graded") < page.index("<p>nb</p>")
    assert "Late: 2 h 0 min after the due date 2026-11-30 23:59 UTC" in page
    assert "Late" not in with_banner(b"<body><p>nb</p></body>", "graded", "ok").decode()
