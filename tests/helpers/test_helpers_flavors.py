"""Both framework flavors, through the same tests: one API, two frameworks."""
import math
import subprocess
import sys

import numpy as np
import pytest


def _data(fw, n=200, batch=32, seed=0):
    X, y = fw.ll.generate_synthetic_data(n_samples=n, n_features=5, noise=0.1, seed=seed)
    return X, y, *fw.ll.create_data_loaders(X, y, train_ratio=0.75, batch_size=batch, shuffle=True, seed=seed)


def test_one_epoch_run_records_everything(fw):
    fw.seed(0)
    X, y, train, val = _data(fw)
    model = fw.ll.SimpleNet(5, 16, 1)
    h = fw.ll.train_with_loss_tracking(model, train, val, fw.mse(), fw.sgd(model, 0.05), num_epochs=1)
    assert h.epochs == 1 and len(h.val_loss) == 1 and len(h.lr) == 1 and len(h.epoch_time) == 1
    assert len(h.iter_loss) == len(train) == 5 and len(h.iter_grad_norm) == 5
    assert len(h.layer_grad_norm) == 6 and all(len(v) == 1 for v in h.layer_grad_norm.values())
    assert h.lr == [pytest.approx(0.05)] and not h.stopped_early
    assert h.framework == fw.name and isinstance(h.iter_loss, np.ndarray)


def test_epoch_loss_is_a_per_sample_mean_and_val_loss_is_the_model_s(fw):
    fw.seed(1)
    X, y, train, val = _data(fw, n=210, batch=32)  # 158 training samples: last batch has 30
    model = fw.ll.SimpleNet(5, 16, 1)
    h = fw.ll.train_with_loss_tracking(model, train, val, fw.mse(), fw.sgd(model, 0.05), num_epochs=3)
    sizes = np.array([32] * 4 + [30])
    per_epoch = np.asarray(h.iter_loss).reshape(3, 5)
    np.testing.assert_allclose(h.train_loss, per_epoch @ sizes / sizes.sum(), rtol=1e-5)
    Xv = np.concatenate([np.asarray(xb) for xb, _ in val])
    yv = np.concatenate([np.asarray(yb) for _, yb in val])
    assert h.val_loss[-1] == pytest.approx(float(np.mean((fw.predict(model, Xv) - yv) ** 2)), rel=1e-4)
    assert h.train_loss[-1] < h.train_loss[0]


def test_nan_run_is_recorded_and_stopped_not_raised(fw):
    fw.seed(2)
    X, y, train, val = _data(fw)
    model = fw.ll.SimpleNet(5, 64, 1)
    h = fw.ll.train_with_loss_tracking(model, train, val, fw.mse(), fw.sgd(model, 1e4), num_epochs=20)
    assert h.stopped_early and "non-finite" in h.stop_reason
    assert h.epochs < 20 and not math.isfinite(h.train_loss[-1])
    assert not math.isfinite(h.iter_loss[-1]) and all(map(math.isfinite, h.iter_loss[:-1]))
    assert "diverging" in fw.ll.identify_training_issues(h)


def test_clipping_bounds_the_update_and_records_the_unclipped_norm(fw):
    fw.seed(3)
    X, y, train, val = _data(fw, n=40, batch=40)  # one step per epoch
    model = fw.ll.SimpleNet(5, 16, 1)
    before = fw.params(model)
    h = fw.ll.train_with_loss_tracking(model, train, val, fw.mse(), fw.sgd(model, 0.1), num_epochs=1,
                                       clip_grad_norm=1e-3)
    step = np.linalg.norm(fw.params(model) - before)
    assert step == pytest.approx(0.1 * 1e-3, rel=1e-2)
    assert h.grad_norm[0] > 1e-2, "the record holds the norm before clipping"


def test_bad_inputs_get_clear_errors(fw):
    X, y = fw.ll.generate_synthetic_data(n_samples=20, n_features=3, seed=0)
    with pytest.raises(ValueError, match="different lengths"):
        fw.ll.create_data_loaders(X, y[:10])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        fw.ll.create_data_loaders(X, y, train_ratio=1.0)
    with pytest.raises(ValueError, match="both sets need at least one"):
        fw.ll.create_data_loaders(X[:2], y[:2], train_ratio=0.9)
    train, val = fw.ll.create_data_loaders(X, y, seed=0)
    model = fw.ll.SimpleNet(3, 4, 1)
    with pytest.raises(ValueError, match="num_epochs"):
        fw.ll.train_with_loss_tracking(model, train, val, fw.mse(), fw.sgd(model, 0.1), num_epochs=0)


def test_compare_learning_rates_keeps_diverged_runs(fw):
    X, y, train, val = _data(fw)
    runs = fw.ll.compare_learning_rates([0.01, 50.0], lambda: fw.ll.SimpleNet(5, 16, 1), train, val,
                                        num_epochs=5, show=False)
    assert list(runs) == [0.01, 50.0]
    assert not runs[0.01].stopped_early and runs[50.0].stopped_early


def test_lr_range_test_suggests_a_rate(fw):
    fw.seed(4)
    X, y, train, val = _data(fw, n=400)
    result = fw.ll.lr_range_test(lambda: fw.ll.SimpleNet(5, 16, 1), train, fw.mse(), start_lr=1e-5,
                                 end_lr=10, num_iters=60)
    assert result.suggested_lr is not None and 1e-4 < result.suggested_lr < 10
    assert len(result.lrs) <= 60


