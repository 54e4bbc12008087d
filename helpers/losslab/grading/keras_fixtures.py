"""Keras fixtures for test cells: Keras' own training step as the reference, and a student's callback run inside
``fit`` where the student's code is. keras is imported inside each one."""
from __future__ import annotations

import numpy as np

from .student_code import with_student_code

__all__ = ["keras_twin", "keras_gradients", "keras_fit_with_callback"]


def keras_twin(model, optimizer, loss):
    """A copy of a built Keras model (same weights), compiled with ``optimizer`` and ``loss``.

    Replaying a student's training with ``twin.train_on_batch`` gives the reference from Keras' own training
    step, without writing the GradientTape code the student is asked for.
    """
    import keras

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=optimizer, loss=loss, run_eagerly=True)  # one-off steps: tracing would cost more
    return twin


def keras_gradients(model, loss, x, y):
    """Keras' own (loss, gradients) of ``model`` on one batch, read off one SGD step of rate 1 on a twin."""
    import keras

    twin = keras_twin(model, keras.optimizers.SGD(learning_rate=1.0), loss)
    before = [v.numpy().astype(np.float64) for v in twin.trainable_variables]
    value = float(twin.train_on_batch(x, y))
    return value, [b - v.numpy().astype(np.float64) for b, v in zip(before, twin.trainable_variables)]


@with_student_code
def keras_fit_with_callback(callback_cls, build_model, x, y, **fit_kwargs):
    """Fit ``build_model()`` (compiled) on x, y with ``callback_cls()`` appended to the callbacks (None: none);
    (the callback's ``history``, fit's own History.history)."""
    callback = callback_cls() if callback_cls is not None else None
    callbacks = list(fit_kwargs.pop("callbacks", [])) + ([callback] if callback is not None else [])
    fit = build_model().fit(x, y, callbacks=callbacks, verbose=0, **fit_kwargs)
    return (callback.history if callback is not None else None), {k: list(v) for k, v in fit.history.items()}
