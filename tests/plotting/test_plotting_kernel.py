"""In a real Jupyter kernel: each figure appears exactly once, live output stays one output, no stderr."""
import nbformat
import pytest
from nbclient import NotebookClient

SETUP = """
import numpy as np
from losslab.core.plotting import plot_loss_curves
from losslab.core.live import LivePlot, progress
rng = np.random.default_rng(0)
X, w_true = rng.normal(size=(240, 30)), rng.normal(size=30) / 6
y = X @ w_true + 0.5 * rng.normal(size=240)
w, h = np.zeros(30), {"train_loss": [], "val_loss": []}
for epoch in range(40):  # full-batch gradient descent on 40 training rows: it overfits
    w -= 0.02 * 2 * X[:40].T @ (X[:40] @ w - y[:40]) / 40
    h["train_loss"].append(float(np.mean((X[:40] @ w - y[:40]) ** 2)))
    h["val_loss"].append(float(np.mean((X[40:] @ w - y[40:]) ** 2)))
"""
CELLS = [
    SETUP,
    "plot_loss_curves(h, title='once')",                 # 1: shown, and its value not echoed again
    "fig = plot_loss_curves(h)",                         # 2: shown by the call
    "fig",                                               # 3: a later cell still shows it
    "lp = LivePlot(min_interval=0)\n"
    "for n in range(1, 6):\n"
    "    lp.update({'train_loss': h['train_loss'][:n], 'val_loss': h['val_loss'][:n]})\n"
    "lp.close()",                                        # 4: one output updated in place
    "for _ in progress(range(300), desc='steps'): pass",  # 5: one tqdm widget
]


@pytest.mark.parametrize("backend", [None, "Agg"], ids=["inline", "agg-kernel"])
def test_figures_show_once_in_a_kernel(monkeypatch, backend):
    if backend:
        monkeypatch.setenv("MPLBACKEND", backend)
    else:
        monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks the inline backend
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outs = [c.outputs for c in nb.cells]
    assert not any(o["output_type"] == "stream" for cell in outs for o in cell), "nothing on stdout/stderr"
    for i in (1, 2, 3, 4):
        assert len(outs[i]) == 1 and "image/png" in outs[i][0]["data"], f"cell {i}: {outs[i]}"
    assert len(outs[5]) == 1 and "application/vnd.jupyter.widget-view+json" in outs[5][0]["data"]
