"""Reading a submission before grading: unreadable files, deleted and edited test cells (no kernel needed)."""
from __future__ import annotations

import nbformat
import pytest

from autograder.checks import Unreadable, compare_with_release, read_notebook


@pytest.fixture()
def released(tiny_course):
    return nbformat.read(tiny_course["release"] / "tiny" / "tiny.ipynb", 4)


def _edit(nb, cell_id, source=None, delete=False):
    copy = nbformat.reads(nbformat.writes(nb), 4)
    if delete:
        copy.cells = [c for c in copy.cells if c.get("id") != cell_id]
    for cell in copy.cells:
        if cell.get("id") == cell_id and source is not None:
            cell.source = source
    return copy


def test_untouched_release_is_clean(released):
    assert compare_with_release(released, released) == ([], [])


def test_edited_test_cell_is_tampering(released):
    assert compare_with_release(_edit(released, "test_square", "assert True"), released) == ([], ["test_square"])


def test_edited_instructions_are_not_tampering(released):
    assert compare_with_release(_edit(released, "intro", "my notes"), released) == ([], [])


def test_deleted_test_cell_is_missing(released):
    assert compare_with_release(_edit(released, "test_warn", delete=True), released) == (["test_warn"], [])


@pytest.mark.parametrize("data, why", [(b"{not json", "not valid JSON"), (b'{"a": 1}', "not a Jupyter notebook"),
                                       (b"\xff\xfe", "not valid JSON"),
                                       (b'{"cells": 3, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
                                        "not a valid notebook")])
def test_unreadable_files_say_why(data, why):
    with pytest.raises(Unreadable, match=why):
        read_notebook(data)
