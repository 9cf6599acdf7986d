"""`DensityMatrixCircuit`: exact, batched, differentiable density-matrix simulation of noisy circuits.

A density matrix ρ on n qubits is run as a vector of 4^n entries on a doubled register of 2n
positions, interleaved: row qubit q is position 2q, column qubit q is position 2q + 1, so
vec(ρ)[(r_0 c_0 r_1 c_1 …)] = ρ[r, c]. Every operation then acts on its qubits' position pairs
as one matrix (its superoperator), and the state-vector engine's planner and executor run it
unchanged (`plan`, `execute`):

* a gate U acts as U ⊗ Ū (ρ → U ρ U†). A parameterised U = base + Σ_k e^{iφ_k} M_k keeps that
  form: U ⊗ Ū = Σ_{j,k} e^{i(φ_j − φ_k)} M_j ⊗ M̄_k, its terms merged by their coefficients, so
  gradients reach data and weights by autodiff exactly as on state vectors;
* a channel with Kraus operators K_m (of any width Cirq gives: depolarising, amplitude and phase
  damping, bit and phase flips, Pauli and Kraus channels, reset, …) acts as Σ_m K_m ⊗ K̄_m.

The run itself is real: each qubit's pair of positions is written in the Pauli basis (the Pauli-transfer
form), vec(ρ) ↦ c with c_P = tr(P ρ) for P ∈ {I, X, Y, Z} per qubit, so ρ = Σ_P c_P P / 2^n. Every
superoperator S becomes T S T⁻¹ (T = ⊗ `TO_PAULI`), a real matrix, since S maps Hermitian matrices to
Hermitian ones; a parameterised gate keeps its phase terms, of which the executor builds only the real part
(`execute.Executor(real=True)`). Real float32 arithmetic is a quarter of complex64's multiplications and half
its bytes, a Clifford gate (CNOT, CZ, H, S, …) is a permutation with signs, and a Pauli channel (depolarising,
bit and phase flips) is diagonal.

Readouts: without readout error or shots, ⟨P⟩ of a Pauli string is one entry of c, so a Pauli readout is a
gather of a few columns and a weighted sum (no basis change). Otherwise the readout takes ρ's diagonal,
((c_I + c_Z) / 2, (c_I − c_Z) / 2) per qubit (after the Pauli readout's basis change), applies the readout
(assignment) error as a stochastic matrix per qubit, and reads Pauli terms off it with the same sign tables
as state vectors; shots are drawn from those probabilities. Memory: one row holds a 4^n float32 vector per
step of the plan (autodiff keeps them), 4 · 4^n bytes each (67 MB at 12 qubits); a batch that would exceed the budget is split into chunks that fit (`DensityMatrixCircuit._split`),
and a register of more than `MAX_DENSITY_QUBITS` qubits (or whose single row exceeds the budget) is
refused at construction.
"""
from __future__ import annotations

import functools

import cirq
import numpy as np
from keras import ops as K

from hybridkeras.circuits.readouts import register_of
from hybridkeras.engines.compiler import Compiler, GateRecord, PhaseTerm, UnsupportedGateError
from hybridkeras.engines.execute import Executor
from hybridkeras.engines.ops import constant, matmul, static_size, tile_rows
from hybridkeras.engines.plan import make_plan
from hybridkeras.engines.statevector import MEMORY_FRACTION, StateVectorCircuit, physical_memory

MAX_DENSITY_QUBITS = 12  # 4^12 float32 entries = 67 MB per density matrix and step
DENSE_POSITIONS = 4  # doubled registers up to here (2 qubits) are one block
BLOCK_POSITIONS = 4  # block width on larger ones: 2 qubits' row and column positions, 16 × 16 matrices


_PAULI_MATRICES = (np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]))
# one qubit's pair (r, c) of vec(ρ) → Pauli coefficients c_P = tr(P ρ) = Σ_rc P[c, r] ρ[r, c], P = I, X, Y, Z
TO_PAULI = np.array([[p[c, r] for r in (0, 1) for c in (0, 1)] for p in _PAULI_MATRICES])
FROM_PAULI = np.linalg.inv(TO_PAULI)  # = TO_PAULI† / 2
PAULI_CODE = {"I": 0, "X": 1, "Y": 2, "Z": 3}


