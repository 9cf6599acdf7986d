"""`LCQHNNBlock`: the third paper's lean variational block as a Keras layer over ControlledPQC."""
from __future__ import annotations

import math

import cirq
import keras
from keras import ops as K

from hybridkeras.circuits import lcqhnn_circuit, make_symbols
from hybridkeras.circuits.readouts import readout_size
from hybridkeras.layers._backend import check_qubits
from hybridkeras.layers.base import QuantumLayer, register
from hybridkeras.layers.simulation import Readout, Simulation
from hybridkeras.layers._validation import check_choice, check_rank2

LCQHNN_READOUTS = ("Z", "probs")


@register
class LCQHNNBlock(QuantumLayer):
    """The LCQHNN variational block: one n-qubit circuit per sample, the batch in one simulator call.

    For features x_0 … x_{n−1}: H on every qubit; the phase U1(2·x_i) on qubit i; CNOT(0,1),
    …, CNOT(n−2, n−1); trainable RY(θ_i) on every qubit; the same CNOTs in reverse order; H on
    qubit 0; then the readout. The features enter as symbol values and the θ_i as layer
    weights, so gradients reach both (adjoint differentiation when exact, parameter shift
    with shots).

    Args:
        qubits: Number of qubits n, one per input feature (the paper uses 4).
        readout: 'Z' (default): ⟨Z_i⟩ on every qubit (n values in [−1, 1]); 'probs': the 2^n
            basis-state probabilities (big-endian, qubit 0 most significant).
        differentiator: 'adjoint' (default, exact only), 'parameter_shift' (hardware-style),
            or None (the simulator's choice).
        repetitions: None for exact expectations, or shots per circuit and operator.
        backend: 'statevector' (the state-vector engine, `hybridkeras.engines`, on TensorFlow, JAX and
            PyTorch; exact or with shots) or 'tfq' (TensorFlow Quantum's ops and differentiators, parameter
            shift included, on Keras' TensorFlow backend where TFQ is installed; the same numbers); None: the
            default of `hybridkeras.set_backend` ('statevector').

    Input shape:
        (batch, qubits).

    Output shape:
        (batch, qubits) for 'Z', (batch, 2**qubits) for 'probs'.

    Weights:
        ``theta`` of shape (qubits,): the RY angles.

    Example:
        >>> block = LCQHNNBlock(4)
        >>> block(np.random.randn(2, 4).astype("float32")).shape
        (2, 4)
    """

    def __init__(self, qubits=4, *, readout="Z", differentiator="adjoint", repetitions=None, backend=None, **kwargs):
        super().__init__(repetitions=repetitions, differentiator=differentiator, backend=backend, **kwargs)
        self.readout = check_choice("readout", readout, LCQHNN_READOUTS)
        self.qubits = check_qubits(qubits, self.backend)

        self._qubits = cirq.LineQubit.range(self.qubits)
        self._inputs = make_symbols("x", self.qubits)
        self._weights = make_symbols("theta", self.qubits)
        self.circuit = lcqhnn_circuit(self._qubits, self._inputs, self._weights)
        self._readout = Readout(self._qubits, self.readout, self.backend)
        self.units = readout_size(self.qubits, self.readout)
        self._pqc = Simulation(
            self.circuit, self._readout.measured, self._inputs + self._weights, repetitions=self.repetitions,
            differentiator=self.differentiator, backend=self.backend,
            shared=self.qubits, noise=self.noise,
        )

    @property
    def operators(self) -> list:
        """The readout operators (for 'probs': the basis-state projectors, built on first use)."""
        return self._readout.operators

    @property
    def symbols(self):
        """Input symbols x000… then weight symbols theta000…."""
        return list(self._inputs) + list(self._weights)

    def build(self, input_shape):
        features = check_rank2("LCQHNNBlock", input_shape)
        if features != self.qubits:
            raise ValueError(
                f"The last input dimension ({features}) must equal qubits = {self.qubits} (one feature per "
                f"qubit). Received input shape {tuple(input_shape)}"
            )
        self.theta = self.add_weight(
            name="theta", shape=(self.qubits,),
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi), trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        x = self.finite_inputs(inputs)
        return self._readout(self._pqc(x, shared=K.reshape(self.theta, [1, self.qubits])))

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(qubits=self.qubits, readout=self.readout)
        return config

