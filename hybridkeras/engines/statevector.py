"""Compile a symbol-parameterised Cirq circuit to TensorFlow ops on a batched state vector.

The state is complex64 of shape [batch, 2, …, 2] (qubit i on axis i + 1, qubit 0 most
significant, as in Cirq). Every operation becomes a tensor contraction on its qubits' axes:

* constant operations (H, CNOT, CZ, X, any gate with a unitary) use their Cirq unitary;
* X/Y/Z-power gates (rx, ry, rz, ZPowGate …) whose exponent is an affine function of the
  circuit's symbols get a per-sample 2×2 matrix built from the symbol values;
* controlled versions of those (``controlled_by`` with any control values) act on the
  control-matching slice only.

Readouts are Pauli strings and PauliSums (expectations) or basis-state probabilities.
Gradients come from TensorFlow autodiff; there is no noise and no parameter-shift rule here
(use the TFQ backend for those).
"""
from __future__ import annotations

import string
from typing import Sequence

import cirq
import numpy as np
import sympy

from hybridkeras._compat import tf

MAX_ENGINE_QUBITS = 20


class UnsupportedGateError(ValueError):
    """An operation the state-vector engine cannot compile (use backend='tfq')."""


def _affine(expr, index: dict) -> tuple[np.ndarray, float]:
    """(coefficients over the symbols, constant) of an affine sympy expression."""
    if isinstance(expr, (int, float, np.floating, np.integer)):
        return np.zeros(len(index)), float(expr)
    expr = sympy.sympify(expr)
    unknown = sorted(str(s) for s in expr.free_symbols if s not in index)
    if unknown:
        raise UnsupportedGateError(f"symbols {unknown} are not among the layer's symbols")
    coeffs = np.zeros(len(index))
    for symbol in expr.free_symbols:
        derivative = sympy.diff(expr, symbol)
        if derivative.free_symbols:
            raise UnsupportedGateError(f"exponent {expr} is not an affine function of the symbols")
        coeffs[index[symbol]] = float(derivative)
    constant = float(expr.subs({s: 0 for s in expr.free_symbols}))
    return coeffs, constant


def _pow_matrix(kind: str, t, shift: float):
    """[batch, 2, 2] unitaries of X**t, Y**t or Z**t with global shift ``shift`` (cirq's conventions)."""
    angle = np.pi * t
    phase = tf.exp(tf.complex(tf.zeros_like(angle), angle * shift))
    if kind == "Z":
        zero = tf.zeros_like(phase)
        return tf.reshape(tf.stack([phase, zero, zero, phase * tf.exp(tf.complex(tf.zeros_like(angle), angle))], -1),
                          [-1, 2, 2])
    half = tf.exp(tf.complex(tf.zeros_like(angle), angle / 2.0)) * phase
    c = tf.complex(tf.cos(angle / 2.0), tf.zeros_like(angle))
    s = tf.complex(tf.sin(angle / 2.0), tf.zeros_like(angle))
    if kind == "X":
        entries = [c, -1j * s, -1j * s, c]
    else:  # Y
        entries = [c, -s, s, c]
    return tf.reshape(tf.stack(entries, -1), [-1, 2, 2]) * half[:, None, None]


_POW_KINDS = ((cirq.XPowGate, "X"), (cirq.YPowGate, "Y"), (cirq.ZPowGate, "Z"))