@pytest.mark.parametrize("name, cls, momentum, nesterov", [
    ("sgd", "SGD", 0.0, False), ("momentum", "SGD", 0.9, False), ("Nesterov", "SGD", 0.9, True),
    ("adam", "Adam", None, None), ("adamw", "AdamW", None, None), ("rmsprop", "RMSprop", None, None)])
def test_optimizer_names_mean_the_same_in_both_flavors(fw, name, cls, momentum, nesterov):
    model = fw.ll.SimpleNet(3, 4, 1)
    if fw.name == "torch":
        opt = fw.ll.make_optimizer(name, model.parameters(), 0.5)
        settings = opt.param_groups[0]
        lr, got_momentum, got_nesterov = settings["lr"], settings.get("momentum"), settings.get("nesterov")
    else:
        opt = fw.ll.make_optimizer(name, 0.5)
        lr, got_momentum, got_nesterov = float(opt.learning_rate), getattr(opt, "momentum", None), \
            getattr(opt, "nesterov", None)
    assert type(opt).__name__ == cls and lr == pytest.approx(0.5)
    if momentum is not None:
        assert got_momentum == pytest.approx(momentum) and got_nesterov == nesterov
    with pytest.raises(ValueError, match="unknown optimizer 'nope'"):
        fw.ll.make_optimizer("nope", *([model.parameters()] if fw.name == "torch" else []))


def test_optimizer_by_name_or_factory_trains_like_the_object(fw):
    X, y = fw.ll.generate_synthetic_data(n_samples=60, n_features=5, seed=0)
    train, val = fw.ll.create_data_loaders(X, y, batch_size=16, shuffle=False)  # same batches in every run
    runs = []
    for spec in ("sgd", None, "factory"):
        fw.seed(0)
        model = fw.ll.SimpleNet(5, 8, 1)
        optimizer = {"sgd": "sgd", None: fw.sgd(model, 0.05),
                     "factory": (lambda p, lr: fw.fw.optim.SGD(p, lr=lr)) if fw.name == "torch"
                     else (lambda lr: fw.fw.optimizers.SGD(lr))}[spec]
        runs.append(fw.ll.train_with_loss_tracking(model, train, val, "mse", optimizer, 2, lr=0.05))
    for run in runs[1:]:
        np.testing.assert_allclose(run.train_loss, runs[0].train_loss, rtol=1e-6)


def test_global_grad_norm_matches_the_framework():
    import torch
    from losslab.torch import SimpleNet, global_grad_norm
    torch.manual_seed(0)
    model = SimpleNet(4, 8, 1)
    model(torch.randn(16, 4)).pow(2).mean().backward()
    expected = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
    assert float(global_grad_norm(model.parameters())) == pytest.approx(float(expected), rel=1e-6)


def test_keras_callback_fills_the_same_record():
    import keras
    from losslab.tensorflow import LossHistory, SimpleNet, generate_synthetic_data, set_seed
    set_seed(0)
    X, y = generate_synthetic_data(n_samples=128, n_features=4, seed=0)
    model = SimpleNet(4, 8, 1)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    cb = LossHistory()
    fit = model.fit(X, y, batch_size=32, epochs=3, validation_split=0.25, verbose=0, callbacks=[cb])
    h = cb.history
    np.testing.assert_allclose(h.train_loss, fit.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(h.val_loss, fit.history["val_loss"], rtol=1e-6)
    assert len(h.iter_loss) == 3 * 3 and h.lr == [pytest.approx(0.05)] * 3
    # equal batches: the mean of the recovered per-batch losses is Keras' epoch loss
    assert np.mean(h.iter_loss[:3]) == pytest.approx(fit.history["loss"][0], rel=1e-5)


def test_keras_callback_records_each_epoch_s_rate_whatever_the_callback_order_and_a_callback_stop():
    import keras
    from losslab.core.signals import STOP_CALLBACK
    from losslab.tensorflow import LossHistory, SimpleNet, generate_synthetic_data, set_seed
    set_seed(0)
    X, y = generate_synthetic_data(n_samples=64, n_features=4, seed=0)
    model = SimpleNet(4, 8, 1)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    cb = LossHistory()  # listed before the scheduler, whose on_epoch_begin sets the rate after ours ran
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: [0.1, 0.05, 0.025, 0.01][epoch])
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)  # stops after epoch 2
    model.fit(X, y, batch_size=32, epochs=4, verbose=0, callbacks=[cb, schedule, stop])
    h = cb.history
    assert h.lr == pytest.approx([0.1, 0.05]) and h.framework == "tensorflow"
    assert (h.stop_reason.kind, h.stop_reason.epoch) == (STOP_CALLBACK, 2)


@pytest.mark.parametrize("module, forbidden", [("losslab", "torch tensorflow"),
                                               ("losslab.torch", "tensorflow"),
                                               ("losslab.tensorflow", "torch")])
def test_a_flavor_never_imports_the_other_framework(module, forbidden):
    code = (f"import sys, {module}\n"
            f"bad = [m for m in {forbidden.split()!r} if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
