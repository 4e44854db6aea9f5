"""Training infrastructure for networks built from tensorc specs.

Plain-NumPy pieces: data loaders and splits (:mod:`.data`), parameter initialisers
(:mod:`.init`), optimizers matching ``torch.optim`` (:mod:`.optim`) and ``.npz``
checkpoints (:mod:`.checkpoint`). Plotting (:mod:`.plots`) needs the ``plot`` extra and is
imported on its own.
"""

from . import checkpoint, data, init, optim

__all__ = ["checkpoint", "data", "init", "optim"]

# layers written as spec text, ready models, losses and per-layer counts
from . import layers, losses, models, summary  # noqa: E402
from .layers import *  # noqa: E402,F401,F403  (the names in layers.__all__)
from .summary import Summary  # noqa: E402

__all__ += ["layers", "losses", "models", "summary", "Summary", *layers.__all__]

# training loop over one compiled gradient program
from . import train  # noqa: E402
from .train import evaluate, fit, predict  # noqa: E402

__all__ += ["train", "fit", "evaluate", "predict"]
