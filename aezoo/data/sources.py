"""The user's own data, from wherever it is: one loader for the API and every command.

``load_data(source)`` takes

- a NumPy array (N, D), or an ``(x, y)`` pair;
- a ``tf.data.Dataset`` of batches, as Keras' ``fit`` takes them: (batch, D) rows or
  (batch, H, W[, C]) images, alone, as ``(x, y)`` pairs or in dicts (streamed;
  uint8 is scaled by 1/255);
- a path: ``.npy``; ``.npz`` (named arrays: ``key`` picks the features, default
  "x"/"X" or the only array; ``label_key`` the labels, default "y"/"labels"
  when present); ``.csv`` / ``.tsv`` with a header row (numeric columns;
  ``label_column`` is kept apart and never fed to a model; a non-numeric column
  is an error naming it, or dropped with ``drop_non_numeric``; an empty cell is
  NaN); ``.parquet`` (needs pyarrow); a folder of images (one sub-folder per
  class or none; ``keras.utils.image_dataset_from_directory``: ``color_mode``
  "grayscale" or "rgb", resized to ``image_size``, scaled to [0, 1]);
- ``"mnist"`` / ``"mnist:test"`` (as ``load_mnist``);
- ``"tfds:NAME[:SPLIT]"``, e.g. ``tfds:fashion_mnist`` or ``tfds:cifar10:train[:90%]``
  (``key`` names the image feature, default "image"; streamed; ``data_dir`` is
  TFDS's data folder).

and returns a ``Data``: float32 rows ``x`` (images flattened to vectors, the
shape kept in ``image_shape``) or, for streamed sources, ``dataset`` of such
batches; labels ``y`` when the source has them; and ``notes`` on what was
dropped. Rows with NaN or inf are an error that counts them, or are dropped
with ``drop_nan``. Every problem is a ``DataError`` naming the file, column
or key.
"""

import csv
import dataclasses
import os

import numpy as np

from aezoo.data.errors import DataError, DataFileNotFoundError

TABLE_SUFFIXES = (".csv", ".tsv")
SUFFIXES = (".npy", ".npz", *TABLE_SUFFIXES, ".parquet", ".pq")
COLOR_MODES = ("grayscale", "rgb")
_X_KEYS = ("x", "X", "features", "data")
_Y_KEYS = ("y", "Y", "labels", "label", "target")
_IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


@dataclasses.dataclass
class Data:
    """Rows for a model: in memory (``x``) or streamed (``dataset`` of float32 batches)."""

    description: str
    x: object = None
    y: object = None
    dataset: object = None
    features: int = 0
    feature_names: list = None
    image_shape: tuple = None
    notes: list = dataclasses.field(default_factory=list)

    @property
    def streamed(self):
        return self.x is None

    @property
    def rows(self):
        return None if self.x is None else len(self.x)

    def summary(self):
        size = f"{self.rows:,} rows" if self.rows is not None else "streamed batches"
        shape = f" (images {'x'.join(map(str, self.image_shape))})" if self.image_shape else ""
        labels = ", labels kept apart" if self.y is not None else ""
        return f"{self.description}: {size} x {self.features} features{shape}{labels}"

    def shaped(self, example_shape):
        """The same data with each row reshaped to ``example_shape`` (a conv model's images)."""
        example_shape = tuple(example_shape)
        if len(example_shape) == 1:
            return self
        if int(np.prod(example_shape)) != self.features:
            raise DataError(f"{self.description} has {self.features} features per row, not "
                            f"{'x'.join(map(str, example_shape))} images")
        if self.dataset is not None:
            dataset = self.dataset.map(lambda batch: _reshape_batch(batch, example_shape))
            return dataclasses.replace(self, dataset=dataset)
        return dataclasses.replace(self, x=self.x.reshape(len(self.x), *example_shape))

    def batches(self, batch_size, shuffle=False, seed=0):
        """A ``tf.data.Dataset`` of float32 (batch, features) batches."""
        import tensorflow as tf

        if self.dataset is not None:
            return self.dataset
        data = tf.data.Dataset.from_tensor_slices(self.x)
        if shuffle:
            data = data.shuffle(len(self.x), seed=seed, reshuffle_each_iteration=True)
        return data.batch(batch_size)


