"""Lecture 07 (debugging training from its curves): every signature the lecture states is measured on the
runs, in both twins, for the notebook's seed and two more.

The claims themselves live in one place, `losslab.core.zoo.signature` (the notebook prints them under each
figure); the probe re-measures them on seeds 1 and 2 in the twin's own kernel, and reads what the diagnosis
says about every run. One execution per twin (lecture_runs.twin_runs); stderr is checked in
test_lectures_quiet.py.
"""
from __future__ import annotations

from tests.lectures.lecture_runs import twin_runs

STEM = "07_debugging_training_from_curves"
PROBE = """
from losslab.core.zoo import signature as _signature
def _measure(records, fixed):
    return {name: {"claims": [[text, ok] for text, ok in _signature(name, records[name], fixed[fix_of(name)])],
                   "labels": identify_training_issues(records[name]).labels,
                   "causes": identify_training_issues(records[name]).causes} for name in records}
_seeds = {"0": _measure(runs, fixes)}
for _seed in (1, 2):
    _records = {name: zoo_run(name, seed=_seed) for name in BUGS}
    _fixed = {key: zoo_run(key, fixed=True, seed=_seed) for key in {fix_of(name) for name in BUGS}}
    _seeds[str(_seed)] = _measure(_records, _fixed)
PROBE_VALUES = {"seeds": _seeds, "bugs": list(BUGS),
                "noisy": [runs["noisy_labels"].train_loss[-1], runs["noisy_labels"].meta["test_loss"]],
                "epochs": {name: run.epochs for name, run in runs.items()}}
"""

run = twin_runs(STEM, PROBE)
CAUSE = {"accumulated_gradients": "gradient_accumulation", "unshuffled": "unshuffled_data",
         "noisy_labels": "label_noise"}


def test_the_zoo_has_the_twelve_bugs_the_lecture_names(run):
    assert len(run.values["bugs"]) == 12
    assert {"accumulated_gradients", "unshuffled", "softmax_before_ce", "dropout_never_off", "noisy_labels",
            "dead_relus", "val_leak", "sum_reduction", "unnormalised_inputs", "schedule_per_batch",
            "broadcast_target", "head_only_optimizer"} == set(run.values["bugs"])
    assert all(epochs == 20 for epochs in run.values["epochs"].values()), "every run trains its 20 epochs"


def test_every_stated_signature_holds_in_three_seeds(run):
    failed = [(seed, name, text) for seed, per_bug in run.values["seeds"].items() for name, got in per_bug.items()
              for text, ok in got["claims"] if not ok]
    assert not failed, f"{run.framework}: signatures the lecture states that a run does not show: {failed}"
    assert all(len(got["claims"]) >= 1 for per_bug in run.values["seeds"].values() for got in per_bug.values())


def test_the_diagnosis_names_the_three_causes_on_the_lectures_runs_and_most_seeds(run):
    seeds = run.values["seeds"]
    for name, got in seeds["0"].items():  # the runs the notebook prints: each cause on its bug, nowhere else
        assert got["causes"] == ([CAUSE[name]] if name in CAUSE else []), (run.framework, name, got["labels"])
    for name, cause in CAUSE.items():  # "on other seeds it finds most of them, not all"
        found = sum(cause in per_bug[name]["causes"] for per_bug in seeds.values())
        assert found >= 2, (run.framework, name, [per_bug[name]["labels"] for per_bug in seeds.values()])


def test_the_evaluation_bugs_look_healthy_from_the_record(run):
    for name in ("val_leak", "dropout_never_off"):
        assert run.values["seeds"]["0"][name]["labels"] == ["healthy"], (run.framework, name)
    for seed, per_bug in run.values["seeds"].items():  # and no cause finding on them in any seed
        assert not per_bug["val_leak"]["causes"] and not per_bug["dropout_never_off"]["causes"], seed


def test_noisy_labels_clean_test_loss_below_training_loss(run):
    train, test = run.values["noisy"]
    assert test < 0.75 * train, "section 4: on clean labels the loss is far lower than the training loss"


def test_each_twin_tells_its_own_framework_form(run):
    md = run.markdown
    if run.framework == "tensorflow":
        assert "Keras has no `zero_grad`" in md and "custom train step" in md
        assert "tf.nn.sparse_softmax_cross_entropy_with_logits" in md and "counts *optimizer steps*" in md
        assert "scheduler.step()" not in md and "F.mse_loss" not in md
    else:
        assert "`loss.backward()` *adds* into `.grad`" in md and "scheduler.step()" in md and "F.mse_loss" in md
        assert "Keras has no" not in md and "tf.nn" not in md
