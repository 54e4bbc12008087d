"""The numbers behind every rule of the diagnosis, each with where it comes from."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .. import signals


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind every rule, with where each comes from.

    Losses are compared as ratios (log scale), never in absolute units, so one set of thresholds serves MSE
    on any target scale and cross-entropy alike. A loss that reaches zero or below (a log-likelihood, a
    shifted loss) has no natural zero; the rules then read it shifted up so that its lowest value sits a
    tenth of its range above zero (the evidence says by how much). Published detectors read accuracy or
    per-layer tensors; where we adapt one of their rules to loss curves we say how. "Ours" marks a number we
    chose; every "ours" was checked by leave-one-family-out on the labelled runs of ``benchmarks/diagnosis``
    (``tune.py`` re-tunes them on all families but one and scores the one left out; a frozen split is
    never tuned on). "Start" is the loss before any update: the first per-iteration loss when ``iter_loss``
    is recorded, else the first epoch's mean.

    Diverging: `losslab.core.signals.find_divergence`, the one definition the plots use too. Any NaN/Inf
    loss is divergence: AUTOTRAINER (Zhang et al., ICSE 2021, ``nan_loss``), DeepDiagnosis (Wardat et al.,
    ICSE 2022, "invalid loss") and UMLAUT (Schoop et al., CHI 2021, ``NaNInLossError``). For finite runs:

    - ``diverge_loss_abs`` = 1e5: AUTOTRAINER calls a run exploded when the validation loss reaches 1e5;
      we apply it to any recorded loss.
    - ``diverge_factor`` = 3: ours. The last training loss is above the start and at least 3x its lowest
      value: the run learned, then blew up.
    - ``diverge_spike`` = 10 and ``diverge_unrecovered`` = 0.5: ours. The loss shot above 10x the start
      and the run ends above half the start: one huge step threw the weights somewhere it never recovered
      from. Without per-iteration losses the spike hides inside epoch 1's mean, and a run that converged
      within its first epoch looks the same; the finding says so and carries a low confidence.

    Gradients (only when ``grad_norm`` or ``layer_grad_norm`` is recorded):

    - ``explode_growth`` = 100: ours. Some epoch's mean gradient norm is 100x the median of the epochs
      before it (gradients that only shrink, as on a memorised training set, never count).
    - ``explode_layer_ratio`` = 70: AUTOTRAINER ``beta_3``, first-layer over last-layer gradient norm.
    - ``vanish_layer_ratio`` = 1e-3 and ``vanish_first_layer`` = 1e-4: AUTOTRAINER ``beta_1`` and
      ``beta_2``; the first layer gets under 1e-3 of the last layer's gradient and under 1e-4 in norm.
    - ``vanish_abs`` = 1e-5: ours, after DeepDiagnosis (mean absolute gradient < 1e-7): a total gradient
      norm below 1e-5. Both vanishing rules also need the loss to be high (``underfit_ratio``), ...
    - ``vanish_output_kept`` = 0.1: ours. ... and the output still learning: the last weight layer's gradient
      (else the total) keeps at least a tenth of its first epoch's over the last third of the run. Vanishing
      gradients fade with depth while the output layer keeps its gradient (0.8-1.0x on the labelled
      sigmoid stacks); when weight decay collapses every weight, the output's gradient dies too (1e-2 to
      1e-8x) and the run is underfitting, however small the first layer's gradient.

    Oscillation (AUTOTRAINER's ``unstable_loss``, moved from accuracy to the log of the loss and measured
    against the run's own noise instead of a fixed swing):

    - ``osc_climb`` = 0.1: ours. The training loss' rises after epoch 1 add up (in log) to at least a tenth
      of its progress: the log decrease from the start to the lowest loss, or the decrease down to
      ``underfit_ratio`` of the start when that is larger (a run that barely learned does not bounce).
    - ``osc_noise`` = 0.5: ours. The run's own noise level: where per-iteration losses are recorded, the
      epoch-to-epoch changes of the epoch means in the last third are compared with the standard error that
      minibatch noise gives an epoch mean (the spread of the iteration losses over the square root of the
      steps per epoch; a record decimated by k says so in ``meta["iter_stride"]``). A full pass averages
      every batch, so a healthy run moves well under one standard error per epoch (0.1-0.48 on the
      labelled runs, ordinary Adam noise included); a step too large for the valley moves whole epochs
      (0.49-4.3). The rule fires when the geometric mean of the two margins, climb / ``osc_climb`` and
      jitter / ``osc_noise``, reaches 1. Without iterations (a Keras ``History``) the climb alone decides.

    Overfitting (UMLAUT: "validation loss increasing while training loss is stuck or decreasing";
    AUTOTRAINER's ``test_turn_bad``: training loss falls while validation loss rises):

    - ``overfit_rise`` = 0.10: ours. The last three epochs of the 3-epoch-median validation loss average at
      least 10 % above its minimum, ...
    - ``overfit_noise`` = 5: ... and that rise (in log) is at least 5x the validation loss' epoch-to-epoch
      jitter (half the median absolute second difference of its log, so a steady trend is not jitter), ...
    - ``overfit_train_slack`` = 0.05: ... while the last training loss is at most 5 % above its value at
      the validation minimum. The onset is the epoch of the validation minimum.
    - Memorising without a clean turn: the last three epochs' validation loss is at least ``overfit_gap`` =
      10x the training loss, the training loss fell to at most ``overfit_train_drop`` = 10 % of its first
      epoch, and validation stayed at least ``overfit_val_stall`` = 70 % of its first epoch (ours).

    Slow convergence, judged by the slope at the end (ours: DeepDiagnosis' "loss not decreasing" and
    AUTOTRAINER's ``sc_accuracy`` flag too little progress per window, which cannot tell "too slow" from
    "converged"). A straight line is fitted to the log training loss over the last third of the epochs,
    against training time counted in epochs at the peak learning rate (`Curves.lr_time`: plain epochs at a
    constant rate; a run still falling while a cosine or warm-up schedule anneals its rate stays a straight
    line on that clock, while in epochs it bends and its fit looks noisy):

    - ``slow_t`` = 12: its downward slope is at least 12 standard errors (from the residual noise of the
      fit): the loss is still falling, not jittering around a level (settled runs: under 10), ...
    - ``slow_min_rate`` = 0.02, ``slow_steady`` = 40 and ``slow_recent_fraction`` = 0.25: ... at a pace that
      matters: either it would take at least 2 % more off the loss if the run went on as long again *and* the
      fall is steady (at least 40 standard errors), or the last third brought at least a quarter of the whole
      log decrease (a straight line at a tiny learning rate). A model too small to fit creeps down after a
      fast start: clearly (t up to 37 on the labelled runs) but neither steadily nor late; runs labelled
      slow that bring less than a quarter of their progress late give 64 and more. Tuned on the
      development runs (leave-one-family-out picks 40 in 11 of 12 folds). A single bar on t for all of
      this fails short runs: a 10-epoch run's four-point window seldom reaches 30 however fast it falls
      (lecture 03's SGD at lr 0.03, t 21-25, falling 40 % per run length), so steadiness is asked only where
      the late share does not already show the pace. ...
    - ... and the run is far from done: that quarter again, or a loss still above ``underfit_ratio`` of the
      start without spare capacity (a converging curve's decrease shrinks geometrically, so a healthy run
      far down its curve, or one at its noise floor, is not called slow).

    Underfitting, the noise floor and plateau:

    - ``underfit_ratio`` = 0.2: ours. Training settled (not slow) with the last training loss at least 20 %
      of the start: the model fits little of what it could, or the data allow no less (noise). (It was 0.3;
      tuning on the development runs picks 0.2: a linear model whose Glorot start is high settles at 0.28.)
    - ``floor_gap`` = 0.04: ours. Which of the two, the curves tell only by spare capacity: a model whose
      training loss pulls away from its validation loss as it trains has started to fit noise, so the loss
      left is most likely the data's noise floor and the run is healthy. Measured as the growth of the gap
      log(val) - log(train): its fitted slope over the second half of the run, times the epochs
      (`Curves.spare_capacity`); the gap's level is not used, since it also carries how the split fell. On
      the labelled runs with a loss left above ``underfit_ratio``, healthy runs on 40 % random labels or
      mostly-noise targets give 0.035-0.21 (all but one >= 0.047); too-small or over-regularised models
      -0.05-0.031 (one linear model 0.059). (It was 0.07 on the geometric mean of the gap and its growth,
      which called healthy runs whose validation split happened to be easy underfitting.) Below it the
      curves cannot tell a too-small model from noisy data; the finding says so, with a lower confidence.
    - ``floor_fitting_t`` = 8: ours. ... and only while the model still fits its training set better: the
      training loss still falls clearly at the end (the slow rule's line, t >= 8). Healthy runs at a noise
      floor keep lowering it as they memorise (t 9.6-54 on the labelled runs); a model too small to fit
      that bounces around its best does not (a linear model at t 1; lecture 05's one-number network at t
      4-7, whose validation drifts up 5 % over its last ten epochs and read as spare capacity without it).
    - ``plateau_window`` = 5: DeepDiagnosis' window N = 5 for "loss not decreasing".
    - ``plateau_max_progress`` = 0.05 and ``plateau_tol`` = 0.01: ours. The loss never fell 5 % below the
      start and moved under 1 % over the last window: training never started.

    ``min_epochs`` = 4: ours. Trend rules need at least 4 epochs; shorter runs are checked for non-finite
    values, blow-ups and gradients only.

    ``diverge_jump`` = 2: ours (`signals.find_divergence`'s ``jumped``): the run ends at 2x its first
    iteration's loss and neither an epoch's mean nor any later step's loss ever got back down to it (the
    12 jumped runs of the labelled sets never come within 1.24x of their start; a slow run whose first batch
    of 16 was easy, 0.49 against an epoch mean of 1.32, had later steps at 0.21 and is not a jump).

    Causes (`causes`; all ours, chosen on lecture 07's zoo, PyTorch seeds 0-1, with the development runs of
    ``benchmarks/diagnosis`` as negatives; ``evaluate_zoo.py`` scores them on zoo runs kept out of that):

    - ``accum_rise`` = 20, ``accum_steady`` = 0.9, ``accum_unsettled`` = 2: within the first three epochs
      the gradient norm climbs to 20x its first value, rising with time (Spearman rank correlation >= 0.9
      up to its peak), and the loss ends at 2x its lowest or more. A running sum of gradients grows about
      linearly; a healthy run's gradient norm rises a few times at most, and a model whose frozen layers
      get ever larger gradients (an optimizer missing layers) still settles.
    - ``unshuffled_pattern`` = 0.4: `signals.epoch_pattern` of the per-iteration loss; shuffled runs give
      -0.2 to 0.3 (the development runs, among them diverging ones, reach 0.3 at most), class-sorted ones 0.5-0.8.
    - ``noise_left`` = 0.3, ``noise_grad_growth`` = 1.5, ``noise_gap`` = 0.05: the training loss ends at
      30 % of its start or higher, the per-epoch gradient norm ends 1.5x above its lowest, and the gap
      log(val / train) and its growth (`Curves.gap`) are both at least 0.05: a model memorising labels it
      cannot predict. Models too small to fit settle with a falling gradient and no gap.
    """

    diverge_loss_abs: float = signals.DIVERGE_LOSS_ABS
    diverge_factor: float = signals.DIVERGE_FACTOR
    diverge_spike: float = signals.DIVERGE_SPIKE
    diverge_unrecovered: float = signals.DIVERGE_UNRECOVERED
    diverge_jump: float = signals.DIVERGE_JUMP
    explode_growth: float = 100.0
    explode_layer_ratio: float = 70.0
    vanish_layer_ratio: float = 1e-3
    vanish_first_layer: float = 1e-4
    vanish_abs: float = 1e-5
    vanish_output_kept: float = 0.1
    osc_climb: float = 0.1
    osc_noise: float = 0.5
    overfit_rise: float = 0.10
    overfit_noise: float = 5.0
    overfit_train_slack: float = 0.05
    overfit_gap: float = 10.0
    overfit_train_drop: float = 0.1
    overfit_val_stall: float = 0.7
    slow_t: float = 12.0
    slow_steady: float = 40.0
    slow_min_rate: float = 0.02
    slow_recent_fraction: float = 0.25
    underfit_ratio: float = 0.2
    floor_gap: float = 0.04
    floor_fitting_t: float = 8.0
    plateau_window: int = 5
    plateau_max_progress: float = 0.05
    plateau_tol: float = 0.01
    min_epochs: int = 4
    accum_rise: float = 20.0
    accum_steady: float = 0.9
    accum_unsettled: float = 2.0
    unshuffled_pattern: float = 0.4
    noise_left: float = 0.3
    noise_grad_growth: float = 1.5
    noise_gap: float = 0.05


def thresholds(overrides: dict[str, Any]) -> Thresholds:
    """`Thresholds` with ``overrides`` applied; an unknown name is a TypeError that lists the known ones."""
    names = {f.name for f in dataclasses.fields(Thresholds)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return dataclasses.replace(Thresholds(), **overrides)
