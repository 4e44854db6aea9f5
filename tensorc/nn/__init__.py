"""Training infrastructure for networks built from tensorc specs.

Plain-NumPy pieces: data loaders and splits (:mod:`.data`), parameter initialisers
(:mod:`.init`), optimizers matching ``torch.optim`` (:mod:`.optim`) and ``.npz``
checkpoints (:mod:`.checkpoint`). Plotting (:mod:`.plots`) needs the ``plot`` extra and is
imported on its own.
"""

from . import checkpoint, data, init, optim

__all__ = ["checkpoint", "data", "init", "optim"]
