"""What each finding means and what to try, in the words of the framework the record came from.

`explanation` and `fixes` take the framework ("torch", "tensorflow" or None for a record of unknown
origin); only the names of framework objects change, never the advice. The diverging explanation has two
forms, so a run that stayed finite is never said to have overflowed.
"""
from __future__ import annotations

#: Framework vocabulary: (PyTorch, Keras/TensorFlow, neutral) for each object a fix names.
_WORDS: dict[str, tuple[str, str, str]] = {
    "stable_loss": ("raw logits into nn.CrossEntropyLoss (no softmax before it)",
                    "raw logits with from_logits=True in keras.losses.SparseCategoricalCrossentropy",
                    "a cross-entropy that takes raw logits (no softmax before it)"),
    "warmup": ("a warm-up (torch.optim.lr_scheduler.LinearLR(start_factor=0.1) for the first epochs)",
               "a warm-up (keras.optimizers.schedules.CosineDecay with warmup_steps)",
               "a learning-rate warm-up over the first epochs"),
    "decay": ("a decaying schedule (torch.optim.lr_scheduler.CosineAnnealingLR or StepLR)",
              "a decaying schedule (keras.optimizers.schedules.CosineDecay, or scheduler=lambda epoch, lr: ...)",
              "a decaying learning-rate schedule (step or cosine)"),
    "init": ("He/Glorot initialisation (nn.init.kaiming_normal_, nn.init.xavier_uniform_)",
             "He/Glorot initialisation (kernel_initializer='he_normal' or 'glorot_uniform')",
             "He/Glorot initialisation"),
    "norm": ("normalisation layers (nn.BatchNorm1d, nn.LayerNorm)",
             "normalisation layers (keras.layers.BatchNormalization, LayerNormalization)",
             "normalisation layers (BatchNorm, LayerNorm)"),
    "relu": ("ReLU-family activations (nn.ReLU, nn.GELU) instead of nn.Sigmoid/nn.Tanh in hidden layers",
             "ReLU-family activations (activation='relu' or 'gelu') instead of 'sigmoid'/'tanh' in hidden layers",
             "ReLU-family activations instead of sigmoid/tanh in hidden layers"),
    "adam": ("torch.optim.Adam, or torch.optim.SGD with momentum=0.9", "keras.optimizers.Adam, or "
             "keras.optimizers.SGD with momentum=0.9", "Adam, or SGD with momentum 0.9"),
    "regularise": ("weight decay (torch.optim.AdamW(weight_decay=...)) or dropout (nn.Dropout)",
                   "weight decay (keras.optimizers.AdamW(weight_decay=...)) or dropout (keras.layers.Dropout)",
                   "weight decay or dropout"),
    "less_regularisation": ("less weight decay (weight_decay= of the optimizer) and dropout (nn.Dropout(p))",
                            "less weight decay (weight_decay= of the optimizer, kernel_regularizer) and dropout",
                            "less weight decay and dropout"),
    "early_stop": ("keep the weights of the best epoch (copy model.state_dict() when the validation loss improves)",
                   "keep the weights of the best epoch (keras.callbacks.EarlyStopping(restore_best_weights=True))",
                   "keep the weights of the best epoch (early stopping)"),
    "wiring": ("check that the loss depends on the parameters: optimizer.zero_grad(), loss.backward(), "
               "optimizer.step() every step, no .detach() or torch.no_grad() around the forward pass",
               "check that the loss depends on the parameters: the forward pass inside tf.GradientTape, "
               "optimizer.apply_gradients(zip(grads, model.trainable_variables)), no tf.stop_gradient",
               "check that the loss depends on the parameters (gradients computed and applied every step)"),
    "zero_grad": ("call optimizer.zero_grad() before every loss.backward()",
                  "apply each step's fresh gradients (tape.gradient) and reset any accumulator after applying it",
                  "clear the gradients before each backward pass"),
    "shuffle": ("shuffle the training data every epoch (DataLoader(..., shuffle=True))",
                "shuffle the training data every epoch (dataset.shuffle(len(x), reshuffle_each_iteration=True))",
                "shuffle the training data every epoch"),
}
_COLUMN = {"torch": 0, "tensorflow": 1}


def words(key: str, framework: str | None) -> str:
    return _WORDS[key][_COLUMN.get(framework or "", 2)]


def explanation(label: str, framework: str | None, *, nonfinite: bool = True) -> str:
    """The paragraph under a finding; for "diverging", ``nonfinite`` says whether the loss overflowed."""
    if label == "diverging" and not nonfinite:
        return _DIVERGED_FINITE
    return _TEXT[label]


def fixes(label: str, framework: str | None) -> list[str]:
    return [fix.format(**{k: words(k, framework) for k in _WORDS}) if "{" in fix else fix for fix in _FIXES[label]]


_DIVERGED_FINITE = (
    "The optimizer's steps were so large that updates overshot the minimum by more than they gained: the loss "
    "shot far above its lowest value and did not come back. It stayed finite, but the weights were thrown into "
    "a region (often with dead or saturated units) that training does not climb out of. The usual cause is a "
    "learning rate far too high for the curvature of the loss; unscaled inputs or targets make it worse.")

