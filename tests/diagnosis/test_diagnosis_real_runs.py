"""Findings on small real PyTorch runs trained here (a second or two each), through losslab.torch."""
import pytest

torch = pytest.importorskip("torch")

from losslab.core.diagnosis import identify_training_issues  # noqa: E402
from losslab.torch import SimpleNet, create_data_loaders, generate_synthetic_data, train_with_loss_tracking  # noqa: E402


def _run(lr: float, epochs: int, optimizer: str = "sgd", n: int = 256):
    torch.manual_seed(0)
    X, y = generate_synthetic_data(n_samples=n, n_features=5, noise=0.1, seed=0)
    train, val = create_data_loaders(X, y, train_ratio=0.75, batch_size=32, seed=0)
    model = SimpleNet(5, 32, 1)
    opt = (torch.optim.SGD(model.parameters(), lr=lr) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=lr))
    return train_with_loss_tracking(model, train, val, torch.nn.MSELoss(), opt, num_epochs=epochs)


def test_learning_rate_far_too_high_is_diverging_with_exploding_gradients():
    h = _run(lr=50.0, epochs=5)
    assert h.stopped_early
    d = identify_training_issues(h)
    assert d.primary == "diverging" and "exploding_gradients" in d and not d.healthy
    assert "lower the learning rate" in d["diverging"].fixes[0]


def test_zero_learning_rate_is_a_plateau():
    d = identify_training_issues(_run(lr=0.0, epochs=6))
    assert d.primary == "underfitting" and "plateau" in d
    assert d["plateau"].evidence["best_progress"] < 0.05


def test_tiny_learning_rate_is_slow_convergence():
    d = identify_training_issues(_run(lr=5e-4, epochs=12))
    assert d.primary == "slow_convergence"
    assert d["slow_convergence"].evidence["lr"] == pytest.approx(5e-4)


def test_a_good_setting_is_healthy_and_one_epoch_is_too():
    assert identify_training_issues(_run(lr=1e-2, epochs=15, optimizer="adam")).labels == ["healthy"]
    one = identify_training_issues(_run(lr=1e-2, epochs=1, optimizer="adam"))
    assert one.labels == ["healthy"] and one.epochs == 1
