"""Keras Tuner HyperModels, one per model family."""
from __future__ import annotations

import numpy as np

import keras
from hybridkeras.models.common import compile_for
from hybridkeras.models.autoencoder_qfm import (
    REDUCTIONS,
    adapt_front,
    build_head,
    build_quantum_front,
    compose,
    quantum_front_size,
)
from hybridkeras.training.pipeline import compute_features

import keras_tuner as kt



class AutoencoderQFMHyperModel(kt.HyperModel):
    """Tunes the quantum feature map and the head of the autoencoder pipeline.

    The autoencoder is trained once beforehand; this HyperModel works on its 64-d codes.
    Hyperparameters (defaults are the package's defaults):

    * ``reduction``: 'groups' or 'pca'; ``readout``: 'Z' or 'probs';
      ``shots``: 0 (exact expectations) or a number of measurement shots;
    * ``units`` (first head layer; the next two halve it), ``dropout``, ``learning_rate``.

    ``build(hp)`` returns the compiled head, whose input is the quantum features; ``fit``
    computes those features for the trial's feature-map choices (once per choice, cached)
    and trains the head. :meth:`export` composes encoder → quantum front → head into the
    end-to-end model that is saved like any other.

    Args:
        codes_train: Training codes, used to fit the PCA / scaling layers of the front.
        num_classes: Number of classes.
        qubits: Qubits per circuit.
        shots: Candidate shot counts (0 means exact).
    """

    def __init__(self, codes_train, num_classes: int, *, qubits: int = 5, shots=(0, 1000), backend: str | None = None,
                 name="autoencoder_qfm", tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.codes_train = np.asarray(codes_train, dtype=np.float32)
        self.latent_dim = int(self.codes_train.shape[1])
        self.num_classes = num_classes
        self.qubits = qubits
        self.shots = tuple(shots)
        self.backend = backend  # the simulator of every trial's feature map (None: the default)
        self._fronts = {}
        self._features = {}

    def _front_key(self, hp):
        return (
            hp.Choice("reduction", list(REDUCTIONS), default="groups"),
            hp.Choice("readout", ["Z", "probs"], default="Z"),
            hp.Choice("shots", list(self.shots), default=self.shots[0]),
        )

    def front(self, hp) -> keras.Model:
        """The fitted quantum front for the trial's choices (built once per choice)."""
        key = self._front_key(hp)
        if key not in self._fronts:
            reduction, readout, shots = key
            front = build_quantum_front(
                self.latent_dim, reduction=reduction, qubits=self.qubits, readout=readout, repetitions=shots or None,
                backend=self.backend,
            )
            self._fronts[key] = adapt_front(front, self.codes_train)
        return self._fronts[key]

    def features(self, hp, codes: np.ndarray) -> np.ndarray:
        key = (self._front_key(hp), codes.__array_interface__["data"][0], codes.shape)
        if key not in self._features:
            self._features[key] = compute_features(self.front(hp), codes, desc=f"quantum features {key[0]}")
        return self._features[key]

    def build(self, hp):
        reduction, readout, _ = self._front_key(hp)
        units = hp.Int("units", 64, 256, step=64, default=256)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        width = quantum_front_size(self.latent_dim, reduction=reduction, qubits=self.qubits, readout=readout)
        head = build_head(width, self.num_classes, units=(units, max(units // 2, 1), max(units // 4, 1)), dropout=dropout)
        return compile_for(head, learning_rate=learning_rate)

    def fit(self, hp, model, x, y=None, validation_data=None, **kwargs):
        if validation_data is not None:
            x_val, y_val = validation_data
            validation_data = (self.features(hp, np.asarray(x_val, np.float32)), y_val)
        return model.fit(self.features(hp, np.asarray(x, np.float32)), y, validation_data=validation_data, **kwargs)

    def export(self, hp, head: keras.Model, encoder: keras.Model, input_shape) -> keras.Model:
        """End-to-end model image → encoder → the trial's quantum front → ``head`` (compiled)."""
        return compile_for(compose([encoder, self.front(hp), head], input_shape, name="autoencoder_qfm"))
