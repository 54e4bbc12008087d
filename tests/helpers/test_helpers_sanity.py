"""losslab's sanity_check in both flavors: a healthy setup passes every check, and each broken setup fires the
check meant for its bug, with only the checks that bug really also breaks failing beside it; the caller's
model and optimizer are never touched."""
import numpy as np
import pytest

from losslab.core.sanity import FAILED, PASSED, SKIPPED

CHECKS = {"inputs_and_targets", "shuffling", "init_loss", "gradient_norms", "update_ratio", "overfit_one_batch",
          "input_baseline"}


class Torch:
    name = "torch"

    def __init__(self):
        import torch
        import losslab.torch as ll
        self.ll, self.fw = ll, torch
        torch.set_num_threads(1)

    def mlp(self, d=8, k=3, softmax=False):
        nn = self.fw.nn
        self.fw.manual_seed(0)
        layers = [nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, k)]
        return nn.Sequential(*layers, *([nn.Softmax(-1)] if softmax else []))

    def loader(self, X, y, shuffle=True):
        from torch.utils.data import DataLoader, TensorDataset
        data = TensorDataset(self.fw.as_tensor(X), self.fw.as_tensor(y))
        return DataLoader(data, batch_size=32, shuffle=shuffle, generator=self.fw.Generator().manual_seed(0))

    def kill_first_layer(self, model):
        with self.fw.no_grad():
            model[0].bias.fill_(-100.0)
        return model

    def scale_last_layer(self, model, factor):
        with self.fw.no_grad():
            model[4].weight.mul_(factor)
        return model

    def first_layer(self, model):
        return "0.weight"

    def optimizer(self, model):
        return self.fw.optim.Adam(model.parameters(), lr=1e-3)

    def state(self, model, optimizer):
        params = [p.detach().numpy().copy() for p in model.parameters()]
        return params, model.training, len(optimizer.state), optimizer.param_groups[0]["lr"]


class TF:
    name = "tensorflow"

    def __init__(self):
        import keras
        import losslab.tensorflow as ll
        self.ll, self.fw = ll, keras

    def mlp(self, d=8, k=3, softmax=False):
        keras = self.fw
        keras.utils.set_random_seed(0)
        layers = [keras.Input((d,)), keras.layers.Dense(32, activation="relu"),
                  keras.layers.Dense(32, activation="relu"), keras.layers.Dense(k)]
        return keras.Sequential(layers + ([hand_written_softmax()] if softmax else []))

    def loader(self, X, y, shuffle=True):
        import tensorflow as tf
        data = tf.data.Dataset.from_tensor_slices((X, y))
        return (data.shuffle(len(X), seed=0) if shuffle else data).batch(32)

    def kill_first_layer(self, model):
        model.layers[0].bias.assign(np.full(32, -100.0, np.float32))
        return model

    def scale_last_layer(self, model, factor):
        model.layers[2].kernel.assign(model.layers[2].kernel * factor)
        return model

    def first_layer(self, model):
        return model.layers[0].kernel.path

    def optimizer(self, model):
        return self.fw.optimizers.Adam(learning_rate=1e-3)

    def state(self, model, optimizer):
        return [v.numpy().copy() for v in model.variables], optimizer.built, int(optimizer.iterations), \
            float(optimizer.learning_rate)


def hand_written_softmax():
    """Keras spots its own softmax before a logits loss and uses the logits (with a warning), so the
    TensorFlow twin of that bug writes the softmax out by hand, as a student would."""
    import keras

    class HandSoftmax(keras.layers.Layer):
        def call(self, x):
            e = keras.ops.exp(x - keras.ops.max(x, axis=-1, keepdims=True))
            return e / keras.ops.sum(e, axis=-1, keepdims=True)

    return HandSoftmax()


@pytest.fixture(scope="module", params=["torch", "tensorflow"])
def fw(request):
    return Torch() if request.param == "torch" else TF()


def blobs(n=512, k=3, d=8, seed=0):
    """Three well-separated Gaussian classes: a small MLP learns them in a few dozen steps."""
    r = np.random.default_rng(seed)
    centres = r.normal(0, 2.0, (k, d))
    y = r.integers(0, k, n)
    return (centres[y] + r.normal(0, 1, (n, d))).astype(np.float32), y.astype(np.int64)


