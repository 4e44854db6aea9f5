"""The networks the lecture notes walk through, each one spec program.

Every function returns a :class:`~tensorc.nn.layers.Sequential` with its input shape set,
so ``model.spec``, ``model.summary()``, ``model.init(rng)`` and ``model(params, x)`` work.

>>> m = lenet5()
>>> m.summary().total_params
61706
"""
from __future__ import annotations

from collections.abc import Callable

from .layers import (
    AvgPool2d, BatchNorm2d, Concat, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear,
    LocalResponseNorm, MaxPool2d, ReLU, Residual, ScaledTanh, Sequential,
)


def lenet5(classes: int = 10) -> Sequential:
    """LeNet-5 on 1x32x32: C1 conv5-6, S2 avg-pool 2, C3 conv5-16 (all 6 -> 16 maps
    connected), S4, C5 conv5-120, F6 84, output; scaled tanh ``1.7159 tanh(2x/3)``.
    Subsampling has no trainable coefficients and the output is a dense layer, not RBFs.

    >>> [r.params for r in lenet5().summary() if r.params]
    [156, 2416, 48120, 10164, 850]
    """
    return Sequential(
        ("c1", Conv2d(1, 6, 5)), ("tanh1", ScaledTanh()), ("s2", AvgPool2d(2)),
        ("c3", Conv2d(6, 16, 5)), ("tanh3", ScaledTanh()), ("s4", AvgPool2d(2)),
        ("c5", Conv2d(16, 120, 5)), ("tanh5", ScaledTanh()), ("flat", Flatten()),
        ("f6", Linear(120, 84)), ("tanh6", ScaledTanh()), ("out", Linear(84, classes)),
        input_shape=(1, 32, 32))


