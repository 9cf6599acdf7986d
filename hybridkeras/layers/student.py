"""The quantum students of paper 4: `EncodedPQC` (encoding → trainable layers → probabilities), `ClassProbabilities`
and `SigmoidPairLogits` (their heads), in `keras.ops`."""
from __future__ import annotations

import math

import cirq
import numpy as np

import keras
from keras import ops as K

from hybridkeras.circuits import amplitude_encoding, hadamard_angle_encoding, make_symbols, ry_rz_layers
from hybridkeras.layers._backend import check_qubits
from hybridkeras.layers.base import QuantumLayer, register
from hybridkeras.layers.simulation import Readout, Simulation
from hybridkeras.layers._validation import MAX_DEPTH, check_choice, check_count, check_positive_int, check_rank2

ENCODINGS = ("amplitude", "angle")
_EPS = 1e-12


def amplitude_angles_tf(features, qubits: int):
    """`circuits.amplitude_angles` in `keras.ops` (any Keras backend): (batch, 2^n)
    features → (batch, 2^n − 1) RY angles.

    Differentiable everywhere: the norms carry a 1e-12 floor inside the square root, and on the
    last level an all-zero pair gives angle 0 with zero gradient (atan2's gradient at (0, 0) is
    0/0), so blank images and zero features train instead of failing with NaN gradients.
    """
    size = 2**qubits
    x = K.cast(features, "float32")
    x = x / K.sqrt(K.maximum(K.sum(x * x, axis=-1, keepdims=True), _EPS))  # tf.math.l2_normalize's epsilon
    angles = []
    for level in range(qubits):
        blocks = K.reshape(x, (-1, 2**level, 2, size // 2 ** (level + 1)))
        if level == qubits - 1:
            y, x0 = blocks[:, :, 1, 0], blocks[:, :, 0, 0]
            empty = K.logical_and(K.equal(y, 0.0), K.equal(x0, 0.0))
            angles.append(2.0 * K.arctan2(K.where(empty, 0.0, y), K.where(empty, 1.0, x0)))
        else:
            norms = K.sqrt(K.sum(K.square(blocks), axis=-1) + _EPS)
            angles.append(2.0 * K.arctan2(norms[:, :, 1], norms[:, :, 0]))
    return K.concatenate(angles, axis=-1)


def amplitude_encoded_state(features, qubits: int):
    """[batch, 2^n] real amplitudes that :func:`~hybridkeras.circuits.amplitude_encoding` prepares from the
    features [batch, 2^n] with `amplitude_angles_tf`'s angles: the features L2-normalised (the gates' cosines and
    sines multiply out to them, signs included), and for all-zero features (a blank image through a zero-bias
    front) the state those angles give, amplitude 2^{−(n−1)/2} on every even basis state, with zero gradient.
    The same numbers as multiplying the gates' cosines and sines level by level (up to the 1e-12 norm floor;
    `tests/test_distillation.py` compares them) in a handful of operations instead of a few per level. Its
    gradient is the derivative of the normalised features; where a block of the features is all zero the
    angles' route (TFQ's, through the gates) gives those features a zero gradient instead, by atan2's
    convention at (0, 0), while this one matches finite differences (`tests/test_engines.py`).
    """
    x = K.cast(features, "float32")
    squares = K.sum(x * x, axis=-1, keepdims=True)
    blank = squares < _EPS
    unit = x / K.sqrt(K.where(blank, 1.0, squares))
    even = np.zeros((1, 2**qubits), np.float32)
    even[0, ::2] = 2.0 ** (-(qubits - 1) / 2)
    return K.where(blank, K.convert_to_tensor(even), unit)


@register
class EncodedPQC(QuantumLayer):
    """A quantum student's circuit: data encoding, `depth` trainable layers, basis-state probabilities.

    Encodings:

    * 'amplitude': the 2^n input features, L2-normalised, become the amplitudes of the
      n-qubit state, prepared by RY and uniformly controlled RY rotations whose angles the
      layer computes from the features inside the graph (so gradients reach the features).
    * 'angle': H on every qubit, then RY(π·x_i) on qubit i for the n input features (feed
      tanh-scaled features, as the authors' notebooks do).

    Then `depth` layers of trainable RY and RZ on every qubit and a CNOT ring, and the 2^n
    basis-state probabilities (big-endian), exact or estimated from `repetitions` shots,
    in one simulator call per batch. On the state-vector engine the amplitude encoding's
    state is computed in closed form (`amplitude_encoded_state`: the normalised features the
    angles' gates prepare) and the engine runs the trainable layers from it (``initial=``), instead
    of applying the 2^n − 1 controlled rotations one by one: the same numbers, for a fraction of
    the training step.

    Args:
        qubits: Qubits n (the paper's students use 3 and 4).
        encoding: 'amplitude' (default) or 'angle'.
        depth: Trainable layers; 0 (with 'angle'): no trainable weight and no entangler, the
            encoding read out directly — the distillation authors' student circuit, whose basis-state
            probabilities are ∏_k (1 ± sin θ_k)/2.
        repetitions: None for exact probabilities, or shots per circuit and operator (the
            paper's configs use 5000); needs ``differentiator='parameter_shift'`` or None.
        differentiator: 'adjoint' (default, exact only), 'parameter_shift' or None.
        backend: 'statevector' (the state-vector engine, `hybridkeras.engines`, on TensorFlow, JAX and
            PyTorch; exact or with shots) or 'tfq' (TensorFlow Quantum's ops and differentiators, parameter
            shift included, on Keras' TensorFlow backend where TFQ is installed; the same numbers); None: the
            default of `hybridkeras.set_backend` ('statevector').

    Input shape:
        (batch, 2**qubits) for 'amplitude', (batch, qubits) for 'angle'.

    Output shape:
        (batch, 2**qubits).

    Example:
        >>> layer = EncodedPQC(3)
        >>> layer(np.random.randn(2, 8).astype("float32")).shape
        (2, 8)
    """

    def __init__(self, qubits=3, *, encoding="amplitude", depth=2, repetitions=None, differentiator="adjoint",
                 backend=None, **kwargs):
        super().__init__(repetitions=repetitions, differentiator=differentiator, backend=backend, **kwargs)
        self.encoding = check_choice("encoding", encoding, ENCODINGS)
        self.depth = check_count("depth", depth, maximum=MAX_DEPTH)
        if self.depth == 0 and self.encoding == "amplitude":
            raise ValueError("`depth=0` (no trainable layer) needs encoding='angle': an amplitude-encoded state "
                             "read out directly only returns the normalised features squared")
        self.qubits = check_qubits(qubits, self.backend)

        self._qubits = cirq.LineQubit.range(self.qubits)
        if self.encoding == "amplitude":
            self._inputs = make_symbols("a", 2**self.qubits - 1)
            encoder = amplitude_encoding(self._qubits, self._inputs)
        else:
            self._inputs = make_symbols("x", self.qubits)
            encoder = hadamard_angle_encoding(self._qubits, self._inputs)
        self._weights = make_symbols("w", self.depth * self.qubits * 2) if self.depth else []
        grid = np.array(self._weights, dtype=object).reshape(self.depth, self.qubits, 2).tolist()
        trainable = ry_rz_layers(self._qubits, grid)
        self.circuit = encoder + trainable
        self._readout = Readout(self._qubits, "probs", self.backend)
        # the engine starts from the amplitude-encoded state (see the class docstring)
        self._starts_encoded = self.backend == "statevector" and self.encoding == "amplitude"
        circuit, symbols = (trainable, self._weights) if self._starts_encoded else (self.circuit, self._inputs + self._weights)
        self._pqc = Simulation(
            circuit, self._readout.measured, symbols, repetitions=self.repetitions,
            differentiator=self.differentiator, backend=self.backend,
            shared=len(self._weights) if self.depth else 0, noise=self.noise,
        )

    @property
    def operators(self) -> list:
        """The readout operators (for 'probs': the basis-state projectors, built on first use)."""
        return self._readout.operators

    @property
    def symbols(self):
        """Encoding symbols (a000… amplitude angles, or x000… features), then weight symbols w000…."""
        return list(self._inputs) + list(self._weights)

    @property
    def features(self) -> int:
        """Input features the layer expects."""
        return 2**self.qubits if self.encoding == "amplitude" else self.qubits

    def build(self, input_shape):
        features = check_rank2("EncodedPQC", input_shape)
        if features != self.features:
            expected = f"2**qubits = {self.features}" if self.encoding == "amplitude" else f"qubits = {self.qubits}"
            raise ValueError(
                f"The last input dimension ({features}) must be {expected} for {self.encoding} encoding. "
                f"Received input shape {tuple(input_shape)}"
            )
        self.circuit_weights = None if self.depth == 0 else self.add_weight(
            name="circuit_weights", shape=(self.depth, self.qubits, 2),
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi), trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        x = self.finite_inputs(inputs)
        if self._starts_encoded and self.circuit_weights is not None:
            no_row_symbols = x[:, :0]  # [batch, 0]: every symbol is a shared weight
            return self._readout(self._pqc(no_row_symbols, shared=K.reshape(self.circuit_weights, (1, -1)),
                                           initial=amplitude_encoded_state(x, self.qubits)))
        values = amplitude_angles_tf(x, self.qubits) if self.encoding == "amplitude" else x
        if self.circuit_weights is None:  # depth 0: the encoding alone (the distillation authors' students)
            return self._readout(self._pqc(values))
        return self._readout(self._pqc(values, shared=K.reshape(self.circuit_weights, (1, -1))))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2**self.qubits)

    def get_config(self):
        config = super().get_config()
        config.update(qubits=self.qubits, encoding=self.encoding, depth=self.depth)
        return config


@register
class ClassProbabilities(keras.layers.Layer):
    """The first `num_classes` of 2^n basis-state probabilities, renormalised to sum to 1.

    Maps a quantum student's measurement distribution to class probabilities without
    classical weights (class k ↔ basis state k). Sampled probabilities may dip slightly
    below 0; they are clipped at ``floor`` first.

    Input shape: (batch, m) with m ≥ num_classes. Output shape: (batch, num_classes).
    """

    def __init__(self, num_classes, *, floor: float = 1e-7, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.floor = float(floor)

    def build(self, input_shape):
        available = check_rank2("ClassProbabilities", input_shape)
        if available < self.num_classes:
            raise ValueError(
                f"ClassProbabilities needs at least num_classes = {self.num_classes} inputs; "
                f"{available} basis states are too few (add qubits or use a Dense head). "
                f"Received input shape {tuple(input_shape)}"
            )
        super().build(input_shape)

    def call(self, inputs):
        p = K.maximum(K.cast(inputs[:, : self.num_classes], "float32"), self.floor)
        return p / K.sum(p, axis=-1, keepdims=True)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, floor=self.floor)
        return config


@register
class SigmoidPairLogits(keras.layers.Layer):
    """The distillation authors' head: the 2^n basis-state probabilities p of a student circuit become
    2^(n+1) logits ``concat(sigmoid(p), 1 − sigmoid(p))`` for a cross-entropy on logits, and the
    prediction is their argmax. No weights.

    Input shape: (batch, m). Output shape: (batch, 2·m).
    """

    def call(self, inputs):
        s = K.sigmoid(K.cast(inputs, self.compute_dtype))
        return K.concatenate([s, 1.0 - s], axis=-1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return shape[:-1] + (None if shape[-1] is None else 2 * shape[-1],)

