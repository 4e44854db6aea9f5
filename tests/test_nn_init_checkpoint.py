"""Initialiser statistics (fans checked against PyTorch) and .npz checkpoint round trips."""

from __future__ import annotations

import doctest
import json
import math
import pathlib
import zipfile

import numpy as np
import pytest

from tensorc.nn import checkpoint, init

# ----------------------------------------------------------------------------- init


@pytest.mark.parametrize("shape", [(10, 84), (6, 1, 5, 5), (16, 6, 5, 5), (8, 3, 2, 3, 4)])
def test_fans_match_pytorch(shape):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fans(shape) == tuple(expected)


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="2 or more"):
        init.fans((5,))


def test_glorot_uniform_statistics():
    shape = (256, 128, 3, 3)
    w = init.glorot_uniform(shape, rng=np.random.default_rng(0)).astype(np.float64)
    fan_in, fan_out = 128 * 9, 256 * 9
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert w.shape == shape
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.999 * bound  # the whole interval is used
    # variance of U(-a, a) is a^2 / 3 = 2 / (fan_in + fan_out); relative error ~0.2% here
    assert w.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.02)
    assert abs(w.mean()) < 5 * math.sqrt(w.var() / w.size)


def test_glorot_uniform_explicit_fans_and_gain():
    w = init.glorot_uniform((400, 500), fan_in=10, fan_out=20, rng=1, gain=2.0)
    assert w.var() == pytest.approx(4.0 * 2 / 30, rel=0.02)
    assert np.abs(w).max() <= 2.0 * math.sqrt(6 / 30)


def test_gaussian_statistics():
    w = init.gaussian((500, 400), sigma=0.01, rng=np.random.default_rng(3))
    assert w.dtype == np.float32
    assert w.astype(np.float64).std() == pytest.approx(0.01, rel=0.01)
    assert abs(w.astype(np.float64).mean()) < 5 * 0.01 / math.sqrt(w.size)
    with pytest.raises(ValueError, match="sigma"):
        init.gaussian(3, sigma=-1.0)


def test_same_seed_same_weights_and_dtype_choice():
    a = init.glorot_uniform((3, 4), rng=7, dtype=np.float64)
    b = init.glorot_uniform((3, 4), rng=7, dtype=np.float64)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init.glorot_uniform((3, 4), rng=8, dtype=np.float64))


def test_zeros():
    z = init.zeros(5)
    assert z.shape == (5,) and z.dtype == np.float32 and not z.any()


def test_init_docstring_examples():
    assert doctest.testmod(init).failed == 0


# ----------------------------------------------------------------------- checkpoint


def _params():
    rng = np.random.default_rng(0)
    return {
        "conv1.W": rng.standard_normal((6, 1, 5, 5)).astype(np.float32),
        "conv1.b": np.zeros(6, np.float32),
        "fc/W": rng.standard_normal((10, 84)),
        "scale": np.array(2.5),
        "counts": np.arange(4, dtype=np.int64),
    }


def test_round_trip_params_state_and_meta(tmp_path):
    params = _params()
    state = {"optimizer": np.array("Adam"), "hyper:betas": np.array([0.9, 0.999]),
             "exp_avg:conv1.W": np.ones((6, 1, 5, 5), np.float32), "step:conv1.W": np.array(3)}
    meta = {"epoch": 4, "history": {"loss": [np.float32(0.5), 0.25]}, "name": "LeNet-5 ünïcode"}
    path = checkpoint.save(tmp_path / "model.npz", params, state, meta)
    got = checkpoint.load(path)
    assert set(got.params) == set(params) and set(got.optimizer_state) == set(state)
    for k, v in params.items():
        assert got.params[k].dtype == v.dtype
        np.testing.assert_array_equal(got.params[k], v)
    for k, v in state.items():
        np.testing.assert_array_equal(got.optimizer_state[k], v)
    assert got.meta == {"epoch": 4, "history": {"loss": [0.5, 0.25]}, "name": "LeNet-5 ünïcode"}


def test_saves_at_the_exact_path_and_overwrites(tmp_path):
    path = tmp_path / "weights.ckpt"
    checkpoint.save(path, {"a": np.ones(2)})
    checkpoint.save(path, {"a": np.zeros(2)}, meta={"v": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.ckpt"]  # no temp files left
    got = checkpoint.load(path)
    np.testing.assert_array_equal(got.params["a"], np.zeros(2))
    assert got.optimizer_state == {} and got.meta == {"v": 2}


class _Payload:
    """Unpickling this touches a file: proof that loading would have run code."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_object_array_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    np.savez(path, meta=np.array(json.dumps({})), **{"param:W": evil})
    with pytest.raises(ValueError, match="evil.npz"):
        checkpoint.load(path)
    assert not marker.exists()
    with np.load(path, allow_pickle=True) as archive:  # control: unpickling does run it
        archive["param:W"]
    assert marker.exists()


def test_save_refuses_object_arrays_and_non_json_meta(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        checkpoint.save(tmp_path / "a.npz", {"W": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(TypeError, match="JSON"):
        checkpoint.save(tmp_path / "b.npz", {"W": np.ones(1)}, meta={"f": object()})
    assert list(tmp_path.iterdir()) == []


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    single = tmp_path / "one.npy"
    np.save(single, np.ones(3))
    plain = tmp_path / "plain.npz"
    np.savez(plain, W=np.ones(3))
    truncated = tmp_path / "cut.npz"
    checkpoint.save(truncated, {"W": np.ones(1000)})
    truncated.write_bytes(truncated.read_bytes()[:200])
    for path, message in [(text, "notes.txt"), (single, "single .npy"), (plain, "no 'meta'"),
                          (truncated, "cut.npz")]:
        with pytest.raises(ValueError, match=message):
            checkpoint.load(path)
    assert zipfile.is_zipfile(plain)


def test_checkpoint_docstring_examples():
    assert doctest.testmod(checkpoint).failed == 0
