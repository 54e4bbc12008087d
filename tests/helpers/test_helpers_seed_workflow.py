"""The seed assignment (seeds/001) runs unchanged against losslab.torch, and its twin against losslab.tensorflow."""
import json
import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SEED = HERE.parents[1].parent / "shared" / "seeds" / "001_a9058e62c63ed80a.txt"
CELLS = json.loads((HERE / "seed_001_cells.json").read_text())

TF_TWIN = [
    """import numpy as np
import keras
from losslab.tensorflow import (SimpleNet, generate_synthetic_data, create_data_loaders,
    train_with_loss_tracking, plot_loss_curves, compare_learning_rates, identify_training_issues)
keras.utils.set_random_seed(42)
""",
    CELLS[1], CELLS[2], CELLS[3],
    """criterion = keras.losses.MeanSquaredError()
optimizer = keras.optimizers.SGD(learning_rate=0.01)
num_epochs = 30
history = train_with_loss_tracking(model, train_loader, val_loader, criterion, optimizer, num_epochs=num_epochs)
""",
    CELLS[5],
    CELLS[6].replace("num_epochs=100", "num_epochs=30"),
]


def test_committed_cells_are_the_seeds_cells():
    if not SEED.exists():
        pytest.skip(f"seed file not beside the repository ({SEED})")
    cells = re.findall(r"In \[None\]:\n(.*?)(?=\n## |\Z)", SEED.read_text(), re.S)
    assert [c.strip("\n") + "\n" for c in cells] == CELLS


def _run(cells):
    import matplotlib.pyplot as plt

    namespace: dict = {}
    for cell in cells:
        exec(compile(cell, "<seed cell>", "exec"), namespace)
    plt.close("all")
    return namespace


def test_seed_cells_run_unchanged_with_losslab_torch(capsys):
    cells = [c.replace("from loss_visualization import", "from losslab.torch import") for c in CELLS]
    assert sum(a != b for a, b in zip(cells, CELLS)) == 1, "only the import line may change"
    ns = _run(cells)
    history = ns["history"]
    assert history.epochs == 100 and len(history.val_loss) == 100
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    out = capsys.readouterr().out
    assert "Data shape: X=torch.Size([1000, 10]), y=torch.Size([1000, 1])" in out
    assert "Train batches: 25, Val batches: 7" in out
    assert "Training Diagnosis:" in out


def test_seed_workflow_runs_with_losslab_tensorflow(capsys):
    ns = _run(TF_TWIN)
    history = ns["history"]
    assert history.epochs == 30 and history.train_loss[-1] < history.train_loss[0]
    out = capsys.readouterr().out
    assert "Train batches: 25, Val batches: 7" in out and "Training Diagnosis:" in out
