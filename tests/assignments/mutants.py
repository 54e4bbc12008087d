"""Realistic wrong solutions of a1-a3 ("mutants"), kept as data, and one pipeline call that grades them as a class.

Each mutant is the reference submission with one function changed the way students get it wrong, written in the
sample class's format (autograder/sample_class/build.py): (solution cell grade_id, text in the reference
solution, what the student wrote instead), applied by that module's `submission`. A mutant is *killed* when its
autograded score is below the reference's, graded in the same call (and the reference must get the full
autograded points), and *survives* otherwise. tests/assignments/test_mutations_a*.py require every mutant to be
killed; benchmarks/mutation_score.py prints the score per assignment.
"""
from __future__ import annotations

import ast
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder.pipeline import grade
from autograder.results import Result
from autograder.sample_class.build import (A1, A2, A3, ADAM_NO_BIAS_CORRECTION, CLIP_PER_TENSOR, FORGOT_ZERO_GRAD,
                                           REPO, SOFTMAX_BEFORE_CE, VAL_TRAIN_MODE, VAL_WITH_GRAD,
                                           reference_solutions, submission, test_points)

Edit = tuple[str, str, str]

#: The student who hands in the reference solutions, graded beside the mutants under the same conditions.
REFERENCE = "reference"
#: Mutants per autograded function, at least: the issue asks for three.
MIN_PER_FUNCTION = 3
#: pytest-timeout allowance per submission of a class (an a1 submission took up to 160 s at load 15).
SECONDS_PER_SUBMISSION = 300


@dataclass(frozen=True)
class Mutant:
    """One wrong submission: the function it breaks, the mistake in words, and the edits that make it."""
    name: str  # the student id it is graded under
    function: str  # a function or class the solution cells define
    mistake: str
    edits: list[Edit] = field(default_factory=list)
    #: Why a surviving mutant is tolerated for now (the test is xfail(strict=True)); None: it must be killed.
    survives: str | None = None


def _edit(cell: str, old: str, new: str) -> list[Edit]:
    """One change to one solution cell."""
    return [(cell, old, new)]


# ---------------------------------------------------------------------------------------------------- a1 (PyTorch)
_TRAIN_TOTALS = ("        total += loss.item() * len(inputs)\n        count += len(inputs)\n"
                 "    return total / count")
_EVAL_TOTALS = ("            total += loss.item() * len(inputs)\n            count += len(inputs)\n")
_EPOCH_LINES = ('        history["train_loss"].append(train_one_epoch(model, train_loader, criterion, optimizer))\n'
                '        history["val_loss"].append(evaluate(model, val_loader, criterion))\n')

