"""Training curves and first-layer filters as PNG files (needs the ``plot`` extra).

matplotlib is imported only when a function here is called, and only its object-oriented
API with the Agg canvas is used: nothing opens a window, and the global backend that
``pyplot`` users have chosen is left alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

History = Mapping[str, Sequence[float]] | Sequence[Mapping[str, float]]


def _matplotlib() -> SimpleNamespace:
    try:
        from matplotlib import image
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as err:
        raise ImportError(
            'plotting needs matplotlib: pip install matplotlib (or pip install "tensorc[plot]")'
        ) from err
    return SimpleNamespace(
        Figure=Figure, FigureCanvasAgg=FigureCanvasAgg, MaxNLocator=MaxNLocator, image=image
    )


def _series(history: History) -> dict[str, list[float]]:
    """Per-epoch records ``[{"loss": ..}, ..]`` or ``{"loss": [..]}`` -> name -> values."""
    if isinstance(history, Mapping):
        return {str(k): [float(v) for v in vs] for k, vs in history.items()}
    series: dict[str, list[float]] = {}
    for epoch, record in enumerate(history):
        for k, v in record.items():
            series.setdefault(str(k), [math.nan] * epoch).append(float(v))
    return series


def plot_history(history: History, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write loss curves (left) and accuracy curves (right) per epoch to a PNG.

    ``history`` maps names to per-epoch values, or is a list of per-epoch dicts. Series
    whose name contains ``loss`` go on the left, those containing ``acc`` on the right;
    others are ignored. Returns the path written.

    >>> hist = {"train_loss": [2.3, 1.1, 0.7], "val_loss": [2.2, 1.2, 0.9],
    ...         "train_acc": [0.2, 0.6, 0.8], "val_acc": [0.2, 0.55, 0.7]}
    >>> plot_history(hist, "history.png")        # doctest: +SKIP
    PosixPath('history.png')
    """
    series = _series(history)
    panels = [(label, {k: v for k, v in series.items() if key in k.lower()})
              for label, key in (("loss", "loss"), ("accuracy", "acc"))]
    panels = [(label, curves) for label, curves in panels if curves]
    if not panels:
        raise ValueError(f"history has no loss or accuracy series: {sorted(series)}")
    mpl = _matplotlib()
    fig = mpl.Figure(figsize=(5 * len(panels), 4), dpi=100, layout="tight")
    mpl.FigureCanvasAgg(fig)
    for i, (label, curves) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for name, values in curves.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(mpl.MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.savefig(path, format="png")
    return Path(path)


def _normalise(weights: np.ndarray) -> np.ndarray:
    """Scale each filter (over its channels and taps) to [0, 1]; constant filters -> 0.5."""
    axes = tuple(range(1, weights.ndim))
    low = weights.min(axis=axes, keepdims=True)
    span = weights.max(axis=axes, keepdims=True) - low
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (weights - low) / safe, 0.5)


def _tiles(weights: np.ndarray) -> tuple[np.ndarray, int]:
    """RGB tiles (n, kh, kw, 3) and the number of grid columns."""
    out, channels = weights.shape[:2]
    scaled = _normalise(weights.astype(np.float64))
    if channels == 3:
        return scaled.transpose(0, 2, 3, 1), math.ceil(math.sqrt(out))
    gray = scaled.reshape(out * channels, *weights.shape[2:])
    cols = math.ceil(math.sqrt(out)) if channels == 1 else channels
    return np.repeat(gray[..., None], 3, axis=-1), cols


def filter_mosaic(weights: np.ndarray, scale: int | None = None, pad: int = 2) -> np.ndarray:
    """The image :func:`plot_filters` writes, as an RGB float array in [0, 1].

    Filters with 3 input channels are shown in colour, one tile each; otherwise every
    channel is a grey tile (one row per filter when there are several channels). Each
    weight becomes a ``scale`` x ``scale`` block (by default enough for tiles of about
    32 pixels), tiles are separated by ``pad`` white pixels.

    >>> import numpy as np
    >>> filter_mosaic(np.zeros((6, 1, 5, 5)), scale=4, pad=1).shape   # 2 rows, 3 columns
    (43, 64, 3)
    """
    weights = np.asarray(weights)
    if weights.ndim != 4 or 0 in weights.shape:
        raise ValueError(f"expected non-empty filters (O, C, kh, kw), got shape {weights.shape}")
    scale = scale or max(1, math.ceil(32 / max(weights.shape[2:])))
    tiles, cols = _tiles(weights)
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    rows = math.ceil(len(tiles) / cols)
    th, tw = tiles.shape[1:3]
    mosaic = np.ones((rows * (th + pad) + pad, cols * (tw + pad) + pad, 3))
    for i, tile in enumerate(tiles):
        top, left = pad + (i // cols) * (th + pad), pad + (i % cols) * (tw + pad)
        mosaic[top : top + th, left : left + tw] = tile
    return mosaic


def plot_filters(
    weights: np.ndarray, path: str | os.PathLike, scale: int | None = None, pad: int = 2
) -> Path:
    """Write first-layer filters ``(O, C, kh, kw)`` as a grid of image tiles to a PNG.

    Each filter is scaled to [0, 1] on its own, so the tiles show patterns rather than
    magnitudes; see :func:`filter_mosaic` for the layout. Returns the path written.

    >>> import numpy as np
    >>> w = np.random.default_rng(0).standard_normal((16, 3, 5, 5))
    >>> plot_filters(w, "conv1_filters.png")     # doctest: +SKIP
    PosixPath('conv1_filters.png')
    """
    mosaic = filter_mosaic(weights, scale, pad)
    _matplotlib().image.imsave(path, mosaic, format="png")
    return Path(path)
