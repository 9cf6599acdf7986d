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

from keras import ops as K

from hybridkeras.engines.compiler import GateRecord
from hybridkeras.engines.ops import complex_, constant, flip_bits, matmul, parity, unstack

TO_Z = {"X": np.array([[1, 1], [1, -1]]) / np.sqrt(2),  # H: H X H = Z
        "Y": np.array([[1, -1j], [1, 1j]]) / np.sqrt(2)}  # H·S†: (H S†) Y (H S†)† = Z

_CONSTANT_SIGNS = 2**22  # sign tables up to this many entries are constants, larger ones are computed per call


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

    def _parities(self, peeled):
        """(masks, coefficients [terms, operators]) on the outcomes of the circuit the readout follows:
        the terms' own masks, or with trailing permutations ``peeled`` (`plan.Peeled`) their image."""
        masks = self.z_masks()
        if peeled is None:
            return masks, self.coefficients
        images = [peeled.mask(int(m)) for m in masks]
        signs = np.array([sign for _, sign in images], np.float32)
        return np.array([m for m, _ in images], np.int64), signs[:, None] * self.coefficients

    def diagonal(self, peeled=None):
        """[2^n, operators] float32: ⟨O⟩ = probabilities @ diagonal in the common basis (of the outcomes
        before the trailing permutations ``peeled``, when given)."""
        masks, coefficients = self._parities(peeled)
        if 2**self.n * len(masks) <= _CONSTANT_SIGNS:
            index = np.arange(2**self.n)[:, None] & masks[None, :]
            odd = np.zeros_like(index)
            for bit in range(self.n):
                odd ^= (index >> bit) & 1
            return constant((1.0 - 2.0 * odd) @ coefficients, "float32")
        index = K.bitwise_and(K.arange(2**self.n, dtype="int32")[:, None], constant(masks[None, :], "int32"))
        return matmul(1.0 - 2.0 * parity(index, self.n), constant(coefficients, "float32"))

    def from_probabilities(self, probabilities, peeled=None):
        """Operators' values [rows, operators] from probabilities in the common measurement basis."""
        return matmul(probabilities, self.diagonal(peeled))

    def from_qubit_z(self, z, peeled=None, project=None):
        """Operators' values [rows, operators] of a product state, from each qubit's ⟨Z⟩ ``z`` [rows, n]
        in the common basis: a Z-parity term is the product of its qubits' values. With ``project``
        (NumPy [m, n]), ``z`` [rows, m] holds values whose product with ``project`` are the ⟨Z⟩s; the
        product is folded into this readout's own first one."""
        masks, coefficients = self._parities(peeled)
        members = [[q for q in range(self.n) if (int(m) >> (self.n - 1 - q)) & 1] for m in masks]
        width = max((len(q) for q in members), default=0)
        if not len(masks):
            return K.zeros([K.shape(z)[0], self.count])
        if width == 0:
            terms = K.ones([K.shape(z)[0], len(masks)])
        else:
            # the k-th member of each term picked by one product (a gather as a matmul), a one where a term has
            # fewer than k + 1 members
            select = np.zeros((self.n, width, len(masks)), np.float32)
            ones = np.zeros((width, len(masks)), np.float32)
            for t, q in enumerate(members):
                for k in range(width):
                    if k < len(q):
                        select[q[k], k, t] = 1.0
                    else:
                        ones[k, t] = 1.0
            select = select.reshape(self.n, -1)
            picked = matmul(z, K.convert_to_tensor(select if project is None else project @ select))
            if ones.any():
                picked = picked + K.convert_to_tensor(ones.reshape(1, -1))
            factors = unstack(K.reshape(picked, [-1, width, len(masks)]), axis=1)  # width × [rows, terms]
            terms = factors[0]
            for factor in factors[1:]:  # plain products: cheaper to differentiate than reduce_prod
                terms = terms * factor
        if coefficients.shape[0] == coefficients.shape[1] and np.array_equal(coefficients, np.eye(len(coefficients))):
            return terms  # one term per operator, with coefficient 1
        return matmul(terms, K.convert_to_tensor(coefficients.astype(np.float32)))

    def direct(self, state):
        """Operators' values [rows, operators] from unrotated final states [rows, 2^n] (any terms)."""
        index = K.arange(2**self.n, dtype="int32")
        values = []
        conj = K.conj(state)
        for _, c, paulis in self.terms:
            x = sum(1 << (self.n - 1 - q) for q, p in paulis.items() if p in "XY")
            yz = sum(1 << (self.n - 1 - q) for q, p in paulis.items() if p in "YZ")
            ys = sum(p == "Y" for p in paulis.values())
            source = K.bitwise_xor(index, x) if x else index
            image = flip_bits(state, x) if x else state  # state[:, source]
            if yz:
                sign = 1.0 - 2.0 * parity(K.bitwise_and(source, yz), self.n)
                image = image * complex_(sign, K.zeros_like(sign))[None]
            values.append(K.real(K.sum(conj * image, axis=1) * (1j**ys)))
        if not values:
            return K.zeros([K.shape(state)[0], self.count])
        return matmul(K.stack(values, axis=1), K.convert_to_tensor(self.coefficients))

    def term_signs(self, t: int):
        """[2^n] float32: (−1)^{|i ∧ z_t|}, term t's eigenvalue sign on outcome i after its basis change."""
        index = K.bitwise_and(K.arange(2**self.n, dtype="int32"), int(self.z_masks()[t]))
        return 1.0 - 2.0 * parity(index, self.n)

    def term_settings(self):
        """Per term: the basis change of its qubits (for shots when no common basis exists)."""
        return [[(q, TO_Z[p]) for q, p in sorted(paulis.items()) if p in TO_Z] for _, _, paulis in self.terms]
