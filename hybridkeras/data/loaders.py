"""Dataset loaders: Keras' downloads on users' machines, local IDX folders, bundled data.

``load(name, data_dir=None, ...)`` returns a :class:`Dataset` with seeded, stratified
train / validation / test splits of float32 images in [0, 1], shape (N, H, W, 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from hybridkeras.data.idx import read_idx
from hybridkeras.data.preprocessing import (
    add_channel_axis,
    check_finite,
    balanced_subset,
    filter_classes,
    first_per_class,
    normalize_images,
    resize_images,
    stratified_split,
)

DATA_DIR_ENV = "HYBRIDKERAS_DATA_DIR"
SAMPLE_DIR = Path(__file__).resolve().parent / "_sample"

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "mnist_sample": [str(i) for i in range(10)],
    "digits": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}
DATASETS = tuple(CLASS_NAMES)
SAMPLINGS = ("random", "first")
TRAIN_PARTS = ("subset", "rest")

# Standard file names of an IDX folder: the official split, or one pooled pair.
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "all": ("images-idx3-ubyte", "labels-idx1-ubyte"),
}


@dataclass
class Dataset:
    """Seeded splits of one dataset. Images are float32 in [0, 1]; labels int64 0..k−1."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list = field(default_factory=list)
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    def summary(self) -> str:
        return (
            f"{self.name} ({self.source}): train {len(self.x_train)}, val {len(self.x_val)}, "
            f"test {len(self.x_test)}; input {self.input_shape}; {self.num_classes} classes"
        )


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _pair(folder: Path, split: str):
    images, labels = (_find(folder, stem) for stem in _SPLIT_FILES[split])
    if images is None and labels is None:
        return None
    if images is None or labels is None:
        missing = _SPLIT_FILES[split][0 if images is None else 1]
        raise FileNotFoundError(f"IDX folder {folder} has the {split} pair only in part: {missing}(.gz) is missing")
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"IDX folder {folder}: expected images (N, H, W) and labels (N,), found {x.shape} "
            f"in {images.name} and {y.shape} in {labels.name}"
        )
    return x, y.astype(np.int64)


