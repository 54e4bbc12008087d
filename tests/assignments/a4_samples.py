"""The a4_curve_clinic sample submissions, as data in the form of autograder/sample_class/build.py's tables.

Each mistake is (solution cell grade_id, text in the reference solution, what the student wrote instead), applied
by build.py's `submission`; `CLASS` maps student -> (how the submission is made, expected autograded score, test
cells that fail, why). test_a4_samples.py grades them through the pipeline; the lead folds these into build.py
(`A4`, `PARTIAL[A4]`, the `CLASS` entries) so that the sample class and `make grade` hold them too.
"""
from __future__ import annotations

A4 = "a4_curve_clinic"
A4_TESTS = ["test_name_bug", "test_name_bug_seen", "test_name_bug_unseen", "test_initial_loss_check",
            "test_initial_loss_check_hidden"]

#: The partial student wrote name_bug only (the written answers and the sanity check are left as released).
PARTIAL_A4 = {"name_bug"}

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

BLANK_WHY = "the release handed in untouched: every test hits NotImplementedError"
CLASS = {
    "reference": ("reference", 11.0, [], "the source's solutions: every test passes"),
    "blank": ("blank", 0.0, A4_TESTS, BLANK_WHY),
    "partial": ("partial", 7.0, A4_TESTS[3:], "name_bug only: its three tests pass (1+3+3); initial_loss_check "
                                             "(2+2) is not written"),
    "first_batch_only": (FIRST_BATCH_ONLY, 7.0, A4_TESTS[3:],
                         "initial_loss_check reads one batch instead of num_batches: its loss differs from "
                         "losslab's in both tests (2+2); name_bug passes"),
    "swapped_slow_bugs": (SWAPPED_SLOW_BUGS, 5.0, A4_TESTS[1:3],
                          "weight decay and clipping told apart the wrong way round: two of the five seen runs "
                          "(3) and two of the five unseen ones (3, only 3 of 5 right) are misnamed; the format "
                          "test (1) and initial_loss_check (2+2) pass"),
    "lookup_table": (LOOKUP_TABLE, 8.0, ["test_name_bug_unseen"],
                     "name_bug looks the run's name up in a table: the format test (1) and the seen runs (3) "
                     "pass, the unseen runs (3) fail (1 of 5 right); initial_loss_check (2+2) passes"),
}
