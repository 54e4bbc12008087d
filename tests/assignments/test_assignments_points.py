"""The point totals the assignments' prose states ("17 points are autograded", "## Part 2 ... (4 points)",
"*(2 points)*") equal the points of the cells they cover, so a student is never promised a different total."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course import SOURCE, source_assignments
from autograder.outline import claims, graded_cells, mismatches

ASSIGNMENTS = source_assignments(SOURCE)


def _cell(kind, source, gid, points, solution=False):
    meta = {"nbgrader": {"grade": True, "solution": solution, "grade_id": gid, "points": points}}
    return (new_code_cell if kind == "code" else new_markdown_cell)(source, metadata=meta)


def _toy(autograded_claim: int = 3, part_claim: int = 3, question_claim: int = 2):
    return new_notebook(cells=[
        new_markdown_cell(f"**How it is graded.** {autograded_claim} points are autograded. "
                          "The written answer is graded by hand (2 points)."),
        new_markdown_cell(f"## Part 1: Losses ({part_claim} points)"),
        _cell("code", "# Test: mse matches torch\nassert True", "test_mse", 2),
        _cell("code", "assert True", "test_mse_hidden", 1),
        new_markdown_cell(f"## Question\nWhy? *({question_claim} points)*"),
        _cell("markdown", "answer", "q1", 2, solution=True),
    ])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_prose_point_totals_equal_the_tests_points(assignment):
    for path in sorted((SOURCE / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, 4)
        assert claims(nb), f"{path.name}: no point total found in its prose (the check would check nothing)"
        wrong = mismatches(nb)
        assert not wrong, f"source/{assignment}/{path.name}: " + "; ".join(wrong)


def test_every_wrong_total_is_named_with_the_right_number():
    assert mismatches(_toy()) == []
    wrong = mismatches(_toy(autograded_claim=4, part_claim=2, question_claim=3))
    assert len(wrong) == 3
    assert "'**How it is graded.** 4 points are autograded." in wrong[0] and "write 3" in wrong[0]
    assert any("## Part 1: Losses (2 points)" in w and "test_mse, test_mse_hidden" in w and "write 3" in w
               for w in wrong)
    assert any("*(3 points)*" in w and "(q1)" in w and "write 2" in w for w in wrong)


def test_graded_cells_keep_notebook_order_parts_and_names():
    cells = graded_cells(_toy())
    assert [c.grade_id for c in cells] == ["test_mse", "test_mse_hidden", "q1"]
    assert [c.part for c in cells] == ["Part 1: Losses", "Part 1: Losses", "Question"]
    assert cells[0].name == "Test: mse matches torch" and cells[1].name == "test_mse_hidden"
    assert [c.autograded for c in cells] == [True, True, False]