A1_MUTANTS = [
    Mutant("t1_no_train_mode", "train_one_epoch", "never calls model.train(), so a model left in eval mode by "
           "evaluate trains with dropout off", _edit("train_one_epoch", "    model.train()\n", "")),
    Mutant("t1_forgot_zero_grad", "train_one_epoch", "no optimizer.zero_grad(): gradients accumulate across batches",
           FORGOT_ZERO_GRAD),
    Mutant("t1_batch_mean", "train_one_epoch", "averages the batch means (the short last batch weighs as much as a "
           "full one)", _edit("train_one_epoch", _TRAIN_TOTALS,
                              "        total += loss.item()\n        count += 1\n    return total / count")),
    Mutant("ev_train_mode", "evaluate", "forgets model.eval() (dropout stays on)", VAL_TRAIN_MODE),
    Mutant("ev_with_grad", "evaluate", "runs validation with autograd on (no torch.no_grad())", VAL_WITH_GRAD),
    Mutant("ev_batch_mean", "evaluate", "averages the batch means",
           _edit("evaluate", _EVAL_TOTALS, "            total += loss.item()\n            count += 1\n")),
    Mutant("tm_val_before_train", "train_model", "measures the validation loss before the epoch's training",
           _edit("train_model", _EPOCH_LINES, "".join(reversed(_EPOCH_LINES.splitlines(keepends=True))))),
    Mutant("tm_one_epoch_short", "train_model", "off by one: range(1, num_epochs) trains one epoch too few",
           _edit("train_model", "range(num_epochs)", "range(1, num_epochs)")),
    Mutant("tm_val_on_train_loader", "train_model", "copy-paste: the validation loss is measured on train_loader",
           _edit("train_model", "evaluate(model, val_loader, criterion)", "evaluate(model, train_loader, criterion)")),
    Mutant("dg_no_slow_convergence", "diagnose", "the old four-label rule: a run still falling at a too-low rate "
           "is called underfitting", _edit("diagnose", '        return "slow_convergence" if recent > ',
                                           '        return "underfitting"  # slow_convergence if recent > ')),
    Mutant("dg_label_typo", "diagnose", "returns 'slow convergence' (a space, not the label's underscore)",
           _edit("diagnose", '"slow_convergence" if recent', '"slow convergence" if recent')),
    Mutant("dg_slow_under_swapped", "diagnose", "compares the last fifth's share of the drop the wrong way round: "
           "slow convergence and underfitting swap", _edit("diagnose", " if recent > ", " if recent < ")),
    Mutant("dg_absolute_threshold", "diagnose", "judges 'fell far enough' by one absolute loss value, which does "
           "not carry from a regression's MSE to a classifier's cross-entropy",
           _edit("diagnose", "    if train[-1] > 0.3 * train[0]:", "    if train[-1] > 0.1:")),
]

# ----------------------------------------------------------------------------------------------------- a2 (PyTorch)
_SGD_UPDATE = "            v.mul_(self.momentum).add_(p.grad)\n            p.sub_(self.lr * v)"
_ADAM_UPDATE = ("            m_hat = m / (1 - self.beta1 ** self.t)\n"
                "            v_hat = v / (1 - self.beta2 ** self.t)\n"
                "            p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))")
_ADAM_STEP = ("        self.t += 1\n        for p, m, v in zip(self.params, self.m, self.v):\n"
              "            if p.grad is None:\n                continue\n"
              "            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)\n"
              "            v.mul_(self.beta2).add_((1 - self.beta2) * p.grad ** 2)\n") + _ADAM_UPDATE
_CE_LOG_PROBS = "    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()\n"
_BCE = "(logits.clamp(min=0) - logits * targets + torch.log1p(torch.exp(-logits.abs()))).mean()"

