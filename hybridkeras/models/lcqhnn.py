"""Paper 3: the lean classical-quantum hybrid (LCQHNN) and its CNN-4 / CNN-8 / CNN-16 baselines.

All four models share one feature extractor and differ only in the module between the
n = 4 features and the classifier:

    image → conv1 (3×3, ReLU) → pool1 (2×2) → conv2 (3×3, ReLU) → pool2 (2×2) → Flatten
          → dense_hidden (256, ReLU) → Dropout → features (n)
          → LCQHNNBlock (n trainable RY angles)           [lcqhnn]
            or classical_block: Dense(p / n, no bias, tanh) [lcqhnn-cnn<p>, p = 4, 8, 16]
          → classifier Dense(classes, softmax)

The classical module of CNN-p has exactly p parameters (a bias-free n → p/n fully connected
layer), as the quantum block has n = 4; tanh keeps its outputs bounded like ⟨Z⟩. The models
are flat functional chains, so Grad-CAM can read ``conv2`` directly.
"""
from __future__ import annotations

from typing import Sequence

import keras
from hybridkeras.layers import LCQHNNBlock
from hybridkeras.engines import MAX_ENGINE_QUBITS
from hybridkeras.layers._validation import check_positive_int
from hybridkeras.models.common import SIMULATION_SETTINGS, check_classes, check_image_shape, image_check


DEFAULT_FILTERS = (8, 16)


def _extractor(inputs, *, qubits, filters, kernel_size, hidden_units, dropout):
    shape = tuple(inputs.shape[1:])
    filters = tuple(filters)
    if len(filters) != 2:
        raise ValueError(f"`filters` must be two positive ints (one per conv layer). Received: filters={filters!r}")
    for count in filters:
        check_positive_int("filters", count)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    hidden_units = check_positive_int("hidden_units", hidden_units)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    size = min(shape[0], shape[1])
    for _ in range(2):
        size = (size - kernel_size + 1) // 2
    if size < 1:
        raise ValueError(
            f"Two {kernel_size}×{kernel_size} convolutions (no padding), each followed by 2×2 pooling, need "
            f"images of at least {3 * kernel_size + 1} pixels a side. "
            f"Received: input_shape={shape!r}"
        )
    x = inputs
    for i, count in enumerate(filters):
        x = keras.layers.Conv2D(count, kernel_size, activation="relu", name=f"conv{i + 1}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(hidden_units, activation="relu", name="dense_hidden")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.layers.Dense(qubits, name="features")(x)


def build_lcqhnn(input_shape=(28, 28, 1), num_classes: int = 2, *, qubits: int = 4,
                 filters: Sequence[int] = DEFAULT_FILTERS, kernel_size: int = 3, hidden_units: int = 256,
                 dropout: float = 0.5, readout: str = "Z", differentiator: str | None = "adjoint",
                 repetitions: int | None = None, backend: str | None = None) -> "keras.Model":
    """LCQHNN: the CNN feature extractor → 4 features → LCQHNNBlock → Dense(classes, softmax).

    Args:
        input_shape: (height, width, channels) of the images.
        num_classes: Classes (the paper's tasks are two-class).
        qubits: Features and qubits of the variational block (paper: 4).
        filters: Filters of the two 3×3 convolutions.
        kernel_size: Convolution kernel size (paper: 3).
        hidden_units: Width of the fully connected transition (paper: 256 → 4).
        dropout: Dropout rate after the transition's hidden layer.
        readout: 'Z' (⟨Z_i⟩ per qubit) or 'probs' (2^qubits basis-state probabilities).
        differentiator, repetitions, backend: The simulation settings, see :class:`~hybridkeras.layers.LCQHNNBlock`.
    """
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    qubits = check_positive_int("qubits", qubits, maximum=MAX_ENGINE_QUBITS)
    inputs = keras.Input(shape, name="image")
    x = _extractor(image_check()(inputs), qubits=qubits, filters=filters, kernel_size=kernel_size, hidden_units=hidden_units,
                   dropout=dropout)
    x = LCQHNNBlock(qubits, readout=readout, differentiator=differentiator, repetitions=repetitions,
                    backend=backend, name="lcqhnn_block")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="lcqhnn")


def build_lcqhnn_cnn(input_shape=(28, 28, 1), num_classes: int = 2, *, parameters: int = 16, qubits: int = 4,
                     filters: Sequence[int] = DEFAULT_FILTERS, kernel_size: int = 3, hidden_units: int = 256,
                     dropout: float = 0.5, activation: str | None = "tanh", **ignored) -> "keras.Model":
    """CNN-p: the LCQHNN extractor with the quantum block replaced by a p-parameter fully connected module.

    The module is Dense(p / qubits, use_bias=False, activation) on the ``qubits`` features, so
    ``parameters`` must be a multiple of ``qubits``. Quantum-only hyperparameters (readout,
    backend, differentiator, repetitions) are accepted and ignored, so one config can build all models.
    """
    unknown = sorted(set(ignored) - {"readout", *SIMULATION_SETTINGS})
    if unknown:
        raise TypeError(f"build_lcqhnn_cnn got unexpected arguments {unknown}")
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    qubits = check_positive_int("qubits", qubits, maximum=MAX_ENGINE_QUBITS)
    parameters = check_positive_int("parameters", parameters)
    if parameters % qubits:
        raise ValueError(
            f"`parameters` must be a multiple of the feature count qubits = {qubits} (a bias-free "
            f"{qubits} → parameters/{qubits} layer). Received: parameters={parameters}"
        )
    inputs = keras.Input(shape, name="image")
    x = _extractor(image_check()(inputs), qubits=qubits, filters=filters, kernel_size=kernel_size, hidden_units=hidden_units,
                   dropout=dropout)
    x = keras.layers.Dense(parameters // qubits, use_bias=False, activation=activation, name="classical_block")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=f"lcqhnn_cnn{parameters}")


def build_lcqhnn_cnn4(input_shape=(28, 28, 1), num_classes: int = 2, **kwargs) -> "keras.Model":
    """CNN-4: a 4-parameter classical module in place of the quantum block."""
    return build_lcqhnn_cnn(input_shape, num_classes, parameters=4, **kwargs)


def build_lcqhnn_cnn8(input_shape=(28, 28, 1), num_classes: int = 2, **kwargs) -> "keras.Model":
    """CNN-8: an 8-parameter classical module in place of the quantum block."""
    return build_lcqhnn_cnn(input_shape, num_classes, parameters=8, **kwargs)


def build_lcqhnn_cnn16(input_shape=(28, 28, 1), num_classes: int = 2, **kwargs) -> "keras.Model":
    """CNN-16: a 16-parameter classical module in place of the quantum block."""
    return build_lcqhnn_cnn(input_shape, num_classes, parameters=16, **kwargs)