def _reshape_batch(batch, example_shape):
    import tensorflow as tf

    return tf.reshape(batch, (-1, *example_shape))


def load_data(source, *, label_column=None, drop_non_numeric=False, drop_nan=False, key=None,
              label_key=None, image_size=None, color_mode="grayscale", data_dir=None,
              batch_size=256):
    """Reads ``source`` (see the module docstring) into a ``Data``."""
    if isinstance(source, Data):
        return source
    if isinstance(source, np.ndarray):
        data = _from_arrays("array", source, None)
    elif isinstance(source, tuple) and len(source) == 2:
        data = _from_arrays("arrays", np.asarray(source[0]), np.asarray(source[1]))
    elif _is_dataset(source):
        return _from_dataset(source, "tf.data.Dataset", key)
    elif isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text == "mnist" or text.startswith("mnist:"):
            data = _mnist(text, data_dir)
        elif text.startswith("tfds:"):
            return _tfds(text, key, label_key, data_dir, batch_size)
        else:
            data = _from_path(text, label_column, drop_non_numeric, key, label_key,
                              image_size, color_mode, batch_size)
    else:
        raise DataError(f"cannot read data from a {type(source).__name__}: give an array, an "
                        "(x, y) pair, a tf.data.Dataset, a file path, 'mnist' or 'tfds:NAME'")
    return _checked(data, drop_nan)


# ------------------------------------------------------------------- checks
def _checked(data, drop_nan):
    x = data.x
    if x.ndim > 2:  # images: flatten for the dense models, keep the shape
        data.image_shape = data.image_shape or tuple(x.shape[1:])
        x = x.reshape(len(x), -1)
    if x.ndim != 2:
        raise DataError(f"{data.description}: expected rows of features (N, D), got shape "
                        f"{x.shape}")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{data.description}: features must be numeric, got dtype {x.dtype}")
    if len(x) == 0 or x.shape[1] == 0:
        raise DataError(f"{data.description}: no data ({x.shape[0]} rows, {x.shape[1]} "
                        "features)")
    x = x.astype("float32", copy=False)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        count = int(bad.sum())
        if not drop_nan:
            raise DataError(f"{data.description}: {count:,} of {len(x):,} rows contain NaN or "
                            f"inf values (first: row {int(np.flatnonzero(bad)[0])}); pass "
                            "--drop-nan (drop_nan=True) to drop them")
        x = x[~bad]
        if data.y is not None:
            data.y = data.y[~bad]
        data.notes.append(f"dropped {count:,} rows with NaN or inf values")
        if len(x) == 0:
            raise DataError(f"{data.description}: every row has NaN or inf values")
    if data.y is not None and len(data.y) != len(x):
        raise DataError(f"{data.description}: {len(x):,} rows but {len(data.y):,} labels")
    data.x = np.ascontiguousarray(x)
    data.features = x.shape[1]
    return data


def _from_arrays(description, x, y):
    if x.dtype == object:
        raise DataError(f"{description}: features must be numeric, got an object array")
    return Data(description, x=x, y=y)


def _is_dataset(value):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, tf.data.Dataset)


# -------------------------------------------------------------------- files
def _from_path(path, label_column, drop_non_numeric, key, label_key, image_size,
               color_mode, batch_size):
    if not os.path.exists(path):
        raise DataFileNotFoundError(f"{path}: no such file or folder")
    if os.path.isdir(path):
        return _image_folder(path, image_size, color_mode, batch_size)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unknown data format {suffix or '(no suffix)'!r}; aezoo reads "
                        f"{', '.join(SUFFIXES)}, image folders, 'mnist' and 'tfds:NAME'")
    if label_column is not None and suffix not in TABLE_SUFFIXES + (".parquet", ".pq"):
        raise DataError(f"{path}: --label-column applies to tables (CSV, Parquet); for .npz "
                        "use --label-key")
    try:
        if suffix == ".npy":
            return Data(path, x=np.load(path, allow_pickle=False))
        if suffix == ".npz":
            return _npz(path, key, label_key)
        if suffix in TABLE_SUFFIXES:
            names, columns = _read_csv(path, "\t" if suffix == ".tsv" else ",")
        else:
            names, columns = _read_parquet(path)
    except DataError:
        raise
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot be read: {error}")
    return _table(path, names, columns, label_column, drop_non_numeric)