A2_MUTANTS = [
    Mutant("mse_sum", "mse_loss", "sums the squared errors instead of averaging them",
           _edit("regression_losses", "((pred - target) ** 2).mean()", "((pred - target) ** 2).sum()")),
    Mutant("mse_squeeze_broadcast", "mse_loss", "squeezes the predictions, so (N,) minus (N, 1) broadcasts to (N, N)",
           _edit("regression_losses", "((pred - target) ** 2)", "((pred.squeeze() - target) ** 2)")),
    Mutant("mse_functional", "mse_loss", "calls torch.nn.functional.mse_loss, which the rules forbid",
           _edit("regression_losses", "return ((pred - target) ** 2).mean()",
                 "return torch.nn.functional.mse_loss(pred, target)")),
    Mutant("l1_sum", "l1_loss", "sums the absolute errors instead of averaging them",
           _edit("regression_losses", "(pred - target).abs().mean()", "(pred - target).abs().sum()")),
    Mutant("l1_abs_of_mean", "l1_loss", "takes the absolute value of the mean error, not the mean absolute error",
           _edit("regression_losses", "(pred - target).abs().mean()", "(pred - target).mean().abs()")),
    Mutant("l1_sum_over_outputs", "l1_loss", "sums over the outputs of a sample, then averages over samples",
           _edit("regression_losses", "(pred - target).abs().mean()", "(pred - target).abs().sum(dim=-1).mean()")),
    Mutant("ce_softmax_first", "cross_entropy_from_logits", "applies a softmax to the logits first",
           SOFTMAX_BEFORE_CE),
    Mutant("ce_softmax_then_log", "cross_entropy_from_logits", "subtracts the max, then takes log(softmax): "
           "log(0) = -inf when the target's logit is far below the max",
           _edit("cross_entropy", _CE_LOG_PROBS,
                 "    log_probs = (shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)).log()\n")),
    Mutant("ce_no_shift", "cross_entropy_from_logits", "no log-sum-exp trick: exp of a large logit overflows",
           _edit("cross_entropy", "    shifted = logits - logits.max(dim=1, keepdim=True).values\n",
                 "    shifted = logits\n")),
    Mutant("ce_functional", "cross_entropy_from_logits", "calls torch.nn.functional.cross_entropy, which the "
           "rules forbid", _edit("cross_entropy", "    return -log_probs.gather(1, targets.long().unsqueeze(1)).mean()",
                                 "    return torch.nn.functional.cross_entropy(logits, targets.long())")),
    Mutant("bce_naive", "bce_with_logits", "the textbook formula: log(sigmoid) gives log(0) for large logits",
           _edit("bce_with_logits", _BCE, "(-(targets * torch.log(torch.sigmoid(logits))"
                 " + (1 - targets) * torch.log(1 - torch.sigmoid(logits)))).mean()")),
    Mutant("bce_no_abs", "bce_with_logits", "exp(-x) instead of exp(-|x|): wrong for negative logits",
           _edit("bce_with_logits", "torch.exp(-logits.abs())", "torch.exp(-logits)")),
    Mutant("bce_sum", "bce_with_logits", "sums over the elements instead of averaging",
           _edit("bce_with_logits", _BCE, _BCE.replace(".mean()", ".sum()"))),
    Mutant("sgd_ema", "SGDMomentum", "an exponential moving average v = mu v + (1 - mu) g, not PyTorch's momentum",
           _edit("sgd_momentum", "add_(p.grad)", "add_((1 - self.momentum) * p.grad)")),
    Mutant("sgd_keras_form", "SGDMomentum", "Keras' form v = mu v - lr g, p += v: the same as PyTorch's only while "
           "the learning rate never changes", _edit("sgd_momentum", _SGD_UPDATE,
                                                    "            v.mul_(self.momentum).sub_(self.lr * p.grad)\n"
                                                    "            p.add_(v)")),
    Mutant("sgd_no_none_skip", "SGDMomentum", "steps parameters without a gradient",
           _edit("sgd_momentum", "            if p.grad is None:\n                continue\n", "")),
    Mutant("adam_no_bias_correction", "Adam", "no bias correction", ADAM_NO_BIAS_CORRECTION),
    Mutant("adam_wraps_torch", "Adam", "delegates to torch.optim.Adam, which the rules forbid",
           _edit("adam", "        self.t = 0\n", "        self.t = 0\n"
                 "        self._torch = torch.optim.Adam(self.params, lr=lr, betas=betas, eps=eps)\n")
           + _edit("adam", _ADAM_STEP, "        self._torch.step()")),
    Mutant("adam_eps_in_sqrt", "Adam", "eps inside the square root",
           _edit("adam", "(v_hat.sqrt() + self.eps)", "(v_hat + self.eps).sqrt()")),
    Mutant("adam_efficient_form", "Adam", "Kingma & Ba's 'efficient' form (and Keras'): eps added to the "
           "uncorrected sqrt(v)", _edit("adam", _ADAM_UPDATE,
                                        "            step = self.lr * (1 - self.beta2 ** self.t) ** 0.5 "
                                        "/ (1 - self.beta1 ** self.t)\n"
                                        "            p.sub_(step * m / (v.sqrt() + self.eps))")),
]

