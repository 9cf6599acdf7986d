"""Array preprocessing: normalisation, resizing, class filtering, seeded splits, subsets."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def check_finite(array: np.ndarray, name: str = "x") -> np.ndarray:
    """Raises ValueError if ``array`` holds NaN or Inf values (naming the argument)."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"`{name}` contains {bad} NaN or Inf values; clean the data before training")
    return array


def normalize_images(images: np.ndarray, *, max_value: float | None = None) -> np.ndarray:
    """Float32 images in [0, 1]: uint8 images are divided by 255, others by ``max_value``."""
    images = check_finite(np.asarray(images), "images")
    if max_value is None:
        max_value = 255.0 if images.dtype == np.uint8 else max(float(images.max(initial=0.0)), 1.0)
    return (images.astype(np.float32) / np.float32(max_value)).clip(0.0, 1.0)


def add_channel_axis(images: np.ndarray) -> np.ndarray:
    """(N, H, W) → (N, H, W, 1); (N, H, W, C) unchanged."""
    images = np.asarray(images)
    if images.ndim == 3:
        return images[..., None]
    if images.ndim == 4:
        return images
    raise ValueError(f"`images` must have shape (N, H, W) or (N, H, W, C). Received shape {images.shape}")


def resize_images(images: np.ndarray, size) -> np.ndarray:
    """Bilinear resize of (N, H, W, C) images to ``size = (height, width)``."""
    if isinstance(size, int):
        size = (size, size)
    if len(size) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in size):
        raise ValueError(f"`resize` must be a positive int or (height, width). Received: resize={size!r}")
    images = add_channel_axis(images)
    if tuple(images.shape[1:3]) == tuple(size):
        return images
    import tensorflow as tf  # local: keep plain-NumPy use of this module light

    return tf.image.resize(images, size, method="bilinear").numpy().astype(np.float32)


def filter_classes(x: np.ndarray, y: np.ndarray, classes: Sequence[int]):
    """Keeps samples of ``classes`` and relabels them 0..k−1 in the order given."""
    classes = list(classes)
    present = set(np.unique(y).tolist())
    missing = [c for c in classes if c not in present]
    if not classes or missing or len(set(classes)) != len(classes):
        raise ValueError(
            f"`classes` must be distinct labels present in the data {sorted(present)}. "
            f"Received: classes={classes!r}"
        )
    mask = np.isin(y, classes)
    lookup = {c: i for i, c in enumerate(classes)}
    return x[mask], np.array([lookup[v] for v in y[mask].tolist()], dtype=np.int64)


def balanced_subset(x: np.ndarray, y: np.ndarray, size: int, *, seed: int = 0, name: str = "size"):
    """A seeded subset of ``size`` samples with equal counts per class (remainder to the first classes)."""
    labels = np.unique(y)
    per_class = per_class_counts(size, len(labels), name)
    rng = np.random.default_rng(seed)
    chosen = []
    for label, count in zip(labels, per_class):
        index = np.flatnonzero(y == label)
        if len(index) < count:
            raise ValueError(
                f"`{name}`={size} needs {count} samples of class {label}, but only {len(index)} "
                "are available; ask for a smaller subset"
            )
        chosen.append(rng.choice(index, size=count, replace=False))
    order = rng.permutation(np.concatenate(chosen))
    return x[order], y[order]


def per_class_counts(size: int, num_classes: int, name: str = "size") -> list:
    """``size`` spread over ``num_classes`` classes as evenly as possible (the remainder to the first ones)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < num_classes:
        raise ValueError(f"`{name}` must be an int >= the number of classes ({num_classes}). Received: {name}={size!r}")
    return [size // num_classes + (1 if i < size % num_classes else 0) for i in range(num_classes)]


def first_per_class(y: np.ndarray, sizes: dict, *, labels=None) -> dict:
    """Consecutive per-class blocks in source order: for each name of ``sizes`` (in order) the indices of
    the next ``sizes[name]`` samples of each class (a total, spread as `per_class_counts` says; None: all
    that remain), sorted as in the source, plus ``"rest"``: what no block took.

    The distillation authors' protocol: "the first 150 images of each class", no shuffling.
    """
    labels = np.unique(y) if labels is None else np.asarray(labels)
    taken = {name: [] for name in sizes}
    taken["rest"] = []
    for position, label in enumerate(labels):
        index = np.flatnonzero(y == label)
        start = 0
        for name, size in sizes.items():
            count = len(index) - start if size is None else per_class_counts(size, len(labels), name)[position]
            if start + count > len(index):
                raise ValueError(
                    f"`{name}`={size} needs {count} more samples of class {label}, but only {len(index) - start} "
                    f"of its {len(index)} remain after the earlier splits; ask for smaller subsets"
                )
            taken[name].append(index[start:start + count])
            start += count
        taken["rest"].append(index[start:])
    return {name: np.sort(np.concatenate(parts)) if parts else np.array([], int) for name, parts in taken.items()}


def stratified_split(x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int = 0, name: str = "split"):
    """Seeded stratified split; returns (x_rest, y_rest, x_part, y_part) with ``fraction`` in the part."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`{name}` must be in (0, 1). Received: {name}={fraction!r}")
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y) if len(y) else np.array([])
    stratify = y if counts[counts > 0].min(initial=0) >= 2 else None
    x_rest, x_part, y_rest, y_part = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=stratify
    )
    return x_rest, y_rest, x_part, y_part


def make_augmenter(*, rotation: float = 0.05, shift: float = 0.1, flip: bool = False, seed: int = 0):
    """Training-time augmentation as Keras preprocessing layers (small rotations and shifts).

    ``rotation`` is a fraction of a full turn (0.05 ≈ ±18°), ``shift`` a fraction of the image
    size; flips are off by default because they change digit identity.
    """
    import keras

    augment = [
        keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed),
        keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed + 1),
    ]
    if flip:
        augment.append(keras.layers.RandomFlip("horizontal", seed=seed + 2))
    return keras.Sequential(augment, name="augmentation")


def binarise(images: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """0/1 float32 images: 1 where a pixel (in [0, 1]) is above ``threshold`` (TFQ's MNIST tutorial uses 0.5)."""
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"`threshold` must be in [0, 1]. Received: threshold={threshold!r}")
    return (np.asarray(images, np.float32) > float(threshold)).astype(np.float32)
