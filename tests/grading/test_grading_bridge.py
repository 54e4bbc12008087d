"""The verdict kernel's bridge on its own: what crosses back from the student kernel is data, never code."""
from __future__ import annotations

import io
import math
import pickle

import numpy as np
import pytest
import torch

from autograder import bridge


def test_data_round_trips_with_its_types() -> None:
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    value = ((x ** 2).mean(), [x.detach(), None], {"loss": [1.5, float("nan")], 2: (True, "s")}, np.float32(2.5),
             np.arange(6).reshape(2, 3))
    out = bridge.decode(bridge.encode(value))
    assert out[0].shape == () and out[0].requires_grad and torch.equal(out[0].detach(), value[0].detach())
    assert out[1][1] is None and not out[1][0].requires_grad
    assert out[2]["loss"][0] == 1.5 and math.isnan(out[2]["loss"][1]) and out[2][2] == (True, "s")
    assert isinstance(out[3], np.float32) and out[4].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_what_is_not_data_is_refused_on_the_way_out() -> None:
    for value in (object(), np.array([object()]), lambda: 1, torch.nn.Linear(2, 1)):
        with pytest.raises(TypeError, match="as data"):
            bridge.encode(value)


def test_a_pickle_is_never_opened_on_the_way_in() -> None:
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    buf = io.BytesIO()
    np.savez(buf, __tree__=np.frombuffer(b'{"$": "a", "i": 0}', np.uint8), a0=np.array([Boom()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        bridge.decode(buf.getvalue())
    with pytest.raises(Exception):
        bridge.decode(pickle.dumps(Boom()))


def test_state_changed_in_place_comes_back() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.1))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    there = pickle.loads(pickle.dumps((model, opt)))  # the copy the student kernel works on
    there[0].eval()
    there[0](torch.randn(4, 3)).sum().backward()
    there[1].step()
    states = bridge.decode(bridge.encode([bridge.state_of(o) for o in bridge._stateful(there)]))
    bridge._load_states((model, opt), states)
    assert not model.training and all(torch.equal(p, q) for p, q in zip(model.parameters(), there[0].parameters()))
    assert torch.equal(model[0].weight.grad, there[0][0].weight.grad)
    assert opt.state_dict()["state"][0]["step"] == 1


def test_free_names_of_a_test_cell() -> None:
    cell = "import torch as _t\nfrom m import f as _f\ndef _g(a):\n    b = a\n    return b + c\n_x = train(_t, _g)\n"
    assert bridge._free_names(cell) == ["c", "train"]