def regression(fw, target_shape=None):
    X, y = fw.ll.generate_synthetic_data(512, 8, 0.1, seed=0)
    X, y = np.asarray(X), np.asarray(y)
    return X, (y.reshape(target_shape) if target_shape else y)


def failed(report):
    return set(report.failed)


def test_healthy_classification_passes_every_check_and_leaves_the_callers_model_alone(fw):
    X, y = blobs()
    model = fw.mlp()
    if fw.name == "torch":
        model.eval()  # the copy trains in training mode; the caller's mode must stay as it was
    optimizer = fw.optimizer(model)
    before = fw.state(model, optimizer)
    report = fw.ll.sanity_check(model, fw.loader(X, y), "cross_entropy", optimizer)
    assert report.ok, str(report)
    assert {c.name for c in report.checks} == CHECKS and all(c.status == PASSED for c in report.checks)
    assert report["init_loss"].numbers["expected"] == pytest.approx(np.log(3))
    after = fw.state(model, optimizer)
    assert all(np.array_equal(a, b) for a, b in zip(before[0], after[0])), "the caller's weights changed"
    assert before[1:] == after[1:], "the caller's model mode or optimizer state changed"


def test_healthy_regression_with_dropout_passes_every_check(fw):
    # losslab's own SimpleNet (Keras: a subclassed model, cloned through its get_config); dropout is on for
    # the steps and off when the loss is read, so the one-batch fit is judged on what was memorised
    X, y = regression(fw)
    fw.ll.set_seed(0)
    report = fw.ll.sanity_check(fw.ll.SimpleNet(8, 32, 1, dropout=0.2), fw.loader(X, y), "mse", "adam")
    assert report.ok, str(report)
    assert report["init_loss"].numbers["expected"] == pytest.approx(float(np.mean(y[:256] ** 2)), rel=0.5)


def test_nan_inputs_are_named(fw):
    X, y = blobs()
    X[::10, 2] = np.nan
    report = fw.ll.sanity_check(fw.mlp(), fw.loader(X, y), "cross_entropy")
    check = report["inputs_and_targets"]
    assert check.status == FAILED and check.numbers["nonfinite_x"] > 0 and "NaN" in check.meaning
    assert report["shuffling"].passed  # the order of the targets is fine: only the values are poisoned


def test_unnormalised_inputs_are_named(fw):
    X, y = blobs()
    report = fw.ll.sanity_check(fw.mlp(), fw.loader(X * 1000 + 500, y), "cross_entropy")
    check = report["inputs_and_targets"]
    assert check.status == FAILED and "not normalised" in check.meaning and "standardise" in check.advice


def test_a_model_that_cannot_be_copied_or_trained_is_refused_with_a_clear_error(fw):
    X, y = blobs()
    if fw.name == "torch":
        with pytest.raises(ValueError, match="no trainable parameters"):
            fw.ll.sanity_check(fw.fw.nn.Identity(), fw.loader(X, y), "cross_entropy")
    else:
        keras = fw.fw

        class NoConfig(keras.Model):  # a subclassed model whose constructor argument Keras cannot recover
            def __init__(self, units):
                super().__init__()
                self.dense = keras.layers.Dense(units)

            def call(self, x):
                return self.dense(x)

        model = NoConfig(3)
        with pytest.raises(ValueError, match="no trainable parameters"):  # not built yet
            fw.ll.sanity_check(model, fw.loader(X, y), "cross_entropy")
        model(X[:1])
        with pytest.raises(TypeError, match="get_config"):
            fw.ll.sanity_check(model, fw.loader(X, y), "cross_entropy")
    with pytest.raises(TypeError, match="one-shot iterator"):
        fw.ll.sanity_check(fw.mlp(), iter(fw.loader(X, y)), "cross_entropy")


def test_a_target_that_would_broadcast_against_the_prediction_is_named(fw):
    X, y = regression(fw, target_shape=(-1,))
    report = fw.ll.sanity_check(fw.mlp(8, 1), fw.loader(X, y), "mse")
    check = report["inputs_and_targets"]
    assert check.status == FAILED and check.numbers["broadcast"] == (32, 32), str(report)
    # torch's MSELoss really broadcasts (it cannot fit one batch, nor use the inputs); Keras' matches ranks
    assert failed(report) <= {"inputs_and_targets", "overfit_one_batch", "input_baseline"}, str(report)


