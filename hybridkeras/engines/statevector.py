"""`StateVectorCircuit`: a symbol-parameterised Cirq circuit compiled to TensorFlow ops on a batch of state vectors.

The engine is split by job: `compiler` turns each Cirq operation into a `GateRecord`, `plan`
fuses them into the steps of a run, `execute` runs those steps in TensorFlow, `readout` and
`sampling` turn final states into values. This module validates the arguments and joins the
parts. Results equal `cirq.Simulator` (complex128) within float32 rounding for every circuit
it accepts, on 1–20 qubits; an operation it cannot reproduce exactly raises
`UnsupportedGateError` pointing to ``backend='tfq'``.
"""
from __future__ import annotations

import numbers
import os
from typing import Sequence

import cirq
import numpy as np
import sympy

import keras
from keras import ops as K

from hybridkeras.circuits.readouts import register_of
from hybridkeras.engines.compiler import Compiler, UnsupportedGateError
from hybridkeras.engines.execute import Executor, product_distribution
from hybridkeras.engines.ops import check_rows, constant, matmul, permute_rows, rank, static_size, tile_rows
from hybridkeras.engines.plan import make_plan, peel_permutation
from hybridkeras.engines.readout import PauliReadout
from hybridkeras.engines.sampling import Sampler

MAX_ENGINE_QUBITS = 20
MEMORY_FRACTION = 0.5  # a batch may hold at most this share of the machine's memory in state vectors


