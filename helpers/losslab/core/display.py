"""Making and showing figures, the one path every losslab figure takes (plots, live plot, widget, range test).

- Figures are built without pyplot when ``show=False`` (nothing piles up in pyplot's registry).
- ``show=True`` shows them the way the running environment can (inline, GUI window, or a PNG in a kernel whose
  backend cannot show), once, and never emits matplotlib's "cannot show" warning.
- IPython is never imported here: a kernel is recognised only when one is already running.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def new_figure(show: bool, figsize: tuple[float, float], layout: str = "constrained") -> Figure:
    """A pyplot figure when it is to be shown, a free-standing one otherwise (nothing to close later)."""
    if show:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, layout=layout)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout=layout)


def figure_axes(ax: Axes | None, show: bool, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The caller's axes, or one axes on a new figure with fixed margins.

    Fixed margins instead of constrained layout: on one axes they look the same and halve the time to
    a PNG (the layout engine measures every tick label on every draw, which LivePlot does often).
    """
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(show, figsize, layout="none")
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.11, top=0.92)
    return fig, fig.add_subplot()


def finish(fig: Figure, show: bool) -> Figure:
    if show:
        show_figure(fig)
    return fig


def show_figure(fig: Figure) -> None:
    """Show `fig` once, whatever runs this: Jupyter/Colab inline, a GUI backend, or a headless kernel.

    In a kernel the returned figure would be drawn a second time as the cell's value; that one echo is
    suppressed (a later cell that evaluates the figure still shows it).
    """
    import matplotlib
    import matplotlib.pyplot as plt

    shell = kernel_shell()
    backend = matplotlib.get_backend().lower()
    if backend in _NON_INTERACTIVE:
        if shell is None:
            return  # a script on Agg: nothing can be shown, and plt.show() would only warn
        from IPython.display import Image, display

        display(Image(data=figure_png(fig)))
        plt.close(fig)
    else:
        plt.show()
    if shell is not None:
        _suppress_echo(fig, shell)


def figure_png(fig: Figure, dpi: float | None = None) -> bytes:
    """The figure rendered to PNG bytes (what a notebook displays)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi)
    return buf.getvalue()


def kernel_shell() -> Any:
    """The running IPython kernel's shell, or None in a terminal/script (IPython is never imported here)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


def _suppress_echo(fig: Figure, shell: Any) -> None:
    shown_in = shell.execution_count

    def _ipython_display_() -> None:
        del fig._ipython_display_
        if shell.execution_count != shown_in:  # a later cell asks for the figure: show it
            from IPython.display import Image, display

            display(Image(data=figure_png(fig)))

    fig._ipython_display_ = _ipython_display_
