"""Lecture 06 (schedules, batch size, weight decay): what it must contain, and that its prose is true.

The static checks read the committed twins. The executed checks run each twin once (one module-scoped run per
framework, shared by every claim, without the Makefile's TensorFlow variables, as a student's kernel runs it)
with a probe cell appended, and compare what the runs did with what the prose says about them, seed by seed: which schedule ends lowest, what a wrong clock does to the rate, which
remedy saves a too-high peak, when reduce-on-plateau fires in each framework, how gradient noise scales with
the batch and moves along a run, where the linear scaling rule holds, what Adam + L2 and AdamW do to blank and busy pixels, and
where Nesterov stops being stable.
"""
from __future__ import annotations

import math
import re

import pytest

from tests.lectures.lecture_runs import FRAMEWORKS, markdown, notebook, twin_runs

STEM = "06_schedules_batch_size_weight_decay"

FRAMEWORK_APIS = {
    "pytorch": ["lr_scheduler.StepLR", "lr_scheduler.CosineAnnealingLR", "lr_scheduler.OneCycleLR",
                "lr_scheduler.LinearLR", "lr_scheduler.SequentialLR", "lr_scheduler.ReduceLROnPlateau",
                "torch.optim.AdamW", "torch.nn.utils.clip_grad_norm_", "nesterov=nesterov",
                "torch.set_num_threads(1)"],
    "tensorflow": ["schedules.PiecewiseConstantDecay", "schedules.CosineDecay", "warmup_target=",
                   "keras.callbacks.ReduceLROnPlateau", "keras.optimizers.AdamW", "global_clipnorm=",
                   "tf.clip_by_global_norm", "tf.clip_by_norm", "keras.regularizers.L2", "nesterov=nesterov",
                   "LossHistory()"],
}


def code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


# -- static: what each twin contains ----------------------------------------------------------------------
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_goals_prompts_and_folded_answers(framework):
    md = markdown(notebook(framework, STEM))
    assert "By the end you will be able to" in md.split("## 1.")[0], "learning goals open the lecture"
    assert len(re.findall(r"\*\*Predict, then run\.\*\*", md)) >= 6
    exercises = re.findall(r"\*\*Exercise (\d)\.\*\*", md)
    answers = re.findall(r"<details>\s*<summary>Answer</summary>(.*?)</details>", md, flags=re.S)
    assert exercises == ["1", "2", "3", "4"] and len(answers) == 4, (exercises, len(answers))
    assert all(len(a.split()) > 40 for a in answers), "each exercise has a written, folded answer"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_uses_the_frameworks_own_apis_next_to_losslab(framework):
    text = code(notebook(framework, STEM))
    missing = [api for api in FRAMEWORK_APIS[framework] if api not in text]
    assert not missing, f"the {framework} twin does not show {missing}"
    assert re.search(r"\btrain_with_loss_tracking\(", text) and "set_seed(seed)" in text
    assert not re.search(r"(https?://|load_data\(|urlretrieve|fetch_\w+\()", text), "a download at run time"


# -- executed: the prose matches the runs ----------------------------------------------------------------
PROBE = """
import numpy as _np


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, _np.ndarray)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _epochs(loss):
    return _np.asarray(loss, dtype=float).reshape(EPOCHS, -1).mean(axis=1)


PROBE_VALUES = _plain({
    "peak": PEAK, "drop": DROP, "steps": STEPS,
    "lr": {name: runs[0][0] for name, runs in schedule_runs.items()},
    "epoch_loss": {name: [_epochs(loss) for _, loss in runs] for name, runs in schedule_runs.items()},
    "final": final, "before_drop": before_drop,
    "wrong_lr": [h.lr for h in wrong], "wrong_final": [h.train_loss[-1] for h in wrong],
    "wrong_train": [h.train_loss for h in wrong],
    "clocked_right": CLOCKED_RIGHT,
    "remedy_final": remedy_final, "clip_rows": clip_rows,
    "plateau_lr": [h.lr for h in plateau_runs], "plateau_val": [h.val_loss for h in plateau_runs],
    "plateau_waits": [epochs_without_improvement(h.val_loss, h.lr) for h in plateau_runs], "patience": PATIENCE,
    "trace_sigma": list(trace_sigma.values()), "noise_scale": list(noise_scale.values()),
    "along": list(along.values()), "checkpoints": CHECKPOINTS,
    "batch_final": batch_final,
    "kept": kept, "relative": relative, "decay_factor": (1 - WD_LR * LAMBDA) ** steps_taken,
    "default_wd": default_wd, "default_kept": default_kept,
    "default_factor": (1 - WD_LR * default_wd) ** steps_taken,
    "adam_wd_vs_adamw": float(_np.abs(after - after_adam_wd).max()) if "after_adam_wd" in globals() else None,
    "valley": {f"{lr} {nesterov}": losses for (lr, nesterov), losses in valley.items()},
})
"""


