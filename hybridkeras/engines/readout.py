"""Readouts: basis-state probabilities, and Pauli-string / PauliSum expectations of final states.

Each operator is a sum of Pauli terms c · P. When every qubit is read on one Pauli axis only
(as in 'Y on every qubit'), the circuit gets the basis change to Z appended (H for X, H·S† for
Y; the planner fuses it into the last gates) and ⟨O⟩ = Σ_i |ψ_i|² · Σ_t c_t (−1)^{|i ∧ z_t|}:
one matrix product for all operators. Otherwise each term is evaluated directly,
⟨P⟩ = i^{#Y} Σ_i conj(ψ_i) ψ_{i⊕x} (−1)^{|(i⊕x) ∧ (y|z)|} (x: qubits with X or Y), through a
gather with bit masks, so no operator matrix is ever built.
"""
from __future__ import annotations

import cirq
import numpy as np

from hybridkeras._compat import tf
from hybridkeras.engines.compiler import GateRecord

TO_Z = {"X": np.array([[1, 1], [1, -1]]) / np.sqrt(2),  # H: H X H = Z
        "Y": np.array([[1, -1j], [1, 1j]]) / np.sqrt(2)}  # H·S†: (H S†) Y (H S†)† = Z

_CONSTANT_SIGNS = 2**22  # sign tables up to this many entries are constants, larger ones are computed per call


def _popcount_parity(values):
    return tf.cast(tf.bitwise.bitwise_and(tf.raw_ops.PopulationCount(x=values), 1), tf.float32)


class PauliReadout:
    """Expectations of ``operators`` (PauliStrings / PauliSums) on an n-qubit register."""

    def __init__(self, operators, position: dict, n: int):
        self.n = n
        self.count = len(operators)
        self.terms = []  # (operator index, real coefficient, {position: 'X'|'Y'|'Z'})
        for k, operator in enumerate(operators):
            if isinstance(operator, (cirq.PauliString, cirq.PauliSum)):
                strings = operator if isinstance(operator, cirq.PauliSum) else [operator]
            else:
                raise TypeError(f"`operators` must hold cirq.PauliString or cirq.PauliSum values, or be 'probs'. "
                                f"Received: {operator!r} at index {k}")
            for term in strings:
                missing = [q for q in term.qubits if q not in position]
                if missing:
                    raise ValueError(f"operator {operator!r} acts on {missing!r}, which are not in `qubits` "
                                     f"({sorted(position, key=position.get)!r})")
                paulis = {position[q]: str(p) for q, p in term.items()}
                self.terms.append((k, complex(term.coefficient).real, paulis))
        axes = {}
        for _, _, paulis in self.terms:
            for q, p in paulis.items():
                axes.setdefault(q, set()).add(p)
        self.common = None if any(len(v) > 1 for v in axes.values()) else {q: next(iter(v)) for q, v in axes.items()}
        self.coefficients = np.zeros((len(self.terms), self.count), np.float32)
        for t, (k, c, _) in enumerate(self.terms):
            self.coefficients[t, k] = c

    def basis_change(self) -> list[GateRecord]:
        """Constant single-qubit records that turn every term diagonal (common basis only)."""
        return [GateRecord(f"readout basis {p} on {q}", (q,), TO_Z[p].astype(np.complex128))
                for q, p in sorted(self.common.items()) if p in TO_Z]

    def z_masks(self) -> np.ndarray:
        """Bit masks of the qubits each term reads (after the basis change)."""
        return np.array([sum(1 << (self.n - 1 - q) for q in paulis) for _, _, paulis in self.terms], np.int64)

    def diagonal(self):
        """[2^n, operators] float32: ⟨O⟩ = probabilities @ diagonal in the common basis."""
        masks = self.z_masks()
        if 2**self.n * len(masks) <= _CONSTANT_SIGNS:
            index = np.arange(2**self.n)[:, None] & masks[None, :]
            parity = np.zeros_like(index)
            for bit in range(self.n):
                parity ^= (index >> bit) & 1
            return tf.constant(((1.0 - 2.0 * parity) @ self.coefficients).astype(np.float32))
        index = tf.bitwise.bitwise_and(tf.range(2**self.n, dtype=tf.int64)[:, None], tf.constant(masks)[None, :])
        return (1.0 - 2.0 * _popcount_parity(index)) @ tf.constant(self.coefficients)

    def from_probabilities(self, probabilities):
        """Operators' values [rows, operators] from probabilities in the common measurement basis."""
        return tf.linalg.matmul(probabilities, self.diagonal())

    def direct(self, state):
        """Operators' values [rows, operators] from unrotated final states [rows, 2^n] (any terms)."""
        index = tf.range(2**self.n, dtype=tf.int64)
        values = []
        conj = tf.math.conj(state)
        for _, c, paulis in self.terms:
            x = sum(1 << (self.n - 1 - q) for q, p in paulis.items() if p in "XY")
            yz = sum(1 << (self.n - 1 - q) for q, p in paulis.items() if p in "YZ")
            ys = sum(p == "Y" for p in paulis.values())
            source = tf.bitwise.bitwise_xor(index, x) if x else index
            image = tf.gather(state, source, axis=1) if x else state
            if yz:
                sign = 1.0 - 2.0 * _popcount_parity(tf.bitwise.bitwise_and(source, yz))
                image = image * tf.complex(sign, tf.zeros_like(sign))[None]
            values.append(tf.math.real(tf.reduce_sum(conj * image, axis=1) * (1j**ys)))
        if not values:
            return tf.zeros([tf.shape(state)[0], self.count])
        return tf.linalg.matmul(tf.stack(values, axis=1), tf.constant(self.coefficients))

    def term_signs(self, t: int):
        """[2^n] float32: (−1)^{|i ∧ z_t|}, term t's eigenvalue sign on outcome i after its basis change."""
        index = tf.bitwise.bitwise_and(tf.range(2**self.n, dtype=tf.int64), int(self.z_masks()[t]))
        return 1.0 - 2.0 * _popcount_parity(index)

    def term_settings(self):
        """Per term: the basis change of its qubits (for shots when no common basis exists)."""
        return [[(q, TO_Z[p]) for q, p in sorted(paulis.items()) if p in TO_Z] for _, _, paulis in self.terms]
