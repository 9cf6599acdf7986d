"""`ParallelPQC`: HQNN-Parallel's c independent variational circuits as one Keras layer."""
from __future__ import annotations

import math

import cirq
import numpy as np

import keras
from keras import ops as K

from hybridkeras.circuits import make_symbols, parallel_pqc_circuit, pauli_readout
from hybridkeras.layers._backend import check_qubits
from hybridkeras.layers.base import QuantumLayer, register
from hybridkeras.layers.simulation import Simulation
from hybridkeras.layers._validation import MAX_DEPTH, check_choice, check_positive_int, check_rank2

PAULI_AXES = ("X", "Y", "Z")


@register
class ParallelPQC(QuantumLayer):
    """`circuits` parallel `qubits`-qubit PQCs, each with its own trainable weights.

    The n = circuits·qubits input features are split into `circuits` consecutive parts of
    `qubits` values. Part i drives circuit i: the angle embedding R_embedding(x_j) on qubit j,
    then `depth` strongly entangling layers (Rot = RZ·RY·RZ per qubit with trainable angles,
    then a ring of CNOTs with range r = l mod (qubits − 1) + 1), read out as ⟨P_j⟩ on every
    qubit (P = `readout`). Inputs and weights both enter as symbol values, and the circuits of a
    whole batch (batch·circuits of them) run in a single simulator call (`layers.simulation.Simulation`),
    exact or with `repetitions` shots, so gradients reach the inputs and the weights.

    Args:
        circuits: Number of parallel circuits c (the paper uses 4).
        qubits: Qubits per circuit q (the paper uses 5).
        depth: Strongly entangling layers per circuit (the paper uses 3).
        readout: Pauli axis measured on every qubit: 'Y' (paper), 'X' or 'Z'.
        embedding: Rotation axis of the angle embedding: 'X' (paper), 'Y' or 'Z'.
        differentiator: 'adjoint' (default, exact), 'parameter_shift' (hardware-style), or
            None (the simulator's choice).
        repetitions: None for exact expectations, or shots per circuit and operator.
        backend: 'statevector' (the state-vector engine, `hybridkeras.engines`, on TensorFlow, JAX and
            PyTorch; exact or with shots) or 'tfq' (TensorFlow Quantum's ops and differentiators, parameter
            shift included, on Keras' TensorFlow backend where TFQ is installed; the same numbers); None: the
            default of `hybridkeras.set_backend` ('statevector').

    Input shape:
        (batch, circuits * qubits).

    Output shape:
        (batch, circuits * qubits): ⟨P_j⟩ of circuit i at position i·qubits + j.

    Weights:
        ``circuit_weights`` of shape (circuits, depth, qubits, 3): (φ, θ, ω) of every Rot.

    Example:
        >>> layer = ParallelPQC(4, 5, depth=3)
        >>> layer(np.random.rand(2, 20).astype("float32")).shape
        (2, 20)
    """

    def __init__(self, circuits=4, qubits=5, *, depth=3, readout="Y", embedding="X",
                 differentiator="adjoint", repetitions=None, backend=None, **kwargs):
        super().__init__(repetitions=repetitions, differentiator=differentiator, backend=backend, **kwargs)
        self.circuits = check_positive_int("circuits", circuits)
        self.depth = check_positive_int("depth", depth, maximum=MAX_DEPTH)
        self.readout = check_choice("readout", readout, PAULI_AXES)
        self.embedding = check_choice("embedding", embedding, PAULI_AXES)
        self.qubits = check_qubits(qubits, self.backend)

        self._qubits = cirq.LineQubit.range(self.qubits)
        self._inputs = make_symbols("x", self.qubits)
        self._weights = make_symbols("w", self.depth * self.qubits * 3)
        grid = np.array(self._weights, dtype=object).reshape(self.depth, self.qubits, 3).tolist()
        self.circuit = parallel_pqc_circuit(self._qubits, self._inputs, grid, embedding=self.embedding)
        self.operators = pauli_readout(self._qubits, self.readout)
        self._pqc = Simulation(
            self.circuit, self.operators, self._inputs + self._weights,
            repetitions=self.repetitions, differentiator=self.differentiator, backend=self.backend,
            shared=len(self._weights), noise=self.noise,
        )

    @property
    def symbols(self):
        """Input symbols x000… then weight symbols w000… (weights in (depth, qubit, angle) order)."""
        return list(self._inputs) + list(self._weights)

    @property
    def units(self) -> int:
        return self.circuits * self.qubits

    def build(self, input_shape):
        features = check_rank2("ParallelPQC", input_shape)
        if features != self.units:
            raise ValueError(
                f"The last input dimension ({features}) must be circuits*qubits = "
                f"{self.circuits}*{self.qubits} = {self.units}. Received input shape {tuple(input_shape)}"
            )
        self.circuit_weights = self.add_weight(
            name="circuit_weights",
            shape=(self.circuits, self.depth, self.qubits, 3),
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi),
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        x = self.finite_inputs(inputs)
        weights = K.reshape(self.circuit_weights, [self.circuits, -1])  # rows are (sample, circuit)
        return K.reshape(self._pqc(K.reshape(x, [-1, self.qubits]), shared=weights), [-1, self.units])

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            circuits=self.circuits, qubits=self.qubits, depth=self.depth, readout=self.readout,
            embedding=self.embedding,
        )
        return config

