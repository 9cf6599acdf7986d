"""Compile a symbol-parameterised Cirq circuit to TensorFlow ops on a batched state vector.

The state is complex64 of shape [batch, 2, …, 2] (qubit i on axis i + 1, qubit 0 most
significant, as in Cirq). Every operation becomes a tensor contraction on its qubits' axes:

* constant operations (H, CNOT, CZ, X, any gate with a unitary) use their Cirq unitary;
* X/Y/Z-power gates (rx, ry, rz, ZPowGate …) whose exponent is an affine function of the
  circuit's symbols get a per-sample 2×2 matrix built from the symbol values;
* controlled versions of those (``controlled_by`` with any control values) act on the
  control-matching slice only.

Registers of up to 6 qubits run a layered plan instead (`StateVectorCircuit._layer`): the
single-qubit gates before any entangling gate give a product state per row; every later run
of weight-only gates and constant gates becomes one 2^n × 2^n unitary per group of rows that
share weights (``shared=``), built from Kronecker products, so a layer's trainable part costs
one contraction per row instead of one op per gate.

Readouts are Pauli strings and PauliSums (expectations) or basis-state probabilities, exact or
estimated from shots (``repetitions=``, seeded). Gradients come from TensorFlow autodiff;
there is no noise and no parameter-shift rule here (use the TFQ backend for those).
"""
from __future__ import annotations

import string
from typing import Sequence

import cirq
import numpy as np
import sympy

from hybridkeras._compat import tf

MAX_ENGINE_QUBITS = 20


