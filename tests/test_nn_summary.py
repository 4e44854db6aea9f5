"""Per-layer counts (parameters, operations, output volume) pinned to hand-computed values."""
from __future__ import annotations

import pytest

from tensorc.nn import layers as L
from tensorc.nn import models
from tensorc.nn.summary import out_size

# (name, params, ops, output shape): params = (r^2 k + 1) k', ops = params * w' h' for a
# convolution, ops = params for a dense layer, window * output volume for pooling
LENET5 = [
    ("c1", 156, 156 * 28 * 28, (6, 28, 28)),
    ("tanh1", 0, 0, (6, 28, 28)),
    ("s2", 0, 4 * 6 * 14 * 14, (6, 14, 14)),
    ("c3", 2416, 2416 * 10 * 10, (16, 10, 10)),
    ("tanh3", 0, 0, (16, 10, 10)),
    ("s4", 0, 4 * 16 * 5 * 5, (16, 5, 5)),
    ("c5", 48120, 48120, (120, 1, 1)),
    ("tanh5", 0, 0, (120, 1, 1)),
    ("flat", 0, 0, (120,)),
    ("f6", 10164, 10164, (84,)),
    ("tanh6", 0, 0, (84,)),
    ("out", 850, 850, (10,)),
]

TWO_CONV_MNIST = [
    ("conv1", 832, 832 * 24 * 24, (32, 24, 24)),
    ("relu1", 0, 0, (32, 24, 24)),
    ("pool1", 0, 4 * 32 * 12 * 12, (32, 12, 12)),
    ("conv2", 51264, 51264 * 8 * 8, (64, 8, 8)),
    ("relu2", 0, 0, (64, 8, 8)),
    ("pool2", 0, 4 * 64 * 4 * 4, (64, 4, 4)),
    ("flat", 0, 0, (1024,)),
    ("fc1", 102500, 102500, (100,)),
    ("relu3", 0, 0, (100,)),
    ("fc2", 1010, 1010, (10,)),
]


def rows(summary):
    return [(r.name, r.params, r.ops, r.shape) for r in summary]


def test_lenet5_rows():
    s = models.lenet5().summary()
    assert rows(s) == LENET5
    assert (s.total_params, s.total_ops) == (61706, 429342)


def test_two_conv_mnist_rows():
    s = models.two_conv().summary()
    assert rows(s) == TWO_CONV_MNIST
    assert (s.total_params, s.total_ops) == (155606, 3886166)


def test_two_conv_cifar10_differs_only_where_the_input_does():
    s = models.two_conv((3, 32, 32)).summary()
    assert s["conv1"].params == (25 * 3 + 1) * 32
    assert s["conv1"].ops == (25 * 3 + 1) * 32 * 28 * 28
    assert s["flat"].shape == (64 * 5 * 5,)
    assert s["fc1"].params == (1600 + 1) * 100


def test_alexnet_rows():
    s = models.alexnet().summary()
    assert s["conv1"].ops == (11 * 11 * 3 + 1) * 96 * 55 * 55 == 105_705_600
    assert s["pool1"].ops == 9 * 96 * 27 * 27
    assert s["conv2"].params == (5 * 5 * 48 + 1) * 256      # groups=2: k = 96 / 2
    assert s["norm1"].ops == 0 and s["norm1"].shape == (96, 27, 27)
    assert s["pool5"].shape == (256, 6, 6)
    assert s.total_params == 60_965_224


def test_composite_rows_are_named_by_path():
    s = models.resnet_small(widths=(4, 8), input_shape=(3, 8, 8)).summary()
    names = [r.name for r in s]
    assert names[:5] == ["conv1", "bn1", "relu1", "block1.res.conv1", "block1.res.bn1"]
    assert "block2.res.short.conv" in names and "block2.res.add" in names
    assert s["block2.res.short.conv"].params == 4 * 8 and s["bn1"].params == 2 * 4
    inc = models.googlenet_inception3a().summary()
    assert inc["inc3a.b2.conv3"].params == (9 * 96 + 1) * 128
    assert inc["inc3a.b4.pool"].ops == 9 * 192 * 28 * 28
    assert inc[-1].name == "inc3a.concat" and inc[-1].shape == (256, 28, 28)


@pytest.mark.parametrize("layer, shape, params, ops, out", [
    (L.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2), (4, 9, 9),
     (9 * 2 + 1) * 6, (9 * 2 + 1) * 6 * 16, (6, 4, 4)),
    (L.Conv2d(4, 6, 1, bias=False), (4, 5, 5), 24, 24 * 25, (6, 5, 5)),
    (L.Conv1d(3, 5, 4, stride=3), (3, 20), (4 * 3 + 1) * 5, 13 * 5 * 6, (5, 6)),
    (L.Conv3d(2, 3, 3, padding=1), (2, 4, 4, 4), 55 * 3, 165 * 64, (3, 4, 4, 4)),
    (L.Linear(120, 84), (120,), 10164, 10164, (84,)),
    (L.MaxPool2d(3, 2), (8, 13, 13), 0, 9 * 8 * 6 * 6, (8, 6, 6)),
    (L.SumPool1d(2), (3, 9), 0, 2 * 3 * 4, (3, 4)),
    (L.GlobalAvgPool(), (10, 8, 8), 0, 640, (10,)),
    (L.Maxout(2), (8, 3, 3), 0, 72, (4, 3, 3)),
    (L.BatchNorm2d(8), (8, 3, 3), 16, 0, (8, 3, 3)),
    (L.LayerNorm((3, 3)), (8, 3, 3), 18, 0, (8, 3, 3)),
    (L.GELU(), (8, 3, 3), 0, 0, (8, 3, 3)),
])
def test_layer_counts(layer, shape, params, ops, out):
    (row,) = layer.rows("x", shape)
    assert (row.params, row.ops, row.shape) == (params, ops, out)


def test_output_size_formula():
    assert out_size(32, 5) == 28
    assert out_size(227, 11, stride=4) == 55
    assert out_size(7, 3, stride=2, padding=1) == 4
    assert out_size(10, 3, stride=2, padding=2, dilation=2) == 5    # r_eff = 5
    assert out_size(8, 2, stride=3) == 3                             # floor


def test_summary_table_text():
    text = str(models.lenet5().summary())
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "kind", "output", "params", "ops"]
    assert lines[2].split() == ["c1", "Conv2d", "6x28x28", "156", "122,304"]
    assert lines[-1].split() == ["total", "input", "1x32x32", "61,706", "429,342"]
    assert len(lines) == 12 + 4


def test_summary_lookup_and_errors():
    s = models.lenet5().summary()
    assert s["f6"] is s[9] and len(s) == 12
    with pytest.raises(KeyError):
        s["f7"]
    with pytest.raises(ValueError, match="no input shape"):
        L.Sequential(L.ReLU()).summary()


def test_cli_summary(capsys):
    from tensorc.cli import main
    assert main(["summary", "lenet5"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[-2:] == ["61,706", "429,342"]
    assert main(["summary", "resnet9000"]) == 1
    assert "unknown model 'resnet9000'; valid options are lenet5" in capsys.readouterr().err


def test_models_example_prints_summaries(capsys):
    import runpy
    from pathlib import Path
    example = Path(__file__).parent.parent / "examples" / "models.py"
    runpy.run_path(str(example), run_name="models_example")["main"](["vgg16"])
    out = capsys.readouterr().out
    assert "== vgg16 ==" in out and "138,357,544" in out
    assert "forward of 4 images -> (4, 10)" in out
