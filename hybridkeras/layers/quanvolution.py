"""`Quanvolution2D`: HQNN-Quanv's k×k quantum convolution kernel as a Keras layer."""
from __future__ import annotations

import math

import cirq
import keras
from keras import ops as K

from hybridkeras.circuits import make_symbols, pauli_readout, quanv_kernel_circuit
from hybridkeras.layers.base import QuantumLayer, register
from hybridkeras.layers.simulation import Simulation
from hybridkeras.layers._validation import check_choice, check_positive_int

MAX_KERNEL = 3  # k² qubits: 9 at most


@register
class Quanvolution2D(QuantumLayer):
    """Quantum convolution: a k²-qubit circuit applied to every k×k patch (stride k).

    Each pixel p of a patch (values in [0, 1]) is encoded as RY(π·p) on its own qubit
    (row-major), a trainable rotation R_rotation(w_i) acts on every qubit (k² weights shared
    by all patches), a CNOT chain entangles the qubits, and ⟨Z_i⟩ of qubit i becomes output
    channel i. Every patch of every image (and every input channel, each treated on its own)
    goes through one batched simulator call (exact, or with `repetitions` shots): one run of the compiled
    circuit on the state-vector engine, one call of TFQ's expectation op on TFQ.

    Args:
        kernel_size: k, the patch side and stride (the paper uses 2: 4 qubits).
        rotation: Axis of the trainable rotation: 'X' (default) or 'Y'. ('Z' would commute
            with the Z readout through the CNOTs and leave the output unchanged, so it is
            refused.)
        differentiator: 'adjoint' (default), 'parameter_shift' or None.
        repetitions: None for exact expectations, or shots per circuit and operator.
        backend: 'statevector' (the state-vector engine, `hybridkeras.engines`, on TensorFlow, JAX and
            PyTorch; exact or with shots) or 'tfq' (TensorFlow Quantum's ops and differentiators, parameter
            shift included, on Keras' TensorFlow backend where TFQ is installed; the same numbers); None: the
            default of `hybridkeras.set_backend` ('statevector').

    Input shape:
        (batch, height, width, channels), height and width divisible by k.

    Output shape:
        (batch, height/k, width/k, channels·k²): channel c·k² + i is ⟨Z_i⟩ of input channel c.

    Example:
        >>> layer = Quanvolution2D(2)
        >>> layer(np.random.rand(3, 14, 14, 1).astype("float32")).shape
        (3, 7, 7, 4)
    """

    def __init__(self, kernel_size=2, *, rotation="X", differentiator="adjoint", repetitions=None, backend=None, **kwargs):
        super().__init__(repetitions=repetitions, differentiator=differentiator, backend=backend, **kwargs)
        self.kernel_size = check_positive_int("kernel_size", kernel_size, maximum=MAX_KERNEL)
        self.rotation = check_choice("rotation", rotation, ("X", "Y"))
        self.n_qubits = self.kernel_size ** 2
        self._qubits = cirq.LineQubit.range(self.n_qubits)
        self._pixels = make_symbols("p", self.n_qubits)
        self._weights = make_symbols("w", self.n_qubits)
        self.circuit = quanv_kernel_circuit(self._qubits, self._pixels, self._weights, rotation_axis=self.rotation)
        self.operators = pauli_readout(self._qubits, "Z")
        self._pqc = Simulation(
            self.circuit, self.operators, self._pixels + self._weights,
            repetitions=self.repetitions, differentiator=self.differentiator, backend=self.backend,
            shared=len(self._weights), noise=self.noise,
        )

    @property
    def symbols(self):
        """Pixel symbols p000… (feed π·pixel), then the trainable rotation symbols w000…."""
        return list(self._pixels) + list(self._weights)

    def _check_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 4 or any(d is None for d in shape[1:]):
            raise ValueError(
                "Quanvolution2D expects inputs of shape (batch, height, width, channels) with known "
                f"height, width and channels. Received input shape {shape}"
            )
        k = self.kernel_size
        if shape[1] % k or shape[2] % k:
            raise ValueError(
                f"The input height and width ({shape[1]}, {shape[2]}) must be divisible by "
                f"kernel_size = {k}. Resize or crop the images first. Received input shape {shape}"
            )
        return shape

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.n_qubits,),
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi),
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        k, kk = self.kernel_size, self.n_qubits
        _, height, width, channels = self._check_shape(inputs.shape)
        x = self.finite_inputs(inputs)
        rows, cols = height // k, width // k
        # non-overlapping k×k patches by a reshape (cheaper to differentiate than extract_patches):
        # (batch, rows, k, cols, k, channels) → (batch, rows, cols, channels, k, k) → one row of k² pixels per circuit
        patches = K.reshape(x, [-1, rows, k, cols, k, channels])
        patches = K.reshape(K.transpose(patches, [0, 1, 3, 5, 2, 4]), [-1, kk])
        out = self._pqc(math.pi * patches, shared=K.reshape(self.kernel, [1, kk]))
        return K.reshape(out, [-1, rows, cols, channels * kk])

    def compute_output_shape(self, input_shape):
        shape = self._check_shape(input_shape)
        k = self.kernel_size
        return (shape[0], shape[1] // k, shape[2] // k, shape[3] * self.n_qubits)

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, rotation=self.rotation)
        return config

