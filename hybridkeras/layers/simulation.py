"""One route into the simulators: every quantum layer of hybridkeras runs its circuits through this module.

* `Simulation` runs one model circuit with symbols for a batch of symbol-value rows, each row
  optionally starting from an input circuit (TFQ's data path: a ``tf.string`` tensor from
  `tfq.convert_to_tensor`) or, on the engine, from a given state. It gives expectations,
  states and samples. The general circuit layers (`PQC`, `ControlledPQC`, and the executors
  given a Python circuit) and the paper layers (feature map, ParallelPQC, Quanvolution2D,
  LCQHNN block, students) are all built on it.
* `DynamicSimulation` runs circuits that arrive only as a ``tf.string`` tensor, with no model
  circuit known when the layer is built (TFQ's ``Expectation()(circuits, ...)``).

On ``backend='tfq'`` both call TensorFlow Quantum's ops; on ``backend='statevector'`` the
state-vector engine (`hybridkeras.engines`). Symbols are passed in the order the caller
gives them; this module keeps the permutation to TFQ's name order.
"""
from __future__ import annotations

import functools
from typing import Sequence

import cirq
import numpy as np
import sympy

from hybridkeras._stack import KERAS_VERSION, tf, tfq
from hybridkeras.circuits import readout_operators, walsh_matrix, z_strings
from hybridkeras.engines import StateVectorCircuit, join_shared
from hybridkeras.engines.prepare import StateCache
from hybridkeras.engines.simulators import make_simulation

VIAS = ("expectation", "controlled_pqc")
MAX_PROBS_QUBITS = 12
MAX_COMPILED = 512  # DynamicSimulation keeps at most this many compiled circuits (least recently used dropped)


def make_differentiator(name: str | None):
    """A TFQ differentiator by name (None lets TFQ choose: adjoint, or parameter shift if sampled)."""
    if name is None:
        return None
    if name == "adjoint":
        return tfq.differentiators.Adjoint()
    return tfq.differentiators.ParameterShift()


def circuit_symbols(circuit) -> list:
    """The circuit's symbols sorted by name (TFQ's order)."""
    return sorted((sympy.Symbol(name) for name in cirq.parameter_names(circuit)), key=str)


def decode(serialized: bytes):
    """One TFQ-serialised circuit or PauliSum (bytes) as its Cirq object."""
    return tfq.from_tensor(np.array([serialized], dtype=object))[0]


def register_of(circuit, operators=()) -> list:
    """The sorted qubits of ``circuit`` and ``operators`` (the engine's register)."""
    return sorted(set(circuit.all_qubits()).union(*(op.qubits for op in operators)))


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


def check_circuit_tensor(layer: str, circuits, name: str = "inputs"):
    """``circuits`` as a tf.string tensor of rank 1 ([batch] serialised circuits), or a clear error."""
    circuits = tf.convert_to_tensor(circuits)
    if circuits.dtype != tf.string:
        raise TypeError(f"{layer} expects `{name}` to be circuits: a tf.string tensor of shape [batch] from "
                        f"tfq.convert_to_tensor. Received: {name} of dtype {circuits.dtype.name}")
    if circuits.shape.rank != 1:
        raise ValueError(f"{layer} expects `{name}` of rank 1 ([batch] serialised circuits; "
                         f"keras Input(shape=(), dtype=tf.string)). Received: {name} of shape {circuits.shape}")
    return circuits