# -------------------------------------------------------------------------------------------------- a3 (TensorFlow)
A3_MUTANTS = [
    Mutant("gn_sum_of_norms", "global_grad_norm", "adds up the per-tensor norms",
           _edit("global_grad_norm", "float(tf.sqrt(tf.add_n(squares)))",
                 "float(tf.add_n([tf.sqrt(s) for s in squares]))")),
    Mutant("gn_mean_square", "global_grad_norm", "reduce_mean instead of reduce_sum (an RMS, not a norm)",
           _edit("global_grad_norm", "tf.reduce_sum(", "tf.reduce_mean(")),
    Mutant("gn_empty_list", "global_grad_norm", "no gradients at all: tf.add_n([]) raises instead of 0.0",
           _edit("global_grad_norm", "    if not squares:\n        return 0.0\n", "")),
    Mutant("gn_tf_global_norm", "global_grad_norm", "calls tf.linalg.global_norm, which the part asks you to write",
           _edit("global_grad_norm", "    return float(tf.sqrt(tf.add_n(squares)))",
                 "    return float(tf.linalg.global_norm([g for g in grads if g is not None]))")),
    Mutant("lg_forward_outside_tape", "loss_and_gradients", "runs the model before the tape starts recording",
           _edit("loss_and_gradients", "    with tf.GradientTape() as tape:\n"
                 "        loss = loss_fn(y, model(x, training=True))\n",
                 "    predictions = model(x, training=True)\n    with tf.GradientTape() as tape:\n"
                 "        loss = loss_fn(y, predictions)\n")),
    Mutant("lg_swapped_loss_args", "loss_and_gradients", "passes (predictions, targets) to the Keras loss, "
           "which takes the targets first", _edit("loss_and_gradients", "loss_fn(y, model(x, training=True))",
                                                  "loss_fn(model(x, training=True), y)")),
    Mutant("lg_inference_mode", "loss_and_gradients", "calls the model without training=True (dropout and batch "
           "norm in inference mode)", _edit("loss_and_gradients", "model(x, training=True)", "model(x)")),
    Mutant("lg_loss_tensor", "loss_and_gradients", "returns the loss as a tensor, not a float",
           _edit("loss_and_gradients", "return float(loss), list(grads)", "return loss, list(grads)")),
    Mutant("cl_per_tensor", "clip_by_global_norm", "clips each tensor on its own (tf.clip_by_norm)",
           CLIP_PER_TENSOR),
    Mutant("cl_scales_up", "clip_by_global_norm", "always rescales to max_norm, so small gradients grow",
           _edit("clip_by_global_norm", "max_norm / max(norm, max_norm)", "max_norm / norm")),
    Mutant("cl_norm_after", "clip_by_global_norm", "returns the norm after clipping",
           _edit("clip_by_global_norm", "for g in grads], norm", "for g in grads], min(norm, max_norm)")),
    Mutant("cl_tf_clip", "clip_by_global_norm", "calls tf.clip_by_global_norm, which the part asks you to write",
           _edit("clip_by_global_norm",
                 "    norm = global_grad_norm(grads)\n    scale = max_norm / max(norm, max_norm)\n"
                 "    return [None if g is None else g * tf.cast(scale, g.dtype) for g in grads], norm",
                 "    clipped, norm = tf.clip_by_global_norm(grads, max_norm)\n    return clipped, float(norm)")),
    Mutant("ts_applies_unclipped", "train_step", "clips but applies the unclipped gradients",
           _edit("train_step", "        grads, norm = clip_by_global_norm(grads, max_norm)\n",
                 "        _, norm = clip_by_global_norm(grads, max_norm)\n")),
    Mutant("ts_norm_after_clip", "train_step", "reports the norm after clipping",
           _edit("train_step", "    return loss, norm", "    return loss, global_grad_norm(grads)")),
    Mutant("ts_loss_after_step", "train_step", "returns the loss after the update, not the one it stepped on",
           _edit("train_step", "    return loss, norm", "    return float(loss_fn(y, model(x))), norm")),
    Mutant("ts_default_clips", "train_step", "a default max_norm=1.0: unclipped calls get clipped",
           _edit("train_step", "max_norm=None):", "max_norm=1.0):")),
    Mutant("lr_linspace", "lr_range_test", "linearly spaced rates", _edit("lr_range_test", "np.geomspace(",
                                                                           "np.linspace(")),
    Mutant("lr_floor_batches", "lr_range_test", "rounds the number of batches down, so the short last batch is "
           "never used", _edit("lr_range_test", "int(np.ceil(len(x) / batch_size))", "len(x) // batch_size")),
    Mutant("lr_stop_vs_first", "lr_range_test", "stops at 4x the first loss, not 4x the smallest so far",
           _edit("lr_range_test", "loss > 4 * min(losses)", "loss > 4 * losses[0]")),
    Mutant("lr_drops_blowup", "lr_range_test", "stops before recording the loss that blew up",
           _edit("lr_range_test", "        lrs.append(float(lr))\n        losses.append(float(loss))\n"
                 "        if not np.isfinite(loss) or loss > 4 * min(losses):\n            break\n",
                 "        if losses and (not np.isfinite(loss) or loss > 4 * min(losses)):\n            break\n"
                 "        lrs.append(float(lr))\n        losses.append(float(loss))\n")),
    Mutant("rc_cumulative_time", "RecordingCallback", "starts the clock once, so epoch_time is the time since "
           "training began", _edit("recording_callback", "        self._start = time.perf_counter()\n",
                                   "        if epoch == 0:\n            self._start = time.perf_counter()\n")),
    Mutant("rc_val_always", "RecordingCallback", "appends a val_loss (NaN) even without validation data",
           _edit("recording_callback", '        if "val_loss" in logs:\n'
                 '            self.history.val_loss.append(float(logs["val_loss"]))\n',
                 '        self.history.val_loss.append(float(logs.get("val_loss", float("nan"))))\n')),
    Mutant("rc_lr_variable", "RecordingCallback", "appends the learning-rate variable itself, not its value",
           _edit("recording_callback", "float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))",
                 "self.model.optimizer.learning_rate")),
]

