"""LivePlot and progress: text in a terminal, one display handle updated in place in a notebook."""
import io

import matplotlib

matplotlib.use("Agg")

import IPython.display  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from losslab.core.live import LivePlot, progress, status_line  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


class FakeHandle:
    def __init__(self, obj):
        self.shown = [obj]

    def update(self, obj):
        self.shown.append(obj)


@pytest.fixture
def fake_display(monkeypatch):
    """IPython's display(..., display_id=True) as a notebook would answer it: a handle per call."""
    handles = []

    def display(obj, display_id=False):
        assert display_id is True, "live output must go through an updatable display handle"
        handles.append(FakeHandle(obj))
        return handles[-1]

    monkeypatch.setattr(IPython.display, "display", display)
    return handles


def epochs_of(history, n):
    return {"train_loss": history["train_loss"][:n], "val_loss": history["val_loss"][:n]}


def test_terminal_prints_one_line_per_update(train_run):
    h = train_run(lr=0.01, epochs=5)
    out = io.StringIO()
    lp = LivePlot(title="sgd", min_interval=0, notebook=False, file=out)
    for n in range(1, 6):
        lp.update(epochs_of(h, n))
    lp.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[-1] == status_line(epochs_of(h, 5), "sgd")
    assert lines[-1].startswith("sgd  epoch   5  train ") and f"val {h['val_loss'][4]:.4g}" in lines[-1]


def test_updates_are_throttled_and_the_last_one_is_drawn_on_close(train_run):
    h = train_run(lr=0.01, epochs=5)
    out = io.StringIO()
    with LivePlot(min_interval=3600, notebook=False, file=out) as lp:
        for n in range(1, 6):
            lp.update(epochs_of(h, n))
        assert lp.redraws == 1
    assert lp.redraws == 2 and out.getvalue().splitlines()[-1].startswith("epoch   5")


def test_notebook_mode_updates_one_display_handle(train_run, fake_display):
    h = train_run(lr=0.01, epochs=4)
    before = plt.get_fignums()
    lp = LivePlot(title="live", min_interval=0, notebook=True)
    for n in range(1, 5):
        lp.update(epochs_of(h, n))
    lp.close()
    assert len(fake_display) == 1  # one output, replaced in place
    images = fake_display[0].shown
    assert len(images) == 4 and all(img.data.startswith(b"\x89PNG") for img in images)
    assert len({img.data for img in images}) == 4  # each update shows the new state
    assert plt.get_fignums() == before  # nothing left for the notebook to show twice at the end


def test_terminal_is_detected_without_a_kernel():
    assert LivePlot().notebook is False


def test_progress_in_a_terminal_is_tqdm():
    out = io.StringIO()
    bar = progress(range(50), desc="train", min_interval=0, notebook=False, file=out)
    assert type(bar).__module__ == "tqdm.std"
    assert list(bar) == list(range(50))
    last = out.getvalue().split("\r")[-1]
    assert last.startswith("train: 100%") and "50/50" in last


def test_progress_closes_on_break_and_without_len():
    out = io.StringIO()
    with progress((k for k in range(100)), desc="gen", notebook=False, file=out) as bar:
        for i in bar:
            if i == 9:
                break
    assert out.getvalue().split("\r")[-1].startswith("gen: 9it")


def test_progress_in_a_notebook_is_tqdm_s_widget():
    pytest.importorskip("ipywidgets")
    bar = progress(range(20), total=20, desc="epochs", notebook=True)
    assert type(bar).__module__ == "tqdm.notebook"
    assert list(bar) == list(range(20))
    assert bar.n == 20 and bar.container.children[1].value == 20


def test_training_progress_is_a_tqdm_bar_on_stderr(capsys):
    import numpy as np
    from losslab.core.loop import EpochResult, run_epochs

    h = run_epochs(lambda epoch: EpochResult(np.array([1.0 / (epoch + 1)]), np.array([8])), None, 3,
                   get_lr=lambda: 0.1, progress=True)
    assert h.epochs == 3
    last = capsys.readouterr().err.split("\r")[-1]
    assert last.startswith("epochs: 100%") and "3/3" in last


@pytest.mark.parametrize("live_plot, title", [(True, "live: loss per epoch while training"), ("my run", "my run")])
def test_training_live_plot_says_what_it_shows(live_plot, title, capsys, monkeypatch):
    """live_plot=True titles the figure by its content (not a bare "training"); a string is the caller's title."""
    import numpy as np
    from losslab.core import live
    from losslab.core.loop import EpochResult, run_epochs

    monkeypatch.setattr(live, "in_notebook", lambda: False, raising=False)
    titles = []
    monkeypatch.setattr(live.LivePlot, "update", lambda self, h: titles.append(self.title))
    run_epochs(lambda epoch: EpochResult(np.array([1.0 / (epoch + 1)]), np.array([8])), None, 2,
               get_lr=lambda: 0.1, live_plot=live_plot)
    assert titles and set(titles) == {title}
