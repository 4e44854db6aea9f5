"""Training curves and filter grids written as PNGs and read back with matplotlib."""

from __future__ import annotations

import doctest
import sys

import numpy as np
import pytest

from tensorc.nn import plots

image = pytest.importorskip("matplotlib.image")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "train_loss": [2.3, 1.1, 0.7, 0.5],
    "val_loss": [2.2, 1.2, 0.9, 0.8],
    "train_acc": [0.2, 0.6, 0.8, 0.9],
    "val_acc": [0.2, 0.55, 0.7, 0.75],
    "lr": [0.1, 0.1, 0.01, 0.01],
}


def _read_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return image.imread(path)


def test_history_two_panels(tmp_path):
    path = plots.plot_history(HISTORY, tmp_path / "history.png", title="LeNet-5")
    pixels = _read_png(path)
    assert pixels.shape == (400, 1000, 4)  # 2 panels of 5 x 4 inches at 100 dpi
    assert pixels[..., :3].std() > 0.01  # something was drawn


def test_history_loss_only_and_per_epoch_records(tmp_path):
    records = [{"loss": 1.0}, {"loss": 0.5}, {"loss": 0.4, "val_loss": 0.6}]
    pixels = _read_png(plots.plot_history(records, tmp_path / "loss.png"))
    assert pixels.shape == (400, 500, 4)


def test_history_without_curves_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no loss or accuracy"):
        plots.plot_history({"lr": [0.1]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_series_from_records_align_late_keys():
    series = plots._series([{"loss": 1.0}, {"loss": 0.5, "val_loss": 0.7}])
    assert series["loss"] == [1.0, 0.5]
    assert np.isnan(series["val_loss"][0]) and series["val_loss"][1] == 0.7


def test_grey_filters_layout_and_values(tmp_path):
    w = np.zeros((5, 1, 2, 2))
    w[0, 0] = [[0.0, 1.0], [2.0, 4.0]]  # normalised to 0, 0.25, 0.5, 1
    path = plots.plot_filters(w, tmp_path / "grey.png", scale=3, pad=1)
    pixels = _read_png(path)
    # 5 filters -> 3 columns, 2 rows; tiles of 2*3 = 6 pixels, 1-pixel gaps
    assert pixels.shape == (2 * 7 + 1, 3 * 7 + 1, 4)
    tile = pixels[1:7, 1:7, 0]
    expected = np.kron([[0.0, 0.25], [0.5, 1.0]], np.ones((3, 3)))
    np.testing.assert_allclose(tile, expected, atol=1 / 255)
    assert np.all(pixels[1:7, 1:7, 0] == pixels[1:7, 1:7, 2])  # grey
    np.testing.assert_allclose(pixels[1:7, 8:14, :3], 0.5, atol=1 / 255)  # constant -> mid
    np.testing.assert_allclose(pixels[0, :, :3], 1.0)  # white gap
    np.testing.assert_allclose(pixels[8:14, 15:21, :3], 1.0)  # unused sixth slot


def test_colour_filters_use_channels_as_rgb(tmp_path):
    w = np.zeros((4, 3, 3, 3))
    w[1, 0] = 1.0  # filter 1: red channel high, others low -> pure red
    pixels = _read_png(plots.plot_filters(w, tmp_path / "rgb.png", scale=2, pad=2))
    assert pixels.shape == (2 * 8 + 2, 2 * 8 + 2, 4)
    np.testing.assert_allclose(pixels[2:8, 10:16, :3], np.broadcast_to([1.0, 0, 0], (6, 6, 3)))


def test_many_channel_filters_one_row_each():
    assert plots.filter_mosaic(np.ones((4, 6, 3, 3)), scale=1, pad=1).shape == (17, 25, 3)


def test_default_scale_gives_tiles_of_about_32_pixels():
    mosaic = plots.filter_mosaic(np.ones((1, 1, 5, 5)), pad=0)
    assert mosaic.shape == (35, 35, 3)


def test_bad_filter_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(O, C, kh, kw\)"):
        plots.filter_mosaic(np.ones((4, 5, 5)))


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"tensorc\[plot\]"):
        plots.plot_history(HISTORY, tmp_path / "h.png")


def test_plots_docstring_examples():
    assert doctest.testmod(plots).failed == 0
