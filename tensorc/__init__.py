"""tensorc: a symbolic tensor-contraction compiler.

>>> import numpy as np, tensorc as tc
>>> tc.compile("y[i] = x[i + a] * f[a]")(x=np.arange(4.0), f=np.ones(2))["y"].tolist()
[1.0, 3.0, 5.0]
"""
from .compiler import compile
from .derive import grad, hessian, jacobian
from .errors import InputError, ShapeError, SpecError, TensorcError
from .runtime.program import Program

__all__ = ["compile", "grad", "jacobian", "hessian", "Program", "TensorcError", "SpecError",
           "ShapeError", "InputError"]
