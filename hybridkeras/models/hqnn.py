"""Paper 2: HQNN-Parallel and HQNN-Quanv, with their classical counterparts.

* ``hqnn_parallel``: conv blocks [Conv2D(5×5, same) → BatchNorm → ReLU → MaxPool(2)] → Flatten
  → Dense(n) → BatchNorm → ReLU → ParallelPQC(c circuits × q qubits) → Dense(classes, softmax),
  n = c·q. Paper: q = 5, depth = 3, c = 4, filters 16, 32 (MNIST), two blocks (Medical MNIST),
  three blocks (CIFAR-10).
* ``hqnn_parallel_cnn``: the same with the quantum layer replaced by Dense(n) → BatchNorm → ReLU.
* ``hqnn_quanv``: Quanvolution2D(2×2, 4 qubits) → Flatten → Dense(classes, softmax), on 14×14.
* ``quanv_cnn``: Conv2D(filters, 2×2, stride 2) → Flatten → Dense(classes, softmax); CNN1 and
  CNN4 are ``filters=1`` and ``filters=4``.
"""
from __future__ import annotations

from typing import Sequence

import keras
from hybridkeras.layers import ParallelPQC, Quanvolution2D
from hybridkeras.engines import MAX_ENGINE_QUBITS
from hybridkeras.layers._validation import check_positive_int
from hybridkeras.models.common import SIMULATION_SETTINGS, batch_norm, check_classes, check_image_shape, image_check


DEFAULT_FILTERS = (16, 32, 64, 128)
# The paper's models are PyTorch models; PyTorch's BatchNorm keeps 10% of each batch's
# statistics (Keras: momentum 0.9) and eps 1e-5. Keras' own default momentum 0.99 leaves the
# moving statistics so far behind on small datasets that validation accuracy sits at chance
# for the first epochs while training accuracy is already > 90%.
BN = dict(momentum=0.9, epsilon=1e-5)




def build_conv_block(input_shape=(28, 28, 1), *, conv_blocks: int = 2, filters: Sequence[int] | None = None,
                     kernel_size: int = 5) -> keras.Model:
    """The shared feature extractor: ``conv_blocks`` × [Conv2D → BatchNorm → ReLU → MaxPool(2)] → Flatten."""
    shape = check_image_shape(input_shape)
    conv_blocks = check_positive_int("conv_blocks", conv_blocks)
    filters = tuple(filters) if filters is not None else DEFAULT_FILTERS[:conv_blocks]
    if len(filters) != conv_blocks:
        raise ValueError(
            f"`filters` must list one filter count per conv block ({conv_blocks}). Received: filters={filters!r}"
        )
    if min(shape[0], shape[1]) < 2 ** conv_blocks:
        raise ValueError(
            f"{conv_blocks} conv blocks halve the image {conv_blocks} times; an input of "
            f"{shape[0]}×{shape[1]} is too small. Received: input_shape={input_shape!r}"
        )
    layers = [keras.Input(shape)]
    for i, count in enumerate(filters):
        layers += [
            keras.layers.Conv2D(count, kernel_size, padding="same", name=f"conv{i + 1}"),
            batch_norm(name=f"conv{i + 1}_bn", **BN),
            keras.layers.ReLU(name=f"conv{i + 1}_relu"),
            keras.layers.MaxPooling2D(2, name=f"pool{i + 1}"),
        ]
    layers.append(keras.layers.Flatten(name="flatten"))
    return keras.Sequential(layers, name="conv_block")