class Simulation:
    """Runs one symbol-parameterised circuit for a batch of symbol-value rows in a single simulator call.

    Args:
        circuit: The model circuit.
        operators: Operators to measure (PauliStrings / PauliSums), 'probs' (engine only), or None
            when only `state` and `sample` are used.
        symbols: The symbols in the column order of ``values``.
        repetitions: None for exact expectations, or shots per circuit and operator.
        differentiator: 'adjoint', 'parameter_shift' or None.
        backend: 'tfq' or 'statevector'.
        shared: How many trailing symbols (weights) take one value per group of rows (see `__call__`).
        via: TFQ only: 'expectation' (the model circuit serialised once and tiled) or 'controlled_pqc'
            (`tfq.layers.ControlledPQC`, which re-serialises every circuit of the batch each call).
        name: Name of the TFQ layer.
        qubits: The engine's register (default: the circuit's and the operators' qubits, sorted).
        seam: On TFQ, call its ops through `engines.simulators.make_simulation` (`engines.tfq_adapter`, no tf_keras;
            always so where hybridkeras runs on Keras 3) instead of TFQ's tf_keras layers; ``via`` is then moot.

    Input circuits (``circuits=``, [rows] tf.string, symbol-free) are prepended to the model
    circuit. On TFQ they are appended to on every call (`tfq.append_circuit`). On the engine
    each distinct input circuit is simulated once, in NumPy through the engine's compiler, and
    cached by its serialised bytes (`engines.prepare.StateCache`, sparse when a basis state;
    at most 1 GiB, least recently used dropped); a step then costs one lookup per row plus the
    model circuit run from the cached states. A dataset of circuits thus costs one preparation
    per distinct circuit, not one per step.
    """

    def __init__(self, circuit: cirq.Circuit, operators, symbols: Sequence[sympy.Symbol], *,
                 repetitions=None, differentiator=None, backend: str = "tfq", shared: int = 0,
                 via: str = "expectation", name: str = "tfq", qubits=None, seam: bool = False):
        if via not in VIAS:
            raise ValueError(f"`via` must be one of {VIAS}. Received: via={via!r}")
        self.circuit = circuit
        self.via = via
        self.backend = backend
        self.repetitions = repetitions
        self.shared = int(shared)
        self.symbols = [sympy.Symbol(s) if isinstance(s, str) else s for s in symbols]
        self.probabilities = isinstance(operators, str)
        self.operators = None if operators is None else (operators if self.probabilities else list(operators))
        measured = [] if self.operators is None or self.probabilities else self.operators
        self.qubits = list(qubits) if qubits is not None else register_of(circuit, measured)
        self._cache = None
        self._executors = {}
        self.engine = None
        self._differentiator = differentiator
        self._name = name
        if backend == "statevector":
            self.engine = StateVectorCircuit(circuit, self.symbols, self.operators if self.operators is not None
                                             else "probs", qubits=self.qubits, shared=self.shared,
                                             repetitions=repetitions)
            return
        if seam or KERAS_VERSION == 3:  # TFQ's ops through the simulator seam (TFQ's layers are tf_keras layers)
            self.engine = make_simulation("tfq", circuit, self.symbols,
                                          self.operators if self.operators is not None else "probs",
                                          qubits=self.qubits, repetitions=repetitions, differentiator=differentiator)
            return
        ours = [str(s) for s in self.symbols]
        if via == "controlled_pqc":
            self.pqc = tfq.layers.ControlledPQC(circuit, self.operators, repetitions=repetitions,
                                                differentiator=make_differentiator(differentiator), name=name)
            theirs = [str(s) for s in self.pqc.symbols]
            self.empty = tfq.convert_to_tensor([cirq.Circuit()])
        else:
            theirs = sorted(ours)
            self.symbol_names = tf.constant(theirs, dtype=tf.string)
            self.model = tfq.convert_to_tensor([circuit])
            if self.operators is not None:
                self.measured = tfq.convert_to_tensor([self.operators])
                layer = tfq.layers.Expectation if repetitions is None else tfq.layers.SampledExpectation
                self.layer = layer(differentiator=make_differentiator(differentiator), name=name)
        if sorted(ours) != sorted(theirs):
            raise ValueError(f"The circuit's symbols {theirs} differ from the layer's symbols {ours}")
        position = {s: i for i, s in enumerate(ours)}
        self.index = None if ours == theirs else tf.constant([position[s] for s in theirs], tf.int32)

    # ------------------------------------------------------------------ inputs
    def _tfq_inputs(self, values, shared, circuits):
        """(serialised circuits [rows], symbol names, values [rows, symbols] in TFQ's name order)."""
        if shared is not None:
            values = join_shared(values, shared)
        values = tf.cast(values, tf.float32)
        if self.index is not None:
            values = tf.gather(values, self.index, axis=1)
        count = tf.shape(values)[0]
        model = tf.tile(self.model, [count])
        if circuits is not None:
            model = tfq.append_circuit(circuits, model)
        return model, self.symbol_names, values

    def _initial(self, circuits, initial):
        """The engine's start states: those of the input circuits (cached), ``initial``, or None."""
        if circuits is None:
            return initial
        if initial is not None:
            raise ValueError("Give either input circuits or initial states, not both")
        if self._cache is None:
            self._cache = StateCache(self.qubits, decode)
        states = tf.numpy_function(self._cache.states, [circuits], tf.complex64, stateful=False)
        return tf.reshape(states, [-1, 2 ** len(self.qubits)])

    # ------------------------------------------------------------------ values
    def __call__(self, values, shared=None, initial=None, circuits=None):
        """[rows, len(operators)] expectations.

        ``values``: [rows, len(symbols)] float32; or, when the last ``shared`` symbols (the
        weights) are the same for every row of a group, [rows, len(symbols) − shared] with
        ``shared``: [groups, shared], row r using group r mod groups. The engine then
        multiplies the weights' part of the circuit out once per group. ``initial`` (engine
        only): [rows, 2^n] states the rows start from instead of |0…0⟩. ``circuits``: [rows]
        tf.string symbol-free input circuits the model circuit is appended to.
        """
        if self.engine is not None:
            return self.engine(values, shared, self._initial(circuits, initial))
        if initial is not None:
            raise ValueError("Initial states are a state-vector engine feature; TFQ circuits start from |0…0⟩")
        if self.via == "controlled_pqc":
            if shared is not None:
                values = join_shared(values, shared)
            if self.index is not None:
                values = tf.gather(values, self.index, axis=1)
            count = tf.shape(values)[0]
            return self.pqc([tf.tile(self.empty, [count]) if circuits is None else circuits, values])
        model, names, values = self._tfq_inputs(values, shared, circuits)
        count = tf.shape(values)[0]
        kwargs = dict(symbol_names=names, symbol_values=values, operators=tf.tile(self.measured, [count, 1]))
        if self.repetitions is not None:
            kwargs["repetitions"] = tf.fill([count, len(self.operators)], self.repetitions)
        return self.layer(model, **kwargs)

    def state(self, values, shared=None, circuits=None):
        """Final states [rows, 2^n] complex64 (qubit 0 of the register most significant)."""
        if self.engine is not None:
            return tf.reshape(self.engine.state(values, shared, self._initial(circuits, None)), [-1, 2 ** len(self.qubits)])
        model, names, values = self._tfq_inputs(values, shared, circuits)
        return self._tfq_executor("state")(model, symbol_names=names, symbol_values=values).to_tensor()

    def sample(self, values, repetitions: int, shared=None, circuits=None):
        """Measured bits [rows, repetitions, n] int8 of every register qubit."""
        if self.engine is not None:
            return self.engine.samples(values, repetitions, shared, self._initial(circuits, None))
        model, names, values = self._tfq_inputs(values, shared, circuits)
        return self._tfq_executor("sample")(model, symbol_names=names, symbol_values=values,
                                            repetitions=int(repetitions)).to_tensor()

    def _tfq_executor(self, kind: str):
        if kind not in self._executors:
            with tf.init_scope():
                self._executors[kind] = tfq.layers.State() if kind == "state" else tfq.layers.Sample()
        return self._executors[kind]