def read_idx_folder(folder, name: str = "mnist"):
    """Reads a folder of IDX files: the official train/t10k pairs, or one images/labels pair.

    The folder may also hold a sub-folder called ``name`` (so ``HYBRIDKERAS_DATA_DIR`` can
    point at a root with ``mnist/`` and ``fashion_mnist/`` inside). Returns
    ``(x_train, y_train, x_test, y_test)`` for an official split, or ``(x, y, None, None)``.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"`data_dir` {str(folder)!r} is not a directory")
    for candidate in (folder, folder / name, folder / name.replace("_", "-")):
        if not candidate.is_dir():
            continue
        train, test = _pair(candidate, "train"), _pair(candidate, "test")
        if train is not None and test is not None:
            return train[0], train[1], test[0], test[1]
        pooled = _pair(candidate, "all") or train or test
        if pooled is not None:
            return pooled[0], pooled[1], None, None
    expected = ", ".join(f"{a}.gz + {b}.gz" for a, b in _SPLIT_FILES.values())
    raise FileNotFoundError(f"No IDX files for {name!r} in {str(folder)!r}; expected one of: {expected}")


def _load_source(name: str, data_dir):
    """Raw (x_train, y_train, x_test, y_test or None) and a description of the source."""
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return normalize_images(digits.images, max_value=16.0), digits.target.astype(np.int64), None, None, "scikit-learn digits"
    if name == "mnist_sample":
        return (*read_idx_folder(SAMPLE_DIR, "mnist_sample"), "bundled MNIST sample")
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if folder is not None:
        return (*read_idx_folder(folder, name), f"IDX folder {folder}")
    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # network failures surface as many types
        raise RuntimeError(
            f"Downloading {name!r} with keras.datasets failed ({exc}). Without network access, "
            f"pass data_dir= (or set {DATA_DIR_ENV}) to a folder of IDX .gz files"
        ) from exc
    return x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), "keras.datasets"


def _first_splits(x_train, y_train, x_test, y_test, train_size, val_size, test_size, train_part, num_classes):
    """The splits of ``sampling='first'`` (see `load`)."""
    labels = np.arange(num_classes)
    pooled = x_test is None
    if pooled and test_size is None:
        raise ValueError("`sampling='first'` on a source without an official test split needs test_size "
                         "(the next images of each class after the training and validation ones)")
    sizes = {"train_size": train_size, "val_size": val_size, **({"test_size": test_size} if pooled else {})}
    blocks = first_per_class(y_train, sizes, labels=labels)
    if pooled:
        test = (x_train[blocks["test_size"]], y_train[blocks["test_size"]])
    elif test_size is None:
        test = (x_test, y_test)
    else:
        chosen = first_per_class(y_test, {"test_size": test_size}, labels=labels)["test_size"]
        test = (x_test[chosen], y_test[chosen])
    train = blocks["rest"] if train_part == "rest" else blocks["train_size"]
    return {"train": (x_train[train], y_train[train]),
            "val": (x_train[blocks["val_size"]], y_train[blocks["val_size"]]), "test": test}


def load(
    name: str = "mnist",
    data_dir=None,
    *,
    classes: Sequence[int] | None = None,
    train_size: int | None = None,
    val_size: int | None = None,
    test_size: int | None = None,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    resize=None,
    flatten: bool = False,
    seed: int = 0,
    sampling: str = "random",
    train_part: str = "subset",
) -> Dataset:
    """Loads a dataset with seeded, stratified train / validation / test splits.

    Args:
        name: 'mnist', 'fashion_mnist' (Keras download, or IDX files from ``data_dir``),
            'digits' (scikit-learn's bundled 8×8 digits) or 'mnist_sample' (2,000 real MNIST
            digits shipped with hybridkeras).
        data_dir: Folder of IDX ``.gz`` files (or with a ``name`` sub-folder). Defaults to the
            ``HYBRIDKERAS_DATA_DIR`` environment variable, then to Keras' download.
        classes: Keep only these labels, relabelled 0..k−1 in the order given.
        train_size, val_size, test_size: Balanced per-class subsets of these sizes.
        validation_split: Fraction of the training pool held out for validation.
        test_split: Fraction held out for testing when the source has no official test split.
        resize: (height, width) for a bilinear resize.
        flatten: Return (N, H·W·C) instead of (N, H, W, C).
        seed: Seed of every split and subset.
        sampling: 'random' (default): seeded stratified splits and balanced subsets; 'first':
            no randomness — per class, in source order, the first ``train_size`` (spread over
            the classes) images are the training set, the next ``val_size`` the validation set
            and, for a source without an official test split, the next ``test_size`` the test
            set (else the first ``test_size`` of the official test split, all of it for None).
        train_part: 'subset' (default) or, with ``sampling='first'``, 'rest': the training set is
            every image of the training pool that the subsets above did not take (the distillation
            authors' teachers train on it); validation and test sets are unchanged.

    Returns:
        A :class:`Dataset`.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset name. Expected one of {DATASETS}. Received: name={name!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"`sampling` must be one of {SAMPLINGS}. Received: sampling={sampling!r}")
    if train_part not in TRAIN_PARTS:
        raise ValueError(f"`train_part` must be one of {TRAIN_PARTS}. Received: train_part={train_part!r}")
    if train_part == "rest" and sampling != "first":
        raise ValueError("`train_part='rest'` (the images the subsets did not take) needs sampling='first'. "
                         f"Received: sampling={sampling!r}")
    if sampling == "first" and (train_size is None or val_size is None):
        raise ValueError("`sampling='first'` takes consecutive per-class blocks and needs train_size and val_size. "
                         f"Received: train_size={train_size!r}, val_size={val_size!r}")
    x_train, y_train, x_test, y_test, source = _load_source(name, data_dir)
    class_names = list(CLASS_NAMES[name])
    if classes is not None:
        x_train, y_train = filter_classes(x_train, y_train, classes)
        if x_test is not None:
            x_test, y_test = filter_classes(x_test, y_test, classes)
        class_names = [class_names[c] for c in classes]
    if sampling == "first":
        splits = _first_splits(x_train, y_train, x_test, y_test, train_size, val_size, test_size, train_part,
                               len(class_names))
    else:
        if x_test is None:
            x_train, y_train, x_test, y_test = stratified_split(x_train, y_train, test_split, seed=seed,
                                                                name="test_split")
        x_train, y_train, x_val, y_val = stratified_split(
            x_train, y_train, validation_split, seed=seed + 1, name="validation_split"
        )
        splits = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
        for key, size in (("train", train_size), ("val", val_size), ("test", test_size)):
            if size is not None:
                splits[key] = balanced_subset(*splits[key], size, seed=seed + 2, name=f"{key}_size")

    def finish(images, key):
        images = check_finite(images, f"x_{key}")  # NaN would train a broken model that reports success
        if images.dtype != np.uint8 and images.size and (images.min() < 0.0 or images.max() > 1.0):
            raise ValueError(
                f"`x_{key}` of dataset {name!r} holds float pixel values in [{images.min():g}, {images.max():g}]; "
                "float images must be scaled to [0, 1] (uint8 images are divided by 255 on loading)"
            )
        images = add_channel_axis(normalize_images(images) if images.dtype == np.uint8 else images.astype(np.float32))
        if resize is not None:
            images = resize_images(images, resize)
        return images.reshape(len(images), -1) if flatten else images

    def labels(values, key):
        values = np.asarray(values)
        bad = values[(values < 0) | (values >= len(class_names))] if np.issubdtype(values.dtype, np.integer) else values
        if len(bad):
            raise ValueError(f"`y_{key}` of dataset {name!r} holds labels {sorted(set(bad.tolist()))[:5]} outside "
                             f"0..{len(class_names) - 1} (integer class ids of {len(class_names)} classes expected)")
        return values

    return Dataset(
        name=name,
        x_train=finish(splits["train"][0], "train"), y_train=labels(splits["train"][1], "train"),
        x_val=finish(splits["val"][0], "val"), y_val=labels(splits["val"][1], "val"),
        x_test=finish(splits["test"][0], "test"), y_test=labels(splits["test"][1], "test"),
        class_names=class_names,
        source=source,
    )
