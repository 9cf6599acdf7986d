"""`TrajectoryCircuit`: noisy circuits as averages of state-vector trajectories, for registers too large for density
matrices (up to the state-vector engine's 20 qubits).

Each channel of the circuit must be a mixture of unitaries, Σ_k p_k U_k ρ U_k† (depolarising, bit and
phase flips, Pauli channels, phase damping as the phase flip it equals, any `cirq.mixture`). A trajectory
replaces every channel by one of its unitaries, drawn with probability p_k; its values are the state
vector's. The channel becomes a gate that reads K selector columns s_k ∈ {0, 1} (0 for the chosen
unitary): U(s) = Σ_k ½(1 + e^{iπ s_k}) U_k = ½ Σ_k U_k + Σ_k ½ e^{iπ s_k} U_k, the engine's parameterised
form, so the whole batch of trajectories is one state-vector run. Each row gets ``trajectories`` draws,
independent across rows, trajectories and calls, from a seeded stream; the values are their mean, an
unbiased estimate of the density matrix's, with standard error σ/√trajectories. Gradients are those of
the sampled trajectories (the draws do not depend on the parameters, so the mean gradient is unbiased).

Channels that are not mixtures of unitaries (amplitude damping, reset, generic Kraus channels) change the
branch probabilities with the state; they are refused here with an error naming the exact mode.
"""
from __future__ import annotations

import cirq
import numpy as np
import sympy
from keras import ops as K

from hybridkeras.engines.compiler import Compiler, GateRecord, PhaseTerm, UnsupportedGateError
from hybridkeras.engines.ops import SeedStream, constant, tile_rows
from hybridkeras.engines.statevector import StateVectorCircuit


def mixture_of(op: cirq.Operation):
    """[(p_k, U_k)] of a channel that is a mixture of unitaries, else None."""
    if isinstance(op.gate, cirq.PhaseDampingChannel):  # Kraus diag(1, √(1−γ)), diag(0, √γ) = a phase flip
        flip = (1.0 - np.sqrt(1.0 - op.gate.gamma)) / 2.0
        return [(1.0 - flip, np.eye(2)), (flip, np.diag([1.0, -1.0]))]
    if cirq.has_mixture(op):
        return [(float(p), np.asarray(u, np.complex128)) for p, u in cirq.mixture(op) if p > 0]
    return None


