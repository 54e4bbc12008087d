"""Overfitting without a clean turn: a big network memorising 45 noisy samples (a real torch run)."""
import torch

from losslab.torch import SimpleNet, create_data_loaders, generate_synthetic_data, identify_training_issues, set_seed
from losslab.torch import train_with_loss_tracking


def test_a_network_memorising_noise_is_called_overfitting():
    torch.set_num_threads(1)
    set_seed(0)
    X, y = generate_synthetic_data(150, 10, noise=1.0, seed=0)
    train, val = create_data_loaders(X, y, train_ratio=0.3, batch_size=16, seed=0)
    model = SimpleNet(10, 128, 1)
    h = train_with_loss_tracking(model, train, val, torch.nn.MSELoss(), torch.optim.Adam(model.parameters(), 1e-2),
                                 num_epochs=80)
    assert h.train_loss[-1] < 0.05 * h.train_loss[0] and h.val_loss[-1] > 0.7 * h.val_loss[0]  # the run's shape
    diagnosis = identify_training_issues(h)
    assert "overfitting" in diagnosis, str(diagnosis)
    finding = diagnosis["overfitting"]
    assert finding.evidence["val_over_train"] >= 10 and finding.fixes