executed = twin_runs(STEM, PROBE)  # each twin executed once, with the probe appended; every claim reads it


@pytest.fixture
def run(executed) -> dict:
    return {**executed.values, "framework": executed.framework}


def per_seed(values: list) -> range:
    assert len(values) == 3, "every comparison runs three seeds"
    return range(len(values))


def test_schedules_shapes_match_the_table(run):
    lr, peak, drop, steps = run["lr"], run["peak"], run["drop"], run["steps"]
    assert all(v == pytest.approx(peak) for v in lr["constant"])
    assert lr["step"][drop - 1] == pytest.approx(peak) and lr["step"][drop] == pytest.approx(peak / 10)
    assert lr["cosine"][0] == pytest.approx(peak) and lr["cosine"][-1] < 0.01 * peak
    one = lr["one-cycle"]
    assert one[0] == pytest.approx(peak / 25, rel=1e-3), "one-cycle starts at peak / 25"
    assert abs(one.index(max(one)) - 0.3 * steps) <= 1 and max(one) == pytest.approx(peak, rel=1e-3)
    assert one[-1] < 0.01 * peak


def test_decaying_schedules_end_below_the_constant_rate_in_every_seed(run):
    final = run["final"]
    for s in per_seed(final["constant"]):
        for name in ("step", "cosine", "one-cycle"):
            assert final[name][s] < final["constant"][s], (name, s, final)


def test_step_settles_on_a_lower_floor_and_cosine_keeps_sliding(run):
    final, epoch_loss = run["final"], run["epoch_loss"]
    for s in per_seed(run["before_drop"]):
        assert final["step"][s] < 2 / 3 * run["before_drop"][s], "last epoch a third lower than before the drop"
        cosine = epoch_loss["cosine"][s]
        assert cosine[-1] < cosine[-2], "the cosine run's loss still falls in its last epoch"
        first = {name: losses[s][0] for name, losses in epoch_loss.items()}
        assert max(first, key=first.get) == "one-cycle" and first["one-cycle"] > 2.0, first
        assert min(final, key=lambda name: final[name][s]) == "cosine", "the cosine ends lowest in every seed"


def test_wrong_clock_leaves_the_rate_stuck_and_the_loss_high(run):
    peak = run["peak"]
    for s, lrs in enumerate(run["wrong_lr"]):
        if run["framework"] == "pytorch":
            assert max(lrs) < peak / 10, "stepped per epoch, one-cycle never leaves its warm-up"
        else:
            assert lrs[0] == pytest.approx(peak) and all(lr < 1e-6 * peak for lr in lrs[1:]), lrs
            train = run["wrong_train"][s]
            assert abs(train[1] - train[2]) > 1e-3, "Keras' velocity moves the weights through epoch 2"
            assert abs(train[-1] - train[-2]) < 1e-4, "by the last epochs the weights no longer move"
        right = run["final"][run["clocked_right"]][s]
        assert run["wrong_final"][s] > 5 * right, (s, run["wrong_final"], right)


def test_only_clipping_saves_the_too_high_peak(run):
    remedy = run["remedy_final"]
    clipped = remedy["clipped at 1.0"]
    for s in per_seed(clipped):
        assert clipped[s] < 0.1, remedy
        for name in ("no remedy", "warm-up, 3 epochs"):
            assert remedy[name][s] > 5 * clipped[s], (name, s, remedy)


def test_global_clipping_keeps_the_direction_per_tensor_does_not(run):
    clip = 0.05
    for raw, glob, tensor, cos_glob, cos_tensor in run["clip_rows"]:
        assert raw > clip and glob == pytest.approx(clip, rel=1e-4) and cos_glob > 0.9999
        assert glob < tensor <= clip * math.sqrt(6) + 1e-6 and cos_tensor < 0.999


