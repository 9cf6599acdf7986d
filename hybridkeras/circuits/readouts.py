"""Measurement operators: Pauli expectations per qubit and basis-state probabilities."""
from __future__ import annotations

import itertools
from typing import Sequence

import cirq

READOUTS = ("X", "Y", "Z", "probs")

_PAULIS = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}


def register_of(circuit, operators=()) -> list:
    """The sorted qubits of ``circuit`` and ``operators`` (a simulator's default register).

    ``operators`` may be a list of Pauli strings or sums, or a readout name such as 'probs' (no qubits).
    """
    operators = [] if isinstance(operators, str) else list(operators)
    return sorted(set(circuit.all_qubits()).union(*(op.qubits for op in operators)))


def pauli_readout(qubits: Sequence[cirq.Qid], axis: str = "Z") -> list[cirq.PauliString]:
    """⟨P_i⟩ for P in {X, Y, Z} on every qubit, in qubit order."""
    if axis not in _PAULIS:
        raise ValueError(f"`axis` must be one of 'X', 'Y', 'Z'. Received: axis={axis!r}")
    return [cirq.PauliString(_PAULIS[axis](q)) for q in qubits]


def basis_state_projectors(qubits: Sequence[cirq.Qid]) -> list[cirq.PauliSum]:
    """|b⟩⟨b| for every basis state b as a PauliSum, in Cirq's big-endian order.

    Index k has qubit 0 as its most significant bit, matching ``cirq.Simulator`` state
    vectors, so ⟨|b⟩⟨b|⟩ is the probability of measuring bitstring b.
    Each projector is ∏_i (I + s_i Z_i)/2 with s_i = +1 for bit 0 and −1 for bit 1.
    """
    n = len(qubits)
    projectors = []
    for bits in itertools.product((0, 1), repeat=n):
        term = cirq.PauliSum.from_pauli_strings([cirq.PauliString()])  # identity
        for q, b in zip(qubits, bits):
            sign = 1.0 if b == 0 else -1.0
            term = term * (0.5 * cirq.PauliString() + 0.5 * sign * cirq.Z(q))
        projectors.append(term)
    return projectors


def z_strings(qubits: Sequence[cirq.Qid]) -> list[cirq.PauliString]:
    """Z_S = ∏_{i∈S} Z_i for every non-empty subset S, S as a bitmask with qubit 0 most significant.

    Entry k−1 is the subset with bitmask k (k = 1 .. 2^n − 1); with Z_∅ = 1 they determine the
    basis-state probabilities through :func:`walsh_matrix`.
    """
    n = len(qubits)
    return [
        cirq.PauliString({q: cirq.Z for i, q in enumerate(qubits) if mask >> (n - 1 - i) & 1})
        for mask in range(1, 2**n)
    ]


def walsh_matrix(n: int):
    """W with p_b = Σ_S W[S, b] ⟨Z_S⟩ (S = 0 .. 2^n − 1, ⟨Z_∅⟩ = 1): W[S, b] = (−1)^{|S∧b|} / 2^n."""
    import numpy as np

    index = np.arange(2**n)
    parity = np.array([[bin(s & b).count("1") & 1 for b in index] for s in index])
    return (1.0 - 2.0 * parity) / 2**n


def readout_operators(qubits: Sequence[cirq.Qid], readout: str) -> list:
    """Operators for a readout name: 'X', 'Y', 'Z' (one per qubit) or 'probs' (2^n)."""
    if readout == "probs":
        return basis_state_projectors(qubits)
    if readout in _PAULIS:
        return pauli_readout(qubits, readout)
    raise ValueError(f"`readout` must be one of {READOUTS}. Received: readout={readout!r}")


def readout_size(qubits: int, readout: str) -> int:
    """Number of values a readout yields on ``qubits`` qubits."""
    return 2**qubits if readout == "probs" else qubits
