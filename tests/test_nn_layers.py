"""Every tensorc.nn layer's spec, compiled and run, against torch (float64)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tensorc as tc
from tensorc.nn import layers as L
from reference import as_torch as t, assert_close as close

RNG = np.random.default_rng(2024)


def rand(*shape):
    return RNG.standard_normal(shape)


def run(layer, x, name="L1", **extra):
    """Compile the layer's spec for x's shape, draw its parameters, run; (Y, params)."""
    params = {k: rand(*s) for k, s in layer.param_shapes(x.shape[1:]).items()}
    prog = tc.compile(layer.spec_for(x.shape[1:], name=name))
    feed = {"X": x, **{f"{name}_{k}": v for k, v in params.items()}, **extra}
    out = prog(**feed)
    assert out["Y"].shape[1:] == layer.output_shape(x.shape[1:])
    return out["Y"], params


# ------------------------------------------------------------------ dense and convolution

def test_linear():
    x = rand(3, 5)
    y, p = run(L.Linear(5, 4), x)
    close(y, F.linear(t(x), t(p["W"]), t(p["B"])))
    y, p = run(L.Linear(5, 2, bias=False), x)
    close(y, F.linear(t(x), t(p["W"])))


CONV = {1: (L.Conv1d, F.conv1d), 2: (L.Conv2d, F.conv2d), 3: (L.Conv3d, F.conv3d)}


@pytest.mark.parametrize("d, size, cfg", [
    (1, (9,), dict(kernel_size=3)),
    (1, (10,), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    (1, (8,), dict(kernel_size=2, groups=2, bias=False)),
    (2, (7, 6), dict(kernel_size=3)),
    (2, (7, 8), dict(kernel_size=3, stride=2, padding=1)),
    (2, (9, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 3))),
    (2, (6, 6), dict(kernel_size=3, padding=1, groups=2)),
    (2, (6, 5), dict(kernel_size=1)),
    (3, (4, 5, 6), dict(kernel_size=2)),
    (3, (5, 5, 5), dict(kernel_size=3, stride=2, padding=1, groups=2)),
])
def test_conv_against_torch(d, size, cfg):
    layer_cls, conv = CONV[d]
    x = rand(2, 4, *size)
    layer = layer_cls(4, 6, **cfg)
    y, p = run(layer, x)
    torch_cfg = {k: v for k, v in cfg.items() if k not in ("kernel_size", "bias")}
    close(y, conv(t(x), t(p["W"]), t(p["B"]) if "B" in p else None, **torch_cfg))


def test_depthwise_conv_uses_one_filter_per_channel():
    x = rand(2, 3, 6, 6)
    layer = L.Conv2d(3, 3, 3, padding=1, groups=3)
    assert "W[c, 0, a, b]" in layer.spec_for((3, 6, 6), name="dw")
    y, p = run(layer, x)
    close(y, F.conv2d(t(x), t(p["W"]), t(p["B"]), padding=1, groups=3))


def test_depthwise_channel_multiplier():
    x = rand(1, 2, 5, 5)
    y, p = run(L.Conv2d(2, 6, 3, groups=2), x)
    close(y, F.conv2d(t(x), t(p["W"]), t(p["B"]), groups=2))


TORCH_MODE = {"zero": "zeros", "cyclic": "circular", "hold": "replicate"}
NP_MODE = {"zero": "constant", "cyclic": "wrap", "reflect": "symmetric", "hold": "edge"}


@pytest.mark.parametrize("boundary", ["zero", "cyclic", "reflect", "hold"])
@pytest.mark.parametrize("cfg", [dict(padding=1), dict(padding=2, stride=2),
                                 dict(padding=2, dilation=2, groups=2)])
def test_conv2d_boundary_modes(boundary, cfg):
    x = rand(2, 4, 6, 5)
    y, p = run(L.Conv2d(4, 2, 3, boundary=boundary, **cfg), x)
    pad = cfg["padding"]
    rest = {k: v for k, v in cfg.items() if k != "padding"}
    # the spec's reflect repeats the edge (numpy "symmetric"), unlike torch's "reflect"
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=NP_MODE[boundary])
    close(y, F.conv2d(t(padded), t(p["W"]), t(p["B"]), **rest))
    if boundary in TORCH_MODE:
        module = torch.nn.Conv2d(4, 2, 3, padding_mode=TORCH_MODE[boundary], **cfg).double()
        with torch.no_grad():
            module.weight.copy_(t(p["W"]))
            module.bias.copy_(t(p["B"]))
        close(y, module(t(x)))


@pytest.mark.parametrize("boundary", ["cyclic", "reflect", "hold"])
def test_conv1d_boundary_modes(boundary):
    x = rand(2, 3, 7)
    y, p = run(L.Conv1d(3, 2, 5, padding=2, boundary=boundary), x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2)), mode=NP_MODE[boundary])
    close(y, F.conv1d(t(padded), t(p["W"]), t(p["B"])))


def test_conv_rejects_bad_arguments():
    with pytest.raises(ValueError, match="groups=3 must divide"):
        L.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="valid options are zero, cyclic, reflect, hold"):
        L.Conv2d(4, 6, 3, boundary="circular")
    with pytest.raises(ValueError, match="in_channels=4 needs an input shape"):
        L.Conv2d(4, 6, 3).output_shape((3, 8, 8))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        L.Conv2d(1, 1, 5).output_shape((1, 3, 8))


# ------------------------------------------------------------------ pooling

@pytest.mark.parametrize("cfg", [dict(kernel_size=2), dict(kernel_size=3, stride=2),
                                 dict(kernel_size=3, stride=2, padding=1),
                                 dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))])
def test_pool2d(cfg):
    x = rand(2, 3, 7, 8)
    close(run(L.MaxPool2d(**cfg), x)[0], F.max_pool2d(t(x), **cfg))
    close(run(L.AvgPool2d(**cfg), x)[0], F.avg_pool2d(t(x), **cfg))
    window = np.prod(L.MaxPool2d(**cfg).kernel_size)
    close(run(L.SumPool2d(**cfg), x)[0], window * F.avg_pool2d(t(x), **cfg))


@pytest.mark.parametrize("cfg", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)])
def test_pool1d(cfg):
    x = rand(2, 3, 9)
    close(run(L.MaxPool1d(**cfg), x)[0], F.max_pool1d(t(x), **cfg))
    close(run(L.AvgPool1d(**cfg), x)[0], F.avg_pool1d(t(x), **cfg))
    close(run(L.SumPool1d(**cfg), x)[0], cfg["kernel_size"] * F.avg_pool1d(t(x), **cfg))


def test_max_pool_padding_with_negative_inputs():
    x = -np.abs(rand(1, 2, 5, 5)) - 1
    close(run(L.MaxPool2d(3, 2, 1), x)[0], F.max_pool2d(t(x), 3, 2, 1))


def test_global_average_pooling():
    x = rand(2, 5, 4, 3)
    close(run(L.GlobalAvgPool(), x)[0], F.adaptive_avg_pool2d(t(x), 1).flatten(1))


def test_maxout():
    x = rand(2, 6, 3, 3)
    close(run(L.Maxout(3), x)[0], t(x).reshape(2, 2, 3, 3, 3).amax(2))
    with pytest.raises(ValueError, match="not a multiple of 4"):
        L.Maxout(4).output_shape((6, 3, 3))


def test_flatten():
    x = rand(2, 3, 4, 5)
    layer = L.Flatten()
    assert "20*c + 5*i + j" in layer.spec_for(x.shape[1:])
    close(run(layer, x)[0], t(x).flatten(1))
    close(run(layer, rand(2, 7))[0].shape, (2, 7))


# ------------------------------------------------------------------ elementwise

@pytest.mark.parametrize("layer, fn", [
    (L.ReLU(), F.relu), (L.LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2)),
    (L.SiLU(), F.silu), (L.GELU(), F.gelu), (L.Sigmoid(), torch.sigmoid),
    (L.Tanh(), torch.tanh), (L.ScaledTanh(), lambda z: 1.7159 * torch.tanh(2 * z / 3)),
    (L.GLU(), lambda z: F.glu(z, 1)), (L.Softmax(), lambda z: F.softmax(z, 1)),
])
@pytest.mark.parametrize("shape", [(3, 6), (2, 4, 3, 3)])
def test_elementwise_activations(layer, fn, shape):
    x = 3 * rand(*shape)
    close(run(layer, x)[0], fn(t(x)))


def test_softmax_stable_and_other_dims():
    x = 1e4 + 20 * rand(3, 5)
    y = run(L.Softmax(), x)[0]
    assert np.isfinite(y).all()
    close(y, F.softmax(t(x), 1))
    x = rand(2, 3, 4, 5)
    close(run(L.Softmax(dim=3), x)[0], F.softmax(t(x), 3))
    close(run(L.GLU(dim=2), x)[0], F.glu(t(x), 2))


# ------------------------------------------------------------------ normalisation

def test_layer_norm():
    x = rand(3, 4, 5)
    y, p = run(L.LayerNorm(5), x)
    close(y, F.layer_norm(t(x), (5,), t(p["G"]), t(p["B"])))
    y, p = run(L.LayerNorm((4, 5), eps=1e-3), x)
    close(y, F.layer_norm(t(x), (4, 5), t(p["G"]), t(p["B"]), eps=1e-3))
    y, _ = run(L.LayerNorm(5, elementwise_affine=False), x)
    close(y, F.layer_norm(t(x), (5,)))


def test_rms_norm():
    x = rand(3, 6)
    y, p = run(L.RMSNorm(6, eps=1e-5), x)
    close(y, F.rms_norm(t(x), (6,), t(p["G"]), eps=1e-5))
    x = rand(2, 3, 4)
    y, p = run(L.RMSNorm((3, 4)), x)
    close(y, F.rms_norm(t(x), (3, 4), t(p["G"]), eps=1e-6))


@pytest.mark.parametrize("layer_cls, shape", [(L.BatchNorm1d, (8, 3)), (L.BatchNorm1d, (4, 3, 5)),
                                              (L.BatchNorm2d, (4, 3, 5, 6))])
def test_batch_norm_training_and_eval(layer_cls, shape):
    x = 2 + 3 * rand(*shape)
    y, p = run(layer_cls(3), x)
    close(y, F.batch_norm(t(x), None, None, t(p["G"]), t(p["B"]), training=True))
    layer = layer_cls(3, eps=1e-3)
    layer.set_training(False)
    mean, var = rand(3), 1 + np.abs(rand(3))
    y, p = run(layer, x, L1_mean=mean, L1_var=var)
    close(y, F.batch_norm(t(x), t(mean), t(var), t(p["G"]), t(p["B"]), eps=1e-3))


def test_batch_norm_running_averages_match_torch():
    model = L.Sequential(L.Conv2d(2, 3, 3), L.BatchNorm2d(3, momentum=0.3), input_shape=(2, 5, 5))
    params = model.init(0, dtype=np.float64)
    params["bn1_G"], params["bn1_B"] = rand(3), rand(3)
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3, momentum=0.3))
    ref = ref.double()
    with torch.no_grad():
        for k, name in enumerate(["conv1_W", "conv1_B", "bn1_G", "bn1_B"]):
            list(ref.parameters())[k].copy_(t(params[name]))
    for _ in range(3):
        x = 1 + rand(4, 2, 5, 5)
        close(model(params, x), ref(t(x)))
    close(model.state["bn1_mean"], ref[1].running_mean)
    close(model.state["bn1_var"], ref[1].running_var)
    model.eval()
    ref.eval()
    x = rand(2, 2, 5, 5)
    close(model(params, x), ref(t(x)))


def test_local_response_norm():
    x = rand(2, 7, 3, 3)
    close(run(L.LocalResponseNorm(5), x)[0], F.local_response_norm(t(x), 5))
    close(run(L.LocalResponseNorm(4, alpha=0.1, beta=0.5, k=2.0), x)[0],
          F.local_response_norm(t(x), 4, alpha=0.1, beta=0.5, k=2.0))


def test_dropout_scales_the_mask_and_is_identity_in_eval():
    x = rand(4, 6)
    mask = (RNG.random((4, 6)) < 0.7).astype(float)
    close(run(L.Dropout(0.3), x, L1_mask=mask)[0], x * mask / 0.7)
    layer = L.Dropout(0.3)
    layer.set_training(False)
    close(run(layer, x)[0], x)
    model = L.Sequential(L.Dropout(0.5), input_shape=(1000,))
    y = model({}, np.ones((2, 1000)), rng=1)
    assert set(np.unique(y)) == {0.0, 2.0} and 0.4 < (y > 0).mean() < 0.6


# ------------------------------------------------------------------ composition

def test_residual_and_projection_shortcut():
    x = rand(2, 4, 6, 6)
    res = L.Residual(L.Sequential(L.Conv2d(4, 4, 3, padding=1), L.ReLU()))
    model = L.Sequential(res, input_shape=(4, 6, 6))
    params = model.init(1, dtype=np.float64)
    w, b = t(params["res1_conv1_W"]), t(params["res1_conv1_B"])
    close(model(params, x), F.relu(F.conv2d(t(x), w, b, padding=1)) + t(x))
    proj = L.Residual(L.Conv2d(4, 8, 3, stride=2, padding=1), shortcut=L.Conv2d(4, 8, 1, stride=2))
    model = L.Sequential(proj, input_shape=(4, 6, 6))
    params = model.init(2, dtype=np.float64)
    expect = (F.conv2d(t(x), t(params["res1_conv1_W"]), t(params["res1_conv1_B"]), stride=2,
                       padding=1)
              + F.conv2d(t(x), t(params["res1_short_W"]), t(params["res1_short_B"]), stride=2))
    close(model(params, x), expect)
    with pytest.raises(ValueError, match="pass a shortcut"):
        L.Residual(L.Conv2d(4, 8, 1)).output_shape((4, 6, 6))


def test_concat_along_channels():
    x = rand(2, 3, 5, 5)
    cat = L.Concat(L.Conv2d(3, 2, 1), L.Sequential(L.Conv2d(3, 4, 3, padding=1), L.ReLU()),
                   L.MaxPool2d(3, 1, 1))
    model = L.Sequential(cat, input_shape=(3, 5, 5))
    params = model.init(3, dtype=np.float64)
    p = {k: t(v) for k, v in params.items()}
    expect = torch.cat([F.conv2d(t(x), p["concat1_b1_W"], p["concat1_b1_B"]),
                        F.relu(F.conv2d(t(x), p["concat1_b2_conv1_W"], p["concat1_b2_conv1_B"],
                                        padding=1)),
                        F.max_pool2d(t(x), 3, 1, 1)], 1)
    close(model(params, x), expect)
    with pytest.raises(ValueError, match="disagree in spatial size"):
        L.Concat(L.Conv2d(3, 2, 1), L.Conv2d(3, 2, 3)).output_shape((3, 5, 5))


def test_user_defined_spec_layer_composes():
    scale = L.SpecLayer("{y}[n, c, i, j] = {x}[n, c, i, j] * {G}[c] + {B}[c]",
                        params={"G": (lambda s: (s[0],), "ones"), "B": ((3,), "zeros")},
                        kind="affine")
    square_pool = L.SpecLayer("{name}_Q[n, c, i, j] = {x}[n, c, i, j]**2\n"
                              "{y}[n, c] = sqrt(mean({name}_Q[n, c, i, j]))", kind="l2pool")
    model = L.Sequential(L.Conv2d(2, 3, 3), scale, square_pool, input_shape=(2, 6, 6))
    assert model.output_shape((2, 6, 6)) == (3,)   # inferred by running on zeros
    assert model.param_names == ["conv1_W", "conv1_B", "affine1_G", "affine1_B"]
    params = model.init(4, dtype=np.float64)
    params["affine1_B"] = rand(3)
    x = rand(2, 2, 6, 6)
    z = F.conv2d(t(x), t(params["conv1_W"]), t(params["conv1_B"])) + t(params["affine1_B"])[
        None, :, None, None]
    close(model(params, x), z.pow(2).mean((2, 3)).sqrt())


def test_layer_spec_needs_a_shape_and_names_are_checked():
    with pytest.raises(ValueError, match=r"call \.build\(input_shape\) first"):
        L.Conv2d(1, 2, 3).spec
    assert L.Conv2d(1, 2, 3).build((1, 4, 4)).spec.startswith("Y[n, o, i, j] = X[n, c, i + a")
    with pytest.raises(ValueError, match="not a spec identifier"):
        L.Sequential(("conv__1", L.ReLU()))
    with pytest.raises(ValueError, match="put a Flatten"):
        L.Sequential(L.Conv2d(1, 2, 3), L.Linear(8, 2), input_shape=(1, 4, 4))