def test_reduce_on_plateau_counts_patience_differently(run):
    patience = run["patience"]
    expected = patience + 1 if run["framework"] == "pytorch" else patience
    for s, waits in enumerate(run["plateau_waits"]):
        assert waits, f"seed {s}: the rate never dropped"
        assert all(w == expected for w in waits), (run["framework"], s, waits)


def test_gradient_noise_falls_as_one_over_b(run):
    for s, traces in enumerate(run["trace_sigma"]):
        assert max(traces) / min(traces) < 1.5, (s, traces)
        assert 512 > 3 * run["noise_scale"][s], "batch 512 is several times the noise scale"
        assert 32 < run["noise_scale"][s], "exercise 2: batch 32 is below the noise scale"


def test_gradient_noise_moves_along_a_run(run):
    assert run["checkpoints"] == [0, 3, 9]
    for s in per_seed(run["along"]):
        (_, trace_0, square_0), (loss_3, trace_3, _), (_, trace_9, square_9) = run["along"][s]
        assert max(trace_3, trace_9) >= 1.5 * trace_0, (s, "tr Σ reaches 1.5 times its start within 9 epochs")
        scale_0, scale_9 = trace_0 / square_0, trace_9 / square_9
        if run["framework"] == "pytorch":  # small default init: a small gradient, a plateau, then the scale falls
            assert square_0 < 0.05 and loss_3 > 2.0, (s, "a small gradient at the start; still on the plateau")
            assert scale_9 < scale_0, (s, "the noise scale falls")
        else:  # Glorot: a larger gradient at the start, the loss falls sooner, the scale rises
            assert square_0 > 0.1 and loss_3 < 1.5, (s, "a larger gradient at the start; below 1.5 after 3 epochs")
            assert scale_9 >= 1.5 * scale_0, (s, "the noise scale rises to 1.5 times its start")


def test_linear_scaling_holds_at_4x_and_breaks_at_16x(run):
    final = run["batch_final"]
    base = final["B 32, lr 0.05 (baseline)"]
    for s in per_seed(base):
        assert final["B 128, lr 0.2 (scaled x4)"][s] < 1.25 * base[s], final
        assert final["B 128, lr 0.05 (not scaled)"][s] > 2 * base[s], final
        assert final["B 512, lr 0.8 (scaled x16)"][s] > 1.5 * base[s], final


def test_adam_l2_and_adamw_decay_differently(run):
    kept, relative = run["kept"], run["relative"]
    for s in per_seed(kept["Adam"]["blank"]):
        assert kept["Adam"]["blank"][s] == pytest.approx(1.0, abs=1e-6), "zero gradient, zero Adam step"
        assert kept["AdamW"]["blank"][s] == pytest.approx(run["decay_factor"], rel=1e-3)
        assert kept["Adam + L2"]["blank"][s] < 0.01, "Adam + L2 wipes out the blank pixels' weights"
        w_rare, w_busy = relative["AdamW"]["rare"][s], relative["AdamW"]["busy"][s]
        assert abs(w_rare / w_busy - 1) < 0.1, "AdamW takes about the same share from rare and busy pixels"
        assert relative["Adam + L2"]["rare"][s] < 0.5 * relative["Adam + L2"]["busy"][s]


def test_adamw_defaults_and_keras_adam_weight_decay(run):
    assert run["default_wd"] == pytest.approx(0.01 if run["framework"] == "pytorch" else 0.004)
    assert run["default_kept"] == pytest.approx(run["default_factor"], rel=1e-4)
    if run["framework"] == "tensorflow":
        assert run["adam_wd_vs_adamw"] == 0.0, "Keras Adam(weight_decay=) is AdamW"


def test_nesterov_damps_but_has_a_lower_ceiling(run):
    valley = run["valley"]
    heavy, nesterov = valley["0.01 False"], valley["0.01 True"]
    assert nesterov[59] < heavy[59] / 100
    assert len(valley["0.03 True"]) < 100 and valley["0.03 True"][-1] > 1e6, "Nesterov blows up at 0.03"
    assert len(valley["0.03 False"]) == 100 and valley["0.03 False"][-1] < 1e-2, "heavy ball converges at 0.03"
