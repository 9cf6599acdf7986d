"""`QuantumFeatureMap`: the first paper's fixed 5-qubit feature map as a Keras layer."""
from __future__ import annotations

import cirq
import numpy as np

from keras import ops as K

from hybridkeras.circuits import feature_map_circuit, make_symbols
from hybridkeras.circuits.readouts import READOUTS, readout_size
from hybridkeras.layers._backend import check_qubits
from hybridkeras.layers.base import QuantumLayer, register
from hybridkeras.layers.simulation import Readout, Simulation
from hybridkeras.layers._validation import check_choice, check_rank2

# RY(2·arccos x) has an infinite derivative at x = 1; features are clipped just below it so
# gradients stay finite when the map sits inside an end-to-end model. The effect on the
# state is an amplitude change of at most 1e-6.
_UPPER = 1.0 - 1e-6


@register
class QuantumFeatureMap(QuantumLayer):
    """Fixed (non-trainable) quantum feature map: the data as symbol values of one circuit per group.

    Each group of `qubits` features x in [0, 1] (values outside are clipped) is encoded as
    RY(2·arccos x) on its own qubit, followed by a Hadamard on every qubit and a CNOT chain,
    and read out as ⟨P⟩ per qubit (P = X, Y or Z) or as the 2^qubits basis-state
    probabilities. The data enter as symbol values, so gradients reach the inputs.

    With `repetitions=None` the values are exact; with `repetitions=N` they come from N shots.
    How each readout is computed:

    * Pauli readouts: one expectation per qubit (with N shots per operator when sampled).
    * 'probs' on the state-vector engine: its basis-state probabilities (exact, or frequencies of N shots).
    * 'probs' on TFQ, exact: the 2^n − 1 expectations ⟨Z_S⟩ and a fixed Walsh–Hadamard transform turn into
      probabilities (far cheaper than 2^n projector PauliSums of 2^n terms each; equal to them, see
      `circuits.readouts`).
    * 'probs' on TFQ, sampled: TFQ's sampling op draws N bitstrings per circuit and the layer returns their
      frequencies, as a measurement record on hardware would. Sampling passes no gradient, so use it for
      fixed feature extraction, not for end-to-end fine-tuning.

    Args:
        qubits: Qubits per circuit (the paper uses 5).
        readout: 'Z' (default), 'X', 'Y' for one expectation per qubit, or 'probs' for the
            2^qubits basis-state probabilities (big-endian, qubit 0 most significant).
        repetitions: None for exact expectations, or the number of shots per circuit.
        differentiator: None (the simulator's default), 'adjoint' (exact only) or 'parameter_shift' (TFQ).
        backend: 'statevector' (the state-vector engine, `hybridkeras.engines`, on TensorFlow, JAX and
            PyTorch; exact or with shots) or 'tfq' (TensorFlow Quantum's ops and differentiators, parameter
            shift included, on Keras' TensorFlow backend where TFQ is installed; the same numbers); None: the
            default of `hybridkeras.set_backend` ('statevector').

    Input shape:
        (batch, features), features a multiple of `qubits`; each consecutive group of
        `qubits` features drives one circuit.

    Output shape:
        (batch, groups * qubits) for Pauli readouts, (batch, groups * 2**qubits) for 'probs'.

    Example:
        >>> qfm = QuantumFeatureMap(5, readout="Z")
        >>> qfm(np.random.rand(8, 10).astype("float32")).shape
        (8, 10)
    """

    def __init__(self, qubits=5, *, readout="Z", repetitions=None, differentiator=None, backend=None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(repetitions=repetitions, differentiator=differentiator, backend=backend, **kwargs)
        self.readout = check_choice("readout", readout, READOUTS)
        self.qubits = check_qubits(qubits, self.backend)

        self._qubits = cirq.LineQubit.range(self.qubits)
        self._symbols = make_symbols("x", self.qubits)
        self.circuit = feature_map_circuit(self._qubits, self._symbols)
        self._readout = Readout(self._qubits, self.readout, self.backend)
        self.readout_dim = readout_size(self.qubits, self.readout)
        # TFQ: sampled probabilities from bitstrings (tfq.layers.Sample); the engine samples them itself
        self._sampled_probs = self.readout == "probs" and self.repetitions is not None and self.backend == "tfq"
        self._pqc = Simulation(
            self.circuit, None if self._sampled_probs else self._readout.measured, self._symbols,
            repetitions=None if self._sampled_probs else self.repetitions, differentiator=self.differentiator,
            backend=self.backend, noise=self.noise,
        )
        if self._sampled_probs:
            self._place = np.array([2 ** (self.qubits - 1 - i) for i in range(self.qubits)], np.int32)
        self.groups = None

    @property
    def operators(self) -> list:
        """The readout operators (for 'probs': the basis-state projectors, built on first use)."""
        return self._readout.operators

    @property
    def symbols(self):
        """The circuit's symbols, in the order the input features fill them."""
        return list(self._symbols)

    def build(self, input_shape):
        features = check_rank2("QuantumFeatureMap", input_shape)
        if features % self.qubits:
            raise ValueError(
                f"The last input dimension ({features}) must be a multiple of qubits = "
                f"{self.qubits}: each group of {self.qubits} features drives one circuit. "
                "Pad the features (PadFeatures) or reduce them (PCAProjection) first. "
                f"Received input shape {tuple(input_shape)}"
            )
        self.groups = features // self.qubits
        super().build(input_shape)

    def call(self, inputs):
        x = self.finite_inputs(inputs)
        x = K.clip(x, 0.0, _UPPER)
        angles = K.reshape(2.0 * K.arccos(x), [-1, self.qubits])
        if self._sampled_probs:  # TFQ only: bitstrings from TFQ's sampling op
            bits = self._pqc.sample(angles, self.repetitions)
            index = K.sum(K.cast(bits, "int32") * self._place, axis=-1)
            values = K.mean(K.one_hot(index, self.readout_dim, dtype="float32"), axis=1)
        else:
            values = self._readout(self._pqc(angles))
        return K.reshape(values, [-1, self.groups * self.readout_dim])

    def compute_output_shape(self, input_shape):
        features = check_rank2("QuantumFeatureMap", input_shape)
        return (tuple(input_shape)[0], features // self.qubits * self.readout_dim)

    def get_config(self):
        config = super().get_config()
        config.update(qubits=self.qubits, readout=self.readout)
        return config

