"""tensorc.nn.train: fit/evaluate/predict, one step against PyTorch, the train command."""
import numpy as np
import pytest
import torch

from tensorc.cli import main
from tensorc.nn import checkpoint, evaluate, fit, layers as L, optim, predict
from tensorc.nn.train import batch_order, build_model, gradient_program, small_cnn


def blobs(n=96, seed=0):
    """Two Gaussian blobs in 2-D, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.standard_normal((n, 2)) * 0.5 + np.where(y[:, None] == 1, 1.5, -1.5)
    return x.astype(np.float32), y


def test_fit_decreases_the_loss_and_separates_blobs():
    x, y = blobs()
    model = L.Sequential(L.Linear(2, 8), L.Tanh(), L.Linear(8, 2), input_shape=(2,))
    params = model.init(0)
    hist = fit(model, params, optim.SGD(lr=0.2), (x, y), epochs=8, batch_size=16,
               progress=False, val=(x, y))
    assert set(hist) == {"train_loss", "train_acc", "val_loss", "val_acc", "epoch_time"}
    assert all(len(v) == 8 for v in hist.values())
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert hist["val_acc"][-1] >= 0.97
    assert evaluate(model, params, x, y)["acc"] == hist["val_acc"][-1]
    assert (predict(model, params, x, batch_size=10).argmax(1) == y).mean() >= 0.97


def test_dropout_masks_are_drawn_in_training_and_off_in_eval():
    x, y = blobs()
    model = L.Sequential(L.Linear(2, 16), L.ReLU(), L.Dropout(0.3), L.Linear(16, 2),
                         input_shape=(2,))
    params = model.init(0)
    hist = fit(model, params, optim.Adam(lr=0.05), (x, y), epochs=6, batch_size=16,
               progress=False, val=(x, y))
    assert "drop1_mask" in gradient_program(model).inputs
    assert hist["val_acc"][-1] >= 0.97 and model.training
    np.testing.assert_array_equal(predict(model, params, x), predict(model, params, x))


def test_batch_order_drops_the_last_partial_batch_and_follows_the_seed():
    batches = batch_order(10, 3, np.random.default_rng(5))
    assert [len(b) for b in batches] == [3, 3, 3]
    assert len(set(np.concatenate(batches).tolist())) == 9
    again = batch_order(10, 3, np.random.default_rng(5))
    assert all((a == b).all() for a, b in zip(batches, again))


def test_fit_without_validation_records_nan_and_same_seed_gives_same_params():
    x, y = blobs(32)
    runs = []
    for _ in range(2):
        model = L.Sequential(L.Linear(2, 2), input_shape=(2,))
        params = model.init(1)
        hist = fit(model, params, optim.Adam(lr=0.01), (x, y), epochs=2, batch_size=10,
                   seed=3, progress=False)
        runs.append(params)
    assert np.isnan(hist["val_acc"]).all()
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


def torch_step(model, params, x, y, lr):
    """One SGD step of the mirrored conv+pool+dense model in torch (float64)."""
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    F = torch.nn.functional
    h = F.max_pool2d(F.relu(F.conv2d(torch.tensor(x), t["conv1_W"], t["conv1_B"], padding=1)), 2)
    h = F.linear(h.flatten(1), t["fc1_W"], t["fc1_B"])
    F.cross_entropy(h, torch.tensor(y)).backward()
    opt = torch.optim.SGD(list(t.values()), lr=lr)
    opt.step()
    return {k: v.detach().numpy() for k, v in t.items()}


def test_one_training_step_matches_torch_sgd():
    model = L.Sequential(L.Conv2d(2, 3, 3, padding=1), L.ReLU(), L.MaxPool2d(2), L.Flatten(),
                         L.Linear(3 * 3 * 3, 4), input_shape=(2, 6, 6))
    params = model.init(0, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 2, 6, 6)), np.array([0, 3, 1, 2, 3])
    expected = torch_step(model, {k: v.copy() for k, v in params.items()}, x, y, lr=0.1)
    fit(model, params, optim.SGD(lr=0.1), (x, y), epochs=1, batch_size=5, progress=False)
    assert params["conv1_W"].dtype == np.float64
    for k, v in expected.items():
        np.testing.assert_allclose(params[k], v, rtol=0, atol=1e-6)
        assert not np.allclose(params[k], model.init(0, dtype=np.float64)[k])


def test_batch_norm_step_updates_running_averages_like_torch():
    model = L.Sequential(L.Linear(3, 4), L.BatchNorm1d(4), L.ReLU(), L.Linear(4, 2),
                         input_shape=(3,))
    params = model.init(0, dtype=np.float64)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 3)), np.arange(8) % 2
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                              torch.nn.Linear(4, 2)).double()
    with torch.no_grad():
        for (k, p), v in zip(net.named_parameters(), params.values()):
            p.copy_(torch.tensor(v))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    torch.nn.functional.cross_entropy(net(torch.tensor(x)), torch.tensor(y)).backward()
    opt.step()
    fit(model, params, optim.SGD(lr=0.1), (x, y), epochs=1, batch_size=8, progress=False)
    for p, v in zip(net.parameters(), params.values()):
        np.testing.assert_allclose(v, p.detach().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.state["bn1_mean"], net[1].running_mean.numpy(), atol=1e-9)
    np.testing.assert_allclose(model.state["bn1_var"], net[1].running_var.numpy(), atol=1e-9)
    net.eval()
    with torch.no_grad():
        ref = net(torch.tensor(x)).numpy()
    np.testing.assert_allclose(predict(model, params, x), ref, atol=1e-9)


def test_build_model_passes_the_data_shape_or_refuses():
    assert build_model("small_cnn", (1, 40)).output_shape((1, 40)) == (10,)
    assert small_cnn((1, 8, 8)).input_shape == (1, 8, 8)
    with pytest.raises(ValueError, match="takes inputs"):
        build_model("lenet5", (1, 8, 8))
    with pytest.raises(ValueError, match="unknown model"):
        build_model("nope", (1, 8, 8))


def test_train_command_one_epoch_on_digits(tmp_path, capsys):
    pytest.importorskip("sklearn")
    ck = tmp_path / "ck.npz"
    code = main(["train", "small_cnn", "digits", "--epochs", "1", "--limit", "64",
                 "--batch-size", "32", "--optimizer", "momentum", "--lr", "0.01",
                 "--no-progress", "--checkpoint", str(ck)])
    out = capsys.readouterr().out
    assert code == 0
    assert "epoch 1: train_loss" in out and "test: loss" in out
    saved = checkpoint.load(ck)
    assert set(saved.params) == set(small_cnn((1, 8, 8)).param_names)
    assert saved.meta["epochs"] == 1 and len(saved.meta["history"]["val_acc"]) == 1
    assert str(saved.optimizer_state["optimizer"]) == "Momentum"


def test_train_command_rejects_a_model_that_does_not_fit_the_data(capsys):
    pytest.importorskip("sklearn")
    assert main(["train", "lenet5", "digits", "--no-progress"]) == 1
    assert "takes inputs" in capsys.readouterr().err


def test_data_parallel_fit_on_dask_matches_numpy_step_for_step():
    pytest.importorskip("dask.array")
    x, y = blobs()
    model = L.Sequential(L.Conv1d(1, 3, 2), L.ReLU(), L.Dropout(0.2), L.Flatten(),
                         L.Linear(3, 2), input_shape=(1, 2))
    runs = {}
    for backend, chunk in [("numpy", None), ("dask", 4)]:
        params = model.init(0)
        hist = fit(model, params, optim.Adam(lr=0.05), (x[:, None, :], y), epochs=2,
                   batch_size=16, progress=False, backend=backend, batch_chunk=chunk)
        runs[backend] = hist, params
    (h_np, p_np), (h_da, p_da) = runs["numpy"], runs["dask"]
    np.testing.assert_allclose(h_da["train_loss"], h_np["train_loss"], rtol=1e-5)
    for name in p_np:
        np.testing.assert_allclose(p_da[name], p_np[name], rtol=1e-4, atol=1e-6)
    assert h_np["train_loss"][1] != h_np["train_loss"][0]


def test_train_command_on_dask_gives_the_numpy_history(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("dask.array")
    runs = []
    for extra in ([], ["--backend", "dask", "--batch-chunk", "8"]):
        ck = tmp_path / f"ck{len(runs)}.npz"
        assert main(["train", "small_cnn", "digits", "--epochs", "1", "--limit", "64",
                     "--batch-size", "32", "--no-progress", "--checkpoint", str(ck),
                     *extra]) == 0
        runs.append(checkpoint.load(ck))
    numpy_run, dask_run = runs
    assert dask_run.meta["backend"] == "dask" and dask_run.meta["batch_chunk"] == 8
    np.testing.assert_allclose(dask_run.meta["history"]["train_loss"],
                               numpy_run.meta["history"]["train_loss"], rtol=1e-5)
    for name, value in numpy_run.params.items():
        np.testing.assert_allclose(dask_run.params[name], value, rtol=1e-4, atol=1e-6)
    assert "test: loss" in capsys.readouterr().out


def test_a_loss_needs_a_sequential_classifier():
    from tensorc.nn import models
    with pytest.raises(TypeError, match="a loss needs a Sequential model, not Concat"):
        gradient_program(models.inception())
    with pytest.raises(ValueError, match=r"cross-entropy needs one score per class and "
                                         r"example; the model outputs \(64, 112, 112\)"):
        gradient_program(models.mobilenet_block())
    assert "dpw_W" in " ".join(gradient_program(models.mobilenet_block(), "mse").outputs)