def test_an_unshuffled_loader_sorted_by_class_fires_only_the_shuffling_check(fw):
    X, y = blobs()
    order = np.argsort(y, kind="stable")
    report = fw.ll.sanity_check(fw.mlp(), fw.loader(X[order], y[order], shuffle=False), "cross_entropy")
    assert failed(report) == {"shuffling"}, str(report)
    assert report["shuffling"].numbers["single_class_batches"] >= 6  # the 8th batch may straddle two classes


def test_a_dead_first_layer_is_named_in_the_gradient_check(fw):
    X, y = blobs()
    model = fw.kill_first_layer(fw.mlp())
    report = fw.ll.sanity_check(model, fw.loader(X, y), "cross_entropy")
    check = report["gradient_norms"]
    assert check.status == FAILED and fw.first_layer(model) in check.meaning.split(":")[1], str(report)
    # a network with no live unit also has no update and cannot learn: those checks say so too
    assert failed(report) <= {"gradient_norms", "update_ratio", "overfit_one_batch", "input_baseline"}
    assert report["init_loss"].passed and report["inputs_and_targets"].passed


def test_an_absurd_learning_rate_gives_huge_update_ratios(fw):
    X, y = blobs()
    report = fw.ll.sanity_check(fw.mlp(), fw.loader(X, y), "cross_entropy", "adam", lr=1.0)
    check = report["update_ratio"]
    assert check.status == FAILED and min(check.numbers["median_ratio"].values()) > 0.1, str(report)
    assert "lower the learning rate" in check.advice
    assert report["init_loss"].passed and report["gradient_norms"].passed and report["shuffling"].passed


def test_labels_shuffled_against_inputs_fail_the_input_baseline(fw):
    X, y = blobs()
    report = fw.ll.sanity_check(fw.mlp(), fw.loader(X, np.random.default_rng(1).permutation(y)), "cross_entropy")
    assert "input_baseline" in failed(report), str(report)
    assert failed(report) <= {"input_baseline", "overfit_one_batch"}, str(report)


def test_softmax_before_a_logits_loss_cannot_overfit_one_batch(fw):
    X, y = blobs()
    report = fw.ll.sanity_check(fw.mlp(softmax=True), fw.loader(X, y), "cross_entropy")
    assert "overfit_one_batch" in failed(report), str(report)
    assert failed(report) <= {"overfit_one_batch", "input_baseline"}, str(report)
    assert report["init_loss"].passed  # probabilities as logits still start at ln K: only the overfit shows it


def test_an_absurd_init_scale_fails_the_loss_at_initialisation(fw):
    X, y = blobs()
    report = fw.ll.sanity_check(fw.scale_last_layer(fw.mlp(), 100.0), fw.loader(X, y), "cross_entropy")
    check = report["init_loss"]
    assert check.status == FAILED and check.numbers["loss"] > 3 * np.log(3), str(report)
    assert failed(report) <= {"init_loss", "gradient_norms", "update_ratio"}, str(report)


def test_a_loss_without_a_known_start_is_skipped_with_a_reason_and_the_report_prints(fw):
    X, y = regression(fw)
    report = fw.ll.sanity_check(fw.mlp(8, 1), fw.loader(X, y), "mae")
    check = report["init_loss"]
    assert check.status == SKIPPED and "ln K" in check.meaning
    text, table = str(report), report._repr_markdown_()
    assert "[skip] init_loss" in text and "every check passed" in text
    assert table.count("\n") == len(CHECKS) + 1 and "| init_loss | skipped |" in table


def test_a_failed_check_prints_what_it_means_and_what_to_try(fw):
    X, y = blobs()
    order = np.argsort(y, kind="stable")
    report = fw.ll.sanity_check(fw.mlp(), fw.loader(X[order], y[order], shuffle=False), "cross_entropy")
    text = str(report)
    assert "1 failed: shuffling" in text and "[FAIL] shuffling" in text and "try: shuffle" in text
    assert "| shuffling | **failed** |" in report._repr_markdown_()
