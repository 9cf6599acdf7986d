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
        operations = [op for op in circuit.all_operations() if not cirq.is_measurement(op)]
        self._ops = [self._compile(op) for op in operations]
        self._plan = self._group(self._fuse(operations, self._ops))
        self.probabilities = isinstance(operators, str) and operators == "probs"
        self._terms = [] if self.probabilities else [self._compile_operator(o) for o in operators]
        self._diagonal = self._dense = None
        if not self.probabilities and self.n <= self._FUSE_MAX_QUBITS:
            matrices = np.stack([self._operator_matrix(o) for o in operators])  # [ops, 2^n, 2^n]
            off = matrices - np.einsum("oii->oi", matrices)[:, :, None] * np.eye(2**self.n)[None]
            if np.abs(off).max() < 1e-12:  # Z strings: <O> = |psi|^2 · diag(O)
                self._diagonal = tf.constant(np.einsum("oii->io", matrices).real.astype(np.float32))
            else:
                self._dense = tf.constant(matrices.astype(np.complex64))

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

    _FUSE_MAX_QUBITS = 10  # constant blocks become one 2^n × 2^n permutation or matrix up to here

    def _fuse(self, operations, compiled):
        """The run plan: single-qubit gates are multiplied together per qubit and applied only when
        another operation needs that qubit; runs of constant multi-qubit gates become one
        permutation-with-phases (or one matrix) on the whole register."""
        plan, block = [], []

        def close_block():
            if not block:
                return
            ops = [operations[i] for i in block]
            axes = sorted({self._axis[q] for op in ops for q in op.qubits})
            if self.n <= self._FUSE_MAX_QUBITS:
                unitary = cirq.Circuit(ops).unitary(qubit_order=self.qubits)
                nonzero = np.abs(unitary) > 1e-9
                if (nonzero.sum(axis=1) == 1).all() and (nonzero.sum(axis=0) == 1).all():
                    source = nonzero.argmax(axis=1)
                    phases = unitary[np.arange(len(source)), source].astype(np.complex64)
                    plan.append(("perm", tf.constant(source, tf.int32),
                                 None if np.allclose(phases, 1.0) else tf.constant(phases), axes))
                else:
                    plan.append(("dense", tf.constant(unitary.T.astype(np.complex64)), axes))
            else:
                plan.extend(("op", compiled[i], [compiled[i][2 if compiled[i][0] == "const" else 5]]) for i in block)
            block.clear()

        for i, (op, item) in enumerate(zip(operations, compiled)):
            targets, controls = (item[2], item[3]) if item[0] == "const" else (item[5], item[6])
            if not controls and len(targets) == 1:
                close_block()
                plan.append(("1q", item, targets[0]))
            elif item[0] == "const":
                block.append(i)
            else:
                close_block()
                plan.append(("op", item, list(targets) + list(controls)))
        close_block()
        return plan

    def _group(self, plan):
        """Turns the '1q' steps into groups: per qubit, the single-qubit gates met between two
        operations that need that qubit; each group is applied as one 2×2 matrix ('group' step).

        All single-qubit matrices of the circuit are built in one vectorised pass at run time,
        and all groups are multiplied out together, so the per-gate TensorFlow overhead is paid
        a handful of times instead of once per gate.
        """
        pow_items = [step[1] for step in plan if step[0] == "1q" and step[1][0] == "pow"]
        const_items = [step[1] for step in plan if step[0] == "1q" and step[1][0] == "const"]
        self._pow_count = len(pow_items)
        if pow_items:
            self._pow_coeffs = tf.constant(np.stack([item[2].numpy() for item in pow_items], axis=1), tf.float32)
            self._pow_const = tf.constant([item[3] for item in pow_items], tf.float32)
            self._pow_shift = tf.constant([item[4] for item in pow_items], tf.float32)
            self._pow_kind = {k: tf.constant([item[1] == k for item in pow_items]) for k in "XYZ"}
        tables = [np.asarray(item[1].numpy()).reshape(2, 2) for item in const_items] + [np.eye(2)]
        self._const_table = tf.constant(np.stack(tables).astype(np.complex64))
        self._identity = self._pow_count + len(const_items)  # index of the identity in the joint table
        index = {id(item): i for i, item in enumerate(pow_items)}
        index.update({id(item): self._pow_count + i for i, item in enumerate(const_items)})

        groups, pending, grouped = [], {}, []

        def flush(axes):
            for axis in sorted(axes):
                if axis in pending:
                    grouped.append(("group", len(groups), axis))
                    groups.append(pending.pop(axis))

        for step in plan:
            if step[0] == "1q":
                pending.setdefault(step[2], []).append(index[id(step[1])])
            else:
                flush(step[-1])
                grouped.append(step)
        flush(list(pending))
        length = max((len(g) for g in groups), default=1)
        self._group_index = tf.constant([g + [self._identity] * (length - len(g)) for g in groups] or [[0]], tf.int32)
        self._group_length = length
        return grouped

    def _group_matrices(self, values, batch):
        """[batch, groups, 2, 2]: the product of every group's single-qubit matrices."""
        parts = []
        if self._pow_count:
            t = tf.linalg.matmul(values, self._pow_coeffs) + self._pow_const if self.symbols else \
                tf.tile(self._pow_const[None], [batch, 1])
            # real arithmetic, one complex cast at the end: for X/Y, e^{iφ}·[[c, ·], [·, c]] with
            # φ = πt/2 + πt·shift; for Z, diag(e^{iπt·shift}, e^{iπt(1+shift)})
            angle = np.pi * t
            c, sn = tf.cos(angle / 2.0), tf.sin(angle / 2.0)
            phi = angle / 2.0 + angle * self._pow_shift
            cp, sp = tf.cos(phi), tf.sin(phi)
            zero = tf.zeros_like(angle)
            # X: [[c, -i s], [-i s, c]]·e^{iφ};  Y: [[c, -s], [s, c]]·e^{iφ}
            x_re = tf.stack([c * cp, sn * sp, sn * sp, c * cp], -1)
            x_im = tf.stack([c * sp, -sn * cp, -sn * cp, c * sp], -1)
            y_re = tf.stack([c * cp, -sn * cp, sn * cp, c * cp], -1)
            y_im = tf.stack([c * sp, -sn * sp, sn * sp, c * sp], -1)
            z0, z1 = angle * self._pow_shift, angle * (1.0 + self._pow_shift)
            z_re = tf.stack([tf.cos(z0), zero, zero, tf.cos(z1)], -1)
            z_im = tf.stack([tf.sin(z0), zero, zero, tf.sin(z1)], -1)
            is_x, is_y = self._pow_kind["X"][None, :, None], self._pow_kind["Y"][None, :, None]
            re = tf.where(is_x, x_re, tf.where(is_y, y_re, z_re))
            im = tf.where(is_x, x_im, tf.where(is_y, y_im, z_im))
            parts.append(tf.reshape(tf.complex(re, im), [batch, self._pow_count, 2, 2]))
        parts.append(tf.tile(self._const_table[None], [batch, 1, 1, 1]))
        table = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        gathered = tf.gather(table, self._group_index, axis=1)  # [batch, groups, length, 2, 2]
        product = gathered[:, :, 0]
        for position in range(1, self._group_length):
            product = tf.linalg.matmul(gathered[:, :, position], product)
        return product

    def _operator_matrix(self, operator) -> np.ndarray:
        total = np.zeros((2**self.n, 2**self.n), np.complex128)
        terms = operator if isinstance(operator, cirq.PauliSum) else [operator]
        for term in terms:
            factors = [np.eye(2)] * self.n
            for q, p in term.items():
                factors[self._axis[q] - 1] = cirq.unitary(p)
            matrix = factors[0]
            for factor in factors[1:]:
                matrix = np.kron(matrix, factor)
            total += complex(term.coefficient) * matrix
        return total

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

    def _matrix(self, item, values, batch):
        """The (batched or constant) unitary of one compiled operation."""
        if item[0] == "const":
            return item[1], False
        _, kind, coeffs, const, shift, *_ = item
        t = tf.linalg.matvec(values, coeffs) + const if self.symbols else tf.fill([batch], tf.constant(const, tf.float32))
        return _pow_matrix(kind, t, shift), True

    def _run_op(self, state, item, values, batch):
        matrix, batched = self._matrix(item, values, batch)
        targets, controls, cvalues = (item[2], item[3], item[4]) if item[0] == "const" else item[5:8]
        return self._controlled(state, controls, cvalues, lambda s: self._apply(s, matrix, targets, batched))

    def state(self, values):
        """Final states [batch, 2, …, 2] for symbol values [batch, len(symbols)]."""
        values = tf.cast(values, tf.float32)
        batch = tf.shape(values)[0]
        shape = tf.concat([[batch], tf.fill([self.n], 2)], axis=0)
        initial = np.zeros((1,) + (2,) * self.n, np.complex64)
        initial[(0,) * (self.n + 1)] = 1.0
        state = tf.tile(tf.constant(initial), [batch] + [1] * self.n)
        groups = self._group_matrices(values, batch) if any(step[0] == "group" for step in self._plan) else None
        for step in self._plan:
            if step[0] == "group":
                state = self._apply(state, groups[:, step[1]], (step[2],), True)
            elif step[0] == "op":
                state = self._run_op(state, step[1], values, batch)
            else:
                flat = tf.reshape(state, [batch, -1])
                if step[0] == "perm":
                    flat = tf.gather(flat, step[1], axis=1)
                    if step[2] is not None:
                        flat = flat * step[2][None]
                else:
                    flat = tf.linalg.matmul(flat, step[1])
                state = tf.reshape(flat, shape)
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
        if self._diagonal is not None:
            return tf.linalg.matmul(tf.math.real(flat * tf.math.conj(flat)), self._diagonal)
        if self._dense is not None:
            return tf.math.real(tf.einsum("bi,oij,bj->bo", tf.math.conj(flat), self._dense, flat))
        outputs = []
        for terms in self._terms:
            total = 0.0
            for coefficient, paulis in terms:
                image = tf.reshape(self._pauli(state, paulis), tf.shape(flat))
                value = tf.reduce_sum(tf.math.conj(flat) * image, axis=-1)
                total = total + tf.math.real(value * coefficient)
            outputs.append(total)
        return tf.stack(outputs, axis=-1)