_TEXT = {
    "diverging": (
        "The optimizer's steps are so large that each update overshoots the minimum by more than it gained, "
        "so the loss grows instead of shrinking until it overflows to Inf or NaN. The usual cause is a learning "
        "rate far too high for the curvature of the loss; unscaled inputs or targets, a missing normalisation, "
        "or a numerically unsafe loss (log of 0, softmax done by hand) make it worse."),
    "exploding_gradients": (
        "The gradient norm grew by orders of magnitude. Each step is proportional to the gradient, so a few such "
        "steps throw the weights far away; in deep or recurrent networks the gradient is a product of many "
        "layer Jacobians, and factors above 1 compound. It usually precedes or accompanies divergence."),
    "vanishing_gradients": (
        "The gradient reaching the early layers is orders of magnitude smaller than at the output, so those "
        "layers barely change and the network behaves like a shallow model stuck near its initial loss. "
        "Saturating activations (sigmoid, tanh), whose derivative is at most 0.25 or 1, multiplied across many "
        "layers are the classic cause; poor initialisation adds to it."),
    "oscillation": (
        "The training loss keeps rising and falling between epochs by more than its minibatch noise explains, "
        "instead of settling: the steps are large enough to bounce across the valley of the loss surface but not "
        "so large that they diverge. The learning rate is too high for this model and batch size, or the batches "
        "are so small that their gradients disagree."),
    "overfitting": (
        "After the onset epoch the model keeps fitting the training set better while it predicts unseen data "
        "worse: it is memorising the particulars (noise) of the training examples rather than the pattern. "
        "The weights at the onset epoch generalise best; everything after it costs validation loss."),
    "slow_convergence": (
        "The loss is still falling clearly at the end (the slope of its last epochs stands well above their "
        "noise), so the run stopped long before it converged. Each step is too small: the learning rate is too "
        "low (or the model is far from a good region and needs many more epochs)."),
    "plateau": (
        "The loss has barely moved since the start: the updates are not changing what the model predicts. "
        "Typical causes are a learning rate so small the steps are invisible, dead or saturated units that pass "
        "no gradient, or a bug that detaches the loss from the parameters."),
    "underfitting": (
        "Training converged, but to a loss not far below where it began (validation, where recorded, sits at "
        "the same level). "
        "Either the model cannot represent the pattern in the data (too small, too constrained by "
        "regularisation, or features without the information it needs), or the data allow no lower loss "
        "(noisy targets or labels). The curves alone cannot tell these apart when training and validation "
        "flatten together; a bigger model can: if its loss goes no lower, this is the data's noise floor."),
    "gradient_accumulation": (
        "Each step applied the sum of all gradients so far instead of the current one: the gradient norm grows "
        "step after step and the updates with it, so the loss cannot settle. In PyTorch, loss.backward() adds "
        "into .grad until optimizer.zero_grad() clears it; in Keras, a custom train step that accumulates "
        "gradients and never resets its accumulator does the same."),
    "unshuffled_data": (
        "The batches come in the same order every epoch and differ in kind (typically data sorted by class): "
        "the model chases each group of batches in turn and the loss jumps when the next group arrives, the "
        "same way every epoch. Per-epoch means average this away; the per-iteration loss shows it."),
    "label_noise": (
        "The loss settled far above zero, yet the model keeps changing: its gradient norm grows instead of "
        "shrinking and validation drifts above training. That is a model memorising labels it cannot predict "
        "from the inputs: many labels are wrong or random. A model too small to fit settles without either "
        "sign. Confirm on the data: look at the examples with the highest loss."),
    "healthy": (
        "The loss fell and then levelled off, nothing became non-finite, and the validation loss (where "
        "recorded) follows the training loss without turning up. Train a little longer only if the curve is "
        "still sloping."),
}

_FIXES = {
    "diverging": ["lower the learning rate 10x (or run an LR range test and take the suggested LR)",
                  "clip the gradient norm (clip_grad_norm=1.0 in train_with_loss_tracking)",
                  "normalise inputs and targets; use {stable_loss}", "add {warmup}"],
    "exploding_gradients": ["clip the gradient norm (clip_grad_norm=1.0 in train_with_loss_tracking)",
                            "lower the learning rate", "use {init} and {norm}"],
    "vanishing_gradients": ["use {relu}", "use {init}", "add {norm} or residual connections", "use fewer layers"],
    "oscillation": ["lower the learning rate 2-5x", "use {decay}", "increase the batch size",
                    "use {adam} with a smaller step"],
    "overfitting": ["stop early at the onset epoch: {early_stop}", "add regularisation: {regularise}",
                    "get more training data or augment it", "use a smaller model"],
    "slow_convergence": ["raise the learning rate 3-10x (an LR range test finds the largest stable one)",
                         "use {adam}", "train for more epochs"],
    "plateau": ["{wiring}", "raise the learning rate", "replace saturating activations: {relu}"],
    "underfitting": ["try a bigger model (more units or layers) or better features: if its loss goes no lower, "
                     "the data's noise sets the floor", "use {less_regularisation}",
                     "train longer or raise the learning rate"],
    "healthy": ["nothing to fix; early stopping at the best epoch keeps the best weights"],
    "gradient_accumulation": ["{zero_grad}", "if you accumulate on purpose, apply and reset every k steps and "
                              "divide the sum by k"],
    "unshuffled_data": ["{shuffle}", "check that the training set is not sorted (by class, by time, by source)"],
    "label_noise": ["inspect the examples with the highest loss: many will be mislabelled", "clean or relabel the "
                    "data, or train on a subset checked by hand", "use a noise-robust loss (label smoothing) and "
                    "stop early, before the model memorises the wrong labels"],
}
