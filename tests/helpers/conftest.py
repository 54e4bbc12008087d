"""The two flavors behind one interface, so every flavor test runs against torch and tensorflow alike."""
import numpy as np
import pytest


class Torch:
    name = "torch"

    def __init__(self):
        import torch
        import losslab.torch as ll
        self.ll, self.fw = ll, torch

    def seed(self, s):
        self.ll.set_seed(s)

    def mse(self):
        return self.fw.nn.MSELoss()

    def sgd(self, model, lr, **kw):
        return self.fw.optim.SGD(model.parameters(), lr=lr, **kw)

    def params(self, model):
        return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])

    def predict(self, model, X):
        with self.fw.no_grad():
            return model(self.fw.as_tensor(X)).numpy()


class TF:
    name = "tensorflow"

    def __init__(self):
        import keras
        import losslab.tensorflow as ll
        self.ll, self.fw = ll, keras

    def seed(self, s):
        self.ll.set_seed(s)

    def mse(self):
        return self.fw.losses.MeanSquaredError()

    def sgd(self, model, lr, **kw):
        return self.fw.optimizers.SGD(learning_rate=lr, **kw)

    def params(self, model):
        return np.concatenate([np.ravel(v.numpy()) for v in model.trainable_variables])

    def predict(self, model, X):
        return np.asarray(model(X, training=False))


@pytest.fixture(params=[Torch, TF], ids=["torch", "tensorflow"], scope="module")
def fw(request):
    return request.param()
