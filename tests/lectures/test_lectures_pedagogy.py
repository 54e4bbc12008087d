"""Every lecture teaches the same way in both twins: it opens with what the student will be able to do, asks
for a prediction before the runs that surprise, ends with exercises whose answers are folded away, and a
TensorFlow twin quiets TensorFlow before importing it (the executed claims tests check that nothing reaches
stderr when the Makefile's variables are absent)."""
from __future__ import annotations

import re

import pytest

from tests.lectures.lecture_runs import FRAMEWORKS, lecture_stems, markdown, notebook

STEMS = lecture_stems()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("stem", STEMS)
def test_goals_predictions_and_folded_exercises(framework, stem):
    md = markdown(notebook(framework, stem))
    goals = md.split("By the end you will be able to", 1)
    assert len(goals) == 2 and md.index("By the end you will be able to") < md.index("## 1."), "learning goals first"
    assert len(re.findall(r"^- ", goals[1].split("\n\n", 2)[1], flags=re.M)) >= 4, "at least four goals, as a list"
    assert md.count("**Predict, then run.**") >= 2
    exercises = re.split(r"^## (?:\d+\. )?Exercises", md, flags=re.M)
    assert len(exercises) == 2, "one Exercises section"
    answers = re.findall(r"<details>\s*<summary>Answer</summary>(.*?)</details>", exercises[1], flags=re.S)
    assert len(answers) >= 3 and all(len(a.split()) > 30 for a in answers), "at least three folded answers"


@pytest.mark.parametrize("stem", STEMS)
def test_tensorflow_is_quieted_before_it_is_imported(stem):
    cells = [c.source for c in notebook("tensorflow", stem).cells if c.cell_type == "code"]
    first = next(i for i, s in enumerate(cells) if re.search(r"^(import|from) (keras|tensorflow)\b", s, flags=re.M))
    source = cells[first]
    imports = re.search(r"^(import|from) (keras|tensorflow)\b", source, flags=re.M).start()
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):
        assert 0 <= source.find(name) < imports, f"{stem}: {name} is not set before TensorFlow is imported"
