"""One route from the paper layers into the simulators: `Simulation` runs one symbol-parameterised model circuit
for a batch of symbol-value rows through the simulator seam (`engines.simulators.make_simulation`), and `Readout`
turns what a simulator measured into a layer's readout.

On ``backend='statevector'`` the state-vector engine runs the circuit (every Keras backend); on
``backend='tfq'`` TensorFlow Quantum's ops and differentiators do (Keras' TensorFlow backend). Symbols are passed
in the order the caller gives them.
"""
from __future__ import annotations

import functools
from typing import Sequence

import cirq
import numpy as np
import sympy
from keras import ops as K

from hybridkeras.circuits import readout_operators, register_of, walsh_matrix, z_strings
from hybridkeras.engines.simulators import make_simulation

MAX_PROBS_QUBITS = 12


class Readout:
    """What a simulator measures for a readout name, and how the measured values become the readout.

    Pauli readouts are measured as they are. On the state-vector engine 'probs' are the
    engine's own basis-state probabilities. On TFQ 'probs' is measured as the 2^n − 1 expectations
    ⟨Z_S⟩ (TFQ's state op has no gradient) and a fixed Walsh–Hadamard transform turns them into the 2^n
    basis-state probabilities (far cheaper than 2^n projector PauliSums of 2^n terms each, and equal to
    them; see `circuits.readouts`). With shots each ⟨Z_S⟩ is estimated on its own, so sampled
    'probs' are unbiased but may dip slightly below 0.
    """

    def __init__(self, qubits: Sequence[cirq.Qid], readout: str, backend: str = "statevector"):
        self.readout = readout
        self._qubits = list(qubits)
        self._walsh = None
        if readout == "probs" and len(qubits) > MAX_PROBS_QUBITS:
            raise ValueError(f"readout='probs' gives 2^qubits values per circuit; it takes at most {MAX_PROBS_QUBITS} "
                             f"qubits ({2**MAX_PROBS_QUBITS} values). Received: qubits={len(qubits)}")
        if readout == "probs" and backend == "statevector":  # the engine reads probabilities directly
            self.measured = "probs"
        elif readout == "probs":
            self.measured = z_strings(qubits)
            self._walsh = walsh_matrix(len(qubits)).astype(np.float32)
        else:
            self.measured = readout_operators(qubits, readout)

    @functools.cached_property
    def operators(self) -> list:
        """The readout's operators (for 'probs': the 2^n basis-state projectors, built on first use)."""
        return readout_operators(self._qubits, self.readout)

    def __call__(self, values):
        """[batch, len(measured)] expectations → [batch, len(operators)] readout values."""
        if self._walsh is None:
            return values
        ones = K.ones_like(values[:, :1])
        return K.matmul(K.concatenate([ones, values], axis=1), K.convert_to_tensor(self._walsh))


class Simulation:
    """Runs one symbol-parameterised circuit for a batch of symbol-value rows in a single simulator call.

    Args:
        circuit: The model circuit.
        operators: Operators to measure (PauliStrings / PauliSums), or None for the basis-state probabilities
            (and `state`, `sample`).
        symbols: The symbols in the column order of ``values``.
        repetitions: None for exact expectations, or shots per circuit and operator.
        differentiator: 'adjoint', 'parameter_shift' (TFQ only) or None.
        backend: 'statevector' or 'tfq'.
        shared: How many trailing symbols (weights) take one value per group of rows (see `__call__`).
        qubits: The register (default: the circuit's and the operators' qubits, sorted).
        noise: A checked `circuits.noise.Noise` or None (see `engines.simulators.make_simulation`).
    """

    def __init__(self, circuit: cirq.Circuit, operators, symbols: Sequence[sympy.Symbol], *,
                 repetitions=None, differentiator=None, backend: str = "statevector", shared: int = 0, qubits=None,
                 noise=None):
        self.circuit = circuit
        self.backend = backend
        self.repetitions = repetitions
        self.shared = int(shared)
        self.symbols = [sympy.Symbol(s) if isinstance(s, str) else s for s in symbols]
        self.probabilities = isinstance(operators, str) or operators is None
        self.operators = None if self.probabilities else list(operators)
        self.qubits = list(qubits) if qubits is not None else register_of(circuit, self.operators or [])
        simulator = "engine" if backend == "statevector" else "tfq"
        self.engine = make_simulation(simulator, circuit, self.symbols, "probs" if self.probabilities else self.operators,
                                      qubits=self.qubits, shared=self.shared, repetitions=repetitions,
                                      differentiator=differentiator, noise=noise)

    def __call__(self, values, shared=None, initial=None):
        """[rows, len(operators)] expectations (or [rows, 2^n] probabilities).

        ``values``: [rows, len(symbols)] float32; or, when the last ``shared`` symbols (the
        weights) are the same for every row of a group, [rows, len(symbols) − shared] with
        ``shared``: [groups, shared], row r using group r mod groups. The engine then
        multiplies the weights' part of the circuit out once per group. ``initial`` (engine
        only): [rows, 2^n] states the rows start from instead of |0…0⟩.
        """
        return self.engine(values, shared, initial)

    def state(self, values, shared=None):
        """Final states [rows, 2^n] complex64 (qubit 0 of the register most significant)."""
        return K.reshape(self.engine.state(values, shared), [-1, 2 ** len(self.qubits)])

    def sample(self, values, repetitions: int, shared=None):
        """Measured bits [rows, repetitions, n] int8 of every register qubit."""
        return self.engine.samples(values, repetitions, shared)


__all__ = ["MAX_PROBS_QUBITS", "Readout", "Simulation"]
