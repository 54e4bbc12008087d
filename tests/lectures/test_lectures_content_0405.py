"""Lectures 04 (monitoring) and 05 (reading loss curves): what they must contain, and that their prose is true.

The static checks read the committed twins. The executed checks run each twin once with a probe cell appended
and compare what the runs really did with what the prose says about them (which run is diagnosed as what,
which run dies at ln 10, which learning rate wins), so a change in losslab or in a setting that breaks a
sentence of the lecture fails here instead of misleading students.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("pytorch", "tensorflow")
STEMS = ("04_monitoring", "05_reading_loss_curves")
PROBE = "LECTURE_PROBE "


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


# -- executed: the prose matches the runs ----------------------------------------------------------------
PROBES = {
    "05_reading_loss_curves": """
import json
from losslab import identify_training_issues as _diagnose
print("LECTURE_PROBE " + json.dumps({
    "fits": {k: _diagnose(v).labels for k, v in fits.items()},
    "speeds": {k: _diagnose(v).labels for k, v in speeds.items()},
    "diverged_epochs": speeds["diverging: SGD, lr 1.0"].epochs,
    "diverged_stopped": speeds["diverging: SGD, lr 1.0"].stopped_early,
    "slow_still_falling": speeds["slow: SGD, lr 0.0005"].train_loss[-1] < speeds["slow: SGD, lr 0.0005"].train_loss[-2],
    "live_epochs": live.epochs,
    "fast_is_lowest": min(speeds, key=lambda k: speeds[k].train_loss[-1]) == "fast: Adam, lr 0.005",
}))
""",
    "04_monitoring": """
import json
from losslab import identify_training_issues as _diagnose
_last = {k: v[-1] for k, v in too_high.layer_grad_norm.items()}
print("LECTURE_PROBE " + json.dumps({
    "history_gap": history.val_loss[-1] / history.train_loss[-1],
    "too_high_last_loss": too_high.train_loss[-1],
    "too_high_last_layer_norms": _last,
    "clipped_last_loss": clipped.train_loss[-1],
    "constant_last": constant.train_loss[-1], "cosine_last": cosine.train_loss[-1],
    "cosine_lr_first_last": [cosine.lr[0], cosine.lr[-1]],
    "candidates": {k: _diagnose(v).labels for k, v in candidates.items()},
    "lr_steepest": lr_steepest, "lr_tenth": lr_tenth,
}))
""",
}


def run_with_probe(framework: str, stem: str) -> dict:
    from nbclient import NotebookClient

    nb = notebook(framework, stem)
    nb.cells.append(nbformat.v4.new_code_cell(PROBES[stem]))
    os.environ.setdefault("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return json.loads(text.split(PROBE, 1)[1])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_05_runs_show_the_shapes_the_lecture_names(framework):
    got = run_with_probe(framework, "05_reading_loss_curves")
    fits, speeds = got["fits"], got["speeds"]
    assert fits["healthy"] == ["healthy"], fits
    assert fits["overfitting"][0] == "overfitting", fits
    assert fits["underfitting"][0] == "underfitting", fits
    fast = speeds["fast: Adam, lr 0.005"]
    assert not {"oscillation", "diverging", "overfitting", "slow_convergence"} & set(fast), speeds
    assert got["fast_is_lowest"], "the fast run should end with the lowest training loss of the four"
    assert speeds["slow: SGD, lr 0.0005"][0] == "slow_convergence" and got["slow_still_falling"], speeds
    assert speeds["oscillating: SGD, lr 0.3"][0] == "oscillation", speeds
    assert speeds["diverging: SGD, lr 1.0"][0] == "diverging", speeds
    assert got["diverged_stopped"] and got["diverged_epochs"] == 1, "the prose says it dies in its first epoch"
    assert got["live_epochs"] == 15


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_04_runs_do_what_the_prose_says(framework):
    got = run_with_probe(framework, "04_monitoring")
    assert got["history_gap"] > 10, "section 2 describes a generalization gap of orders of magnitude"
    assert abs(got["too_high_last_loss"] - math.log(10)) < 0.05, "lr 2.0 should leave the net guessing (ln 10)"
    norms = got["too_high_last_layer_norms"]
    out_bias = [name for name in norms if re.search(r"(6\.bias|out/bias)$", name)]
    assert len(out_bias) == 1, norms
    dead = {name: value for name, value in norms.items() if name != out_bias[0]}
    assert all(value < 0.01 * norms[out_bias[0]] for value in dead.values()), f"only the output bias lives: {norms}"
    assert got["clipped_last_loss"] < 0.5, "clipping should let lr 2.0 train far below ln 10"
    assert got["cosine_last"] < got["constant_last"], "the cosine schedule should end lower"
    first, last = got["cosine_lr_first_last"]
    assert first == pytest.approx(0.3) and last < 0.01
    labels = list(got["candidates"].values())
    assert labels[0][0] == "oscillation" and labels[1] == ["healthy"], got["candidates"]
    assert 0.1 < got["lr_steepest"] < 1.0 and 0.01 < got["lr_tenth"] < 0.1, got
