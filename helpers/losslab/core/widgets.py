"""An ipywidgets learning-rate explorer for the lectures: move a slider, retrain, see the curves change.

The training itself is the caller's `train_fn`, so the same explorer serves numpy, PyTorch and Keras.
The figure is written into the Output widget as a PNG output record (no pyplot, no kernel needed), so
the explorer can be driven and checked from a test exactly as a click would drive it.
"""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .history import TrainingHistory, as_history
from .display import figure_png
from .plotting import plot_loss_curves

TrainFn = Callable[[float, str, float], "TrainingHistory | Mapping[str, Any]"]


def lr_explorer(train_fn: TrainFn, lrs: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
                optimizers: Sequence[str] = ("sgd", "momentum", "adam"), momentum: float = 0.9, *,
                smoothing: float = 0.0, auto: bool = True, run_now: bool = True) -> Any:
    """A VBox with a log-scale LR slider, optimizer dropdown, momentum slider, Train button and the plot.

    ``train_fn(lr, optimizer, momentum)`` returns a history (record or dict of lists); its curves and
    its diagnosis are shown under the controls. The slider spans ``min(lrs)..max(lrs)`` and starts at
    their middle value. With ``auto`` a change of any control retrains (on release: continuous_update is
    off, so dragging does not queue a run per pixel); the button retrains on demand.

    The returned box also carries ``lr_slider``, ``optimizer_dropdown``, ``momentum_slider``,
    ``train_button``, ``output``, ``diagnosis`` (widgets), ``run()`` (train and redraw now, returns the
    history) and, after a run, ``history`` and ``figure``.
    """
    import ipywidgets as widgets

    if not lrs or min(lrs) <= 0:
        raise ValueError(f"lrs must be positive learning rates, got {tuple(lrs)!r}")
    if not optimizers:
        raise ValueError("optimizers must name at least one optimizer")
    lo, hi = math.log10(min(lrs)), math.log10(max(lrs))
    lr_slider = widgets.FloatLogSlider(value=sorted(lrs)[len(lrs) // 2], base=10, min=lo, max=max(hi, lo + 1),
                                       step=(max(hi, lo + 1) - lo) / 100, description="learning rate",
                                       readout_format=".2e", continuous_update=False,
                                       style={"description_width": "initial"})
    optimizer_dropdown = widgets.Dropdown(options=list(optimizers), value=optimizers[0], description="optimizer")
    momentum_slider = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum",
                                          continuous_update=False)
    train_button = widgets.Button(description="Train", button_style="primary", icon="play")
    output = widgets.Output()
    diagnosis = widgets.HTML()
    box = widgets.VBox([widgets.HBox([lr_slider, optimizer_dropdown, momentum_slider, train_button]),
                        output, diagnosis])

    def run() -> TrainingHistory:
        lr, name, beta = lr_slider.value, optimizer_dropdown.value, momentum_slider.value
        train_button.disabled, train_button.description = True, "Training..."
        try:
            history = as_history(train_fn(lr, name, beta))
        finally:
            train_button.disabled, train_button.description = False, "Train"
        title = f"{name}, lr = {lr:.2g}" + (f", momentum = {beta:.2f}" if name == "momentum" else "")
        fig = plot_loss_curves(history, title=title, smoothing=smoothing, show=False)
        output.outputs = (_png_output(figure_png(fig), title),)
        diagnosis.value = _diagnosis_html(history)
        box.history, box.figure = history, fig
        return history

    def on_event(*_: Any) -> None:
        try:
            run()
        except Exception as exc:  # a widget callback has nowhere to raise to: show the error instead
            output.outputs = ()
            diagnosis.value = f"<pre style='color:#c00'>train_fn failed: {html.escape(repr(exc))}</pre>"

    train_button.on_click(on_event)
    if auto:
        for control in (lr_slider, optimizer_dropdown, momentum_slider):
            control.observe(on_event, names="value")
    box.lr_slider, box.optimizer_dropdown, box.momentum_slider = lr_slider, optimizer_dropdown, momentum_slider
    box.train_button, box.output, box.diagnosis, box.run = train_button, output, diagnosis, run
    box.history = box.figure = None
    if run_now:
        on_event()
    return box


def _png_output(png: bytes, title: str) -> dict[str, Any]:
    """A display_data output record, what ``display(Image(png))`` would put in the Output widget."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": f"<Figure: {title}>"}}


def _diagnosis_html(history: TrainingHistory) -> str:
    from .diagnosis import identify_training_issues

    return f"<pre>{html.escape(str(identify_training_issues(history)))}</pre>"
