"""Paper 1: a 784 → 64 autoencoder whose codes feed a quantum feature map and a dense head.

Pieces (each a named sub-model, so trained parts can be reused and recomposed):

* ``encoder``: Flatten → Dense(hidden, ReLU) → Dense(latent, ReLU).
* ``decoder``: Dense(hidden, ReLU) → Dense(H·W·C, sigmoid) → Reshape.
* ``quantum_front``: reduce the 64 codes to what 5-qubit circuits take, scale into [0, 1],
  run the fixed feature map. Two readings of the paper:
  ``reduction="pca"`` (64 → 5 principal components, one circuit per image; the paper's
  later revision) or ``reduction="groups"`` (pad 64 → 65, 13 circuits of 5 features each).
* ``head``: [Dense(units, ReLU) → BatchNorm → Dropout] × 3 → Dense(classes, softmax).

The classical baseline is ``encoder → head``; the hybrid is ``encoder → quantum_front → head``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from keras import ops as K

import keras
from hybridkeras.circuits.readouts import readout_size
from hybridkeras.layers import MinMaxScaling, PadFeatures, PCAProjection, QuantumFeatureMap
from hybridkeras.engines import MAX_ENGINE_QUBITS
from hybridkeras.layers._validation import check_choice, check_positive_int
from hybridkeras.models.common import batch_norm, check_input_shape, image_check


REDUCTIONS = ("pca", "groups")



def build_encoder(input_shape=(28, 28, 1), *, latent_dim: int = 64, hidden_units: int = 256) -> keras.Model:
    """Image → latent code (ReLU, so codes are non-negative)."""
    shape = check_input_shape(input_shape)
    return keras.Sequential(
        [
            keras.Input(shape),
            image_check(),
            keras.layers.Flatten(),
            keras.layers.Dense(check_positive_int("hidden_units", hidden_units), activation="relu"),
            keras.layers.Dense(check_positive_int("latent_dim", latent_dim), activation="relu"),
        ],
        name="encoder",
    )


def build_decoder(output_shape=(28, 28, 1), *, latent_dim: int = 64, hidden_units: int = 256) -> keras.Model:
    """Latent code → image in [0, 1] (sigmoid output)."""
    shape = check_input_shape(output_shape)
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dense(int(np.prod(shape)), activation="sigmoid"),
            keras.layers.Reshape(shape),
        ],
        name="decoder",
    )


def build_autoencoder(input_shape=(28, 28, 1), *, latent_dim: int = 64, hidden_units: int = 256) -> keras.Model:
    """The 784 → 64 → 784 autoencoder (uncompiled); ``get_layer('encoder')`` gives the encoder."""
    encoder = build_encoder(input_shape, latent_dim=latent_dim, hidden_units=hidden_units)
    decoder = build_decoder(input_shape, latent_dim=latent_dim, hidden_units=hidden_units)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")


def build_head(input_dim: int, num_classes: int, *, units: Sequence[int] = (256, 128, 64), dropout: float = 0.3) -> keras.Model:
    """[Dense → BatchNorm → Dropout] per entry of ``units``, then a softmax Dense."""
    check_positive_int("input_dim", input_dim)
    check_positive_int("num_classes", num_classes)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    layers = [keras.Input((input_dim,))]
    for i, width in enumerate(units):
        layers += [
            keras.layers.Dense(check_positive_int("units", width), activation="relu", name=f"dense_{i}"),
            batch_norm(name=f"batch_norm_{i}"),
            keras.layers.Dropout(dropout, name=f"dropout_{i}"),
        ]
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="probabilities"))
    return keras.Sequential(layers, name="head")


def quantum_front_size(latent_dim: int, *, reduction: str, qubits: int, readout: str) -> int:
    """Width of the quantum front's output for these settings."""
    circuits = 1 if reduction == "pca" else -(-latent_dim // qubits)
    return circuits * readout_size(qubits, readout)


def build_quantum_front(
    latent_dim: int = 64,
    *,
    reduction: str = "pca",
    qubits: int = 5,
    readout: str = "Z",
    repetitions: int | None = None,
    backend: str | None = None,
) -> keras.Model:
    """Codes → reduced, [0, 1]-scaled features → fixed quantum feature map (simulated on ``backend``).

    The PCA and scaling layers must be fitted with :func:`adapt_front` before use.
    """
    check_choice("reduction", reduction, REDUCTIONS)
    check_positive_int("qubits", qubits, maximum=MAX_ENGINE_QUBITS)
    if reduction == "pca":
        prepare = [PCAProjection(qubits, name="pca"), MinMaxScaling(name="scale")]
    else:
        prepare = [MinMaxScaling(name="scale"), PadFeatures(qubits, name="pad")]
    return keras.Sequential(
        [keras.Input((latent_dim,))]
        + prepare
        + [QuantumFeatureMap(qubits, readout=readout, repetitions=repetitions, backend=backend, name="feature_map")],
        name="quantum_front",
    )


def adapt_front(front: keras.Model, codes: np.ndarray) -> keras.Model:
    """Fits the front's PCA / scaling layers on training codes, in order."""
    x = np.asarray(codes, dtype=np.float32)
    for layer in front.layers:
        if isinstance(layer, QuantumFeatureMap):
            break
        if hasattr(layer, "adapt"):
            layer.adapt(x)
        x = K.convert_to_numpy(layer(x))
    return front


def compose(parts: Sequence[keras.Model], input_shape, *, name: str) -> keras.Model:
    """Chains trained sub-models into one end-to-end functional model (weights shared)."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for part in parts:
        x = part(x)
    return keras.Model(inputs, x, name=name)


def build_autoencoder_classical(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    latent_dim: int = 64,
    hidden_units: int = 256,
    head_units: Sequence[int] = (256, 128, 64),
    dropout: float = 0.3,
    backend: str | None = None,
) -> keras.Model:
    """Classical baseline end to end: image → encoder → head (uncompiled; ``backend`` ignored)."""
    encoder = build_encoder(input_shape, latent_dim=latent_dim, hidden_units=hidden_units)
    head = build_head(latent_dim, num_classes, units=head_units, dropout=dropout)
    return compose([encoder, head], input_shape, name="autoencoder_classical")


def build_autoencoder_qfm(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    latent_dim: int = 64,
    hidden_units: int = 256,
    reduction: str = "pca",
    qubits: int = 5,
    readout: str = "Z",
    repetitions: int | None = None,
    head_units: Sequence[int] = (256, 128, 64),
    dropout: float = 0.3,
    backend: str | None = None,
) -> keras.Model:
    """Hybrid end to end: image → encoder → quantum front → head (uncompiled, front unfitted)."""
    encoder = build_encoder(input_shape, latent_dim=latent_dim, hidden_units=hidden_units)
    front = build_quantum_front(latent_dim, reduction=reduction, qubits=qubits, readout=readout, repetitions=repetitions,
                                backend=backend)
    width = quantum_front_size(latent_dim, reduction=reduction, qubits=qubits, readout=readout)
    head = build_head(width, num_classes, units=head_units, dropout=dropout)
    return compose([encoder, front, head], input_shape, name="autoencoder_qfm")
