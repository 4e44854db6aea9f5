"""A convolution's gradient on a two-worker Dask cluster, spatially and batch chunked.

    python examples/scale_out.py
"""
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import tensorc as tc

SPEC = """
Z[n, o, i, j] = relu(X[n, c, i + a - 1, j + b - 1] * W[o, c, a, b])
L = mean(Z[n, o, i, j]**2)
"""


def main():
    x = da.random.default_rng(0).standard_normal((64, 3, 32, 32), chunks=(16, 3, 16, 16))
    w = np.random.default_rng(1).standard_normal((8, 3, 3, 3))
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster):
        grads = tc.grad(SPEC, of="L", wrt="W", backend="dask")(X=x, W=w)
        lazy = tc.compile(SPEC, backend="dask").lazy(X=x, W=w)["Z"]     # not computed
    reference = tc.grad(SPEC, of="L", wrt="W")(X=x.compute(), W=w)["dW"]
    print("dW", grads["dW"].shape, "matches NumPy:", np.allclose(grads["dW"], reference))
    print("Z chunks", lazy.chunks)


if __name__ == "__main__":
    main()
