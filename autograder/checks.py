"""What went wrong with a submission, read from its notebook before grading and from nbgrader's output after."""
from __future__ import annotations

import json

import nbformat
from nbformat import NotebookNode


class Unreadable(ValueError):
    """The file is not valid JSON or not a Jupyter notebook."""


def read_notebook(data: bytes) -> NotebookNode:
    """Parse and validate a submitted notebook, raising Unreadable with a reason a student understands."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unreadable(f"not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise Unreadable("valid JSON but not a Jupyter notebook (no cells / nbformat)")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several types for broken notebooks
        raise Unreadable(f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    return nb


def _grade_cells(nb: NotebookNode, tests_only: bool) -> dict[str, NotebookNode]:
    from nbgrader import utils

    return {cell.metadata.nbgrader["grade_id"]: cell for cell in nb.cells
            if utils.is_grade(cell) and "grade_id" in cell.metadata.nbgrader
            and not (tests_only and utils.is_solution(cell))}


def compare_with_release(submitted: NotebookNode, released: NotebookNode) -> tuple[list[str], list[str]]:
    """(missing graded cells, edited test cells), compared with the released copy: the source one holds hidden
    tests. Edited instructions do not count: nbgrader restores them and they cost no points."""
    from nbgrader.utils import compute_checksum

    theirs = _grade_cells(submitted, tests_only=False)
    missing = [gid for gid in _grade_cells(released, tests_only=False) if gid not in theirs]
    edited = [gid for gid, cell in _grade_cells(released, tests_only=True).items()
              if gid in theirs and compute_checksum(theirs[gid]) != compute_checksum(cell)]
    return missing, edited


def drop_unknown_ids(submitted: NotebookNode, released: NotebookNode) -> list[str]:
    """Turn cells whose grade_id the release does not know (renamed by the student) into plain cells.

    nbgrader drops the unknown id but keeps the cell's grade flags and then fails the whole submission; as
    plain cells they are harmless, and the release's cell of the old id is restored as a missing cell.
    """
    known = {cell.metadata.nbgrader.get("grade_id") for cell in released.cells if "nbgrader" in cell.metadata}
    dropped = []
    for cell in submitted.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if "nbgrader" in cell.metadata and grade_id not in known:
            dropped.append(str(grade_id))
            del cell.metadata["nbgrader"]
    return dropped


def cell_label(cell: NotebookNode, index: int) -> str:
    """How a report names a cell: its grade id, or its position."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