def join_shared(values, shared):
    """[rows, per-row + shared symbols]: ``values`` [rows, k] with row r followed by ``shared`` row
    r mod groups (``shared``: [groups, m]; rows ordered (sample, group), as the layers build them)."""
    values = tf.cast(values, tf.float32)
    shared = tf.cast(shared, tf.float32)
    return tf.concat([values, tf.tile(shared, [tf.shape(values)[0] // tf.shape(shared)[0], 1])], axis=1)


def _bit_table(n: int) -> np.ndarray:
    """[2^n, n]: bit q of basis state i (qubit 0 most significant, as in Cirq)."""
    return (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1


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
        shared: How many trailing symbols (a layer's weights) take one value per group of rows
            instead of one per row; their values come as ``shared=`` at call time. The parts of
            the circuit that depend on them only are then multiplied out once per group.
        repetitions: None for exact values; or the number of shots per circuit (registers up to
            10 qubits). Probabilities become shot frequencies; Pauli readouts are estimated from
            shots in their measurement basis: one set of shots for all operators when each qubit
            is read on one axis only (as on hardware), else one set per Pauli term. Gradients
            are those of the exact values (the mean of the estimate): value = sampled +
            (exact − stop_gradient(exact)).
        seed: Seed of the shot sampler (default: drawn from NumPy's global generator, which
            `keras.utils.set_random_seed` sets). Successive calls draw new shots.
    """

    def __init__(self, circuit: cirq.Circuit, symbols: Sequence[sympy.Symbol], operators, *, qubits=None,
                 shared: int = 0, repetitions: int | None = None, seed: int | None = None):
        self.qubits = list(qubits) if qubits is not None else sorted(circuit.all_qubits())
        self.n = len(self.qubits)
        if self.n > MAX_ENGINE_QUBITS:
            raise ValueError(
                f"The state-vector engine holds at most {MAX_ENGINE_QUBITS} qubits ({2**MAX_ENGINE_QUBITS} amplitudes "
                f"per sample). Received a circuit on {self.n} qubits; use backend='tfq'"
            )
        self.symbols = list(symbols)
        if not 0 <= shared <= len(self.symbols):
            raise ValueError(f"`shared` must be between 0 and the number of symbols ({len(self.symbols)}). "
                             f"Received: shared={shared!r}")
        self.shared = int(shared)
        self._row_symbols = len(self.symbols) - self.shared
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._axis = {q: i + 1 for i, q in enumerate(self.qubits)}
        operations = [op for op in circuit.all_operations() if not cirq.is_measurement(op)]
        self._ops = [self._compile(op) for op in operations]
        self._plan = self._group(self._fuse(operations, self._ops))
        self._layered = self._layer(self._plan) if self.n <= self._LAYER_MAX_QUBITS else None
        self.probabilities = isinstance(operators, str) and operators == "probs"
        self._terms = [] if self.probabilities else [self._compile_operator(o) for o in operators]
        self.repetitions = None if repetitions is None else int(repetitions)
        if self.repetitions is not None:
            self._sampling_setup(seed)
        self._diagonal = self._dense = self._basis = None
        if not self.probabilities and self.n <= self._FUSE_MAX_QUBITS:
            unrotated = matrices = np.stack([self._operator_matrix(o) for o in operators])  # [ops, 2^n, 2^n]
            basis = self._measurement_basis_of([(k, c, p) for k, op in enumerate(self._terms) for c, p in op])
            if basis is not None:  # one Pauli axis per qubit: rotate it to Z, then <O> = |B psi|^2 · diag(B O B†)
                matrices = basis[None] @ matrices @ basis.conj().T[None]
                if not np.allclose(basis, np.eye(len(basis))):
                    self._basis = tf.constant(basis.T.astype(np.complex64))
            off = matrices - np.einsum("oii->oi", matrices)[:, :, None] * np.eye(2**self.n)[None]
            if np.abs(off).max() < 1e-9:
                self._diagonal = tf.constant(np.einsum("oii->io", matrices).real.astype(np.float32))
            else:
                self._basis = None
                self._dense = tf.constant(unrotated.astype(np.complex64))
        self._layered_readout = self._layered
        if self._layered and self._layered[-1][0] == "shared" and self._basis is not None:
            # the readout's basis rotation joins the circuit's last unitary (once per group, not per row)
            basis = self._basis.numpy().T
            _, index, items = self._layered[-1]
            items = list(items)
            if items[-1][0] == "const":
                items[-1] = ("const", tf.constant((basis @ items[-1][1].numpy()).astype(np.complex64)))
            else:
                items.append(("const", tf.constant(basis.astype(np.complex64))))
            self._layered_readout = self._layered[:-1] + [("shared", index, items)]
            self._basis = None

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
                # a single-qubit gate on an axis the open block does not touch commutes with the
                # block, so it goes before it and the block stays open
                if any(targets[0] == self._axis[q] for j in block for q in operations[j].qubits):
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
        self._pow_coeffs_np = np.stack([item[2].numpy() for item in pow_items], axis=1) if pow_items else \
            np.zeros((len(self.symbols), 0))
        self._pow_const_np = np.array([item[3] for item in pow_items])
        self._pow_pauli_np = np.stack([self._MINUS_I_PAULI[item[1]].reshape(4) for item in pow_items]) if pow_items \
            else np.zeros((0, 4))
        self._pow_phase_np = np.array([item[4] for item in pow_items]) + 0.5  # e^{iπt(h+1/2)}; 0 for rx/ry/rz
        self._const_np = [np.asarray(item[1].numpy()).reshape(2, 2) for item in const_items]
        index = {id(item): i for i, item in enumerate(pow_items)}
        index.update({id(item): self._pow_count + i for i, item in enumerate(const_items)})

        groups, pending, grouped = [], {}, []

        def flush(axes):
            for axis in sorted(axes):
                if axis in pending:
                    grouped.append(("group", len(groups), axis))
                    groups.append(pending.pop(axis))

        split = self.n <= self._LAYER_MAX_QUBITS
        # which gates depend on per-row symbols (a rotation whose exponent has a per-row coefficient)
        self._per_row_gate = np.concatenate([np.abs(self._pow_coeffs_np[: self._row_symbols]).sum(axis=0) > 0,
                                             np.zeros(len(const_items), bool)])

        def per_row(i):
            return bool(self._per_row_gate[i])

        for step in plan:
            if step[0] == "1q":
                i = index[id(step[1])]
                group = pending.get(step[2])
                if split and group and per_row(group[-1]) and not per_row(i):
                    # layered plan: per-row gates and the shared gates after them go to separate
                    # groups, so the shared ones join the per-group unitary and rows stay cheap
                    flush([step[2]])
                pending.setdefault(step[2], []).append(i)
            else:
                flush(step[-1])
                grouped.append(step)
        flush(list(pending))
        self._groups = groups
        self._identity_group = len(groups)  # one all-identity group at the end, for the layered plan
        self._all_groups = self._group_spec(list(range(len(groups) + 1)))
        return grouped

    def _group_spec(self, group_ids):
        """Constants to build the matrices of the groups ``group_ids`` (in that order) from symbol values:
        only the gates those groups use are evaluated."""
        members = [[] if g == self._identity_group else self._groups[g] for g in group_ids]
        pow_ids = sorted({i for m in members for i in m if i < self._pow_count})
        const_ids = sorted({i for m in members for i in m if i >= self._pow_count})
        local = {i: k for k, i in enumerate(pow_ids)}
        local.update({i: len(pow_ids) + k for k, i in enumerate(const_ids)})
        identity = len(pow_ids) + len(const_ids)
        length = max([len(m) for m in members] + [1])
        phase = self._pow_phase_np[pow_ids]
        tables = [self._const_np[i - self._pow_count] for i in const_ids] + [np.eye(2)]
        return {
            "count": len(pow_ids),
            "coeffs": tf.constant(self._pow_coeffs_np[:, pow_ids], tf.float32),
            "const": tf.constant(self._pow_const_np[pow_ids], tf.float32),
            "re": tf.constant(self._pow_pauli_np[pow_ids].real, tf.float32),
            "im": tf.constant(self._pow_pauli_np[pow_ids].imag, tf.float32),
            "phase": None if np.allclose(phase, 0.0) else tf.constant(np.pi * phase, tf.float32),
            "table": tf.constant(np.stack(tables).astype(np.complex64)),
            "index": tf.constant([[local[i] for i in m] + [identity] * (length - len(m)) for m in members], tf.int32),
        }

    _LAYER_MAX_QUBITS = 6  # up to here, the layered plan below (2^n × 2^n matrices) is used

    def _group_is_shared(self, g: int) -> bool:
        """Whether group ``g`` depends on shared symbols and constants only (not on per-row symbols)."""
        if g == self._identity_group:
            return True
        return not any(self._per_row_gate[i] for i in self._groups[g])

    @staticmethod
    def _step_matrix(step) -> np.ndarray:
        """The register matrix C of a constant 'perm' or 'dense' step (new state = C · old state)."""
        if step[0] == "dense":
            return step[1].numpy().T
        source = step[1].numpy()
        matrix = np.zeros((len(source), len(source)), np.complex64)
        matrix[np.arange(len(source)), source] = 1.0 if step[2] is None else step[2].numpy()
        return matrix

    @staticmethod
    def _const_step(matrix: np.ndarray):
        nonzero = np.abs(matrix) > 1e-9
        if (nonzero.sum(axis=1) == 1).all() and (nonzero.sum(axis=0) == 1).all():
            source = nonzero.argmax(axis=1)
            return ("perm", tf.constant(source, tf.int32), tf.constant(matrix[np.arange(len(source)), source]))
        return ("dense", tf.constant(matrix.T.astype(np.complex64)))

    def _layer(self, plan):
        """The layered plan for small registers (``n ≤ _LAYER_MAX_QUBITS``).

        * The single-qubit groups met before any multi-qubit step on their qubit act on |0⟩:
          the state after them is a product state, the Kronecker product of each group's first
          column (``_prefix_index``), built per row.
        * After that, maximal runs of steps that do not depend on per-row symbols (layers of
          single-qubit groups over constants and shared symbols, constant permutations and
          matrices) are multiplied into one 2^n × 2^n unitary per group of rows, built from
          the shared values only ('shared' step); the state then needs one contraction per run.
          With weights as shared symbols, this is where the trainable part of a circuit goes.
        * Layers that depend on per-row symbols ('row') are applied qubit by qubit; controlled
          parameterised operations ('op') as compiled.
        """
        first, rest, touched = {}, [], set()
        for step in plan:
            if step[0] == "group" and step[2] not in touched and step[2] not in first:
                first[step[2]] = step[1]
                continue
            if step[0] != "group":
                touched.update(step[-1])
            rest.append(step)
        prefix = [first.get(axis, self._identity_group) for axis in range(1, self.n + 1)]
        self._prefix_gather = tf.constant(np.arange(self.n)[None, :] * 2 + _bit_table(self.n), tf.int32)  # [2^n, n]
        merged = []  # runs of groups → one layer
        for step in rest:
            if step[0] == "group":
                if merged and merged[-1][0] == "layer" and step[2] not in merged[-1][1]:
                    merged[-1][1][step[2]] = step[1]
                else:
                    merged.append(("layer", {step[2]: step[1]}))
            else:
                merged.append(step)
        steps, run = [], []

        def close():
            layers = [item[1] for item in run if item[0] == "kron"]
            if not layers:  # constants only: one matrix, kept as a permutation when it is one
                if run:
                    matrix = run[0][1]
                    for item in run[1:]:
                        matrix = item[1] @ matrix
                    steps.append(self._const_step(matrix))
            else:
                group_of = np.array([[layer.get(axis, self._identity_group) for axis in range(1, self.n + 1)]
                                     for layer in layers])  # [layers, n]
                index = group_of
                items, k = [], 0
                for item in run:
                    if item[0] == "kron":
                        items.append(("kron", k))
                        k += 1
                    elif items and items[-1][0] == "const":
                        items[-1] = ("const", item[1] @ items[-1][1])
                    else:
                        items.append(item)
                steps.append(("shared", index, [(kind, x if kind == "kron" else tf.constant(x.astype(np.complex64)))
                                                for kind, x in items]))
            run.clear()

        for step in merged:
            if step[0] == "layer" and all(self._group_is_shared(g) for g in step[1].values()):
                run.append(("kron", step[1]))
            elif step[0] in ("perm", "dense"):
                run.append(("const", self._step_matrix(step)))
            else:
                close()
                steps.append(("row", step[1]) if step[0] == "layer" else step)
        close()
        # per-row groups: the prefix's (positions 0…n−1, in qubit order), then those of 'row' layers
        row_groups = prefix + sorted({g for step in steps if step[0] == "row" for g in step[1].values()})
        row_local = {g: i for i, g in reversed(list(enumerate(row_groups)))}
        steps = [("row", {a: row_local[g] for a, g in step[1].items()}) if step[0] == "row" else step for step in steps]
        self._row_groups = self._group_spec(row_groups)
        # shared runs read their groups from one table of just the groups they use
        shared_groups = sorted({int(g) for step in steps if step[0] == "shared" for g in np.unique(step[1])})
        shared_local = np.zeros(self._identity_group + 1, np.int64)
        shared_local[shared_groups] = np.arange(len(shared_groups))
        self._shared_groups = self._group_spec(shared_groups) if shared_groups else None
        return [("shared", tf.constant(shared_local[step[1]], tf.int32), step[2])
                if step[0] == "shared" else step for step in steps]

    @staticmethod
    def _product(tensor):
        """Product over the last axis (tf.reduce_prod's complex gradient, a cumprod, is far slower)."""
        factors = tf.unstack(tensor, axis=-1)
        product = factors[0]
        for factor in factors[1:]:
            product = product * factor
        return product

    def _run_unitary(self, matrices, step):
        """[groups, 2^n, 2^n]: the unitary of one 'shared' run, from per-group single-qubit matrices."""
        _, index, items = step
        factors = tf.unstack(tf.gather(matrices, index, axis=1), axis=2)  # n × [groups of rows, layers, 2, 2]
        kron = factors[0]
        for q, factor in enumerate(factors[1:], start=1):  # Kronecker product, qubit 0 most significant
            side = 2 ** (q + 1)
            kron = tf.reshape(tf.einsum("glac,glbd->glabcd", kron, factor), [-1, len(index), side, side])
        unitary = None
        for kind, x in items:
            factor = kron[:, x] if kind == "kron" else x[None]
            unitary = factor if unitary is None else tf.linalg.matmul(factor, unitary)
        return unitary

    # X**t, Y**t, Z**t with global shift h: e^{iπt(h+1/2)} · (cos(πt/2)·I + sin(πt/2)·(−iP))
    _MINUS_I_PAULI = {"X": np.array([[0, -1j], [-1j, 0]]), "Y": np.array([[0, -1], [1, 0]]),
                      "Z": np.array([[-1j, 0], [0, 1j]])}

    _IDENTITY4 = np.array([1.0, 0.0, 0.0, 1.0], np.float32)

    def _group_matrices(self, values, batch, spec=None):
        """[batch, groups, 2, 2]: the product of each group's single-qubit matrices, for the
        groups of ``spec`` (`_group_spec`; default all groups, then the identity group)."""
        spec = spec or self._all_groups
        parts = []
        if spec["count"]:
            t = tf.linalg.matmul(values, spec["coeffs"]) + spec["const"] if self.symbols else \
                tf.tile(spec["const"][None], [batch, 1])
            half = (np.pi / 2.0) * t
            c, sn = tf.cos(half)[:, :, None], tf.sin(half)[:, :, None]
            matrices = tf.complex(c * self._IDENTITY4 + sn * spec["re"], sn * spec["im"])
            if spec["phase"] is not None:
                phi = t * spec["phase"]
                matrices = matrices * tf.complex(tf.cos(phi), tf.sin(phi))[:, :, None]
            parts.append(tf.reshape(matrices, [-1, spec["count"], 2, 2]))
        parts.append(tf.tile(spec["table"][None], [batch, 1, 1, 1]))
        table = tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        factors = tf.unstack(tf.gather(table, spec["index"], axis=1), axis=2)  # length × [batch, groups, 2, 2]
        product = factors[0]
        for factor in factors[1:]:  # 2×2 products elementwise: far cheaper than batched matmul of tiny matrices
            product = tf.reduce_sum(factor[..., :, :, None] * product[..., None, :, :], axis=-2)
        return product

    _TO_Z = {"X": np.array([[1, 1], [1, -1]]) / np.sqrt(2),  # H: H X H = Z
             "Y": np.array([[1, -1j], [1, 1j]]) / np.sqrt(2)}  # H·S†: (H S†) Y (H S†)† = Z

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

    def _flat_state(self, values, shared=None, readout=False):
        """Final states [rows, 2^n] by the layered plan (small registers); see `_layer`."""
        values = tf.cast(values, tf.float32)
        rows = tf.shape(values)[0]
        size = 2**self.n
        if self.shared:
            if shared is None:  # full rows given: every row is its own group
                full, shared = values, values[:, self._row_symbols:]
            else:
                full = join_shared(values, shared)
            shared_full = tf.concat([tf.zeros([tf.shape(shared)[0], self._row_symbols]), tf.cast(shared, tf.float32)],
                                    axis=1)
        else:
            full, shared_full = values, tf.zeros([1, len(self.symbols)])
        shape = [-1] + [2] * self.n
        matrices = self._group_matrices(full, rows, self._row_groups)  # [rows, row groups, 2, 2]
        # product state: amplitude i = Π_q (first column of qubit q's group)[bit_q(i)]
        columns = tf.reshape(matrices[:, : self.n, :, 0], [-1, 2 * self.n])
        state = self._product(tf.gather(columns, self._prefix_gather, axis=1))  # [rows, 2^n]
        shared_matrices = None
        for step in (self._layered_readout if readout else self._layered):
            if step[0] == "shared":
                if shared_matrices is None:
                    shared_matrices = self._group_matrices(shared_full, tf.shape(shared_full)[0], self._shared_groups)
                unitary = self._run_unitary(shared_matrices, step)
                if self.shared:
                    grouped = tf.reshape(state, [-1, tf.shape(unitary)[0], size])
                    state = tf.reshape(tf.einsum("bgj,gij->bgi", grouped, unitary), [-1, size])
                else:
                    state = tf.linalg.matmul(state, unitary[0], transpose_b=True)
            elif step[0] == "perm":
                state = tf.gather(state, step[1], axis=1) * step[2][None]
            elif step[0] == "dense":
                state = tf.linalg.matmul(state, step[1])
            elif step[0] == "row":
                tensor = tf.reshape(state, shape)
                for axis, g in sorted(step[1].items()):
                    tensor = self._apply(tensor, matrices[:, g], (axis,), True)
                state = tf.reshape(tensor, [-1, size])
            else:
                state = tf.reshape(self._run_op(tf.reshape(state, shape), step[1], full, rows), [-1, size])
        return state

    def _flat(self, values, shared=None, readout=False):
        """Final states [rows, 2^n], by whichever plan this register uses (``readout``: with the
        readout's basis change folded in, see `__call__`)."""
        if self._layered is not None:
            return self._flat_state(values, shared, readout)
        return tf.reshape(self.state(values, shared), [tf.shape(values)[0], -1])

    def state(self, values, shared=None):
        """Final states [rows, 2, …, 2].

        ``values``: [rows, len(symbols)], or with ``shared=`` given, [rows, len(symbols) − shared]
        for the per-row symbols and ``shared``: [groups, shared] for the trailing symbols, where
        row r uses shared row r mod groups (rows ordered (sample, group), as the layers build them).
        """
        batch = tf.shape(values)[0]
        shape = tf.concat([[batch], tf.fill([self.n], 2)], axis=0)
        if self._layered is not None:
            return tf.reshape(self._flat_state(values, shared), shape)
        if shared is not None and not self.shared:
            raise ValueError("This circuit was compiled with shared=0; pass all symbol values in `values`")
        values = tf.cast(values, tf.float32) if shared is None else join_shared(values, shared)
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

    def __call__(self, values, shared=None):
        """Readout values [rows, outputs]; arguments as in `state`."""
        if self.repetitions is not None:
            return self._sampled(values, shared)
        flat = self._flat(values, shared, readout=True)
        if self.probabilities:
            return tf.math.real(flat * tf.math.conj(flat))
        if self._diagonal is not None:
            if self._basis is not None:
                flat = tf.linalg.matmul(flat, self._basis)
            return tf.linalg.matmul(tf.math.real(flat * tf.math.conj(flat)), self._diagonal)
        if self._dense is not None:
            return tf.math.real(tf.einsum("bi,oij,bj->bo", tf.math.conj(flat), self._dense, flat))
        state = tf.reshape(flat, [-1] + [2] * self.n)
        outputs = []
        for terms in self._terms:
            total = 0.0
            for coefficient, paulis in terms:
                image = tf.reshape(self._pauli(state, paulis), tf.shape(flat))
                value = tf.reduce_sum(tf.math.conj(flat) * image, axis=-1)
                total = total + tf.math.real(value * coefficient)
            outputs.append(total)
        return tf.stack(outputs, axis=-1)

    # ------------------------------------------------------------------ shots
    def _sampling_setup(self, seed):
        if self.repetitions < 1:
            raise ValueError(f"`repetitions` must be a positive number of shots. Received: repetitions={self.repetitions!r}")
        if self.n > self._FUSE_MAX_QUBITS:
            raise ValueError(
                f"Shot sampling on the state-vector engine holds at most {self._FUSE_MAX_QUBITS} qubits. Received a "
                f"circuit on {self.n} qubits; use backend='tfq'"
            )
        size = 2**self.n
        bits = _bit_table(self.n)
        signs = coefficients = None
        if self.probabilities:
            settings = [np.eye(size)]
        else:
            terms = [(k, coefficient, paulis) for k, operator in enumerate(self._terms) for coefficient, paulis in operator]
            common = self._measurement_basis_of(terms)
            settings = [common] if common is not None else [self._term_basis(paulis) for _, _, paulis in terms]
            signs = np.zeros((len(settings), size, len(terms)), np.float32)  # [settings, 2^n, terms]
            coefficients = np.zeros((len(terms), len(self._terms)), np.float32)
            for t, (k, coefficient, paulis) in enumerate(terms):
                parity = np.zeros(size, np.int64)
                for axis, _ in paulis:
                    parity ^= bits[:, axis - 1]
                signs[0 if common is not None else t, :, t] = 1.0 - 2.0 * parity
                coefficients[t, k] = np.real(coefficient)
        self._rotations = tf.constant(np.stack(settings).astype(np.complex64))  # [settings, 2^n, 2^n]
        self._signs = None if signs is None else tf.constant(signs)
        self._coefficients = None if coefficients is None else tf.constant(coefficients)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self._generator = tf.random.Generator.from_seed(int(seed))

    def _term_basis(self, paulis) -> np.ndarray:
        """The product rotation that turns the Pauli string ``paulis`` ((axis, 'X'|'Y'|'Z'), …) diagonal."""
        basis = np.eye(1)
        kinds = dict(paulis)
        for axis in range(1, self.n + 1):
            basis = np.kron(basis, self._TO_Z.get(kinds.get(axis, "Z"), np.eye(2)))
        return basis

    def _measurement_basis_of(self, terms):
        """The product rotation that turns every term diagonal when each qubit is read on one
        Pauli axis only (as in 'Y on every qubit'); None otherwise. ``terms``: (operator, coefficient, paulis)."""
        axes = {}
        for _, _, paulis in terms:
            for axis, p in paulis:
                axes.setdefault(axis, set()).add(p)
        if any(len(v) > 1 for v in axes.values()):
            return None
        return self._term_basis([(axis, next(iter(v))) for axis, v in axes.items()])

    def _sampled(self, values, shared):
        """Readout values estimated from ``repetitions`` shots (see the class docstring)."""
        flat = self._flat(values, shared)
        size = 2**self.n
        settings = int(self._rotations.shape[0])
        rotated = tf.einsum("rd,skd->rsk", flat, self._rotations)
        exact = tf.math.real(rotated * tf.math.conj(rotated))  # [rows, settings, 2^n] outcome probabilities
        logits = tf.math.log(tf.maximum(tf.reshape(tf.stop_gradient(exact), [-1, size]), 1e-30))
        shots = tf.random.stateless_categorical(logits, self.repetitions, seed=self._generator.make_seeds(1)[:, 0])
        frequencies = tf.reshape(tf.reduce_mean(tf.one_hot(shots, size, dtype=tf.float32), axis=1), [-1, settings, size])
        if self.probabilities:
            exact, frequencies = exact[:, 0], frequencies[:, 0]
        else:
            exact = tf.einsum("rsd,sdt->rt", exact, self._signs) @ self._coefficients
            frequencies = tf.einsum("rsd,sdt->rt", frequencies, self._signs) @ self._coefficients
        return frequencies + (exact - tf.stop_gradient(exact))  # the shots' values, the exact values' gradient