MUTANTS: dict[str, list[Mutant]] = {A1: A1_MUTANTS, A2: A2_MUTANTS, A3: A3_MUTANTS}


def timeout(aid: str) -> pytest.MarkDecorator:
    """A pytest-timeout mark for a module that grades ``aid``'s mutants and the reference in one call: the suite's
    default (20 min per test) is too short for a class of them on a busy machine."""
    return pytest.mark.timeout(SECONDS_PER_SUBMISSION * (len(MUTANTS[aid]) + 1))


def defined_functions(aid: str) -> dict[str, str]:
    """Function or class name -> grade_id of the solution cell defining it (every autograded function)."""
    nb = nbformat.read(REPO / "source" / aid / f"{aid}.ipynb", as_version=4)
    found = {}
    for gid, text in reference_solutions(aid).items():
        cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid)
        if cell.cell_type != "code":
            continue
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found[node.name] = gid
    return found


def patch_problems(aid: str, mutant: Mutant) -> list[str]:
    """Why the mutant's edits no longer apply to the reference solutions (empty when they all do)."""
    solutions = reference_solutions(aid)
    problems = []
    for gid, old, new in mutant.edits:
        if gid not in solutions:
            problems.append(f"no solution cell {gid!r} in source/{aid} any more")
            continue
        text = solutions[gid]
        if text.count(old) != 1:
            problems.append(f"cell {gid!r}: the text {old!r} occurs {text.count(old)} times in the reference "
                            f"solution, not once")
            continue
        solutions[gid] = text.replace(old, new)
    if not problems and not mutant.edits:
        problems.append("no edits: it would be the reference")
    return problems


@dataclass
class Graded:
    """A grading run of an assignment's mutants: their results, the full points, and the patches that failed."""
    aid: str
    full: float
    results: dict[str, Result]
    unapplied: dict[str, list[str]]
    seconds: float

    def failing(self, name: str) -> list[str]:
        return sorted(c.grade_id for c in self.results[name].cells if c.autograded and c.score < c.max_score)

    def killed(self, name: str) -> bool:
        """The mutant scores below the reference graded in the same run."""
        return name in self.results and self.results[name].score < self.results[REFERENCE].score