def pauli_transfer(record: GateRecord) -> GateRecord:
    """A superoperator record (on whole qubit pairs) in the Pauli basis: T S T⁻¹ for its base and each phase term.
    The sum is real; a constant record's matrix is stored real."""
    pairs = record.width // 2
    to, back = np.ones((1, 1)), np.ones((1, 1))
    for _ in range(pairs):
        to, back = np.kron(to, TO_PAULI), np.kron(back, FROM_PAULI)
    base = to @ record.base @ back
    if not record.terms:
        base = base.real.astype(np.complex128)
    terms = tuple(PhaseTerm(to @ t.matrix @ back, t.coeffs, t.const) for t in record.terms)
    return GateRecord(record.name, record.qubits, base, terms)


def doubled(qubits) -> tuple[int, ...]:
    """The doubled-register positions of register qubits: (2q, 2q + 1) for each, in order."""
    return tuple(p for q in qubits for p in (2 * q, 2 * q + 1))


def interleave(matrix: np.ndarray, width: int) -> np.ndarray:
    """A [4^w, 4^w] matrix on (row qubits…, column qubits…) reordered to the doubled order (r_0 c_0 r_1 c_1 …)."""
    tensor = matrix.reshape((2,) * (4 * width))
    order = [axis for q in range(width) for axis in (q, width + q)]
    return tensor.transpose(order + [2 * width + a for a in order]).reshape(4**width, 4**width)


