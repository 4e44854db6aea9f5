"""The main example: a convolutional layer written as a spec, compiled, shown and checked.

Run: python examples/conv_layer.py
"""
from pathlib import Path

import numpy as np

import tensorc as tc

spec = (Path(__file__).parent / "conv_layer.tc").read_text()
prog = tc.compile(spec)

rng = np.random.default_rng(0)
x = rng.standard_normal((8, 3, 28, 28), dtype=np.float32)
w = rng.standard_normal((16, 3, 5, 5), dtype=np.float32) * 0.1
b = rng.standard_normal(16, dtype=np.float32)
out = prog(X=x, W=w, B=b)

print("== spec, as tensorc reads it back ==")
print(prog.spec)
print("== emitted NumPy module ==")
print(prog.source)
print("== plan ==")
print(prog.plan)


def reference(x, w, b):
    """Convolution by explicit loops over the kernel, then pooling by reshaping."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    z = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for a in range(kh):
        for bb in range(kw):
            z += np.einsum("nchw,oc->nohw", x[:, :, a:a + h - kh + 1, bb:bb + wd - kw + 1],
                           w[:, :, a, bb])
    z += b[None, :, None, None]
    r = np.maximum(z, 0)
    return z, r.reshape(n, o, r.shape[2] // 2, 2, r.shape[3] // 2, 2).max(axis=(3, 5))


z, p = reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
np.testing.assert_allclose(out["Z"], z, rtol=1e-4, atol=1e-4)
np.testing.assert_allclose(out["P"], p, rtol=1e-4, atol=1e-4)
print(f"== check: Z {out['Z'].shape} {out['Z'].dtype} and P {out['P'].shape} match the "
      "loop reference ==")