class DynamicSimulation:
    """Circuits known only at run time: a tf.string tensor of circuits (symbols allowed) with symbol values.

    On TFQ this is TFQ's own executor op. On the engine, each distinct circuit of a batch (with
    its operators) is compiled once to a `StateVectorCircuit` and kept (at most 512, least
    recently used dropped); every call groups the rows by circuit and runs each group eagerly
    inside one ``tf.py_function``, so gradients reach the symbol values. The cost per call is
    one engine run per distinct circuit in the batch, in eager mode, plus the first-time
    compile of a circuit never seen before (milliseconds to a second, by size). A model whose
    circuits share one structure runs faster with that circuit given as a Python object (then
    it is compiled once into the graph).

    Args:
        kind: 'expectation', 'state' or 'sample'.
        backend, differentiator: As for the layers.
        repetitions: Shots for sampled expectations (None: exact).
    """

    def __init__(self, kind: str, *, backend: str, differentiator=None, repetitions=None):
        self.kind, self.backend, self.repetitions = kind, backend, repetitions
        self._compiled: dict = {}
        if backend == "tfq":
            if kind == "expectation":
                layer = tfq.layers.Expectation if repetitions is None else tfq.layers.SampledExpectation
                self.layer = layer(differentiator=make_differentiator(differentiator))
            else:
                self.layer = tfq.layers.State() if kind == "state" else tfq.layers.Sample()

    def __call__(self, circuits, names: list, values, operators=None, repetitions=None):
        """Expectations [rows, ops] / states [rows, 2^n] / bits [rows, repetitions, n] (dense)."""
        values = tf.cast(values, tf.float32)
        names_t = tf.constant([str(s) for s in names], dtype=tf.string)
        if self.backend == "tfq":
            if self.kind == "expectation":
                kwargs = {} if self.repetitions is None else {"repetitions": repetitions}
                return self.layer(circuits, symbol_names=names_t, symbol_values=values, operators=operators, **kwargs)
            if self.kind == "state":
                return self.layer(circuits, symbol_names=names_t, symbol_values=values).to_tensor()
            return self.layer(circuits, symbol_names=names_t, symbol_values=values, repetitions=repetitions).to_tensor()
        symbols = [sympy.Symbol(str(s)) for s in names]
        if self.kind == "sample":  # no gradient
            def run_samples(circuits_t, values_t):
                return self._run(circuits_t.numpy(), values_t, symbols, None, repetitions)

            return tf.py_function(run_samples, [circuits, tf.stop_gradient(values)], tf.int8)
        dtype = tf.float32 if self.kind == "expectation" else tf.complex64
        extra = [] if operators is None else [operators]

        def forward(circuits_t, values_t, *ops_t):
            return self._run(circuits_t.numpy(), values_t, symbols, ops_t[0].numpy() if ops_t else None)

        def backward(circuits_t, values_t, upstream, *ops_t):
            with tf.GradientTape() as tape:
                tape.watch(values_t)
                out = forward(circuits_t, values_t, *ops_t)
            return tape.gradient(out, values_t, output_gradients=upstream)

        # the gradient reaches the symbol values only (a py_function's own gradient would also be asked for the
        # string inputs, which have none)
        @tf.custom_gradient
        def simulate(values_t):
            out = tf.py_function(forward, [circuits, values_t] + extra, dtype)

            def grad(upstream):
                return tf.py_function(backward, [circuits, values_t, upstream] + extra, tf.float32)

            return out, grad

        out = simulate(values)
        if self.kind == "expectation":
            out.set_shape([None, operators.shape[1]])
        return out

    def _engine(self, key, symbols, operator_keys):
        entry = self._compiled.pop(key, None)
        if entry is None:
            circuit = decode(key[0])
            if operator_keys is None:
                entry = StateVectorCircuit(circuit, symbols, "probs", repetitions=None)
            else:
                ops = [decode(k) for k in operator_keys]
                entry = StateVectorCircuit(circuit, symbols, ops, repetitions=self.repetitions)
            while len(self._compiled) >= MAX_COMPILED:
                self._compiled.pop(next(iter(self._compiled)))
        self._compiled[key] = entry
        return entry

    def _run(self, circuits, values, symbols, operators, repetitions=None):
        circuits = [bytes(c) for c in circuits.reshape(-1)]
        groups: dict = {}
        for row, circuit in enumerate(circuits):
            ops = None if operators is None else tuple(bytes(o) for o in operators[row])
            groups.setdefault((circuit, ops), []).append(row)
        indices, outputs, widths = [], [], set()
        for (circuit, ops), rows in groups.items():
            engine = self._engine((circuit, ops), symbols, ops)
            widths.add(tuple(engine.qubits))
            part = tf.gather(values, rows)
            if self.kind == "expectation":
                outputs.append(engine(part))
            elif self.kind == "state":
                outputs.append(tf.reshape(engine.state(part), [len(rows), -1]))
            else:
                outputs.append(engine.samples(part, int(repetitions)))
            indices.append(tf.constant(rows, tf.int32))
        if self.kind != "expectation" and len({len(w) for w in widths}) > 1:
            raise ValueError(f"The state-vector engine needs circuits of one qubit set in a batch for "
                             f"{self.kind}s; this batch has the qubit sets {sorted(widths)}. Use backend='tfq' "
                             "(which pads) or add identity gates (cirq.I) so every circuit acts on the same qubits")
        return tf.dynamic_stitch(indices, outputs)