def pair(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """a ⊗ b̄ on the doubled positions of ``width`` qubits: ρ → a ρ b†."""
    return interleave(np.kron(a, np.conj(b)), width)


def superoperator(record: GateRecord) -> GateRecord:
    """The gate record U as U ⊗ Ū on its qubits' doubled positions, its phase terms merged by coefficients."""
    width = record.width
    parts = [(record.base, None, 0.0)] + [(t.matrix, t.coeffs, t.const) for t in record.terms]
    size = 4**width
    base = np.zeros((size, size), np.complex128)
    merged: dict[tuple, list] = {}
    zeros = np.zeros_like(record.terms[0].coeffs) if record.terms else None
    for a, ca, ka in parts:
        if not np.any(a):
            continue
        for b, cb, kb in parts:
            if not np.any(b):
                continue
            coeffs = (zeros if ca is None else ca) - (zeros if cb is None else cb) if zeros is not None else None
            matrix = np.exp(1j * (ka - kb)) * pair(a, b, width)
            if coeffs is None or not np.any(np.abs(coeffs) > 1e-12):
                base += matrix
                continue
            key = tuple(np.round(coeffs, 12))
            entry = merged.setdefault(key, [coeffs, np.zeros((size, size), np.complex128)])
            entry[1] += matrix
    terms = tuple(PhaseTerm(m, c, 0.0) for c, m in merged.values() if np.abs(m).max() > 1e-12)
    return GateRecord(f"{record.name} ⊗ conj", doubled(record.qubits), base, terms)


def channel_record(op: cirq.Operation, positions: tuple[int, ...]) -> GateRecord:
    """A constant channel Σ_m K_m ⊗ K̄_m on the doubled positions of its register positions."""
    width = len(positions)
    total = sum(pair(k, k, width) for k in cirq.kraus(op))
    return GateRecord(repr(op), doubled(positions), np.asarray(total, np.complex128))


class DensityMatrixCircuit(StateVectorCircuit):
    """A compiled noisy circuit: ``__call__(values)`` → readout values, exact over the circuit's mixed state.

    Arguments as `StateVectorCircuit`, and:
        circuit: May hold channels (operations with Kraus operators and no unitary, e.g.
            ``cirq.depolarize(p).on(q)`` or what ``circuit.with_noise(model)`` adds) as well as every
            gate the state-vector engine takes. Channels take numbers, not symbols.
        readout_error: None, or the 2×2 column-stochastic matrix [[1 − p01, p10], [p01, 1 − p10]]
            applied to every measured qubit's outcome (`circuits.noise.Noise.readout_matrix`).
        memory_budget: Bytes a batch may use (default: half of this machine's memory).

    `state` returns density matrices [rows, 2^n, 2^n]; `probabilities` and `samples` include the
    readout error, as a device's counts would.
    """

    mixed = True  # `state` gives density matrices

    def __init__(self, circuit, symbols, operators, *, readout_error=None, memory_budget: int | None = None,
                 **kwargs):
        self._readout_error = None if readout_error is None else np.asarray(readout_error, np.float64)
        if self._readout_error is not None and (self._readout_error.shape != (2, 2) or np.any(self._readout_error < 0)
                                                or not np.allclose(self._readout_error.sum(axis=0), 1.0)):
            raise ValueError("`readout_error` must be a 2×2 column-stochastic matrix [[1 − p01, p10], [p01, 1 − p10]]. "
                             f"Received: readout_error={readout_error!r}")
        if memory_budget is not None and (isinstance(memory_budget, bool) or not isinstance(memory_budget, int)
                                          or memory_budget < 1):
            raise ValueError(f"`memory_budget` must be a positive number of bytes. Received: memory_budget={memory_budget!r}")
        self.memory_budget = int(MEMORY_FRACTION * physical_memory()) if memory_budget is None else int(memory_budget)
        register = len(kwargs.get("qubits") or ()) or len(register_of(circuit, operators))
        if register > MAX_DENSITY_QUBITS:
            raise ValueError(f"Density matrices hold at most {MAX_DENSITY_QUBITS} qubits (4^{MAX_DENSITY_QUBITS} "
                             f"entries, {4 * 4**MAX_DENSITY_QUBITS / 1e6:.0f} MB per row and step in float32); this "
                             f"noisy circuit has {register}. Simulate fewer qubits, or without noise")
        super().__init__(circuit, symbols, operators, **kwargs)
        if self._row_bytes() > self.memory_budget:
            raise ValueError(f"One {self.n}-qubit density matrix needs {self._row_bytes() / 1e6:.0f} MB ({8 * 4**self.n} "
                             f"bytes, {len(self.plan.steps) + 4} kept for gradients), more than the memory budget of "
                             f"{self.memory_budget / 1e6:.0f} MB. Use fewer qubits, or a larger `memory_budget`")
        self._diagonal_executor = None

    # ------------------------------------------------------------------ compiling and planning
    def _compile(self, circuit, compiler: Compiler) -> list:
        records = []
        for op in circuit.all_operations():
            if cirq.is_measurement(op):
                continue
            if not cirq.is_parameterized(op) and not cirq.has_unitary(op):
                if not cirq.has_kraus(op):
                    raise UnsupportedGateError(f"operation {op!r} is neither a gate nor a channel (no Kraus operators)")
                records.append(channel_record(op, compiler.positions(op)))
                continue
            if cirq.is_parameterized(op) and not cirq.has_unitary(cirq.resolve_parameters(
                    op, {s: 0.1 for s in cirq.parameter_names(op)})):
                raise UnsupportedGateError(f"the channel {op!r} has symbolic parameters; channels take numbers")
            records.extend(superoperator(r) for r in compiler.compile(op))
        return records

    def _executor(self, rotated: bool, peel: bool = False, initial: bool = False) -> Executor:
        """The real executor of the Pauli-transfer form (every run starts from given states: `_initial`)."""
        if rotated not in self._executors:
            records = self._records
            if rotated:
                records = records + [superoperator(r) for r in self._readout.basis_change()]
            records = [pauli_transfer(r) for r in records]
            executor = Executor(make_plan(records, 2 * self.n, self._row_mask, initial=True, dense_qubits=DENSE_POSITIONS,
                                          block_qubits=BLOCK_POSITIONS, fuse_constants=True), len(self.symbols), real=True)
            executor.peeled = None
            self._executors[rotated] = executor
        return self._executors[rotated]

    def _row_bytes(self) -> int:
        return 4 * 4**self.n * (len(self.plan.steps) + 4)

    def _max_rows(self) -> int:
        return max(1, int(self.memory_budget // self._row_bytes()))

    def _memory_message(self, rows, max_rows) -> str:
        return (f"A batch of {rows} rows of {self.n}-qubit density matrices would exceed the memory budget of "
                f"{self.memory_budget / 1e6:.0f} MB ({4 * 4**self.n} bytes per matrix, about {len(self.plan.steps) + 4} "
                f"kept for gradients): at most {max_rows} rows fit. Use smaller batches or fewer qubits")

    # ------------------------------------------------------------------ run
    def _split(self, fn, values, shared, initial):
        """``fn(values, shared, initial)`` on chunks of rows that fit the memory budget, joined in order.

        Rows come in (sample, group) order, so chunks hold whole multiples of the groups and keep each row's
        group. Batch sizes known while tracing (eager TensorFlow, JAX, PyTorch) are split; a TensorFlow graph
        whose batch size is known only when it runs checks it then, with the number of rows that fit."""
        rows = static_size(K.convert_to_tensor(values).shape[0])
        max_rows = self._max_rows()
        if rows is None or rows <= max_rows:
            return fn(values, shared, initial)
        groups = 1 if shared is None or not self.shared else static_size(K.convert_to_tensor(shared).shape[0])
        if groups is None or groups > max_rows:
            return fn(values, shared, initial)  # refused by the batch check, naming the rows that fit
        step = max_rows // groups * groups
        parts = [fn(values[start:start + step], shared, None if initial is None else initial[start:start + step])
                 for start in range(0, rows, step)]
        return K.concatenate(parts, axis=0)

    def _initial(self, initial, rows):
        """Initial density matrices in the Pauli-transfer form [rows, 4^n] float32: |0…0⟩⟨0…0| without
        ``initial``, else the pure states ``initial`` [rows, 2^n]."""
        n = self.n
        psi = super()._initial(initial, rows)
        if psi is None:
            zero = np.ones(1)
            for _ in range(n):
                zero = np.kron(zero, TO_PAULI[:, 0].real)  # |0⟩⟨0| = (I + Z) / 2: c = (1, 0, 0, 1) per qubit
            return tile_rows(constant(zero[None], "float32"), rows)
        outer = K.reshape(psi, [-1, 2**n, 1]) * K.reshape(K.conj(psi), [-1, 1, 2**n])
        order = [0] + [axis for q in range(n) for axis in (1 + q, 1 + n + q)]
        flat = K.reshape(K.transpose(K.reshape(outer, [-1] + [2] * (2 * n)), order), [-1, 4**n])
        return K.real(self._per_pair(flat, TO_PAULI.astype(np.complex64)))

    def _per_pair(self, flat, matrix):
        """``matrix`` [4, 4] on every qubit's pair of positions of ``flat`` [rows, 4^n] (its dtype)."""
        n = self.n
        rows = K.shape(flat)[0]
        m = K.convert_to_tensor(matrix)[None]
        for q in range(n):
            flat = K.reshape(matmul(m, K.reshape(flat, [-1, 4, 4 ** (n - 1 - q)])), [rows, 4**n])
        return flat

    def _flat(self, values, shared, rotated: bool, initial=None):
        """ρ [rows, 4^n] in the Pauli-transfer form, after the circuit (and the readout's basis change)."""
        full, group, rows, groups, static, initial = self._prepared(values, shared, initial)
        return self._executor(rotated).run(full, group, rows, groups, static_groups=static, initial=initial)

    def _diagonal(self, flat):
        """ρ's diagonal [rows, 2^n] from its Pauli-transfer form: ((c_I + c_Z) / 2, (c_I − c_Z) / 2) per qubit."""
        n = self.n
        rows = K.shape(flat)[0]
        x = K.reshape(flat, [rows, 1, 4**n])
        for q in range(n):
            view = K.reshape(x, [rows, 2**q, 4, 4 ** (n - 1 - q)])
            identity, z = view[:, :, 0], view[:, :, 3]
            x = K.reshape(K.stack([0.5 * (identity + z), 0.5 * (identity - z)], axis=2),
                          [rows, 2 ** (q + 1), 4 ** (n - 1 - q)])
        return K.reshape(x, [rows, 2**n])

    @functools.cached_property
    def _pauli_columns(self):
        """(columns of the Pauli-transfer form holding each readout term's tr(P ρ), [terms, operators] weights)."""
        n = self.n
        columns = [sum(PAULI_CODE[p] * 4 ** (n - 1 - q) for q, p in paulis.items()) for _, _, paulis in self._readout.terms]
        return np.array(columns, np.int32), self._readout.coefficients

    def _assignment(self, probabilities):
        """The readout (assignment) error applied to every qubit of ``probabilities`` [rows, 2^n]."""
        if self._readout_error is None:
            return probabilities
        n = self.n
        matrix = constant(self._readout_error[None], "float32")
        rows = K.shape(probabilities)[0]
        for q in range(n):
            view = K.reshape(probabilities, [-1, 2, 2 ** (n - 1 - q)])
            probabilities = K.reshape(matmul(matrix, view), [rows, 2**n])
        return probabilities

    def _rotate(self, flat, setting):
        """ρ (Pauli-transfer form) with single-qubit basis changes ``setting`` ([(qubit, matrix)]) applied as M ρ M†."""
        n = self.n
        rows = K.shape(flat)[0]
        for q, m in setting:
            view = K.reshape(flat, [-1, 4, 4 ** (n - 1 - q)])
            transfer = (TO_PAULI @ pair(m, m, 1) @ FROM_PAULI).real
            flat = K.reshape(matmul(constant(transfer[None], "float32"), view), [rows, 4**n])
        return flat

    def _probabilities(self, values, shared, initial=None):
        """Measured basis-state probabilities [rows, 2^n]: ρ's diagonal with the readout error."""
        return self._split(self._measured, values, shared, initial)

    def _measured(self, values, shared, initial):
        return self._assignment(self._diagonal(self._flat(values, shared, rotated=False, initial=initial)))

    def state(self, values, shared=None, initial=None):
        """Final density matrices [rows, 2^n, 2^n] complex64 (qubit 0 most significant); arguments as in
        `StateVectorCircuit.state`."""
        return self._split(self._state, values, shared, initial)

    def _state(self, values, shared, initial):
        n = self.n
        flat = self._flat(values, shared, rotated=False, initial=initial)
        flat = self._per_pair(K.cast(flat, "complex64"), FROM_PAULI.astype(np.complex64))  # back to vec(ρ)
        order = [0] + [1 + 2 * q for q in range(n)] + [2 + 2 * q for q in range(n)]
        return K.reshape(K.transpose(K.reshape(flat, [-1] + [2] * (2 * n)), order), [-1, 2**n, 2**n])

    def _term_probabilities(self, values, shared, initial=None):
        """Per measurement setting of the readout: the measured probabilities [rows, 2^n] in its basis."""
        if self._readout.common is not None:
            return [self._assignment(self._diagonal(self._flat(values, shared, rotated=True, initial=initial)))]
        flat = self._flat(values, shared, rotated=False, initial=initial)
        return [self._assignment(self._diagonal(self._rotate(flat, setting))) for setting in self._readout.term_settings()]

    def _values(self, values, shared, initial=None):
        return self._split(self._chunk_values, values, shared, initial)

    def _chunk_values(self, values, shared, initial):
        if self.probabilities:
            exact = self._probabilities(values, shared, initial)
            if self._sampler is None:
                return exact
            return self._sampler.frequencies(exact) + (exact - K.stop_gradient(exact))
        readout = self._readout
        if self._sampler is None and self._readout_error is None:  # tr(P ρ) is an entry of the Pauli-transfer form
            columns, weights = self._pauli_columns
            if not len(columns):
                return K.zeros([K.shape(K.convert_to_tensor(values))[0], self.outputs])
            flat = self._flat(values, shared, rotated=False, initial=initial)
            return matmul(K.take(flat, constant(columns, "int32"), axis=1), K.convert_to_tensor(weights))
        measured = self._term_probabilities(values, shared, initial)
        sampled = [self._sampler.frequencies(p) for p in measured] if self._sampler is not None else None
        if readout.common is not None:
            diagonal = readout.diagonal(None)
            exact = matmul(measured[0], diagonal)
            if sampled is None:
                return exact
            return matmul(sampled[0], diagonal) + (exact - K.stop_gradient(exact))
        weights = K.convert_to_tensor(readout.coefficients)  # [terms, operators]
        if not measured:
            return K.zeros([K.shape(K.convert_to_tensor(values))[0], self.outputs])

        def combine(probabilities):
            return matmul(K.stack([matmul(p, readout.term_signs(t)[:, None])[:, 0] for t, p in enumerate(probabilities)],
                                  axis=1), weights)

        exact = combine(measured)
        return exact if sampled is None else combine(sampled) + (exact - K.stop_gradient(exact))


__all__ = ["DensityMatrixCircuit", "FROM_PAULI", "MAX_DENSITY_QUBITS", "TO_PAULI", "channel_record", "pauli_transfer",
           "superoperator"]
