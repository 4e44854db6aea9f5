"""The NumPy optimizers against torch.optim, step by step, in float64."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from tensorc.nn import checkpoint, optim

torch = pytest.importorskip("torch")

SHAPES = {"W": (4, 3, 2, 2), "b": (4,), "dense": (5, 7)}
STEPS = 6

# (our class, torch class, keyword arguments shared by both)
CASES = [
    (optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, weight_decay=0.05)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    (optim.Momentum, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (optim.Momentum, torch.optim.SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.02)),
    (optim.RMSProp, torch.optim.RMSprop, dict(lr=0.01)),
    (optim.RMSProp, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=0.05)),
    (optim.RMSProp, torch.optim.RMSprop, dict(lr=0.01, centered=True, weight_decay=0.01)),
    (optim.RMSProp, torch.optim.RMSprop, dict(lr=0.01, momentum=0.7, eps=1e-3)),
    (optim.RMSProp, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.2, amsgrad=True)),
]


def _random(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def _grads(steps: int, seed: int = 100) -> list[dict[str, np.ndarray]]:
    return [_random(seed + t) for t in range(steps)]


def _torch_run(torch_cls, kwargs, params, grads):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch_cls(list(tensors.values()), **kwargs)
    trajectory = []
    for g in grads:
        for k, t in tensors.items():
            t.grad = torch.tensor(g[k], dtype=torch.float64)
        opt.step()
        trajectory.append({k: t.detach().numpy().copy() for k, t in tensors.items()})
    return trajectory


def _ours_run(opt, params, grads):
    trajectory = []
    for g in grads:
        opt.step(params, g)
        trajectory.append({k: v.copy() for k, v in params.items()})
    return trajectory


def _ids(case):
    cls, _, kwargs = case
    return f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_matches_torch_every_step(case):
    ours_cls, torch_cls, kwargs = case
    start, grads = _random(0), _grads(STEPS)
    expected = _torch_run(torch_cls, kwargs, start, grads)
    params = {k: v.copy() for k, v in start.items()}
    got = _ours_run(ours_cls(**kwargs), params, grads)
    for t, (want, have) in enumerate(zip(expected, got)):
        for k in SHAPES:
            np.testing.assert_allclose(have[k], want[k], rtol=1e-12, atol=1e-12, err_msg=f"{k}@{t}")
    # the parameters really moved, so the comparison is not between two untouched copies
    assert not np.allclose(got[-1]["W"], start["W"])


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_resume_from_state_dict_through_checkpoint(case, tmp_path):
    ours_cls, _, kwargs = case
    grads = _grads(5, seed=7)
    straight = {k: v.copy() for k, v in _random(1).items()}
    _ours_run(ours_cls(**kwargs), straight, grads)

    resumed = {k: v.copy() for k, v in _random(1).items()}
    first = ours_cls(**kwargs)
    _ours_run(first, resumed, grads[:3])
    checkpoint.save(tmp_path / "ck.npz", resumed, first.state_dict())
    loaded = checkpoint.load(tmp_path / "ck.npz")
    second = ours_cls()  # default hyperparameters, overwritten by the state dict
    second.load_state_dict(loaded.optimizer_state)
    assert repr(second) == repr(first)
    _ours_run(second, loaded.params, grads[3:])
    for k in SHAPES:
        np.testing.assert_array_equal(loaded.params[k], straight[k])


def test_float32_parameters_stay_float32_and_in_place():
    w = np.ones((3, 3), np.float32)
    params = {"w": w}
    opt = optim.Adam(lr=0.1)
    opt.step(params, {"w": np.full((3, 3), 0.5)})
    assert params["w"] is w and w.dtype == np.float32
    np.testing.assert_allclose(w, 0.9, rtol=1e-6)


def test_state_is_kept_per_key():
    params = {"a": np.zeros(2), "b": np.zeros(2)}
    opt = optim.SGD(lr=1.0, momentum=0.5)
    opt.step(params, {"a": np.ones(2), "b": -np.ones(2)})
    opt.step(params, {"a": np.ones(2), "b": np.zeros(2)})
    # a: buf 1 then 1.5 -> -2.5; b: buf -1 then -0.5 -> +1.5
    np.testing.assert_allclose(params["a"], -2.5)
    np.testing.assert_allclose(params["b"], 1.5)
    assert int(opt.state["a"]["step"]) == 2


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optim.SGD(lr=-1.0), "learning rate"),
        (lambda: optim.SGD(lr=0.1, nesterov=True), "Nesterov"),
        (lambda: optim.Adam(betas=(0.9, 1.0)), "betas"),
        (lambda: optim.RMSProp(alpha=-0.1), "alpha"),
    ],
)
def test_bad_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_mismatched_grads_are_refused():
    opt = optim.SGD(lr=0.1)
    with pytest.raises(KeyError, match="missing"):
        opt.step({"a": np.zeros(2), "b": np.zeros(2)}, {"a": np.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"a": np.zeros(2)}, {"a": np.zeros(3)})
    with pytest.raises(TypeError, match="floating"):
        opt.step({"a": np.zeros(2, np.int64)}, {"a": np.zeros(2)})


def test_state_dict_of_another_optimizer_is_refused():
    adam = optim.Adam()
    adam.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match="Adam"):
        optim.RMSProp().load_state_dict(adam.state_dict())
    state = adam.state_dict()
    del state["exp_avg:w"]
    with pytest.raises(ValueError, match="exp_avg"):
        optim.Adam().load_state_dict(state)


def test_docstring_examples():
    assert doctest.testmod(optim).failed == 0
