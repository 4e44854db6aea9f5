"""Optimizers over a dict of NumPy parameter arrays, with ``torch.optim``'s update rules.

``opt.step(params, grads)`` updates every array of ``params`` in place from the array of
the same key in ``grads``; state (moments, momentum buffers, step counts) is kept per key.
The formulas, the order of their terms and the defaults follow ``torch.optim.SGD``,
``RMSprop``, ``Adam`` and ``AdamW`` (PyTorch 2.x, single-tensor path): weight decay is
added to the gradient (``g + weight_decay * p``) except in :class:`AdamW`, which shrinks
the parameter first (``p *= 1 - lr * weight_decay``).

``state_dict()`` returns a flat ``dict[str, np.ndarray]`` (hyperparameters, the
optimizer's name and every state array) that :mod:`tensorc.nn.checkpoint` can store, and
``load_state_dict()`` takes it back.

>>> import numpy as np
>>> params = {"w": np.array([1.0, -2.0])}
>>> opt = SGD(lr=0.1, momentum=0.9)
>>> opt.step(params, {"w": np.array([0.5, 0.5])})
>>> params["w"]
array([ 0.95, -2.05])
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

Arrays = Mapping[str, np.ndarray]


class Optimizer:
    """Base class: per-key state, argument checks and (de)serialisation.

    Subclasses list their hyperparameters in ``_hyper`` and their per-key state arrays
    in ``_slots`` and implement :meth:`_update` for one parameter.
    """

    _hyper: tuple[str, ...] = ("lr",)
    _slots: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        if not lr >= 0.0:
            raise ValueError(f"learning rate must be non-negative, got {lr}")
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, params: Mapping[str, np.ndarray], grads: Arrays) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys).

        >>> import numpy as np
        >>> p = {"b": np.zeros(2)}
        >>> SGD(lr=0.5).step(p, {"b": np.ones(2)})
        >>> p["b"]
        array([-0.5, -0.5])
        """
        _check_keys(params, grads)
        for key, param in params.items():
            grad = np.asarray(grads[key])
            _check_pair(key, param, grad)
            slots = self.state.get(key)
            if slots is None:
                slots = self.state[key] = self._new_state(param)
            slots["step"] += 1
            self._update(param, grad, slots)

    def zero_state(self) -> None:
        """Forget every moment, buffer and step count (hyperparameters stay).

        >>> opt = Adam(); opt.zero_state(); opt.state
        {}
        """
        self.state.clear()

    def _new_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        state = {"step": np.zeros((), dtype=np.int64)}
        for slot in self._active_slots():
            state[slot] = np.zeros_like(param)
        return state

    def _active_slots(self) -> tuple[str, ...]:
        return self._slots

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Hyperparameters and state as a flat dict of arrays.

        Keys: ``"optimizer"`` (the class name), ``"hyper:NAME"`` for each
        hyperparameter and ``"SLOT:KEY"`` for each state array of parameter ``KEY``.

        >>> sorted(RMSProp(lr=0.1).state_dict())[:3]
        ['hyper:alpha', 'hyper:centered', 'hyper:eps']
        """
        out = {"optimizer": np.array(type(self).__name__)}
        for name in self._hyper:
            out[f"hyper:{name}"] = np.array(getattr(self, name))
        for key, slots in self.state.items():
            for slot, value in slots.items():
                out[f"{slot}:{key}"] = value.copy()
        return out

    def load_state_dict(self, state: Arrays) -> None:
        """Restore what :meth:`state_dict` returned (also after a checkpoint round trip).

        >>> a = Adam(lr=0.01); b = Adam(); b.load_state_dict(a.state_dict()); b.lr
        0.01
        """
        name = str(np.asarray(state.get("optimizer", "")))
        if name != type(self).__name__:
            raise ValueError(f"state dict is for optimizer {name!r}, not {type(self).__name__!r}")
        hyper = {k[6:]: v for k, v in state.items() if k.startswith("hyper:")}
        if set(hyper) != set(self._hyper):
            raise ValueError(f"state dict hyperparameters {sorted(hyper)} != {sorted(self._hyper)}")
        for name, value in hyper.items():
            setattr(self, name, _like(getattr(self, name), value))
        self.state = _parse_slots(state, ("step", *self._active_slots()))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyper)
        return f"{type(self).__name__}({args})"


def _check_keys(params: Arrays, grads: Arrays) -> None:
    if set(params) != set(grads):
        missing = sorted(set(params) - set(grads))
        extra = sorted(set(grads) - set(params))
        raise KeyError(f"grads do not match params: missing {missing}, unexpected {extra}")


def _check_pair(key: str, param: np.ndarray, grad: np.ndarray) -> None:
    if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
        raise TypeError(f"parameter {key!r} must be a floating-point NumPy array")
    if grad.shape != param.shape:
        raise ValueError(f"gradient of {key!r} has shape {grad.shape}, parameter {param.shape}")


def _like(current: object, value: np.ndarray) -> object:
    """Convert a stored 0-d/1-d array back to the type of the current hyperparameter."""
    value = np.asarray(value)
    if isinstance(current, bool):
        return bool(value)
    if isinstance(current, tuple):
        return tuple(float(v) for v in value)
    return float(value)


def _parse_slots(state: Arrays, slots: tuple[str, ...]) -> dict[str, dict[str, np.ndarray]]:
    parsed: dict[str, dict[str, np.ndarray]] = {}
    for flat, value in state.items():
        if flat == "optimizer" or flat.startswith("hyper:"):
            continue
        slot, sep, key = flat.partition(":")
        if not sep or slot not in slots:
            raise ValueError(f"unexpected entry {flat!r} in optimizer state dict")
        parsed.setdefault(key, {})[slot] = np.array(value)
    for key, got in parsed.items():
        if set(got) != set(slots):
            raise ValueError(f"state of {key!r} has {sorted(got)}, expected {sorted(slots)}")
    return parsed


class SGD(Optimizer):
    """Minibatch SGD with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    ``g = grad + weight_decay * p``; with momentum, ``buf = g`` on the first step and
    ``buf = momentum * buf + (1 - dampening) * g`` after; the step uses ``buf`` (or
    ``g + momentum * buf`` with Nesterov); ``p -= lr * step``.

    >>> import numpy as np
    >>> p = {"w": np.array([1.0])}
    >>> SGD(lr=0.1, weight_decay=0.5).step(p, {"w": np.array([1.0])})
    >>> p["w"]
    array([0.85])
    """

    _hyper = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(lr)
        _check_non_negative(momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov

    def _active_slots(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum != 0 else ()

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay != 0:
            grad = grad + self.weight_decay * param
        if self.momentum != 0:
            buf = state["momentum_buffer"]
            if state["step"] == 1:
                buf[...] = grad
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= self.lr * grad


class Momentum(SGD):
    """SGD with momentum 0.9 by default; the same rule as ``SGD(lr, momentum=...)``.

    >>> Momentum(lr=0.01)
    Momentum(lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)
    """

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.9,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(lr, momentum, dampening, weight_decay, nesterov)


class RMSProp(Optimizer):
    """RMSProp as ``torch.optim.RMSprop`` (also centred and with momentum).

    ``g = grad + weight_decay * p``; ``v = alpha * v + (1 - alpha) * g**2``;
    ``avg = sqrt(v) + eps`` (centred: ``sqrt(v - m**2) + eps`` with ``m`` the running
    mean of ``g``); ``p -= lr * g / avg``, or through a momentum buffer
    ``buf = momentum * buf + g / avg``.

    >>> import numpy as np
    >>> p = {"w": np.array([1.0])}
    >>> RMSProp(lr=0.01, alpha=0.75, eps=0.0).step(p, {"w": np.array([3.0])})
    >>> p["w"]                                   # 1 - 0.01 * 3 / sqrt(0.25 * 9)
    array([0.98])
    """

    _hyper = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(lr)
        _check_non_negative(alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.centered = centered

    def _active_slots(self) -> tuple[str, ...]:
        slots = ("square_avg",)
        slots += ("grad_avg",) if self.centered else ()
        return slots + (("momentum_buffer",) if self.momentum > 0 else ())

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay != 0:
            grad = grad + self.weight_decay * param
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * grad * grad
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - self.alpha) * (grad - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            avg = np.sqrt(square_avg) + self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += grad / avg
            param -= self.lr * buf
        else:
            param -= self.lr * (grad / avg)


class Adam(Optimizer):
    """Adam as ``torch.optim.Adam`` (with AMSGrad and decoupled decay as options).

    ``g = grad + weight_decay * p`` (or, decoupled, ``p *= 1 - lr * weight_decay``);
    ``m += (1 - beta1) * (g - m)``; ``v = beta2 * v + (1 - beta2) * g**2``;
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.

    >>> import numpy as np
    >>> p = {"w": np.array([1.0, 1.0])}
    >>> Adam(lr=0.1).step(p, {"w": np.array([2.0, -0.5])})   # first step: lr * sign(g)
    >>> p["w"].round(6)
    array([0.9, 1.1])
    """

    _hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(lr)
        _check_non_negative(eps=eps, weight_decay=weight_decay)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad
        self.decoupled_weight_decay = decoupled_weight_decay

    def _active_slots(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self.decoupled_weight_decay:
                param *= 1 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * param
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        scratch = np.empty_like(exp_avg)   # one temporary, the same roundings as the formula
        np.subtract(grad, exp_avg, out=scratch)
        scratch *= 1 - beta1
        exp_avg += scratch
        exp_avg_sq *= beta2
        np.multiply(grad, 1 - beta2, out=scratch)
        scratch *= grad
        exp_avg_sq += scratch
        t = int(state["step"])
        step_size = self.lr / (1 - beta1**t)
        second = exp_avg_sq
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        denom = np.sqrt(second, out=scratch)
        denom /= math.sqrt(1 - beta2**t)
        denom += self.eps
        np.divide(exp_avg, denom, out=scratch)
        scratch *= step_size
        param -= scratch


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default decay 0.01).

    >>> AdamW().weight_decay
    0.01
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0.0:
            raise ValueError(f"{name} must be non-negative, got {value}")