def _write(path: Path, notebook: str) -> None:
    """A submission with its demonstration cells (code cells nbgrader does not track) emptied: they train and plot
    for the student's eyes only and no test reads what they leave, so they would only cost time (the reference,
    written the same way, must still get full marks)."""
    nb = nbformat.reads(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and not cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"):
            cell.source = "# (demonstration run left out of the mutation run)"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def grade_mutants(aid: str, work: Path, workers: int | None = None) -> Graded:
    """Write every applicable mutant of ``aid`` and the reference, one student each, and grade them all in one
    pipeline call."""
    submissions, out = work / "submitted", work / "graded"
    unapplied = {}
    for mutant in MUTANTS[aid]:
        problems = patch_problems(aid, mutant)
        if problems:
            unapplied[mutant.name] = problems
            continue
        _write(submissions / mutant.name / aid / f"{aid}.ipynb", submission(aid, mutant.edits))
    _write(submissions / REFERENCE / aid / f"{aid}.ipynb", submission(aid, "reference"))
    if workers is None:  # under pytest-xdist the other worker grades another assignment meanwhile: one kernel each
        workers = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
    start = time.perf_counter()
    results = grade(submissions, out, workers=workers, assignments=[aid], progress=False) if submissions.exists() \
        else []
    return Graded(aid, sum(test_points(aid).values()), {r.student: r for r in results}, unapplied,
                  time.perf_counter() - start)


class MutationSuite:
    """The checks of a test module's assignment (its AID): one grading call for the class (pytest-xdist's
    loadscope keeps a module on one worker), then one test per mutant, generated from MUTANTS."""

    AID: str

    def pytest_generate_tests(self, metafunc):
        if "mutant" in metafunc.fixturenames:
            metafunc.parametrize("mutant", [
                pytest.param(m, id=m.name, marks=[pytest.mark.xfail(strict=True, reason=m.survives)] if m.survives
                             else []) for m in MUTANTS[self.AID]])

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory) -> Graded:
        graded = grade_mutants(cls.AID, tmp_path_factory.mktemp(f"mutants-{cls.AID}"))
        print(f"graded the reference and {len(graded.results) - 1} mutants of {cls.AID} in {graded.seconds:.0f} s")
        return graded

    def test_every_autograded_function_has_its_mutants(self):
        counts = {name: sum(m.function == name for m in MUTANTS[self.AID]) for name in defined_functions(self.AID)}
        short = {name: n for name, n in counts.items() if n < MIN_PER_FUNCTION}
        assert not short, (f"{self.AID}: these functions have fewer than {MIN_PER_FUNCTION} mutants in "
                           f"tests/assignments/mutants.py: {short}")
        unknown = {m.function for m in MUTANTS[self.AID]} - set(counts)
        assert not unknown, f"{self.AID}: mutants of functions the solution cells no longer define: {unknown}"

    def test_reference_gets_full_autograded_marks(self, graded):
        reference = graded.results[REFERENCE]
        assert reference.status == "graded" and reference.score == graded.full, (
            f"the reference solutions of {self.AID} score {reference.score:g}/{graded.full:g} "
            f"({reference.status}: {reference.reason}); failing: {graded.failing(REFERENCE)}")

    def test_mutant_scores_below_the_reference(self, graded, mutant):
        problems = graded.unapplied.get(mutant.name)
        assert not problems, (f"mutant {mutant.name} of {self.AID} no longer applies to the reference solution "
                              f"({'; '.join(problems)}): update its edits in tests/assignments/mutants.py")
        result, reference = graded.results[mutant.name], graded.results[REFERENCE]
        assert result.status == "graded", (f"mutant {mutant.name} was not graded ({result.status}: {result.reason}): "
                                           f"a kill must come from a failing test, not from grading breaking")
        assert graded.killed(mutant.name), (
            f"mutant {mutant.name} survives: {mutant.function} that {mutant.mistake} scores {result.score:g}, "
            f"as much as the reference ({reference.score:g}/{graded.full:g}); no test of {self.AID} tells it "
            f"from the right solution, so {mutant.function}'s tests need sharpening")
