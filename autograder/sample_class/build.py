"""Build the sample class from release/ and source/: `python autograder/sample_class/build.py [--check]`.

Every submission starts from the student version in release/. The reference student's solution cells get the
source's solutions (delimiters removed); a mistake student gets the same code with one realistic change; a
partial student solves the first parts only; the blank student hands the release in untouched. Each student's
expected.json states the autograded score each submission must get and why (manually graded answers are not
scored by the pipeline, so they are not part of it) and the test cells that fail. `--check` exits 1 if the committed class differs from a
fresh build.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
A1, A2, A3, A4 = "a1_loss_curves", "a2_losses_optimizers", "a3_gradients_lr", "a4_curve_clinic"

#: Realistic mistakes: (cell grade_id, text in the reference solution, what the student wrote instead).
FORGOT_ZERO_GRAD = [("train_one_epoch", "        optimizer.zero_grad()\n", "")]
VAL_WITH_GRAD = [("evaluate",
                  "    with torch.no_grad():\n"
                  "        for inputs, targets in loader:\n"
                  "            loss = criterion(model(inputs), targets)\n"
                  "            total += loss.item() * len(inputs)\n"
                  "            count += len(inputs)\n",
                  "    for inputs, targets in loader:\n"
                  "        loss = criterion(model(inputs), targets)\n"
                  "        total += loss.item() * len(inputs)\n"
                  "        count += len(inputs)\n")]
VAL_TRAIN_MODE = [("evaluate", "    model.eval()\n", "")]
FORGOT_TRAIN_MODE = [("train_one_epoch", "    model.train()\n", "")]
BATCH_MEAN = [(cell, old, new) for cell in ("train_one_epoch", "evaluate") for old, new in (
    ("total += loss.item() * len(inputs)", "total += loss.item()"),
    ("count += len(inputs)", "count += 1"))]
ADAM_NO_BIAS_CORRECTION = [("adam", "m_hat = m / (1 - self.beta1 ** self.t)", "m_hat = m"),
                           ("adam", "v_hat = v / (1 - self.beta2 ** self.t)", "v_hat = v")]
SOFTMAX_BEFORE_CE = [("cross_entropy", "    shifted = logits - ",
                      "    logits = torch.softmax(logits, dim=1)  # turn scores into probabilities first\n"
                      "    shifted = logits - ")]
CLIP_PER_TENSOR = [("clip_by_global_norm",
                    "    scale = max_norm / max(norm, max_norm)\n"
                    "    return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads], norm",
                    "    return [None if g is None else tf.clip_by_norm(g, max_norm) for g in grads], norm")]

#: initial_loss_check averages the first batch only, whatever num_batches says.
FIRST_BATCH_ONLY = [("initial_loss_check", "        if i == num_batches:\n", "        if i == 1:\n")]
#: The two "slow" bugs told apart the wrong way round: a plateau read as clipping, steady progress as decay.
SWAPPED_SLOW_BUGS = [("name_bug", '        return "weight_decay_too_strong"\n', '        return "clip_too_small"\n'),
                     ("name_bug", 'tiny clipped steps\n    return "clip_too_small"',
                      'tiny clipped steps\n    return "weight_decay_too_strong"')]
#: A table of the five runs read off the plots instead of rules: right on the runs seen, not on unseen ones.
LOOKUP_TABLE = [("name_bug", "    train, val = np.asarray(run.train_loss), np.asarray(run.val_loss)\n",
                 '    seen = {"run_A": "clip_too_small", "run_B": "augmented_validation", "run_C": '
                 '"weight_decay_too_strong",\n'
                 '            "run_D": "batchnorm_tiny_batches", "run_E": "no_warmup_large_lr"}  # from the plots\n'
                 '    return seen.get(run.meta.get("run"), "clip_too_small")\n'
                 "    train, val = np.asarray(run.train_loss), np.asarray(run.val_loss)\n")]

#: Solution cells the partial student completed (the others are left as released).
PARTIAL = {A1: {"train_one_epoch", "evaluate"},
           A2: {"regression_losses", "cross_entropy", "bce_with_logits"},
           A3: {"global_grad_norm", "loss_and_gradients", "clip_by_global_norm"},
           A4: {"name_bug"}}

#: Names a student rebinds after a wrong solution, hoping to steer the tests: they must change nothing.
SHADOWING = [("train_one_epoch", "    return total / count", "    return total / count\n\n\n"
              "# 'helpers' that shadow names a test might compare against (this cell runs before every test)\n"
              "np = None\n"
              "assert_allclose = lambda *args, **kwargs: None\n"
              "check_close = lambda *args, **kwargs: None\n"
              "set_seed = lambda seed: None\n"
              "train_with_loss_tracking = train_one_epoch\n"
              "identify_training_issues = lambda history: 'healthy'")]

#: student -> assignment -> (how the submission is made, expected autograded score, test cells that fail, why).
#: The score is reasoned from which tests the code fails; `build` checks it equals the assignment's autograded
#: points (a1 17, a2 17, a3 18, a4 11) minus the failing cells' points, and the round-trip tests check both against
#: a real grading run.
A1_TESTS = ["test_train_one_epoch", "test_train_one_epoch_hidden", "test_train_one_epoch_train_mode",
            "test_train_one_epoch_train_mode_hidden", "test_evaluate_value", "test_evaluate_no_grad",
            "test_evaluate_eval_mode", "test_train_model", "test_train_model_hidden", "test_diagnose",
            "test_diagnose_hidden", "test_diagnose_hidden_75", "test_diagnose_hidden_90"]
A2_TESTS = ["test_regression_losses", "test_regression_losses_hidden", "test_cross_entropy",
            "test_cross_entropy_stable", "test_cross_entropy_hidden", "test_bce", "test_bce_stable", "test_bce_hidden",
            "test_sgd_momentum", "test_sgd_momentum_hidden", "test_adam", "test_adam_hidden"]
A3_TESTS = ["test_global_grad_norm", "test_global_grad_norm_hidden", "test_loss_and_gradients",
            "test_loss_and_gradients_hidden", "test_clip_by_global_norm", "test_clip_by_global_norm_hidden",
            "test_train_step", "test_train_step_hidden", "test_lr_range_test", "test_lr_range_test_hidden",
            "test_recording_callback", "test_recording_callback_hidden"]
A4_TESTS = ["test_name_bug", "test_name_bug_seen", "test_name_bug_unseen", "test_initial_loss_check",
            "test_initial_loss_check_hidden"]
BLANK_WHY = "the release handed in untouched: every test hits NotImplementedError"
CLASS = {
    "reference": {
        A1: ("reference", 17.0, [], "the source's solutions: every test passes"),
        A2: ("reference", 17.0, [], "the source's solutions: every test passes"),
        A3: ("reference", 18.0, [], "the source's solutions: every test passes"),
        A4: ("reference", 11.0, [], "the source's solutions: every test passes"),
    },
    "blank": {A1: ("blank", 0.0, A1_TESTS, BLANK_WHY), A2: ("blank", 0.0, A2_TESTS, BLANK_WHY),
              A3: ("blank", 0.0, A3_TESTS, BLANK_WHY), A4: ("blank", 0.0, A4_TESTS, BLANK_WHY)},
    "partial": {
        A1: ("partial", 9.0, A1_TESTS[7:], "train_one_epoch and evaluate only: their 7 tests pass (2+1+1+1+2+1+1); "
                                           "train_model (2+1) and diagnose (2+1+1+1) are not written"),
        A2: ("partial", 11.0, A2_TESTS[8:], "the four losses only: their tests pass (3+4+4); SGDMomentum (2+1) "
                                            "and Adam (2+1) are not written"),
        A3: ("partial", 9.0, A3_TESTS[6:], "parts 1-3 only (global norm, GradientTape gradients, clipping: "
                                           "3+3+3); train_step, the range test and the callback (3+3+3) are not "
                                           "written"),
        A4: ("partial", 7.0, A4_TESTS[3:], "name_bug only: its three tests pass (1+3+3); initial_loss_check (2+2) "
                                           "is not written"),
    },
    "forgot_zero_grad": {
        A1: (FORGOT_ZERO_GRAD, 10.0, ["test_train_one_epoch", "test_train_one_epoch_hidden",
                                      "test_train_one_epoch_train_mode", "test_train_model", "test_train_model_hidden"],
             "gradients accumulate across batches, so every step after the first differs: train_one_epoch (2+1), "
             "its batch-norm model (1) and train_model (2+1) fail; the training-mode count (1), evaluate and "
             "diagnose pass"),
    },
    "shadows_names": {
        A1: (FORGOT_ZERO_GRAD + SHADOWING, 10.0, ["test_train_one_epoch", "test_train_one_epoch_hidden",
                                                  "test_train_one_epoch_train_mode", "test_train_model",
                                                  "test_train_model_hidden"],
             "forgot_zero_grad's mistake, then rebinds np, assert_allclose, check_close, set_seed, "
             "train_with_loss_tracking and identify_training_issues before any test runs: the tests import their own references, so the same 5 cells fail"),
    },
    "val_with_grad": {
        A1: (VAL_WITH_GRAD, 16.0, ["test_evaluate_no_grad"],
             "validation runs with autograd on: the values are right, only test_evaluate_no_grad (1) fails"),
    },
    "val_train_mode": {
        A1: (VAL_TRAIN_MODE, 16.0, ["test_evaluate_eval_mode"],
             "evaluate forgets model.eval(): only test_evaluate_eval_mode (1), the one model with dropout, fails; "
             "SimpleNet's dropout is 0, so the other values are right"),
    },
    "batch_mean": {
        A1: (BATCH_MEAN, 8.0, ["test_train_one_epoch", "test_train_one_epoch_hidden",
                               "test_train_one_epoch_train_mode", "test_evaluate_value", "test_train_model",
                               "test_train_model_hidden"],
             "averages batch means instead of per-sample losses: every test with an uneven last batch fails, "
             "train_one_epoch (2+1), its batch-norm model (1), evaluate value (2), train_model (2+1); the "
             "training-mode count (1), no_grad (1), eval mode (1, batches of 25) and diagnose (2+1+1+1) pass"),
    },
    "forgot_train_mode": {
        A1: (FORGOT_TRAIN_MODE, 15.0, ["test_train_one_epoch_train_mode", "test_train_one_epoch_train_mode_hidden"],
             "train_one_epoch never calls model.train(), so after evaluate every epoch trains in evaluation mode: "
             "the batch-norm model (1) and the dropout model's forward-pass count (1) fail; SimpleNet (no dropout, "
             "no batch norm) trains the same, so every other test passes"),
    },
    "adam_no_bias_correction": {
        A2: (ADAM_NO_BIAS_CORRECTION, 14.0, ["test_adam", "test_adam_hidden"],
             "Adam without bias correction takes wrong-sized early steps: test_adam (2) and its hidden test (1) "
             "fail"),
    },
    "softmax_before_ce": {
        A2: (SOFTMAX_BEFORE_CE, 13.0, ["test_cross_entropy", "test_cross_entropy_stable", "test_cross_entropy_hidden"],
             "softmax applied to the logits before the cross-entropy: the three cross-entropy tests (2+1+1) fail"),
    },
    "clip_per_tensor": {
        A3: (CLIP_PER_TENSOR, 13.0, ["test_clip_by_global_norm", "test_clip_by_global_norm_hidden", "test_train_step"],
             "clips each gradient tensor on its own (tf.clip_by_norm), changing the direction: both clipping "
             "tests (2+1) and the clipped train_step test (2) fail; the unclipped hidden train_step test, the "
             "range test and the rest pass"),
    },
    "first_batch_only": {
        A4: (FIRST_BATCH_ONLY, 7.0, A4_TESTS[3:],
             "initial_loss_check reads one batch instead of num_batches: its loss differs from losslab's in both "
             "tests (2+2); name_bug passes"),
    },
    "swapped_slow_bugs": {
        A4: (SWAPPED_SLOW_BUGS, 5.0, A4_TESTS[1:3],
             "weight decay and clipping told apart the wrong way round: two of the five seen runs (3) and two of "
             "the five unseen ones (3, only 3 of 5 right) are misnamed; the format test (1) and "
             "initial_loss_check (2+2) pass"),
    },
    "lookup_table": {
        A4: (LOOKUP_TABLE, 8.0, ["test_name_bug_unseen"],
             "name_bug looks the run's name up in a table: the format test (1) and the seen runs (3) pass, the "
             "unseen runs (3) fail (1 of 5 right); initial_loss_check (2+2) passes"),
    },
}


def test_points(aid: str) -> dict[str, float]:
    """grade_id -> points of every autograded test cell of a source assignment."""
    nb = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in nb.cells
            if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _without_delimiters(source: str) -> str:
    lines = source.split("\n")
    return "\n".join(line for line in lines if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def reference_solutions(aid: str) -> dict[str, str]:
    """grade_id -> the reference text of each solution cell (code without delimiters, answers without rubric)."""
    nb = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "code":
            out[meta["grade_id"]] = _without_delimiters(cell.source)
        else:
            out[meta["grade_id"]] = cell.source.split("**Rubric")[0].replace("**Model answer.** ", "").strip()
    return out


def submission(aid: str, how) -> str:
    """The notebook text one student hands in for one assignment."""
    nb = nbformat.read(REPO / "release" / aid / f"{aid}.ipynb", as_version=4)
    if how == "blank":
        return nbformat.writes(nb) + "\n"
    solutions = reference_solutions(aid)
    edits = [] if isinstance(how, str) else how
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid not in solutions or (how == "partial" and gid not in PARTIAL[aid]):
            continue
        if how == "partial" and cell.cell_type == "markdown":
            continue
        text = solutions[gid]
        for target, old, new in edits:
            if target == gid:
                if text.count(old) != 1:
                    raise ValueError(f"{aid}/{gid}: the mistake's text {old!r} must occur exactly once")
                text = text.replace(old, new)
        cell.source = text
    return nbformat.writes(nb) + "\n"


def build() -> dict[str, str]:
    """Relative path -> content of every file of the sample class that this script owns."""
    files = {}
    for student, assignments in CLASS.items():
        expected = {}
        for aid, (how, score, failing, why) in assignments.items():
            points = test_points(aid)
            if set(failing) - set(points) or score != sum(points.values()) - sum(points[f] for f in failing):
                raise ValueError(f"{student}/{aid}: a score of {score} does not follow from the failing tests {failing}")
            files[f"{student}/{aid}/{aid}.ipynb"] = submission(aid, how)
            expected[aid] = {"score": score, "status": "graded", "failing_tests": failing, "why": why,
                             "scope": "autograded points only; the written answers await manual grading"}
        for aid in sorted({A1, A2, A3, A4} - set(assignments)):
            expected[aid] = {"score": 0.0, "status": "missing", "why": f"handed nothing in for {aid}"}
        files[f"{student}/expected.json"] = json.dumps(expected, indent=1) + "\n"
    return files


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = [p for p, text in files.items()
                 if not (HERE / p).is_file() or (HERE / p).read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: autograder/sample_class/{path}")
        return 1 if stale else 0
    for path, text in files.items():
        (HERE / path).parent.mkdir(parents=True, exist_ok=True)
        (HERE / path).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files for {len(CLASS)} students under {HERE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
