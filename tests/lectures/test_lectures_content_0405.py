"""Lectures 04 (monitoring) and 05 (reading loss curves): what they must contain.

These static checks read the committed twins. Whether their prose is true is checked against executed runs
in test_lecture_04_claims.py and test_lecture_05_claims.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("pytorch", "tensorflow")
STEMS = ("04_monitoring", "05_reading_loss_curves")


def notebook(framework: str, stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "course" / framework / f"{stem}.ipynb", as_version=4)


def code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def calls(sources: list[str], name: str) -> list[str]:
    return [s for s in sources if re.search(rf"\b{re.escape(name)}\(", s)]


# -- static: what each twin contains ----------------------------------------------------------------------
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("stem", STEMS)
def test_every_curve_is_trained_here_and_nothing_is_downloaded(framework, stem):
    sources = code(notebook(framework, stem))[1:]  # [0] is the generator's Colab install cell
    text = "\n".join(sources)
    assert calls(sources, "train_with_loss_tracking"), "the lecture trains nothing"
    assert "set_seed(0)" in text, "runs are not seeded"
    fake = re.findall(r"(np\.random\.\w+|torch\.(?:rand|randn|randint)\b|tf\.random\.\w+|random\.random)", text)
    assert not fake, f"random numbers in a lecture that must plot only real runs: {fake}"
    download = re.findall(r"(https?://|load_data\(|urlretrieve|fetch_\w+\(|wget|curl )", text)
    assert not download, f"a download at run time: {download}"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_04_monitors_losses_gradients_clipping_schedule_and_range_test(framework):
    nb = notebook(framework, "04_monitoring")
    sources = code(nb)
    text = "\n".join(sources)
    assert "load_digits()" in text
    assert "layer_grad_norm" in text and "iter_grad_norm" in text
    assert calls(sources, "plot_training_dashboard") and calls(sources, "lr_range_test")
    assert re.search(r"clip_grad_norm=1\.0", text)
    assert re.search(r"scheduler=scheduler", text) and re.search(r"cos", text)
    assert len(calls(sources, "identify_training_issues")) >= 4, "the diagnosis is not printed for the runs"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_05_has_live_plot_widget_diagnosis_and_four_hidden_answers(framework):
    nb = notebook(framework, "05_reading_loss_curves")
    sources = code(nb)
    live = [s for s in sources if "live_plot=True" in s]
    assert len(live) == 1 and calls(live, "train_with_loss_tracking"), "one cell trains with a live plot"
    explorer = calls(sources, "lr_explorer")
    assert len(explorer) == 1, "one cell renders the learning-rate explorer"
    assert explorer[0].strip().startswith("lr_explorer("), "the explorer must be the cell's value, so it renders"
    assert calls(sources, "plot_histories") and calls(sources, "plot_loss_curves")
    assert "iter_loss" in "\n".join(sources), "no per-iteration plot"
    md = markdown(nb)
    questions = re.findall(r"\*\*Question (\d)\.\*\*", md)
    assert questions == ["1", "2", "3", "4"], questions
    answers = re.findall(r"<details>\s*<summary>Answer</summary>(.*?)</details>", md, flags=re.S)
    assert len(answers) == 4 and all(len(a.split()) > 60 for a in answers), "four hidden, written answers"


def test_05_keras_callback_only_in_the_tensorflow_twin():
    assert calls(code(notebook("tensorflow", "05_reading_loss_curves")), "LossHistory")
    assert not calls(code(notebook("pytorch", "05_reading_loss_curves")), "LossHistory")