class StateVectorCircuit:
    """A compiled circuit: ``__call__(values)`` → readout values, with values [batch, len(symbols)].

    Args:
        circuit: The Cirq circuit (measurements are ignored).
        symbols: The symbols, in the column order of ``values``.
        operators: A list of PauliStrings / PauliSums (one output each), or the string 'probs'
            for the 2^n basis-state probabilities.
        qubits: Qubit order (default: the circuit's qubits, sorted).
    """

    def __init__(self, circuit: cirq.Circuit, symbols: Sequence[sympy.Symbol], operators, *, qubits=None):
        self.qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
        self.n = len(self.qubits)
        if self.n > MAX_ENGINE_QUBITS:
            raise ValueError(
                f"The state-vector engine holds at most {MAX_ENGINE_QUBITS} qubits ({2**MAX_ENGINE_QUBITS} amplitudes "
                f"per sample). Received a circuit on {self.n} qubits; use backend='tfq'"
            )
        self.symbols = list(symbols)
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._axis = {q: i + 1 for i, q in enumerate(self.qubits)}
        self._ops = [self._compile(op) for op in circuit.all_operations() if not cirq.is_measurement(op)]
        self.probabilities = isinstance(operators, str) and operators == "probs"
        self._terms = [] if self.probabilities else [self._compile_operator(o) for o in operators]

    # ------------------------------------------------------------------ compile
    def _compile(self, op):
        controls, values = (), ()
        inner = op
        if isinstance(op, cirq.ControlledOperation):
            controls = tuple(self._axis[q] for q in op.controls)
            values = tuple(tuple(int(x) for x in v) if isinstance(v, (tuple, list)) else (int(v),)
                           for v in op.control_values)
            inner = op.sub_operation
        gate = inner.gate
        targets = tuple(self._axis[q] for q in inner.qubits)
        if cirq.is_parameterized(inner):
            for cls, kind in _POW_KINDS:
                if isinstance(gate, cls) and len(targets) == 1:
                    coeffs, const = _affine(gate.exponent, self._index)
                    return ("pow", kind, tf.constant(coeffs, tf.float32), const, float(gate.global_shift), targets,
                            controls, values)
            raise UnsupportedGateError(f"cannot compile the parameterised operation {op!r}; use backend='tfq'")
        if not cirq.has_unitary(inner):
            raise UnsupportedGateError(f"operation {op!r} has no unitary; use backend='tfq'")
        matrix = cirq.unitary(inner).astype(np.complex64)
        return ("const", tf.constant(matrix.reshape((2,) * (2 * len(targets)))), targets, controls, values)

    def _compile_operator(self, operator):
        terms = operator if isinstance(operator, cirq.PauliSum) else [operator]
        compiled = []
        for term in terms:
            coefficient = complex(term.coefficient)
            paulis = tuple((self._axis[q], str(p)) for q, p in term.items())
            compiled.append((coefficient, paulis))
        return compiled

    # ------------------------------------------------------------------ run
    def _apply(self, state, matrix, targets, batched: bool):
        k = len(targets)
        rank = self.n + 1
        letters = string.ascii_letters
        state_idx = [letters[i] for i in range(rank)]
        out_idx = list(state_idx)
        new = [letters[rank + i] for i in range(k)]
        for position, axis in enumerate(targets):
            out_idx[axis] = new[position]
        old = [state_idx[a] for a in targets]
        mat_idx = (state_idx[0] if batched else "") + "".join(new) + "".join(old)  # batched: shares the batch letter
        spec = f"{mat_idx},{''.join(state_idx)}->{''.join(out_idx)}"
        return tf.einsum(spec, matrix, state)

    def _controlled(self, state, controls, values, apply):
        """Applies ``apply`` only where the control qubits hold ``values``."""
        if not controls:
            return apply(state)
        mask = np.zeros((2,) * self.n, dtype=np.complex64)
        index = [slice(None)] * self.n
        for axis, allowed in zip(controls, values):
            index[axis - 1] = list(allowed) if len(allowed) > 1 else allowed[0]
        selector = np.zeros((2,) * self.n, dtype=bool)
        selector[tuple(index)] = True
        mask[selector] = 1.0
        mask = tf.constant(mask[None])
        return state + mask * (apply(state) - state)

    def state(self, values):
        """Final states [batch, 2, …, 2] for symbol values [batch, len(symbols)]."""
        values = tf.cast(values, tf.float32)
        batch = tf.shape(values)[0]
        initial = np.zeros((1,) + (2,) * self.n, np.complex64)
        initial[(0,) * (self.n + 1)] = 1.0
        state = tf.tile(tf.constant(initial), [batch] + [1] * self.n)
        for op in self._ops:
            if op[0] == "const":
                _, matrix, targets, controls, cvalues = op
                state = self._controlled(state, controls, cvalues,
                                         lambda s, m=matrix, t=targets: self._apply(s, m, t, False))
            else:
                _, kind, coeffs, const, shift, targets, controls, cvalues = op
                t = tf.linalg.matvec(values, coeffs) + const if self.symbols else tf.fill([batch], const)
                matrix = _pow_matrix(kind, t, shift)
                state = self._controlled(state, controls, cvalues,
                                         lambda s, m=matrix, tg=targets: self._apply(s, m, tg, True))
        return state

    def _pauli(self, state, paulis):
        for axis, p in paulis:
            if p == "X":
                state = tf.reverse(state, [axis])
            elif p == "Y":
                flipped = tf.reverse(state, [axis])
                sign = np.ones((2,) * self.n, np.complex64)
                sign[(slice(None),) * (axis - 1) + (0,)] = -1j
                sign[(slice(None),) * (axis - 1) + (1,)] = 1j
                state = flipped * tf.constant(sign[None])
            else:
                sign = np.ones((2,) * self.n, np.complex64)
                sign[(slice(None),) * (axis - 1) + (1,)] = -1.0
                state = state * tf.constant(sign[None])
        return state

    def __call__(self, values):
        state = self.state(values)
        flat = tf.reshape(state, [tf.shape(state)[0], -1])
        if self.probabilities:
            return tf.math.real(flat * tf.math.conj(flat))
        outputs = []
        for terms in self._terms:
            total = 0.0
            for coefficient, paulis in terms:
                image = tf.reshape(self._pauli(state, paulis), tf.shape(flat))
                value = tf.reduce_sum(tf.math.conj(flat) * image, axis=-1)
                total = total + tf.math.real(value * coefficient)
            outputs.append(total)
        return tf.stack(outputs, axis=-1)
