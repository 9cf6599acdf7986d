"""Compiling: each Cirq operation becomes a `GateRecord` (pure NumPy; TensorFlow is used only at run time).

A record holds the operation's qubits (register positions, 0 = most significant, as in Cirq)
and its unitary in the form

    U(values) = base + Σ_k exp(i · (coeffs_k · values + const_k)) · matrix_k

with constant matrices over the operation's qubits. Every constant gate has no terms (base =
its unitary). Every `cirq.EigenGate` with a symbolic exponent t = a · values + b and global
shift h is Σ_k e^{iπ t (λ_k + h)} P_k over its eigencomponents (λ_k, P_k): rx, ry, rz, X/Y/Z
powers, CZ**t, CNOT**t, XX/YY/ZZ powers, ISWAP**t, SWAP**t, CCZ**t, … Controls (any control
values Cirq allows: products of sums, sums of products) wrap a record in a control projector Π:
C(U) = (1 − Π) ⊗ 1 + Π ⊗ U, which keeps the same form. Other parameterised operations are
compiled through `cirq.decompose_once` when their parts compile (PhasedXPowGate, FSimGate, …).

Every parameterised record is checked against `cirq.unitary` of the resolved operation at two
random points (global phase included), so an operation is either compiled exactly or refused
with `UnsupportedGateError`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cirq
import numpy as np
import sympy


class UnsupportedGateError(ValueError):
    """An operation the state-vector engine cannot compile (use backend='tfq')."""


@dataclass(frozen=True)
class PhaseTerm:
    """exp(i · (coeffs · values + const)) · matrix, one piece of a parameterised unitary."""

    matrix: np.ndarray  # [d, d] complex128
    coeffs: np.ndarray  # [symbols] float64
    const: float


@dataclass(frozen=True)
class GateRecord:
    """One compiled operation: ``unitary(values) = base + Σ terms`` on the register positions ``qubits``."""

    name: str
    qubits: tuple[int, ...]
    base: np.ndarray  # [d, d] complex128
    terms: tuple[PhaseTerm, ...] = ()

    @property
    def width(self) -> int:
        return len(self.qubits)

    def uses(self, mask: np.ndarray) -> bool:
        """Whether the unitary depends on any symbol selected by the boolean ``mask``."""
        return any(np.abs(term.coeffs[mask]).max(initial=0.0) > 0 for term in self.terms)

    def unitary(self, values: np.ndarray) -> np.ndarray:
        """The unitary at one row of symbol values (NumPy, for checks and constant folding)."""
        total = self.base.astype(np.complex128)
        for term in self.terms:
            total = total + np.exp(1j * (float(term.coeffs @ values) + term.const)) * term.matrix
        return total


def affine(expr, index: dict) -> tuple[np.ndarray, float]:
    """(coefficients over the symbols of ``index``, constant) of an affine sympy expression."""
    coeffs = np.zeros(len(index))
    if isinstance(expr, (int, float, np.floating, np.integer)):
        return coeffs, float(expr)
    expr = sympy.sympify(expr)
    unknown = sorted(str(s) for s in expr.free_symbols if s not in index)
    if unknown:
        raise UnsupportedGateError(f"symbols {unknown} are not among the given symbols {sorted(map(str, index))}")
    for symbol in expr.free_symbols:
        derivative = sympy.diff(expr, symbol)
        if derivative.free_symbols:
            raise UnsupportedGateError(f"exponent {expr} is not an affine function of the symbols; use backend='tfq'")
        coeffs[index[symbol]] = float(derivative)
    constant = complex(expr.subs({s: 0 for s in expr.free_symbols}))
    if abs(constant.imag) > 1e-12:
        raise UnsupportedGateError(f"exponent {expr} is not real; use backend='tfq'")
    return coeffs, constant.real


def _control_projector(op: cirq.ControlledOperation) -> np.ndarray:
    """[2^c] 0/1 vector: which basis states of the control qubits (first control most significant) activate."""
    c = len(op.controls)
    active = np.zeros(2**c)
    for values in op.control_values.expand():
        bits = tuple(int(v) for v in values)
        active[int("".join(map(str, bits)), 2) if bits else 0] = 1.0
    return active


def _controlled(record: GateRecord, active: np.ndarray, controls: tuple[int, ...], name: str) -> GateRecord:
    """C(U) = (1 − Π) ⊗ 1 + Π ⊗ U for a record U and a control projector Π = diag(active)."""
    d = record.base.shape[0]
    off, on = np.diag(1.0 - active), np.diag(active)
    base = np.kron(off, np.eye(d)) + np.kron(on, record.base)
    terms = tuple(PhaseTerm(np.kron(on, t.matrix), t.coeffs, t.const) for t in record.terms)
    return GateRecord(name, controls + record.qubits, base, terms)


def embed(record: GateRecord, qubits: tuple[int, ...]) -> GateRecord:
    """The record as an operator on ``qubits`` (a superset of its own, in that order; identity on the others)."""
    if record.qubits == qubits:
        return record
    k = len(qubits)
    local = [qubits.index(q) for q in record.qubits]
    rest = [i for i in range(k) if i not in local]

    def lift(matrix):
        full = np.kron(matrix, np.eye(2 ** len(rest))).reshape((2,) * (2 * k))
        order = local + rest  # axes of `full` are (local…, rest…) for outputs, the same for inputs
        perm = [order.index(i) for i in range(k)]
        return full.transpose(perm + [k + p for p in perm]).reshape(2**k, 2**k)

    return GateRecord(record.name, qubits, lift(record.base), tuple(PhaseTerm(lift(t.matrix), t.coeffs, t.const)
                                                                   for t in record.terms))


def _multiply(records: list[GateRecord], qubits: tuple[int, ...], name: str) -> GateRecord | None:
    """One record for a product of records (in circuit order) when at most one of them is parameterised."""
    lifted = [embed(r, qubits) for r in records]
    if sum(bool(r.terms) for r in lifted) > 1:
        return None
    base = np.eye(2 ** len(qubits), dtype=np.complex128)
    before = after = None
    for r in lifted:
        if r.terms:
            before, after, base = base, np.eye(len(base), dtype=np.complex128), r
        elif before is None:
            base = r.base @ base
        else:
            after = r.base @ after
    if before is None:
        return GateRecord(name, qubits, base)
    return GateRecord(name, qubits, after @ base.base @ before,
                      tuple(PhaseTerm(after @ t.matrix @ before, t.coeffs, t.const) for t in base.terms))


class Compiler:
    """Compiles operations of a circuit on the register ``qubits`` with symbol columns ``symbols``."""

    def __init__(self, qubits, symbols, *, check_seed: int = 0):
        self.position = {q: i for i, q in enumerate(qubits)}
        self.index = {s: i for i, s in enumerate(symbols)}
        self._rng = np.random.default_rng(check_seed)

    def compile(self, op: cirq.Operation) -> list[GateRecord]:
        """The records of one operation (none for measurements), or `UnsupportedGateError`."""
        if cirq.is_measurement(op):
            return []
        for q in op.qubits:
            if q.dimension != 2:
                raise UnsupportedGateError(
                    f"operation {op!r} acts on {q!r} of dimension {q.dimension}; the state-vector engine "
                    "simulates qubits (dimension 2) only; use backend='tfq' or a qubit circuit")
        records = self._records(op)
        if cirq.is_parameterized(op):
            self._check(op, records)
        return records

    def positions(self, op) -> tuple[int, ...]:
        missing = [q for q in op.qubits if q not in self.position]
        if missing:
            raise ValueError(f"operation {op!r} acts on {missing!r}, which are not in `qubits` "
                             f"({sorted(self.position, key=self.position.get)!r})")
        return tuple(self.position[q] for q in op.qubits)

    def _records(self, op) -> list[GateRecord]:
        name = repr(op)
        positions = self.positions(op)
        if not cirq.is_parameterized(op):
            if not cirq.has_unitary(op):
                raise UnsupportedGateError(f"operation {op!r} has no unitary (noise, or an unknown gate); "
                                           "use backend='tfq'")
            return [GateRecord(name, positions, cirq.unitary(op).astype(np.complex128))]
        if isinstance(op, cirq.ControlledOperation):
            active = _control_projector(op)
            controls = positions[: len(op.controls)]
            inner = self._records(op.sub_operation)
            return [_controlled(r, active, controls, name) for r in inner]
        gate = op.gate
        if isinstance(gate, cirq.EigenGate):
            coeffs, const = affine(gate.exponent, self.index)
            shift = float(gate.global_shift)
            terms, base = [], np.zeros((2 ** len(positions),) * 2, np.complex128)
            # cirq.EigenGate's defining protocol: unitary(t) = Σ_k exp(iπ t (λ_k + h)) P_k
            for half_turns, projector in gate._eigen_components():
                rate = np.pi * (float(half_turns) + shift)
                if rate == 0.0:
                    base = base + projector
                else:
                    terms.append(PhaseTerm(np.asarray(projector, np.complex128), rate * coeffs, rate * const))
            return [GateRecord(name, positions, base, tuple(terms))]
        parts = cirq.decompose_once(op, default=None)
        if parts:
            records = [r for part in parts for r in self._records(part)]
            product = _multiply(records, positions, name) if set(q for r in records for q in r.qubits) <= set(positions) \
                else None
            return [product] if product is not None else records
        raise UnsupportedGateError(f"cannot compile the parameterised operation {op!r}; use backend='tfq'")

    def _check(self, op, records: list[GateRecord]) -> None:
        """The compiled records equal Cirq's unitary of the resolved operation (global phase included)."""
        symbols = sorted(cirq.parameter_symbols(op), key=str)
        qubits = list(op.qubits)
        for _ in range(2):
            values = np.zeros(len(self.index))
            resolver = {}
            for s in symbols:
                value = float(self._rng.uniform(-np.pi, np.pi))
                resolver[s] = value
                values[self.index[s]] = value
            expected = cirq.unitary(cirq.resolve_parameters(op, resolver))
            got = np.eye(2 ** len(qubits), dtype=np.complex128)
            for r in records:
                got = embed(GateRecord(r.name, r.qubits, r.unitary(values)), tuple(self.position[q] for q in qubits)).base @ got
            if not np.allclose(got, expected, atol=1e-8):
                raise UnsupportedGateError(f"the state-vector engine cannot reproduce {op!r} exactly; use backend='tfq'")
