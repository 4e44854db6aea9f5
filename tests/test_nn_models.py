"""Ready models and losses: parameter layouts and forward passes against torch modules."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tensorc as tc
from tensorc.nn import layers as L
from tensorc.nn import losses, models
from reference import as_torch as t, assert_close

RNG = np.random.default_rng(7)

close = functools.partial(assert_close, rtol=1e-9, atol=1e-9)


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class TorchResidual(nn.Module):
    def __init__(self, body, shortcut):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return self.body(x) + (self.shortcut(x) if self.shortcut is not None else x)


class TorchConcat(nn.Module):
    def __init__(self, branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


def to_torch(layer):
    """The torch module a tensorc.nn layer stands for (zero-boundary convolutions)."""
    if isinstance(layer, L.Sequential):
        return nn.Sequential(*(to_torch(child) for _, child in layer.layers))
    if isinstance(layer, L.Residual):
        short = to_torch(layer.shortcut) if layer.shortcut is not None else None
        return TorchResidual(to_torch(layer.body), short)
    if isinstance(layer, L.Concat):
        return TorchConcat([to_torch(b) for b in layer.branches])
    if isinstance(layer, L.Conv2d):
        assert layer.boundary == "zero"
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                         layer.padding, layer.dilation, layer.groups, layer.bias)
    if isinstance(layer, L.Linear):
        return nn.Linear(layer.in_features, layer.out_features, layer.bias)
    if isinstance(layer, (L.MaxPool2d, L.AvgPool2d)):
        cls = nn.MaxPool2d if isinstance(layer, L.MaxPool2d) else nn.AvgPool2d
        return cls(layer.kernel_size, layer.stride, layer.padding)
    if isinstance(layer, L.BatchNorm2d):
        return nn.BatchNorm2d(layer.num_features, layer.eps, layer.momentum)
    if isinstance(layer, L.LocalResponseNorm):
        return nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k)
    if isinstance(layer, L.Dropout):
        return nn.Dropout(layer.p)
    if isinstance(layer, L.GlobalAvgPool):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    simple = {L.ReLU: nn.ReLU, L.Flatten: nn.Flatten}
    if type(layer) in simple:
        return simple[type(layer)]()
    if isinstance(layer, L.ScaledTanh):
        return Lambda(lambda z: 1.7159 * torch.tanh(2 * z / 3))
    raise TypeError(type(layer))


def torch_copy(model, params):
    """A float64 torch module holding the same parameters, in the same order."""
    module = to_torch(model).double()
    ours = [params[n] for n in model.param_names]
    theirs = list(module.parameters())
    assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
    with torch.no_grad():
        for a, b in zip(theirs, ours):
            a.copy_(t(b))
    return module


# ------------------------------------------------------------------ parameter layouts

TOTALS = {"lenet5": 61_706, "two_conv_mnist": 155_606, "two_conv_cifar10": 214_806,
          "alexnet": 60_965_224, "vgg16": 138_357_544, "inception3a": 163_696,
          "resnet_small": 78_042, "mobilenet_block": 2_528}


@pytest.mark.parametrize("name", list(models.MODELS))
def test_parameter_layout_matches_torch(name):
    model = models.get(name)
    with torch.device("meta"):
        module = to_torch(model)
        out = module(torch.empty(1, *model.input_shape))
    shapes = [tuple(p.shape) for p in module.parameters()]
    assert list(model.param_shapes().values()) == shapes
    summary = model.summary()
    assert summary.total_params == sum(p.numel() for p in module.parameters())
    assert tuple(out.shape[1:]) == summary[-1].shape == model.output_shape(model.input_shape)
    if name in TOTALS:
        assert summary.total_params == TOTALS[name]


def test_alexnet_variants_and_vgg16_figures():
    assert models.alexnet(groups=1).summary().total_params == 62_378_344
    vgg = models.vgg16().summary()
    assert vgg["fc6"].params == (25088 + 1) * 4096
    assert vgg["conv1x1"].ops == (27 + 1) * 64 * 224 * 224
    assert vgg["pool5"].shape == (512, 7, 7)


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "nin"])
def test_large_model_programs_compile_and_bind(name):
    model = models.get(name).eval()
    prog = tc.compile(model.spec)
    assert model.output_name in prog.outputs
    shapes = {n: (1, *model.input_shape) if n == model.input_name else s
              for n, s in model.param_shapes().items()}
    shapes[model.input_name] = (1, *model.input_shape)
    for layer, full, s in model.walk("", model.input_shape):
        shapes.update({f"{full}_{k}": v.shape for k, v in layer.buffers(s).items()})
    prog.plan_for(**shapes)     # raises ShapeError if the program disagrees with the shapes


# ------------------------------------------------------------------ forward passes

@pytest.mark.parametrize("model", [models.lenet5(), models.two_conv(),
                                   models.two_conv((3, 32, 32), classes=5)])
def test_small_model_forward_matches_torch(model):
    params = model.init(0, dtype=np.float64)
    params = {k: v + 0.1 * RNG.standard_normal(v.shape) for k, v in params.items()}
    x = RNG.standard_normal((2, *model.input_shape))
    close(model(params, x), torch_copy(model, params)(t(x)))


def test_model_spec_is_one_program():
    model = models.lenet5()
    prog = tc.compile(model.spec)
    assert set(prog.inputs) == {"X", *model.param_names}
    assert prog.outputs[-1] == "Y" and "c1" in prog.outputs
    assert model.spec.count("\n") + 1 == 2 * 12     # a comment and a statement per layer


def test_resnet_small_train_then_eval_matches_torch():
    model = models.resnet_small(widths=(4, 8), input_shape=(3, 8, 8))
    params = model.init(1, dtype=np.float64)
    params = {k: v + 0.1 * RNG.standard_normal(v.shape) for k, v in params.items()}
    module = torch_copy(model, params)
    for _ in range(2):
        x = RNG.standard_normal((3, 3, 8, 8))
        close(model(params, x), module(t(x)))
    model.eval()
    module.eval()
    x = RNG.standard_normal((2, 3, 8, 8))
    close(model(params, x), module(t(x)))
    assert "block2_res_short_bn_mean" in model.state
    model.train()


def test_inception_and_mobilenet_blocks_match_torch():
    inc = L.Sequential(("inc", models.inception(6, 2, 3, 4, 2, 3, 2)), input_shape=(6, 7, 7))
    mob = models.mobilenet_block(4, 6, stride=2, size=7)
    for model in (inc, mob):
        params = model.init(2, dtype=np.float64)
        params = {k: v + 0.1 * RNG.standard_normal(v.shape) for k, v in params.items()}
        x = RNG.standard_normal((2, *model.input_shape))
        close(model(params, x), torch_copy(model, params)(t(x)))


# ------------------------------------------------------------------ losses

def test_cross_entropy_spec_matches_torch():
    model = L.Sequential(L.Linear(5, 4), input_shape=(5,))
    params = model.init(3, dtype=np.float64)
    x, labels = RNG.standard_normal((6, 5)), RNG.integers(0, 4, 6)
    prog = tc.compile(losses.with_loss(model, "cross_entropy"))
    out = prog(X=x, T=losses.one_hot(labels, 4, np.float64), **params)
    logits = F.linear(t(x), t(params["fc1_W"]), t(params["fc1_B"]))
    close(out["L"], F.cross_entropy(logits, t(labels)))
    assert out["L"].shape == ()


def test_cross_entropy_is_stable_for_huge_logits():
    y = 1e4 * RNG.standard_normal((4, 3))
    labels = RNG.integers(0, 3, 4)
    out = tc.compile(losses.cross_entropy())(Y=y, T=losses.one_hot(labels, 3, np.float64))
    assert np.isfinite(out["L"])
    close(out["L"], F.cross_entropy(t(y), t(labels)))


@pytest.mark.parametrize("rank", [1, 3])
def test_mse_matches_torch(rank):
    shape = (3, 4) if rank == 1 else (2, 3, 4, 5)
    y, target = RNG.standard_normal(shape), RNG.standard_normal(shape)
    out = tc.compile(losses.mse(rank=rank))(Y=y, T=target)
    close(out["L"], F.mse_loss(t(y), t(target)))


def test_with_loss_rejects_unknown_loss():
    with pytest.raises(ValueError, match="valid options are cross_entropy, mse"):
        losses.with_loss(models.lenet5(), "hinge")