def join_shared(values, shared):
    """[rows, per-row + shared symbols]: ``values`` [rows, k] with row r followed by ``shared`` row
    r mod groups (``shared``: [groups, m]; rows ordered (sample, group), as the layers build them)."""
    values = K.cast(values, "float32")
    shared = K.cast(shared, "float32")
    return K.concatenate([values, tile_rows(shared, K.shape(values)[0] // K.shape(shared)[0])], axis=1)


def physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 * 2**30


class StateVectorCircuit:
    """A compiled circuit: ``__call__(values)`` → readout values, with values [rows, len(symbols)].

    Each row starts from |0…0⟩, or from a state of its own given as ``initial=`` [rows, 2^n]
    (``__call__`` and `state`; used by the amplitude-encoded students, whose encoded state is
    known in closed form).

    Args:
        circuit: The Cirq circuit (measurements are ignored). Constant gates of any width,
            X/Y/Z-power rotations and every other `cirq.EigenGate` (CZ**t, CNOT**t, XX**t,
            ISWAP**t, …) whose exponent is an affine function of the symbols, any controlled
            version of those, and gates that decompose into them (PhasedXPowGate, FSimGate).
        symbols: The symbols, in the column order of ``values`` (sympy Symbols or names).
        operators: A list of PauliStrings / PauliSums (one output each), or the string 'probs'
            for the 2^n basis-state probabilities (qubit 0 most significant).
        qubits: Register order (default: the circuit's and the operators' qubits, sorted).
        shared: How many trailing symbols (a layer's weights) take one value per group of rows
            instead of one per row; their values come as ``shared=`` at call time. The parts of
            the circuit that depend on them only are then multiplied out once per group.
        repetitions: None for exact values; or the number of shots per row. Probabilities become
            shot frequencies; Pauli readouts are estimated from shots in their measurement basis:
            one set of shots for all operators when each qubit is read on one axis only (as on
            hardware), else one set per Pauli term. Gradients are those of the exact values
            (the mean of the estimate): value = sampled + (exact − stop_gradient(exact)).
        seed: Seed of the shot sampler (default: drawn from NumPy's global generator, which
            `keras.utils.set_random_seed` sets; the Keras 3 general layers pass their own, see
            `engines.ops.fresh_seed`). Successive calls draw new shots.
    """

    mixed = False  # `state` gives state vectors (the density-matrix engine: density matrices)

    def __init__(self, circuit: cirq.Circuit, symbols: Sequence[sympy.Symbol], operators, *, qubits=None,
                 shared: int = 0, repetitions: int | None = None, seed: int | None = None):
        if not isinstance(circuit, (cirq.Circuit, cirq.FrozenCircuit)):
            raise TypeError(f"`circuit` must be a cirq.Circuit. Received: circuit={type(circuit).__name__}")
        self.symbols = [sympy.Symbol(s) if isinstance(s, str) else s for s in symbols]
        bad = [s for s in self.symbols if not isinstance(s, sympy.Symbol)]
        if bad:
            raise TypeError(f"`symbols` must be sympy Symbols or names. Received: {bad!r}")
        duplicates = sorted({str(s) for s in self.symbols if self.symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"`symbols` must be distinct; {duplicates} appear more than once. Received: symbols={self.symbols}")
        self.probabilities = isinstance(operators, str)
        if self.probabilities and operators != "probs":
            raise ValueError(f"`operators` must be a list of Pauli operators or 'probs'. Received: operators={operators!r}")
        operators = [] if self.probabilities else list(operators)
        if qubits is None:
            qubits = register_of(circuit, operators)
        self.qubits = list(qubits)
        if len(set(self.qubits)) != len(self.qubits):
            raise ValueError(f"`qubits` must be distinct. Received: qubits={self.qubits!r}")
        missing = sorted(set(circuit.all_qubits()) - set(self.qubits))
        if missing:
            raise ValueError(f"The circuit acts on {missing!r}, which are not in `qubits` ({self.qubits!r})")
        self.n = len(self.qubits)
        if self.n == 0:
            raise ValueError("The circuit and the operators act on no qubit; give `qubits=` or a circuit with qubits")
        if self.n > MAX_ENGINE_QUBITS:
            raise ValueError(
                f"The state-vector engine holds at most {MAX_ENGINE_QUBITS} qubits ({2**MAX_ENGINE_QUBITS} amplitudes "
                f"per sample). Received a circuit on {self.n} qubits; use backend='tfq'"
            )
        if isinstance(shared, bool) or not isinstance(shared, numbers.Integral) or not 0 <= shared <= len(self.symbols):
            raise ValueError(f"`shared` must be an int between 0 and the number of symbols ({len(self.symbols)}). "
                             f"Received: shared={shared!r}")
        if repetitions is not None and (isinstance(repetitions, bool) or not isinstance(repetitions, numbers.Integral)
                                        or repetitions < 1):
            raise ValueError(f"`repetitions` must be a positive number of shots or None. Received: repetitions={repetitions!r}")
        self.shared = int(shared)
        self.repetitions = None if repetitions is None else int(repetitions)
        self._row_symbols = len(self.symbols) - self.shared
        position = {q: i for i, q in enumerate(self.qubits)}
        self._records = self._compile(circuit, Compiler(self.qubits, self.symbols))
        self._readout = None if self.probabilities else PauliReadout(operators, position, self.n)
        self._row_mask = np.arange(len(self.symbols)) < self._row_symbols
        self._executors = {}
        self._sampler = Sampler(self.repetitions, seed) if self.repetitions is not None else None
        self.outputs = 2**self.n if self.probabilities else len(operators)
        self._rotated = self._readout is not None and self._readout.common is not None  # exact readouts rotate
        self._readout_executor()  # plan now: errors surface at construction

    # ------------------------------------------------------------------ planning
    def _compile(self, circuit, compiler) -> list:
        """The circuit's gate records (`UnsupportedGateError` for an operation the engine cannot run exactly)."""
        return [r for op in circuit.all_operations() for r in compiler.compile(op)]

    def _executor(self, rotated: bool, peel: bool = False, initial: bool = False) -> Executor:
        """The executor of the circuit, with the readout's basis change appended when ``rotated``; with
        ``peel``, of the circuit without its trailing basis-state permutations (``executor.peeled``),
        for readouts of probabilities; with ``initial``, of runs from given states."""
        key = (rotated, peel, initial)
        if key not in self._executors:
            records = self._records + (self._readout.basis_change() if rotated else [])
            peeled = None
            if peel:
                records, peeled = peel_permutation(records, self.n)
            executor = Executor(make_plan(records, self.n, self._row_mask, initial=initial), len(self.symbols))
            executor.peeled = peeled
            self._executors[key] = executor
        return self._executors[key]

    def _readout_executor(self, initial: bool = False) -> Executor:
        """The executor the readout runs: probabilities and common-basis readouts take off trailing permutations."""
        return self._executor(self._rotated, peel=self.probabilities or self._rotated, initial=initial)

    @property
    def plan(self):
        """The plan of the readout's run (see `hybridkeras.engines.plan`)."""
        return self._readout_executor().plan

    def _row_bytes(self) -> int:
        """Bytes one row needs: a complex64 state per step of the plan, and four more (autodiff keeps about one
        state per step)."""
        return 8 * 2**self.n * (len(self.plan.steps) + 4)

    def _max_rows(self) -> int:
        return max(1, int(MEMORY_FRACTION * physical_memory() // self._row_bytes()))

    # ------------------------------------------------------------------ inputs
    def _inputs(self, values, shared, join: bool = True):
        """(per-row values [rows, symbols], per-group values [groups, symbols], rows, groups). With ``join=False``
        the per-row values are the given per-row symbols alone (no shared columns tiled after them), for an
        executor whose per-row gates read no shared symbol (`Executor.rows_read_shared`)."""
        if shared is not None and not self.shared:
            if K.convert_to_tensor(shared).shape[-1] != 0:  # [groups, 0] shares nothing and is allowed
                raise ValueError("This circuit was compiled with shared=0, so `shared=` values cannot be given; pass "
                                 f"all symbol values in `values` ({len(self.symbols)} columns)")
            shared = None
        values = K.cast(values, "float32")
        if rank(values) != 2:
            raise ValueError(f"`values` must be [rows, symbols]. Received shape {values.shape}")
        expected = len(self.symbols) if shared is None else self._row_symbols
        if values.shape[1] is not None and values.shape[1] != expected:
            raise ValueError(f"`values` must have {expected} columns ({'all symbols' if shared is None else 'the per-row symbols'}"
                             f"). Received shape {values.shape}")
        rows = K.shape(values)[0]
        max_rows = self._max_rows()
        if static_size(values.shape[0]) is not None and static_size(values.shape[0]) > max_rows:
            raise ValueError(self._memory_message(values.shape[0], max_rows))
        checks = [(lambda: rows <= max_rows, self._memory_message("this batch", max_rows))]
        if shared is None:
            (values,) = check_rows([values], checks)
            rows = K.shape(values)[0]
            return values, values, rows, rows
        shared = K.cast(shared, "float32")
        if rank(shared) != 2 or (shared.shape[1] is not None and shared.shape[1] != self.shared):
            raise ValueError(f"`shared` values must be [groups, {self.shared}]. Received shape {shared.shape}")
        groups = K.shape(shared)[0]
        known_rows, known_groups = static_size(values.shape[0]), static_size(shared.shape[0])
        if known_rows is not None and known_groups is not None and known_rows % known_groups:
            raise ValueError(f"The number of rows ({values.shape[0]}) must be a multiple of the number of groups of "
                             f"shared values ({shared.shape[0]}); rows are ordered (sample, group)")
        checks.append((lambda: rows % groups == 0, "The number of rows must be a multiple of the number of groups of shared values"))
        values, shared = check_rows([values, shared], checks)
        full = join_shared(values, shared) if join else values
        group = K.concatenate([K.zeros([K.shape(shared)[0], self._row_symbols]), shared], axis=1)
        return full, group, K.shape(values)[0], K.shape(shared)[0]

    def _memory_message(self, rows, max_rows) -> str:
        return (f"A batch of {rows} rows of {self.n}-qubit states would exceed {MEMORY_FRACTION:.0%} of this machine's "
                f"memory ({2**self.n * 8} bytes per state, about {len(self.plan.steps) + 4} kept for gradients): "
                f"at most {max_rows} rows fit. Use smaller batches or fewer qubits")

    # ------------------------------------------------------------------ run
    def _initial(self, initial, rows):
        """``initial`` as complex64 [rows, 2^n], checked (None stays None)."""
        if initial is None:
            return None
        initial = K.convert_to_tensor(initial)
        if keras.backend.standardize_dtype(initial.dtype) not in ("complex64", "complex128"):
            initial = K.cast(initial, "float32")
        initial = K.cast(initial, "complex64")
        if rank(initial) != 2 or (initial.shape[1] is not None and initial.shape[1] != 2**self.n):
            raise ValueError(f"`initial` states must be [rows, 2**{self.n} = {2**self.n}]. Received shape {initial.shape}")
        (initial,) = check_rows([initial], [(lambda: K.shape(initial)[0] == rows, "`initial` must hold one state per row of `values`")])
        return initial

    def _prepared(self, values, shared, initial=None, executor=None):
        """(per-row values, per-group values, rows, groups, the number of groups if known while tracing,
        the initial states or None). With an ``executor`` for a product plan whose per-row gates read no shared
        symbol, the per-row values are the per-row symbols alone."""
        join = executor is None or not executor.plan.product or executor.rows_read_shared(self._row_symbols)
        full, group, rows, groups = self._inputs(values, shared, join=join)
        static = None if shared is None or not self.shared else K.convert_to_tensor(shared).shape[0]
        return full, group, rows, groups, static, self._initial(initial, rows)

    def _final(self, values, shared, rotated: bool, initial=None):
        full, group, rows, groups, static, initial = self._prepared(values, shared, initial)
        return self._executor(rotated, initial=initial is not None).run(full, group, rows, groups,
                                                                         static_groups=static, initial=initial)

    def _qubit_probabilities(self, executor, values, shared):
        """[rows, n, 2]: each qubit's outcome probabilities, for a product-state plan."""
        full, group, rows, groups, static, _ = self._prepared(values, shared, executor=executor)
        return executor.qubit_probabilities(full, group, rows, groups, one_group=static == 1)

    def _kept_probabilities(self, values, shared, initial=None):
        """(probabilities [rows, 2^n] of the readout's circuit without its trailing permutations, executor)."""
        executor = self._readout_executor(initial=initial is not None)
        if executor.plan.product:
            return product_distribution(self._qubit_probabilities(executor, values, shared)), executor
        full, group, rows, groups, static, initial = self._prepared(values, shared, initial)
        flat = executor.run(full, group, rows, groups, static_groups=static, initial=initial)
        return K.real(flat * K.conj(flat)), executor

    def _probabilities(self, values, shared, initial=None):
        """Basis-state probabilities [rows, 2^n] of the final state (trailing permutations relabel them)."""
        kept, executor = self._kept_probabilities(values, shared, initial)
        if executor.peeled is None:
            return kept
        return permute_rows(kept, executor.peeled.source)

    def state(self, values, shared=None, initial=None):
        """Final states [rows, 2, …, 2].

        ``values``: [rows, len(symbols)], or with ``shared=`` given, [rows, len(symbols) − shared]
        for the per-row symbols and ``shared``: [groups, shared] for the trailing symbols, where
        row r uses shared row r mod groups (rows ordered (sample, group), as the layers build them).
        ``initial``: None (each row starts from |0…0⟩), or [rows, 2^n] unit-norm states (real or
        complex; qubit 0 most significant) the circuit is applied to, one per row.
        """
        return K.reshape(self._final(values, shared, rotated=False, initial=initial), [-1] + [2] * self.n)

    def probabilities(self, values, shared=None, initial=None):
        """Exact basis-state probabilities [rows, 2^n] of the final states (qubit 0 most significant); arguments as in
        `state`."""
        return K.reshape(self._probabilities(values, shared, initial), [-1, 2**self.n])

    def samples(self, values, repetitions: int, shared=None, initial=None, seed: int | None = None):
        """Measured bits [rows, repetitions, n] int8 of every qubit (register order), ``repetitions`` shots per row
        drawn from the exact probabilities, independent across rows and calls; arguments as in `state`."""
        if self._sampler is None or seed is not None:
            self._sampler = Sampler(repetitions, seed)
        outcomes = self._sampler.outcomes(self._probabilities(values, shared, initial), repetitions)
        shifts = K.convert_to_tensor([self.n - 1 - q for q in range(self.n)], "int32")
        return K.cast(K.bitwise_and(K.right_shift(outcomes[..., None], shifts), 1), "int8")

    def __call__(self, values, shared=None, initial=None):
        """Readout values [rows, outputs]; arguments as in `state`."""
        return K.reshape(self._values(values, shared, initial), [-1, self.outputs])

    def _values(self, values, shared, initial=None):
        if self.repetitions is not None:
            return self._sampled(values, shared, initial)
        if self.probabilities:
            return self._probabilities(values, shared, initial)
        if self._readout.common is not None:
            executor = self._readout_executor(initial=initial is not None)
            if executor.plan.product:  # Z-parities of a product state: products of each qubit's ⟨Z⟩
                full, group, rows, groups, static, _ = self._prepared(values, shared, executor=executor)
                squares, signs = executor.qubit_z_parts(full, group, rows, groups, one_group=static == 1)
                return self._readout.from_qubit_z(squares, executor.peeled, project=signs)
            kept, executor = self._kept_probabilities(values, shared, initial)
            return self._readout.from_probabilities(kept, executor.peeled)
        return self._readout.direct(self._final(values, shared, rotated=False, initial=initial))

    def _sampled(self, values, shared, initial=None):
        """Readout values estimated from ``repetitions`` shots (see the class docstring)."""
        sampler = self._sampler
        if self.probabilities:
            exact = self._probabilities(values, shared, initial)
            return sampler.frequencies(exact) + (exact - K.stop_gradient(exact))
        if self._readout.common is not None:
            kept, executor = self._kept_probabilities(values, shared, initial)  # outcomes before the permutations
            diagonal = self._readout.diagonal(executor.peeled)  # one sign table for the exact and the sampled values
            exact, frequencies = matmul(kept, diagonal), matmul(sampler.frequencies(kept), diagonal)
            return frequencies + (exact - K.stop_gradient(exact))
        flat = self._final(values, shared, rotated=False, initial=initial)
        readout = self._readout
        exact = readout.direct(flat)
        rows = K.shape(flat)[0]
        estimates = []
        for t, setting in enumerate(readout.term_settings()):
            rotated = flat
            for q, matrix in setting:
                view = K.reshape(rotated, [-1, 2, 2 ** (self.n - 1 - q)])
                rotated = K.reshape(matmul(K.convert_to_tensor(matrix.astype(np.complex64))[None], view), [rows, -1])
            frequencies = sampler.frequencies(K.real(rotated * K.conj(rotated)))
            estimates.append(matmul(frequencies, readout.term_signs(t)[:, None])[:, 0])
        weights = K.convert_to_tensor(readout.coefficients)  # [terms, operators]
        sampled = matmul(K.stack(estimates, axis=1), weights) if estimates else K.zeros_like(exact)
        return sampled + (exact - K.stop_gradient(exact))


__all__ = ["MAX_ENGINE_QUBITS", "StateVectorCircuit", "UnsupportedGateError", "join_shared"]
