"""Shared TFQ plumbing: differentiators by name, and one batched TFQ call with symbols in our order."""
from __future__ import annotations

import functools
from typing import Sequence

import cirq
import sympy

from hybridkeras._compat import tf, tfq
from hybridkeras.circuits import readout_operators, walsh_matrix, z_strings
from hybridkeras.engines import StateVectorCircuit, join_shared

VIAS = ("expectation", "controlled_pqc")
MAX_PROBS_QUBITS = 12


def make_differentiator(name: str | None):
    """A TFQ differentiator by name (None lets TFQ choose: adjoint, or parameter shift if sampled)."""
    if name is None:
        return None
    if name == "adjoint":
        return tfq.differentiators.Adjoint()
    return tfq.differentiators.ParameterShift()


class Readout:
    """What TFQ measures for a readout name, and how the measured values become the readout.

    Pauli readouts are measured as they are. On the state-vector engine 'probs' are the
    engine's own basis-state probabilities. On TFQ 'probs' is measured as the 2^n − 1 expectations
    ⟨Z_S⟩ and a fixed Walsh–Hadamard transform turns them into the 2^n basis-state
    probabilities (far cheaper than 2^n projector PauliSums of 2^n terms each, and equal to
    them; see `circuits.readouts`). With shots each ⟨Z_S⟩ is estimated on its own, so sampled
    'probs' are unbiased but may dip slightly below 0.
    """

    def __init__(self, qubits: Sequence[cirq.Qid], readout: str, backend: str = "tfq"):
        self.readout = readout
        self._qubits = list(qubits)
        if readout == "probs" and len(qubits) > MAX_PROBS_QUBITS:
            raise ValueError(f"readout='probs' gives 2^qubits values per circuit; it takes at most {MAX_PROBS_QUBITS} "
                             f"qubits ({2**MAX_PROBS_QUBITS} values). Received: qubits={len(qubits)}")
        if readout == "probs" and backend == "statevector":  # the engine reads probabilities directly
            self.measured = "probs"
            self._walsh = None
        elif readout == "probs":
            self.measured = z_strings(qubits)
            self._walsh = tf.constant(walsh_matrix(len(qubits)), tf.float32)
        else:
            self.measured = readout_operators(qubits, readout)
            self._walsh = None

    @functools.cached_property
    def operators(self) -> list:
        """The readout's operators (for 'probs': the 2^n basis-state projectors, built on first use)."""
        return readout_operators(self._qubits, self.readout)

    def __call__(self, values):
        """[batch, len(measured)] expectations → [batch, len(operators)] readout values."""
        if self._walsh is None:
            return values
        return tf.matmul(tf.pad(values, [[0, 0], [1, 0]], constant_values=1.0), self._walsh)


class BatchedCircuit:
    """Runs one symbol-parameterised circuit for a batch of symbol-value rows in a single TFQ op.

    The layers build their values as [data symbols..., weight symbols...]; TFQ orders symbols
    by name, so this helper holds the permutation between the two.

    Two ways to call TFQ, same numbers:

    * ``via="controlled_pqc"``: `tfq.layers.ControlledPQC` (fed empty input circuits). It
      appends the model circuit to every input circuit on every call (`tfq.append_circuit`),
      which parses and re-serialises the whole batch of circuit protos each step.
    * ``via="expectation"`` (faster): `tfq.layers.Expectation` / `SampledExpectation` on the
      model circuit serialised once and tiled. On HQNN-Parallel's 256-circuit batch this cut
      the layer's forward+backward time 2.4× (see ``benchmarks/epoch_time.py``).
    """

    def __init__(self, circuit: cirq.Circuit, operators, symbols: Sequence[sympy.Symbol], *,
                 repetitions=None, differentiator=None, via: str = "expectation", name="tfq", backend: str = "tfq",
                 shared: int = 0):
        if via not in VIAS:
            raise ValueError(f"`via` must be one of {VIAS}. Received: via={via!r}")
        self.via = via
        self.repetitions = repetitions
        self.engine = None
        if backend == "statevector":
            operators = operators if isinstance(operators, str) else list(operators)
            qubits = sorted(set(circuit.all_qubits()).union(*([] if isinstance(operators, str) else
                                                              [op.qubits for op in operators])))
            self.engine = StateVectorCircuit(circuit, symbols, operators, qubits=qubits, shared=shared,
                                             repetitions=repetitions)
            return
        ours = [str(s) for s in symbols]
        if via == "controlled_pqc":
            self.pqc = tfq.layers.ControlledPQC(
                circuit, operators, repetitions=repetitions,
                differentiator=make_differentiator(differentiator), name=name,
            )
            theirs = [str(s) for s in self.pqc.symbols]
            self.empty = tfq.convert_to_tensor([cirq.Circuit()])
        else:
            theirs = sorted(ours)
            self.symbol_names = tf.constant(theirs)
            self.circuit = tfq.convert_to_tensor([circuit])
            self.operators = tfq.convert_to_tensor([list(operators)])
            self.n_operators = len(operators)
            layer = tfq.layers.Expectation if repetitions is None else tfq.layers.SampledExpectation
            self.layer = layer(differentiator=make_differentiator(differentiator), name=name)
        if sorted(ours) != sorted(theirs):
            raise ValueError(f"The circuit's symbols {theirs} differ from the layer's symbols {ours}")
        position = {s: i for i, s in enumerate(ours)}
        self.index = None if ours == theirs else tf.constant([position[s] for s in theirs], tf.int32)

    def __call__(self, values, shared=None, initial=None):
        """[circuits, len(operators)] expectations.

        ``values``: [circuits, len(symbols)] float32; or, when the last ``shared`` symbols (the
        weights) are the same for every circuit of a group, [circuits, len(symbols) − shared]
        with ``shared``: [groups, shared], circuit r using row r mod groups. The engine then
        multiplies the weights' part of the circuit out once per group. ``initial`` (engine
        only): [circuits, 2^n] states the circuits start from instead of |0…0⟩.
        """
        if self.engine is not None:
            return self.engine(values, shared, initial)
        if initial is not None:
            raise ValueError("Initial states are a state-vector engine feature; TFQ circuits start from |0…0⟩")
        if shared is not None:
            values = join_shared(values, shared)
        if self.index is not None:
            values = tf.gather(values, self.index, axis=1)
        count = tf.shape(values)[0]
        if self.via == "controlled_pqc":
            return self.pqc([tf.tile(self.empty, [count]), values])
        kwargs = dict(symbol_names=self.symbol_names, symbol_values=values,
                      operators=tf.tile(self.operators, [count, 1]))
        if self.repetitions is not None:
            kwargs["repetitions"] = tf.fill([count, self.n_operators], self.repetitions)
        return self.layer(tf.tile(self.circuit, [count]), **kwargs)
