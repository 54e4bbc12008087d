"""Watch a run while it trains: a live loss plot and a progress bar, in a notebook or a terminal.

In a notebook (an IPython kernel: Jupyter, JupyterLab, Colab, VS Code) both draw into ONE output that is
replaced in place through a display handle, so there is neither flicker nor a scroll of figures. In a
terminal they print text. Redraws are throttled, so calling them every step costs next to nothing.
IPython is only imported when a kernel is already running.
"""
from __future__ import annotations

import html
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO, TypeVar

from .history import TrainingHistory, as_history
from .plotting import figure_png, kernel_shell, plot_loss_curves
from .signals import best_epoch, find_divergence

T = TypeVar("T")


class LivePlot:
    """A loss plot updated in place: ``lp = LivePlot(title=...); lp.update(history) ...; lp.close()``.

    `update` redraws at most once per ``min_interval`` seconds (the latest record is kept and drawn by
    the next update or by `close`). The figure is rendered to a PNG and never registered with pyplot,
    so no duplicate figure appears when the cell ends. ``notebook=None`` detects the kernel.
    """

    def __init__(self, title: str | None = None, *, min_interval: float = 0.5, smoothing: float = 0.0,
                 log_scale: bool | str = "auto", notebook: bool | None = None, file: TextIO | None = None):
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
             notebook: bool | None = None, file: TextIO | None = None) -> Iterator[T]:
    """Yield from `iterable` while showing a progress bar (HTML in a notebook, a ``\\r`` line otherwise).

    A light stand-in for tqdm: no dependency, redrawn at most every ``min_interval`` seconds, and
    finished (with the true count) even when the loop breaks early.
    """
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    bar = _Bar(total, desc, kernel_shell() is not None if notebook is None else notebook, file)
    start = last = time.monotonic()
    done = 0
    bar.draw(done, 0.0)
    try:
        for item in iterable:
            yield item
            done += 1
            now = time.monotonic()
            if now - last >= min_interval:
                bar.draw(done, now - start)
                last = now
    finally:
        bar.draw(done, time.monotonic() - start, final=True)


class _Bar:
    def __init__(self, total: int | None, desc: str, notebook: bool, file: TextIO | None):
        self.total, self.desc, self.notebook, self.file = total, desc, notebook, file
        self._handle: Any = None
        self._width = 0

    def draw(self, done: int, elapsed: float, final: bool = False) -> None:
        counts = f"{done}/{self.total}" if self.total else f"{done} it"
        timing = f"{_clock(elapsed)}"
        if self.total and 0 < done < self.total:
            timing += f"<{_clock(elapsed / done * (self.total - done))}"
        if elapsed > 0 and done:
            rate = done / elapsed
            timing += f", {rate:.0f} it/s" if rate >= 100 else f", {rate:.3g} it/s"
        if self.notebook:
            self._html(done, f"{counts} [{timing}]")
        else:
            frac = min(1.0, done / self.total) if self.total else None
            bar = f" {frac:4.0%} |{'#' * round(frac * 24):<24}|" if frac is not None else ""
            line = f"{self.desc + ':' if self.desc else ''}{bar} {counts} [{timing}]"
            out = self.file or sys.stdout
            out.write(f"\r{line:<{self._width}}" + ("\n" if final else ""))  # pad over a longer last line
            out.flush()
            self._width = len(line)

    def _html(self, done: int, text: str) -> None:
        from IPython.display import HTML, display

        value = f'value="{done}" max="{self.total}"' if self.total else ""
        content = HTML(f'<div style="font-family:monospace">{html.escape(self.desc)} '
                       f'<progress {value} style="width:40%;vertical-align:middle"></progress> '
                       f"{html.escape(text)}</div>")
        if self._handle is None:
            self._handle = display(content, display_id=True)
        else:
            self._handle.update(content)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
