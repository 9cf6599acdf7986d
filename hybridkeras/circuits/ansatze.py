"""Fixed and trainable circuit blocks that follow an encoder."""
from __future__ import annotations

from typing import Sequence

import cirq
import sympy

from hybridkeras.circuits.encoders import arccos_ry_encoding


def hadamard_layer(qubits: Sequence[cirq.Qid]) -> cirq.Circuit:
    """H on every qubit."""
    return cirq.Circuit(cirq.Moment(cirq.H.on_each(*qubits)))


def cnot_chain(qubits: Sequence[cirq.Qid]) -> cirq.Circuit:
    """CNOT(0,1), CNOT(1,2), ..., CNOT(n−2, n−1)."""
    return cirq.Circuit(cirq.CNOT(a, b) for a, b in zip(qubits[:-1], qubits[1:]))


def feature_map_circuit(
    qubits: Sequence[cirq.Qid],
    symbols: Sequence[sympy.Symbol],
    *,
    measure: bool = False,
) -> cirq.Circuit:
    """The first paper's quantum feature map.

    RY(θ_i) encoding (θ_i = 2·arccos x_i), Hadamard on every qubit, then a CNOT chain.
    With ``measure=True`` a computational-basis measurement (key ``"m"``) is appended, for
    drawing or sampling with Cirq; TFQ layers read the circuit out with operators instead.
    """
    circuit = arccos_ry_encoding(qubits, symbols) + hadamard_layer(qubits) + cnot_chain(qubits)
    if measure:
        circuit.append(cirq.measure(*qubits, key="m"))
    return circuit
