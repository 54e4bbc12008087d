"""Watch a run while it trains: a live loss plot and a progress bar, in a notebook or a terminal.

In a notebook (an IPython kernel: Jupyter, JupyterLab, Colab, VS Code) the plot draws into ONE output that
is replaced in place through a display handle, so there is neither flicker nor a scroll of figures; in a
terminal it prints a status line. Redraws are throttled, so calling them every step costs next to nothing.
IPython is only imported when a kernel is already running. The progress bar is tqdm's (``tqdm.auto``).
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from .history import TrainingHistory, as_history
from .display import figure_png, kernel_shell
from .plotting import check_plot_options, plot_loss_curves
from .signals import best_epoch, find_divergence

if TYPE_CHECKING:
    from tqdm import tqdm

T = TypeVar("T")


class LivePlot:
    """A loss plot updated in place: ``lp = LivePlot(title=...); lp.update(history) ...; lp.close()``.

    `update` redraws at most once per ``min_interval`` seconds (the latest record is kept and drawn by
    the next update or by `close`). The figure is rendered to a PNG and never registered with pyplot,
    so no duplicate figure appears when the cell ends. ``notebook=None`` detects the kernel.
    """

    def __init__(self, title: str | None = None, *, min_interval: float = 0.5, smoothing: float = 0.0,
                 log_scale: bool | str = "auto", notebook: bool | None = None, file: TextIO | None = None):
        check_plot_options(smoothing, log_scale)
        self.title = title
        self.min_interval = min_interval
        self.smoothing = smoothing
        self.log_scale = log_scale
        self.notebook = kernel_shell() is not None if notebook is None else notebook
        self.file = file
        self.redraws = 0
        self._handle: Any = None
        self._last = float("-inf")
        self._pending: TrainingHistory | None = None

    def update(self, history: TrainingHistory | Mapping[str, Any], force: bool = False) -> None:
        """Show the record's current state (throttled unless ``force``)."""
        h = as_history(history)
        if force or time.monotonic() - self._last >= self.min_interval:
            self._draw(h)
        else:
            self._pending = h

    def close(self) -> None:
        """Draw the last record if a throttled update is still pending."""
        if self._pending is not None:
            self._draw(self._pending)

    def __enter__(self) -> "LivePlot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw(self, h: TrainingHistory) -> None:
        self._pending = None
        self._last = time.monotonic()
        self.redraws += 1
        if not self.notebook:
            print(status_line(h, self.title), file=self.file or sys.stdout, flush=True)
            return
        from IPython.display import Image, display

        fig = plot_loss_curves(h, title=self.title, smoothing=self.smoothing, log_scale=self.log_scale,
                               show=False)
        image = Image(data=figure_png(fig))
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


def status_line(history: TrainingHistory | Mapping[str, Any], title: str | None = None) -> str:
    """One line summing up a record: epoch, last losses, best so far, divergence or stop (the terminal view)."""
    h = as_history(history)
    parts = [title] if title else []
    parts.append(f"epoch {h.epochs:>3}")
    parts.append(f"train {h.train_loss[-1]:.4g}")
    if len(h.val_loss):
        parts.append(f"val {h.val_loss[-1]:.4g}")
    best = best_epoch(h.train_loss, h.val_loss)
    if best is not None:
        parts.append(f"best {best.value:.4g} @ epoch {best.index + 1}")
    diverged = find_divergence(h.train_loss, h.val_loss, h.iter_loss)
    if h.stop_reason:
        parts.append(f"stopped: {h.stop_reason}")
    elif diverged is not None:
        parts.append(f"diverged ({diverged.label}) at epoch {diverged.epoch}")
    return "  ".join(parts)


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "", *, min_interval: float = 0.1,
             notebook: bool | None = None, file: TextIO | None = None) -> "tqdm[T]":
    """`iterable` wrapped in a tqdm progress bar: a widget in a notebook, a text line elsewhere (``tqdm.auto``).

    ``notebook=None`` lets tqdm detect the kernel; True/False force the widget/the text bar. ``min_interval``
    is tqdm's ``mininterval``; ``file`` is where the text bar goes (stderr by default, as tqdm does).
    Use it as a context manager (``with progress(...) as bar:``) to close the bar when a loop breaks early.
    """
    if notebook is None:
        from tqdm.auto import tqdm as bar
    elif notebook:
        from tqdm.notebook import tqdm as bar
    else:
        from tqdm.std import tqdm as bar
    return bar(iterable, total=total, desc=desc or None, mininterval=min_interval, file=file)
