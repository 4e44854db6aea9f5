"""The networks of the lecture notes, counted layer by layer as the notes count them.

Each model is one spec program; this prints, per network, the table of output volume,
parameters ``(r^2 k + 1) k'`` and operations ``(r^2 k + 1) k' w' h'`` per layer, then the
LeNet-5 program itself and a forward pass of it.

Run: python examples/models.py [name ...]      (names: see tensorc.nn.models.MODELS)
"""
import sys

import numpy as np

from tensorc.nn import models


def main(names: list[str]) -> None:
    for name in names or list(models.MODELS):
        model = models.get(name)
        print(f"== {name} ==")
        print(model.summary())
        print()
    lenet = models.lenet5()
    print("== LeNet-5 as one spec program ==")
    print(lenet.spec)
    params = lenet.init(np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((4, 1, 32, 32)).astype(np.float32)
    print("forward of 4 images ->", lenet(params, x).shape)


if __name__ == "__main__":
    main(sys.argv[1:])