class TrajectoryCircuit(StateVectorCircuit):
    """A noisy circuit averaged over ``trajectories`` state-vector trajectories per row.

    Arguments as `StateVectorCircuit`, and:
        trajectories: Trajectories per row (a positive int).
        seed: Seed of the trajectories' draws (default: drawn from NumPy's global generator).

    `state` is not defined (a trajectory's state is not the mixed state); values and probabilities are the
    trajectories' means. Shots (``repetitions``) are not drawn on top of trajectories.
    """

    def __init__(self, circuit, symbols, operators, *, trajectories: int, seed: int | None = None,
                 repetitions=None, **kwargs):
        if isinstance(trajectories, bool) or not isinstance(trajectories, (int, np.integer)) or trajectories < 1:
            raise ValueError(f"`trajectories` must be a positive int. Received: trajectories={trajectories!r}")
        if repetitions is not None:
            raise ValueError("Trajectories give each trajectory's exact values; shots on top of them are not drawn. Use "
                             f"density matrices for noisy shots (up to 12 qubits). Received: repetitions={repetitions!r}")
        self.trajectories = int(trajectories)
        symbols = [sympy.Symbol(s) if isinstance(s, str) else s for s in symbols]
        shared = int(kwargs.pop("shared", 0))
        self._channels = []  # per channel: its mixture's probabilities
        selectors = []
        for op in cirq.Circuit(circuit).all_operations():
            if cirq.is_measurement(op) or cirq.is_parameterized(op) or cirq.has_unitary(op):
                continue
            mixture = mixture_of(op)
            if mixture is None:
                raise UnsupportedGateError(
                    f"operation {op!r} is not a mixture of unitaries, so trajectories cannot sample it without "
                    "changing their weights; run it on density matrices (exact, up to 12 qubits)")
            index = len(self._channels)
            self._channels.append(np.array([p for p, _ in mixture]))
            selectors.extend(sympy.Symbol(f"_trajectory_{index}_{k}") for k in range(len(mixture)))
        self._selectors = len(selectors)
        self._user_row_symbols = len(symbols) - shared
        # selector columns sit after the caller's per-row symbols and before the shared ones
        ordered = symbols[:self._user_row_symbols] + selectors + symbols[self._user_row_symbols:]
        super().__init__(circuit, ordered, operators, shared=shared, **kwargs)
        self.user_symbols = symbols  # the caller's columns (`symbols` also holds the selectors)
        self._stream = SeedStream(int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed))
        self._select = self._selection_tables()

    def _compile(self, circuit, compiler: Compiler) -> list:
        records, channel = [], 0
        for op in circuit.all_operations():
            if cirq.is_measurement(op):
                continue
            if cirq.is_parameterized(op) or cirq.has_unitary(op):
                records.extend(compiler.compile(op))
                continue
            positions = compiler.positions(op)
            mixture = mixture_of(op)
            d = 2 ** len(positions)
            terms = []
            for k, (_, unitary) in enumerate(mixture):
                coeffs = np.zeros(len(compiler.index))
                coeffs[compiler.index[sympy.Symbol(f"_trajectory_{channel}_{k}")]] = np.pi
                terms.append(PhaseTerm(0.5 * unitary.reshape(d, d), coeffs, 0.0))
            base = 0.5 * sum(u.reshape(d, d) for _, u in mixture)
            records.append(GateRecord(f"trajectory of {op!r}", positions, np.asarray(base, np.complex128), tuple(terms)))
            channel += 1
        return records

    def _selection_tables(self):
        """(cumulative probabilities [channels, K], option of each selector column [columns], its channel [columns])."""
        width = max((len(p) for p in self._channels), default=1)
        cdf = np.ones((max(len(self._channels), 1), width))
        owner, option = [], []
        for c, p in enumerate(self._channels):
            cdf[c, :len(p)] = np.cumsum(p) / p.sum()
            owner.extend([c] * len(p))
            option.extend(range(len(p)))
        return cdf, np.array(option, np.int64), np.array(owner, np.int64)

    def _draw(self, rows):
        """Selector values [rows, columns]: 0 for each channel's drawn unitary, 1 for the others."""
        cdf, option, owner = self._select
        u = self._stream.uniform([rows, len(self._channels)], "float32")  # [rows, channels]
        # the drawn option of channel c: the number of cumulative probabilities below u (the last is 1)
        below = K.cast(K.expand_dims(u, 2) > constant(cdf[None, :, :-1], "float32"), "float32")  # [rows, C, K-1]
        drawn = K.sum(below, axis=2)  # [rows, channels]
        picked = K.take(drawn, constant(owner, "int32"), axis=1)  # [rows, columns]
        return K.cast(K.not_equal(picked, constant(option[None], "float32")), "float32")

    def _expand(self, values, shared):
        """(values of all trajectories [T·rows, columns with the selectors], shared, rows): trajectory-major rows
        (row t·rows + r is row r's trajectory t, so it keeps row r's group of shared values)."""
        values = K.cast(K.convert_to_tensor(values), "float32")
        rows = K.shape(values)[0]
        tiled = tile_rows(values, self.trajectories)
        if self._selectors:
            draws = K.stop_gradient(self._draw(K.shape(tiled)[0]))
            row = self._user_row_symbols
            if shared is None and self.shared:  # all columns given: the selectors go before the shared ones
                tiled = K.concatenate([tiled[:, :row], draws, tiled[:, row:]], axis=1)
            else:
                tiled = K.concatenate([tiled, draws], axis=1)
        return tiled, shared, rows

    def _mean(self, out, rows):
        return K.mean(K.reshape(out, [self.trajectories, rows, -1]), axis=0)

    def __call__(self, values, shared=None, initial=None):
        tiled, shared, rows = self._expand(values, shared)
        if initial is not None:
            initial = tile_rows(K.convert_to_tensor(initial), self.trajectories)
        return self._mean(super().__call__(tiled, shared, initial), rows)

    def samples(self, values, repetitions: int, shared=None, initial=None, seed=None):
        raise ValueError("Trajectories do not draw shots; use density matrices (exact, up to 12 qubits) for noisy shots")

    def state(self, values, shared=None, initial=None):
        raise ValueError("A noisy circuit run by trajectories has no single final state; use density matrices "
                         "(exact, up to 12 qubits) for its density matrix")


__all__ = ["TrajectoryCircuit", "mixture_of"]
