"""Release versions: what each `python -m autograder release` handed out, so that a submission is checked against
the tests its student received, not against tests the instructor edited afterwards.

Each release records, per notebook, a version: nbgrader's checksum of every test cell as released (the checksum
nbgrader itself writes into each cell's metadata), kept in release/versions.json, which only grows. The release
notebook names its version in its metadata (`autograder.release`). When grading, a submission's version is the
one its metadata names, else the one whose checksums its test cells carry; a test cell that differs from the
current release but is exactly what that version released was edited by the instructor, not the student: it is
graded with the current test (nbgrader's OverwriteCells restores every test cell from the source anyway) and the
submission is not `tampered`. A test cell that matches no version its student received is still `tampered`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

#: The history's file name, in release/ beside the assignment folders (and in every grading course's root).
HISTORY = "versions.json"
#: Notebook metadata key of the release version: {"autograder": {"release": "<id>"}}.
METADATA_KEY = "autograder"


def _nbgrader(cell: NotebookNode) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test(cell: NotebookNode) -> bool:
    """An autograded test cell (graded, locked, not an answer)."""
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and "grade_id" in meta


def test_checksums(nb: NotebookNode) -> dict[str, str]:
    """grade_id -> nbgrader's checksum of the cell's content, for every test cell of a notebook."""
    from nbgrader.utils import compute_checksum

    return {_nbgrader(c)["grade_id"]: compute_checksum(c) for c in nb.cells if is_test(c)}


def graded_ids(nb: NotebookNode) -> list[str]:
    """Every graded cell's grade_id (tests and answers), in notebook order."""
    return [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c).get("grade") and "grade_id" in _nbgrader(c)]


def version_id(tests: dict[str, str]) -> str:
    """A short id that changes exactly when a test cell's content, id or points change."""
    return hashlib.sha256(json.dumps(sorted(tests.items())).encode()).hexdigest()[:12]


def load(history: Path) -> dict[str, list[dict[str, Any]]]:
    """The recorded versions, by "<assignment>/<notebook>.ipynb"; empty when nothing was recorded yet."""
    if not history.is_file():
        return {}
    return json.loads(history.read_text(encoding="utf-8"))


def record(history: Path, key: str, nb: NotebookNode, today: dt.date | None = None) -> dict[str, Any]:
    """Stamp the release notebook with its version and append the version to the history when it is new.
    Re-releasing unchanged tests records nothing, so regenerating release/ is byte-stable."""
    tests = test_checksums(nb)
    vid = version_id(tests)
    versions = load(history)
    known = versions.setdefault(key, [])
    entry = next((v for v in known if v["id"] == vid), None)
    if entry is None:
        entry = {"version": len(known) + 1, "id": vid,
                 "released": (today or dt.datetime.now(dt.timezone.utc).date()).isoformat(),
                 "tests": tests, "graded": graded_ids(nb)}
        known.append(entry)
        history.write_text(json.dumps(versions, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    nb.metadata[METADATA_KEY] = {"release": vid}
    return entry


def received(submitted: NotebookNode, versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version a submission was made from: the one its metadata names, else the one whose checksums its test
    cells carry (nbgrader writes each test cell's checksum into its metadata at release), the latest on a tie."""
    named = submitted.metadata.get(METADATA_KEY, {}).get("release")
    for version in versions:
        if version["id"] == named:
            return version
    carried = {_nbgrader(c)["grade_id"]: _nbgrader(c).get("checksum") for c in submitted.cells if is_test(c)}
    scores = [(sum(carried.get(gid) == checksum for gid, checksum in v["tests"].items()), v["version"], v)
              for v in versions]
    best = max(scores, key=lambda s: s[:2], default=None)
    return best[2] if best and best[0] > 0 else None


def compare_with_received(submitted: NotebookNode, released: NotebookNode, root: Path, assignment: str,
                          notebook: str) -> tuple[list[str], list[str], str]:
    """(missing graded cells, test cells the student edited, a note for the reason) against the version the student
    received. `released` is the current release; root holds the history (versions.json), as a grading course
    does. Without a history, or for a submission of no recorded version, this is checks.compare_with_release."""
    from .checks import compare_with_release

    missing, edited = compare_with_release(submitted, released)
    got = received(submitted, load(root / HISTORY).get(f"{assignment}/{notebook}", []))
    if got is None or not (missing or edited):
        return missing, edited, ""
    theirs = test_checksums(submitted)
    changed = [gid for gid in edited if theirs.get(gid) == got["tests"].get(gid)]
    added = [gid for gid in missing if gid not in got["graded"]]
    if not (changed or added):
        return missing, edited, ""
    since = [f"{', '.join(changed)} changed" if changed else "", f"{', '.join(added)} added" if added else ""]
    note = (f"handed in from release v{got['version']} ({got['released']}); since then "
            f"{' and '.join(s for s in since if s)}: graded with the current tests")
    return ([gid for gid in missing if gid not in added], [gid for gid in edited if gid not in changed], note)
