"""Every lecture twin, run as a student's kernel runs it (without the Makefile's TensorFlow variables), prints
nothing on stderr: a warning there reads as an error to a student. Lectures are found in course/src, so a new
one is covered as soon as its source lands; the run is the one its claims tests read (see lecture_runs)."""
from __future__ import annotations

import pytest

from tests.lectures.lecture_runs import FRAMEWORKS, lecture_stems, probe_for, shared_run


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("stem", lecture_stems())
def test_runs_quietly_without_the_makefile_environment(request, stem, framework):
    run = shared_run(request, framework, stem, probe_for(stem))
    assert run.stderr == "", f"{framework} twin of {stem} wrote to stderr:\n{run.stderr[:2000]}"
