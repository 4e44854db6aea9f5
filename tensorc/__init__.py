"""tensorc: a symbolic tensor-contraction compiler."""
from .errors import InputError, ShapeError, SpecError, TensorcError

__all__ = ["TensorcError", "SpecError", "ShapeError", "InputError"]