def two_conv(input_shape: tuple[int, int, int] = (1, 28, 28), classes: int = 10) -> Sequential:
    """The two-conv MNIST/CIFAR-10 network: conv5-32, pool2, conv5-64, pool2, fc100, fc10
    (valid convolutions, ReLU, max-pooling). ``input_shape=(3, 32, 32)`` for CIFAR-10.

    >>> two_conv().summary().total_params, two_conv((3, 32, 32)).summary().total_params
    (155606, 214806)
    """
    c, h, w = input_shape
    side = lambda n: ((n - 4) // 2 - 4) // 2  # noqa: E731
    return Sequential(
        ("conv1", Conv2d(c, 32, 5)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
        ("conv2", Conv2d(32, 64, 5)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
        ("flat", Flatten()), ("fc1", Linear(64 * side(h) * side(w), 100)), ("relu3", ReLU()),
        ("fc2", Linear(100, classes)), input_shape=input_shape)


def alexnet(groups: int = 2, classes: int = 1000) -> Sequential:
    """AlexNet as the single-tower CaffeNet on 3x227x227 (pool before LRN); ``groups=2``
    keeps the two-GPU split of conv2/4/5 (60,965,224 parameters), ``groups=1`` drops it
    (62,378,344).

    >>> alexnet().summary()["conv1"].shape
    (96, 55, 55)
    """
    return Sequential(
        ("conv1", Conv2d(3, 96, 11, stride=4)), ("relu1", ReLU()),
        ("pool1", MaxPool2d(3, 2)), ("norm1", LocalResponseNorm(5)),
        ("conv2", Conv2d(96, 256, 5, padding=2, groups=groups)), ("relu2", ReLU()),
        ("pool2", MaxPool2d(3, 2)), ("norm2", LocalResponseNorm(5)),
        ("conv3", Conv2d(256, 384, 3, padding=1)), ("relu3", ReLU()),
        ("conv4", Conv2d(384, 384, 3, padding=1, groups=groups)), ("relu4", ReLU()),
        ("conv5", Conv2d(384, 256, 3, padding=1, groups=groups)), ("relu5", ReLU()),
        ("pool5", MaxPool2d(3, 2)), ("flat", Flatten()),
        ("fc6", Linear(256 * 6 * 6, 4096)), ("relu6", ReLU()), ("drop6", Dropout(0.5)),
        ("fc7", Linear(4096, 4096)), ("relu7", ReLU()), ("drop7", Dropout(0.5)),
        ("fc8", Linear(4096, classes)), input_shape=(3, 227, 227))


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
         512, 512, 512, "M")


def vgg16(classes: int = 1000) -> Sequential:
    """VGG-16 (configuration D) on 3x224x224: 13 3x3 convolutions, 5 max-pools, 3 dense.

    >>> vgg16().summary().total_params
    138357544
    """
    layers, c, block, k = [], 3, 1, 1
    for v in VGG16:
        if v == "M":
            layers.append((f"pool{block}", MaxPool2d(2)))
            block, k = block + 1, 1
            continue
        layers += [(f"conv{block}x{k}", Conv2d(c, v, 3, padding=1)),
                   (f"relu{block}x{k}", ReLU())]
        c, k = v, k + 1
    layers += [("flat", Flatten()), ("fc6", Linear(512 * 7 * 7, 4096)), ("relu6", ReLU()),
               ("drop6", Dropout(0.5)), ("fc7", Linear(4096, 4096)), ("relu7", ReLU()),
               ("drop7", Dropout(0.5)), ("fc8", Linear(4096, classes))]
    return Sequential(*layers, input_shape=(3, 224, 224))


def _mlpconv(k: int, c_in: int, widths: tuple[int, int, int], kernel: int,
             padding: int) -> list[tuple[str, object]]:
    """One NiN block: a kxk convolution and two 1x1 convolutions, each with ReLU."""
    out, c = [], c_in
    for j, (w, r) in enumerate(zip(widths, (kernel, 1, 1))):
        name = f"conv{k}" if j == 0 else f"cccp{2 * k - 2 + j}"
        out += [(name, Conv2d(c, w, r, padding=padding if j == 0 else 0)),
                (f"relu{k}x{j + 1}", ReLU())]
        c = w
    return out


def nin(classes: int = 10) -> Sequential:
    """Network in Network for CIFAR-10 (3x32x32): three mlpconv blocks (a conv and two
    1x1 "cccp" convolutions) and global average pooling instead of dense layers.

    >>> nin().summary()[-1].shape
    (10,)
    """
    return Sequential(
        *_mlpconv(1, 3, (192, 160, 96), 5, 2), ("pool1", MaxPool2d(3, 2, padding=1)),
        ("drop1", Dropout(0.5)),
        *_mlpconv(2, 96, (192, 192, 192), 5, 2), ("pool2", AvgPool2d(3, 2, padding=1)),
        ("drop2", Dropout(0.5)),
        *_mlpconv(3, 192, (192, 192, classes), 3, 1), ("gap", GlobalAvgPool()),
        input_shape=(3, 32, 32))


def inception(in_channels: int = 192, c1: int = 64, c3r: int = 96, c3: int = 128,
              c5r: int = 16, c5: int = 32, pool_proj: int = 32) -> Concat:
    """A GoogLeNet inception module: 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and 3x3 max-pool -> 1x1
    branches (each convolution with ReLU), concatenated along channels. The defaults
    are inception (3a).

    >>> inception().output_shape((192, 28, 28))
    (256, 28, 28)
    """
    def conv(c_in: int, c_out: int, r: int) -> list[tuple[str, object]]:
        return [(f"conv{r}", Conv2d(c_in, c_out, r, padding=r // 2)), (f"relu{r}", ReLU())]

    return Concat(
        Sequential(*conv(in_channels, c1, 1)),
        Sequential(("reduce", Conv2d(in_channels, c3r, 1)), ("relu", ReLU()), *conv(c3r, c3, 3)),
        Sequential(("reduce", Conv2d(in_channels, c5r, 1)), ("relu", ReLU()), *conv(c5r, c5, 5)),
        Sequential(("pool", MaxPool2d(3, 1, padding=1)), *conv(in_channels, pool_proj, 1)))


def googlenet_inception3a() -> Sequential:
    """Inception (3a) of GoogLeNet on its 192x28x28 input, as a model.

    >>> googlenet_inception3a().summary().total_params
    163696
    """
    return Sequential(("inc3a", inception()), input_shape=(192, 28, 28))


def basic_block(in_channels: int, out_channels: int, stride: int = 1) -> Sequential:
    """ResNet basic block: ``relu(bn(conv3(relu(bn(conv3(x))))) + shortcut(x))``, the
    shortcut a strided 1x1 convolution with batch norm when the shape changes.

    >>> basic_block(16, 32, 2).output_shape((16, 8, 8))
    (32, 4, 4)
    """
    body = Sequential(
        ("conv1", Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)),
        ("bn1", BatchNorm2d(out_channels)), ("relu1", ReLU()),
        ("conv2", Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)),
        ("bn2", BatchNorm2d(out_channels)))
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = Sequential(("conv", Conv2d(in_channels, out_channels, 1, stride, bias=False)),
                              ("bn", BatchNorm2d(out_channels)))
    return Sequential(("res", Residual(body, shortcut)), ("relu", ReLU()))


def resnet_small(widths: tuple[int, ...] = (16, 32, 64), classes: int = 10,
                 input_shape: tuple[int, int, int] = (3, 32, 32)) -> Sequential:
    """A small CIFAR ResNet: conv3-16 + BN + ReLU, one basic block per width (stride 2
    from the second on), global average pooling, a dense classifier.

    >>> resnet_small().summary().total_params
    78042
    """
    layers: list = [("conv1", Conv2d(input_shape[0], widths[0], 3, padding=1, bias=False)),
                    ("bn1", BatchNorm2d(widths[0])), ("relu1", ReLU())]
    c = widths[0]
    for k, w in enumerate(widths, 1):
        layers.append((f"block{k}", basic_block(c, w, 1 if k == 1 else 2)))
        c = w
    layers += [("gap", GlobalAvgPool()), ("fc", Linear(c, classes))]
    return Sequential(*layers, input_shape=input_shape)


def mobilenet_block(in_channels: int = 32, out_channels: int = 64, stride: int = 1,
                    size: int = 112) -> Sequential:
    """MobileNet depthwise-separable block: 3x3 depthwise conv + BN + ReLU, then 1x1
    pointwise conv + BN + ReLU (MobileNet v1's first such block by default).

    >>> [r.params for r in mobilenet_block().summary() if r.kind == "Conv2d"]
    [288, 2048]
    """
    return Sequential(
        ("dw", Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False)),
        ("bn1", BatchNorm2d(in_channels)), ("relu1", ReLU()),
        ("pw", Conv2d(in_channels, out_channels, 1, bias=False)),
        ("bn2", BatchNorm2d(out_channels)), ("relu2", ReLU()),
        input_shape=(in_channels, size, size))


MODELS: dict[str, Callable[[], Sequential]] = {
    "lenet5": lenet5,
    "two_conv_mnist": two_conv,
    "two_conv_cifar10": lambda: two_conv((3, 32, 32)),
    "alexnet": alexnet,
    "vgg16": vgg16,
    "nin": nin,
    "inception3a": googlenet_inception3a,
    "resnet_block": lambda: Sequential(("block", basic_block(64, 64)), input_shape=(64, 56, 56)),
    "resnet_small": resnet_small,
    "mobilenet_block": mobilenet_block,
}


def get(name: str) -> Sequential:
    """A ready model by name (the keys of :data:`MODELS`).

    >>> get("lenet5").input_shape
    (1, 32, 32)
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid options are {', '.join(MODELS)}")
    return MODELS[name]()
