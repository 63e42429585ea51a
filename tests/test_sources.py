"""aezoo.data.load_data: every source on small data written here, and every bad input."""

import os

import numpy as np
import pytest
import tensorflow as tf

from aezoo.data import DataError, load_data
from aezoo.data.errors import DataFileNotFoundError

RNG = np.random.default_rng(0)
TABLE = RNG.normal(size=(40, 3)) * [1.0, 10.0, 100.0]
LABELS = (RNG.uniform(size=40) < 0.2).astype(int)


def write_csv(path, rows=TABLE, labels=LABELS, text=True, header=None, blank=None):
    header = header or ["a", "b", "c", "label"] + (["site"] if text else [])
    lines = [",".join(header)]
    for i, (row, label) in enumerate(zip(rows, labels)):
        values = [f"{v:.9g}" for v in row]
        if blank is not None and i == blank:
            values[1] = ""
        lines.append(",".join(values + [str(label)] + (["north"] if text else [])))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_label_column_kept_apart_and_text_column_named(tmp_path):
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(DataError, match="non-numeric column.*'site'.*--drop-non-numeric"):
        load_data(path, label_column="label")
    data = load_data(path, label_column="label", drop_non_numeric=True)
    assert data.feature_names == ["a", "b", "c"] and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x, TABLE, rtol=1e-6)
    np.testing.assert_array_equal(data.y, LABELS)
    assert data.notes == ["dropped non-numeric column(s): site"]
    with pytest.raises(DataError, match="no column 'target'.*a, b, c, label, site"):
        load_data(path, label_column="target", drop_non_numeric=True)


def test_csv_without_labels_feeds_every_numeric_column(tmp_path):
    data = load_data(write_csv(tmp_path / "t.csv", text=False))
    assert data.features == 4 and data.y is None  # the label is a feature unless named


def test_nan_rows_are_counted_or_dropped(tmp_path):
    path = write_csv(tmp_path / "t.csv", text=False, blank=7)
    with pytest.raises(DataError, match=r"1 of 40 rows contain NaN.*first: row 7.*--drop-nan"):
        load_data(path, label_column="label")
    data = load_data(path, label_column="label", drop_nan=True)
    assert data.rows == 39 and len(data.y) == 39 and "dropped 1 rows" in data.notes[0]
    np.testing.assert_array_equal(data.y, np.delete(LABELS, 7))
    x = TABLE.copy()
    x[3, 0] = np.inf
    with pytest.raises(DataError, match="1 of 40 rows"):
        load_data(x)


def test_npy_npz_and_parquet(tmp_path):
    np.save(tmp_path / "x.npy", TABLE)
    assert load_data(tmp_path / "x.npy").x.shape == (40, 3)
    np.savez(tmp_path / "d.npz", x=TABLE, y=LABELS)
    data = load_data(tmp_path / "d.npz")
    assert data.x.shape == (40, 3) and np.array_equal(data.y, LABELS)
    np.savez(tmp_path / "two.npz", left=TABLE, right=TABLE)
    with pytest.raises(DataError, match="left, right; pass --key"):
        load_data(tmp_path / "two.npz")
    assert load_data(tmp_path / "two.npz", key="right").features == 3
    with pytest.raises(DataError, match="no array 'nope'"):
        load_data(tmp_path / "two.npz", key="nope")
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as parquet

    table = pyarrow.table({"a": TABLE[:, 0], "b": TABLE[:, 1], "kind": ["x"] * 40,
                           "label": LABELS})
    parquet.write_table(table, tmp_path / "t.parquet")
    data = load_data(tmp_path / "t.parquet", label_column="label", drop_non_numeric=True)
    assert data.feature_names == ["a", "b"] and np.array_equal(data.y, LABELS)


def _png(path, value, size=(12, 10), mode="L"):
    from PIL import Image

    channels = 1 if mode == "L" else 3
    pixels = np.full((size[1], size[0], channels), value, np.uint8).squeeze()
    Image.fromarray(pixels, mode).save(path)


def test_image_folder_grayscale_and_rgb(tmp_path):
    for label, value in (("cats", 51), ("dogs", 204)):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(3):
            _png(tmp_path / "imgs" / label / f"{i}.png", value)
    data = load_data(tmp_path / "imgs", image_size=(8, 6))
    assert data.x.shape == (6, 48) and data.image_shape == (8, 6, 1)
    np.testing.assert_array_equal(data.y, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(data.x[0], 0.2, atol=1e-6)  # 51 / 255, scaled to [0, 1]
    np.testing.assert_allclose(data.x[-1], 0.8, atol=1e-6)
    rgb = load_data(tmp_path / "imgs", image_size=(8, 6), color_mode="rgb")
    assert rgb.x.shape == (6, 144) and rgb.image_shape == (8, 6, 3)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="No images found"):
        load_data(tmp_path / "empty")


def test_tf_data_pipelines_stream(tmp_path):
    rows = TABLE.astype("float32")
    data = load_data(tf.data.Dataset.from_tensor_slices(rows).batch(16))
    assert data.streamed and data.features == 3
    np.testing.assert_allclose(np.concatenate(list(data.dataset.as_numpy_iterator())), rows)
    pairs = tf.data.Dataset.from_tensor_slices((rows, LABELS)).batch(8)
    assert load_data(pairs).features == 3
    images = tf.data.Dataset.from_tensor_slices(
        {"image": np.full((5, 4, 4, 1), 255, np.uint8)}).batch(2)
    data = load_data(images)
    assert data.image_shape == (4, 4, 1)
    np.testing.assert_allclose(np.concatenate(list(data.dataset.as_numpy_iterator())), 1.0)
    with pytest.raises(DataError, match=r"use \.batch"):
        load_data(tf.data.Dataset.from_tensor_slices(rows[0]))
    with pytest.raises(DataError, match="pass --key"):
        load_data(tf.data.Dataset.from_tensor_slices({"a": rows, "b": rows}).batch(2))


@pytest.mark.parametrize("name, text, message", [
    ("missing.csv", None, "no such file"),
    ("x.txt", "1,2", "unknown data format '.txt'"),
    ("e.csv", "", "empty file"),
    ("h.csv", "a,b\n", "no data"),
    ("r.csv", "a,b\n1,2\n3\n", "line 3: 1 fields"),
    ("d.csv", "a,a\n1,2\n", "repeated column"),
    ("n.csv", "a,b\nx,y\n", "non-numeric column"),
])
def test_bad_files_name_the_problem(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=message) as error:
        load_data(tmp_path / name)
    assert name in str(error.value)


def test_missing_file_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(DataFileNotFoundError):
        load_data(os.path.join(tmp_path, "nope.npz"))


def test_unknown_tfds_name_suggests_the_close_one():
    with pytest.raises(DataError, match="did you mean fashion_mnist"):
        load_data("tfds:fashion_mnis")


def test_mnist_source(mnist_dir):
    data = load_data("mnist:test", data_dir=mnist_dir)
    assert data.x.shape == (10000, 784) and data.image_shape == (28, 28, 1)
    assert len(data.y) == 10000