def _hqnn_parallel(input_shape, num_classes, quantum: bool, *, qubits, depth, circuits, conv_blocks, filters,
                   readout, embedding, differentiator, repetitions, name, units_mid=None, backend=None):
    num_classes = check_classes(num_classes)
    qubits = check_positive_int("qubits", qubits, maximum=MAX_ENGINE_QUBITS)
    circuits = check_positive_int("circuits", circuits)
    units = circuits * qubits
    features = build_conv_block(input_shape, conv_blocks=conv_blocks, filters=filters)
    inputs = keras.Input(check_image_shape(input_shape), name="image")
    x = features(image_check()(inputs))
    x = keras.layers.Dense(units, name="dense_in")(x)
    x = batch_norm(name="dense_in_bn", **BN)(x)
    x = keras.layers.ReLU(name="dense_in_relu")(x)
    if quantum:
        x = ParallelPQC(circuits, qubits, depth=depth, readout=readout, embedding=embedding,
                        differentiator=differentiator, repetitions=repetitions, backend=backend, name="parallel_pqc")(x)
    else:
        x = keras.layers.Dense(units_mid or units, name="dense_mid")(x)
        x = batch_norm(name="dense_mid_bn", **BN)(x)
        x = keras.layers.ReLU(name="dense_mid_relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)


def build_hqnn_parallel(input_shape=(28, 28, 1), num_classes: int = 10, *, qubits: int = 5, depth: int = 3,
                        circuits: int = 4, conv_blocks: int = 2, filters: Sequence[int] | None = None,
                        readout: str = "Y", embedding: str = "X", differentiator: str | None = "adjoint",
                        repetitions: int | None = None, backend: str | None = None) -> keras.Model:
    """HQNN-Parallel (paper settings by default: 4 circuits × 5 qubits, depth 3, ⟨Y⟩ readout).

    ``backend``, ``differentiator``, ``repetitions``: the simulation settings of its `ParallelPQC`
    (``backend=None``: the default of `hybridkeras.set_backend`).
    """
    return _hqnn_parallel(input_shape, num_classes, True, qubits=qubits, depth=depth, circuits=circuits,
                          conv_blocks=conv_blocks, filters=filters, readout=readout, embedding=embedding,
                          differentiator=differentiator, repetitions=repetitions, name="hqnn_parallel",
                          backend=backend)


def build_hqnn_parallel_cnn(input_shape=(28, 28, 1), num_classes: int = 10, *, qubits: int = 5, circuits: int = 4,
                            conv_blocks: int = 2, filters: Sequence[int] | None = None, units: int | None = None,
                            **ignored) -> keras.Model:
    """HQNN-Parallel's CNN counterpart: the quantum layer becomes Dense(circuits·qubits) → BatchNorm → ReLU.

    ``units`` widens that replacement Dense (default circuits·qubits, the like-for-like swap).

    Quantum-only hyperparameters (depth, readout, …) are accepted and ignored, so one config
    can build both models.
    """
    unknown = sorted(set(ignored) - {"depth", "readout", "embedding", *SIMULATION_SETTINGS})
    if unknown:
        raise TypeError(f"build_hqnn_parallel_cnn got unexpected arguments {unknown}")
    return _hqnn_parallel(input_shape, num_classes, False, qubits=qubits, depth=None, circuits=circuits,
                          conv_blocks=conv_blocks, filters=filters, readout=None, embedding=None,
                          differentiator=None, repetitions=None, name="hqnn_parallel_cnn",
                          units_mid=None if units is None else check_positive_int("units", units))


def build_hqnn_quanv(input_shape=(14, 14, 1), num_classes: int = 10, *, kernel_size: int = 2, rotation: str = "X",
                     differentiator: str | None = "adjoint", repetitions: int | None = None,
                     backend: str | None = None) -> keras.Model:
    """HQNN-Quanv: quantum 2×2 kernel (4 qubits, stride 2) → Flatten → Dense(classes, softmax).

    ``backend``, ``differentiator``, ``repetitions``: the simulation settings of its `Quanvolution2D`.
    """
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    inputs = keras.Input(shape, name="image")
    x = Quanvolution2D(kernel_size, rotation=rotation, differentiator=differentiator, repetitions=repetitions,
                       backend=backend, name="quanv")(image_check()(inputs))
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="hqnn_quanv")


def build_quanv_cnn(input_shape=(14, 14, 1), num_classes: int = 10, *, filters: int = 4, kernel_size: int = 2,
                    activation: str | None = None, backend: str | None = None) -> keras.Model:
    """CNN1 / CNN4 of the Quanv paper: Conv2D(filters, k×k, stride k) → Flatten → Dense(classes, softmax).

    ``backend`` is accepted and ignored (no quantum layer), so a runner can pass it to every model.
    """
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    filters = check_positive_int("filters", filters)
    kernel_size = check_positive_int("kernel_size", kernel_size)
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(filters, kernel_size, strides=kernel_size, activation=activation,
                            name="conv")(image_check()(inputs))
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=f"cnn{filters}")


def build_cnn1(input_shape=(14, 14, 1), num_classes: int = 10, **kwargs) -> keras.Model:
    """CNN1: one 2×2 filter."""
    return build_quanv_cnn(input_shape, num_classes, filters=1, **kwargs)


def build_cnn4(input_shape=(14, 14, 1), num_classes: int = 10, **kwargs) -> keras.Model:
    """CNN4: four 2×2 filters (as many channels as the quantum kernel has qubits)."""
    return build_quanv_cnn(input_shape, num_classes, filters=4, **kwargs)