def _npz(path, key, label_key):
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if not names:
            raise DataError(f"{path}: the archive holds no arrays")
        key = key or next((k for k in _X_KEYS if k in names), None)
        if key is None:
            others = [n for n in names if n not in _Y_KEYS]
            if len(others) != 1:
                raise DataError(f"{path}: which array holds the features? It has "
                                f"{', '.join(names)}; pass --key NAME")
            key = others[0]
        if key not in names:
            raise DataError(f"{path}: no array {key!r} (it has {', '.join(names)})")
        label_key = label_key or next((k for k in _Y_KEYS if k in names and k != key), None)
        if label_key is not None and label_key not in names:
            raise DataError(f"{path}: no label array {label_key!r} (it has {', '.join(names)})")
        return Data(f"{path}[{key}]", x=archive[key],
                    y=None if label_key is None else archive[label_key])


def _read_csv(path, delimiter):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: empty file (a header row naming the columns is needed)")
        names = [name.strip() for name in header]
        columns = [[] for _ in names]
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(names):
                raise DataError(f"{path}, line {number}: {len(row)} fields, the header has "
                                f"{len(names)}")
            for column, value in zip(columns, row):
                column.append(value.strip())
    return names, columns


def _read_parquet(path):
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)")
    table = parquet.read_table(path)
    return list(table.column_names), [table.column(i).to_pylist()
                                      for i in range(table.num_columns)]


def _as_numbers(values):
    """A float64 column, or None when a value is not a number (empty or None counts as NaN)."""
    out = np.empty(len(values))
    for i, value in enumerate(values):
        if value is None or value == "":
            out[i] = np.nan
            continue
        if isinstance(value, bool):
            out[i] = float(value)
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            return None
    return out


def _table(path, names, columns, label_column, drop_non_numeric):
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path}: repeated column names: {', '.join(repeated)}")
    y = None
    if label_column is not None:
        if label_column not in names:
            raise DataError(f"{path}: no column {label_column!r} for --label-column (columns: "
                            f"{', '.join(names)})")
        index = names.index(label_column)
        raw = columns[index]
        numbers = _as_numbers(raw)
        if numbers is not None and np.isfinite(numbers).all():
            y = numbers.astype(np.int64) if (numbers == np.round(numbers)).all() else numbers
        else:
            y = np.asarray(raw)
        names, columns = names[:index] + names[index + 1:], columns[:index] + columns[index + 1:]
    kept, values, dropped = [], [], []
    for name, column in zip(names, columns):
        numbers = _as_numbers(column)
        if numbers is None:
            dropped.append(name)
            continue
        kept.append(name)
        values.append(numbers)
    data = Data(path, y=y)
    if dropped:
        if not drop_non_numeric:
            raise DataError(f"{path}: non-numeric column(s) {', '.join(map(repr, dropped))}; "
                            "pass --drop-non-numeric to drop them, or --label-column NAME to "
                            "keep one as labels")
        data.notes.append(f"dropped non-numeric column(s): {', '.join(dropped)}")
    if not kept:
        raise DataError(f"{path}: no numeric columns (columns: {', '.join(names) or 'none'})")
    rows = len(values[0])
    data.x = np.stack(values, axis=1) if rows else np.zeros((0, len(kept)))
    data.feature_names = kept
    return data


def _image_folder(path, image_size, color_mode, batch_size):
    import keras

    if color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of {COLOR_MODES}, got {color_mode!r}")
    size = tuple(image_size) if image_size else (28, 28)
    # Images straight in the folder have no labels; sub-folders name classes.
    flat = any(name.lower().endswith(_IMAGE_SUFFIXES) for name in os.listdir(path))
    try:
        dataset = keras.utils.image_dataset_from_directory(
            path, labels=None if flat else "inferred", label_mode=None if flat else "int",
            color_mode=color_mode, image_size=size, batch_size=batch_size, shuffle=False,
            verbose=False)
    except ValueError as error:
        raise DataError(f"{path}: {error}")
    class_names = [] if flat else list(dataset.class_names)
    images, labels = [], []
    for batch in dataset:
        batch_images, batch_labels = (batch, None) if flat else batch
        images.append(batch_images.numpy() / 255.0)
        if batch_labels is not None:
            labels.append(batch_labels.numpy())
    if not images:
        raise DataError(f"{path}: no images found (jpeg, png, bmp or gif)")
    x = np.concatenate(images).astype("float32")
    data = Data(f"{path} (images {size[0]}x{size[1]} {color_mode})", x=x,
                y=np.concatenate(labels) if len(class_names) > 1 else None,
                image_shape=tuple(x.shape[1:]))
    if len(class_names) > 1:
        data.notes.append(f"labels from the sub-folders: {', '.join(class_names)}")
    return data


