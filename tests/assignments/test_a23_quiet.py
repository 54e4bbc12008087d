"""A TensorFlow assignment quiets TensorFlow itself: run as a student runs it (Colab, their own JupyterLab), without
the Makefile's TF_CPP_MIN_LOG_LEVEL / TF_ENABLE_ONEDNN_OPTS, its first cells print no absl, oneDNN or CPU-feature
log block. Only the cells up to the first TensorFlow import run: that is where the log appears (a few seconds)."""
from __future__ import annotations

import nbformat
import pytest

from autograder.course import REPO
from autograder.release import FRAMEWORK_IMPORT
from tests.lectures.lecture_runs import student_environment

TENSORFLOW = FRAMEWORK_IMPORT["TensorFlow"]
RELEASES = sorted(p for p in (REPO / "release").glob("*/*.ipynb")
                  if TENSORFLOW.search("\n".join(c.source for c in nbformat.read(p, 4).cells if c.cell_type == "code")))


def test_some_release_uses_tensorflow():
    assert RELEASES, "no release notebook imports tensorflow or keras: the quiet test below checks nothing"


@pytest.mark.parametrize("path", RELEASES, ids=lambda p: p.parent.name)
def test_tensorflow_start_up_log_is_absent_without_the_makefile_variables(path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, 4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and TENSORFLOW.search(c.source))
    nb.cells = nb.cells[:first + 1]
    with student_environment():
        # in the notebook's folder, as a student opens it: a cell may read files shipped beside it
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if o.output_type == "stream" and o.name == "stderr"]
    assert printed == [], f"{path.parent.name}: TensorFlow's start-up log reaches the notebook: {printed}"