def _mnist(text, data_dir):
    from aezoo.data.mnist import load_mnist

    split = text.partition(":")[2] or "train"
    try:
        x, y = load_mnist(split, data_dir=data_dir)
    except ValueError as error:
        raise DataError(f"{text}: {error}")
    return Data(f"MNIST {split}", x=x, y=y, image_shape=(28, 28, 1))


# ---------------------------------------------------------------- streamed
def _from_dataset(dataset, description, key):
    """Batches of float32 rows from a dataset of batches, (x, y) pairs or dicts."""
    import tensorflow as tf

    spec = dataset.element_spec
    if isinstance(spec, dict):
        key = key or next((k for k in ("image", *_X_KEYS) if k in spec), None)
        if key not in spec:
            raise DataError(f"{description}: which feature holds the data? Elements have "
                            f"{', '.join(spec)}; pass --key NAME")
        dataset = dataset.map(lambda element: element[key])
        spec = spec[key]
    elif isinstance(spec, tuple):
        dataset = dataset.map(lambda *element: element[0])
        spec = spec[0]
    if not isinstance(spec, tf.TensorSpec) or not (spec.dtype.is_floating
                                                   or spec.dtype.is_integer
                                                   or spec.dtype.is_bool):
        raise DataError(f"{description}: elements must be numeric tensors, got {spec}")
    shape = spec.shape
    # As Keras' fit takes them: elements are batches, (batch, D) rows or
    # (batch, H, W[, C]) images.
    if shape.rank is None or shape.rank < 2:
        raise DataError(f"{description}: elements must be batches of rows (batch, D) or of "
                        f"images (batch, H, W[, C]); got shape {shape} (use .batch(n))")
    inner = shape[1:]
    if not inner.is_fully_defined():
        raise DataError(f"{description}: every batch needs the same known row shape, got "
                        f"{shape}")
    scale = 1 / 255 if spec.dtype == tf.uint8 else 1.0
    features = int(np.prod(inner))
    image_shape = tuple(inner) if len(inner) > 1 else None

    def to_rows(batch):
        return tf.reshape(tf.cast(batch, tf.float32) * scale, (-1, features))

    dataset = dataset.map(to_rows, num_parallel_calls=4).prefetch(2)
    return Data(description, dataset=dataset, features=features, image_shape=image_shape)


def _tfds(text, key, label_key, data_dir, batch_size):
    parts = text[len("tfds:"):].split(":", 1)
    name, split = parts[0], parts[1] if len(parts) > 1 else "train"
    if not name:
        raise DataError(f"{text}: give a dataset name, e.g. tfds:fashion_mnist")
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001  (tfds raises several kinds)
        import difflib

        close = difflib.get_close_matches(name, tfds.list_builders(), n=3)
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{text}: no TensorFlow Datasets dataset {name!r} ({first})"
                        + (f"; did you mean {', '.join(close)}?" if close else ""))
    import sys

    print(f"TFDS: preparing {name} in {builder.data_dir} (downloaded on first use)",
          file=sys.stderr, flush=True)
    try:
        builder.download_and_prepare()
        dataset = builder.as_dataset(split=split, shuffle_files=False)
    except Exception as error:  # noqa: BLE001
        raise DataError(f"{text}: cannot prepare TFDS {name!r} split {split!r} here: {error}. "
                        "Without internet, prepare it on a connected machine and pass its "
                        "data folder (--data-dir)")
    return _from_dataset(dataset.batch(batch_size), text, key)
