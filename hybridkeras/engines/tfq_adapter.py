"""TensorFlow Quantum behind the simulator seam, for Keras 3 layers on Keras' TensorFlow backend.

TFQ's ops and differentiators need no Keras of TFQ's own: `TFQSimulation` calls them directly
(``tfq.get_expectation_op``, ``get_sampled_expectation_op``, ``get_state_op``,
``get_sampling_op``, ``tfq.noise.expectation`` for ``backend='noisy'``), made differentiable by the chosen TFQ differentiator, with the same
interface as the engine's `StateVectorCircuit`: ``__call__(values, shared=None)``,
``state(values)`` and ``samples(values, repetitions)``. Imported only where TFQ is installed and
Keras runs on TensorFlow (`engines.simulators.check_tfq_available`).
"""
from __future__ import annotations

import cirq
import numpy as np
import tensorflow as tf
import tensorflow_quantum as tfq

DIFFERENTIATORS = {
    "adjoint": lambda: tfq.differentiators.Adjoint(),
    "parameter_shift": lambda: tfq.differentiators.ParameterShift(),
    "forward_difference": lambda: tfq.differentiators.ForwardDifference(),
    "central_difference": lambda: tfq.differentiators.CentralDifference(),
}


def make_differentiator(name, *, analytic: bool):
    """TFQ's differentiator of that name; None: TFQ's layers' default (Adjoint for exact values, ParameterShift for
    shots and trajectories)."""
    if name is None:
        name = "adjoint" if analytic else "parameter_shift"
    if name == "adjoint" and not analytic:
        raise ValueError("differentiator='adjoint' needs exact expectations; TFQ differentiates shots and noisy "
                         "trajectories with 'parameter_shift' (or finite differences)")
    return DIFFERENTIATORS[name]()


def expectation_op(differentiator, backend, *, noisy: bool, analytic: bool, sample_based: bool = False):
    """TFQ's expectation op for these settings, made differentiable by the differentiator: trajectories
    (``noisy``: the average of exact values over noisy runs; with ``sample_based``, of one measurement per run),
    exact values, or shot estimates."""
    if noisy:
        return make_differentiator(differentiator, analytic=False).generate_differentiable_op(
            sampled_op=tfq.noise.sampled_expectation if sample_based else tfq.noise.expectation)
    if analytic:
        return make_differentiator(differentiator, analytic=True).generate_differentiable_op(
            analytic_op=tfq.get_expectation_op(backend=backend))
    return make_differentiator(differentiator, analytic=False).generate_differentiable_op(
        sampled_op=tfq.get_sampled_expectation_op(backend=backend))


def tfq_backend(value):
    """TFQ's ``backend`` argument of its ops: None for 'noiseless' (qsim), else the Cirq simulator or sampler given."""
    return None if value in (None, "noiseless") else value


class TFQSimulation:
    """``circuit`` with ``symbols`` (values' column order), read out as ``readout`` (Pauli operators, 'probs' or
    'state'), on TFQ's ops: the one circuit tiled to the batch, run by `TFQCircuitTensor`. ``repetitions``: shots (or,
    with ``noisy``, trajectories) per circuit and operator."""

    mixed = False  # `state` gives state vectors

    def __init__(self, circuit, symbols, readout, *, qubits=None, repetitions=None, noisy=False, differentiator=None,
                 backend=None, sample_based=False):
        self.circuit = circuit
        self.names = [str(s) for s in symbols]
        self.readout = readout
        self.repetitions = repetitions
        self.noisy = noisy
        self.qubits = sorted(circuit.all_qubits()) if qubits is None else list(qubits)
        self.n = len(self.qubits)
        self.operators = None if isinstance(readout, str) else list(readout)
        with tf.init_scope():  # made once, outside any graph being traced (they outlive the trace)
            self._program = tfq.convert_to_tensor([circuit])
            self._ops = None if self.operators is None else tfq.convert_to_tensor([self.operators])
        self._run = TFQCircuitTensor(noisy=noisy, sampled=repetitions is not None, differentiator=differentiator,
                                     backend=backend, expectation=self.operators is not None, sample_based=sample_based)
        self.outputs = 2**self.n if readout == "probs" else (len(self.operators) if self.operators else None)

    def _inputs(self, values, shared, initial=None):
        if initial is not None:
            raise ValueError("Initial states are a state-vector engine feature; TFQ's circuits start from |0…0⟩")
        values = tf.cast(values, tf.float32)
        if shared is not None and shared.shape[-1] != 0:
            rows = tf.shape(values)[0]
            shared = tf.cast(shared, tf.float32)
            values = tf.concat([values, tf.tile(shared, [rows // tf.shape(shared)[0], 1])], axis=1)
        rows = tf.shape(values)[0]
        return tf.tile(self._program, [rows]), values, rows

    def __call__(self, values, shared=None, initial=None):
        if self.readout == "probs":
            flat = tf.reshape(self.state(values, shared, initial), [tf.shape(values)[0], -1])
            return tf.math.real(flat * tf.math.conj(flat))
        if self.noisy and self.repetitions is None:
            raise ValueError("backend='noisy' needs `repetitions` (trajectories per circuit)")
        programs, values, rows = self._inputs(values, shared, initial)
        return self._run.expectation(programs, self.names, values, tf.tile(self._ops, [rows, 1]), self.repetitions)

    def state(self, values, shared=None, initial=None):
        """Final states [rows, 2, …, 2] complex64 (TFQ's state op; not differentiable in TFQ)."""
        programs, values, rows = self._inputs(values, shared, initial)
        return tf.reshape(self._run.state(programs, self.names, values), [rows] + [2] * self.n)

    def samples(self, values, repetitions: int, shared=None, initial=None, seed=None):
        """Measured bits [rows, repetitions, n] int8 (TFQ's sampling op)."""
        programs, values, rows = self._inputs(values, shared, initial)
        return tf.reshape(self._run.samples(programs, self.names, values, repetitions), [rows, int(repetitions), self.n])


class TFQCircuitTensor:
    """TFQ's ops on circuits given as a ``tf.string`` tensor (``tfq.convert_to_tensor``), as TFQ's own layers run them:
    ``expectation(programs, names, values, operators[, repetitions])``, ``state(...)``, ``samples(...)`` (dense,
    padded with -2 where TFQ pads)."""

    def __init__(self, *, noisy=False, differentiator=None, backend=None, sampled=False, expectation=True,
                 sample_based=False):
        self.noisy, self.sampled = noisy, sampled
        backend = tfq_backend(backend)
        # only an expectation layer needs (and validates) a differentiator
        self._expectation = expectation_op(differentiator, backend, noisy=noisy, analytic=not sampled,
                                           sample_based=sample_based) if expectation else None
        # state vectors from qsim or the cirq.Simulator given (a density-matrix backend's State is formed by the layer)
        self._state = tfq.get_state_op(backend=backend if isinstance(backend, cirq.Simulator) else None)
        self._sample = tfq.get_sampling_op(backend=backend if isinstance(backend, cirq.Sampler) else None)

    @staticmethod
    def names(names):
        return tf.constant([str(n) for n in names], dtype=tf.string)

    @staticmethod
    def operators(operators, rows):
        """Python operators (one list, or one per row) as TFQ's [rows, ops] string tensor."""
        if len(operators) == 1:
            return tf.tile(tfq.convert_to_tensor([operators[0]]), [rows, 1])
        return tfq.convert_to_tensor(operators)

    def expectation(self, programs, names, values, operators, repetitions=None):
        if self.noisy or self.sampled:
            reps = tf.cast(repetitions, tf.int32)
            if reps.shape.rank == 0:
                reps = tf.fill(tf.shape(operators), reps)
            elif reps.shape.rank == 1:
                reps = tf.tile(reps[None, :], [tf.shape(operators)[0], 1])
            return self._expectation(programs, self.names(names), tf.cast(values, tf.float32), operators, reps)
        return self._expectation(programs, self.names(names), tf.cast(values, tf.float32), operators)

    def state(self, programs, names, values):
        out = self._state(programs, self.names(names), tf.cast(values, tf.float32))
        return tf.cast(out.to_tensor(default_value=-2) if isinstance(out, tf.RaggedTensor) else out, tf.complex64)

    def samples(self, programs, names, values, repetitions: int):
        out = self._sample(programs, self.names(names), tf.cast(values, tf.float32), [int(repetitions)])
        return tf.cast(out.to_tensor(default_value=-2) if isinstance(out, tf.RaggedTensor) else out, tf.int8)


def circuit_tensor(circuits):
    """Python circuits (a list, or one) as TFQ's [rows] string tensor; a tensor passes through."""
    if tf.is_tensor(circuits):
        return circuits
    return tfq.convert_to_tensor([circuits] if isinstance(circuits, (cirq.Circuit, cirq.FrozenCircuit)) else circuits)


def join_circuits(programs, extra, *, prepend: bool = False):
    """Each row of ``programs`` ([rows] string tensor) followed by (``prepend``: preceded by) ``extra``: one Python
    circuit for every row, a list of them (one per row) or a [rows] string tensor. TFQ's append op joins them and
    raises its InvalidArgumentError for batches of different sizes or tensors not of rank 1."""
    if isinstance(extra, (cirq.Circuit, cirq.FrozenCircuit)):
        extra = tf.tile(circuit_tensor(extra), [tf.shape(programs)[0]])
    extra = circuit_tensor(extra)
    return tfq.append_circuit(extra, programs) if prepend else tfq.append_circuit(programs, extra)


PAD = -2  # TFQ's padding value for rows of circuits on fewer qubits
MAX_COMPILED = 512  # EngineCircuitTensor keeps at most this many compiled circuits (least recently used dropped)


def decode(serialized) -> list:
    """TFQ-serialised circuits or operators (bytes, any shape) as a nested list of their Cirq objects."""
    return tfq.from_tensor(tf.constant(serialized)) if len(serialized) else []


class EngineCircuitTensor:
    """Circuits given as a ``tf.string`` tensor, run on the state-vector engine: the interface of `TFQCircuitTensor`.

    Each call decodes the batch's circuits (and operators) with TFQ's parser, groups the rows by
    distinct circuit, operators and shot counts, and runs each group on a simulation made by
    ``simulate(circuit, names, readout, repetitions)`` (the layer's engine factory; compiled
    once per distinct circuit and kept, at most 512, least recently used dropped), all eagerly
    inside one ``tf.py_function``; gradients reach the symbol values through a second one. The
    cost per call is one engine run per distinct circuit in the batch, in eager mode, plus the
    first compile of a circuit never seen before. Not XLA-compilable (its layer says
    ``supports_jit = False``). A model whose circuits share one structure runs faster given that
    circuit as a Python object or as a template plus values (`hybridkeras.circuits.encode_circuits`).
    """

    def __init__(self, simulate):
        self._simulate = simulate
        self._compiled = {}
        self._decoded = {}

    names = staticmethod(TFQCircuitTensor.names)
    operators = staticmethod(TFQCircuitTensor.operators)

    def _circuit(self, serialized: bytes):
        if serialized not in self._decoded:
            if len(self._decoded) >= MAX_COMPILED:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[serialized] = decode([serialized])[0]
        return self._decoded[serialized]

    def _simulation(self, key, names, readout, repetitions=None):
        cache = (key, tuple(names), repetitions)
        entry = self._compiled.pop(cache, None)  # re-inserted last: the dict's order is the recency order
        if entry is None:
            entry = self._simulate(self._circuit(key[0]), names, readout if key[1] is None else list(decode(list(key[1]))),
                                   repetitions)
            while len(self._compiled) >= MAX_COMPILED:
                self._compiled.pop(next(iter(self._compiled)))
        self._compiled[cache] = entry
        return entry

    @staticmethod
    def _groups(keys):
        groups = {}
        for row, key in enumerate(keys):
            groups.setdefault(key, []).append(row)
        return groups

    def _gather(self, groups, values, run, rows):
        parts, order = [], []
        for key, members in groups.items():
            parts.append(run(key, tf.gather(values, members)))
            order.extend(members)
        if not parts:
            return None
        return tf.gather(tf.concat(parts, axis=0), np.argsort(np.asarray(order)).astype(np.int32))

    # ------------------------------------------------------------------ eager bodies
    def _expectation_eager(self, programs, names, values, operators, repetitions):
        programs, operators = programs.numpy(), operators.numpy()
        reps = None if repetitions is None else np.broadcast_to(repetitions.numpy(), operators.shape)
        keys = [(programs[r], tuple(operators[r]), None if reps is None else tuple(int(v) for v in reps[r]))
                for r in range(len(programs))]

        def run(key, group_values):
            program, ops, counts = key
            if counts is None:
                return self._simulation((program, ops), names, None)(group_values)
            counts = np.asarray(counts)
            columns, order = [], []
            for count in np.unique(counts):
                which = np.flatnonzero(counts == count)
                columns.append(self._simulation((program, tuple(ops[i] for i in which)), names, None,
                                                int(count))(group_values))
                order.extend(which.tolist())
            return tf.gather(tf.concat(columns, axis=1), np.argsort(order).astype(np.int32), axis=1)

        out = self._gather(self._groups(keys), values, run, len(programs))
        return tf.zeros([0, operators.shape[1]]) if out is None else tf.cast(out, tf.float32)

    def _padded(self, programs, values, run, width_of, tail, dtype):
        programs = programs.numpy()
        circuits = {p: self._circuit(p) for p in set(programs)}
        width = max([width_of(len(c.all_qubits())) for c in circuits.values()], default=1)

        def padded(program, group_values):
            n = len(circuits[program].all_qubits())
            rows = tf.shape(group_values)[0]
            out = run(program, n, group_values, rows)
            missing = width - width_of(n)
            if missing:
                out = tf.concat([out, tf.cast(tf.fill(tf.concat([[rows], tail, [missing]], 0), PAD), dtype)], -1)
            return out

        out = self._gather(self._groups(list(programs)), values, padded, len(programs))
        return tf.zeros(tf.concat([[0], tail, [width]], 0), dtype) if out is None else out

    def _state_eager(self, programs, names, values):
        def run(program, n, group_values, rows):
            if n == 0:
                return tf.ones([rows, 1], tf.complex64)
            return tf.reshape(tf.cast(self._simulation((program, None), names, "state").state(group_values),
                                      tf.complex64), [rows, 2**n])

        return self._padded(programs, values, run, lambda n: 2**n, tf.zeros([0], tf.int32), tf.complex64)

    def _samples_eager(self, programs, names, values, repetitions):
        def run(program, n, group_values, rows):
            if n == 0:
                return tf.zeros([rows, repetitions, 0], tf.int8)
            return tf.cast(self._simulation((program, None), names, "state").samples(group_values, repetitions),
                           tf.int8)

        return self._padded(programs, values, run, lambda n: n, tf.constant([repetitions]), tf.int8)

    # ------------------------------------------------------------------ TFQCircuitTensor's interface
    def expectation(self, programs, names, values, operators, repetitions=None):
        names = [str(n) for n in names]
        values = tf.cast(values, tf.float32)
        extra = [] if repetitions is None else [tf.cast(repetitions, tf.int32)]

        def forward(programs_t, values_t, operators_t, *reps_t):
            return self._expectation_eager(programs_t, names, values_t, operators_t, reps_t[0] if reps_t else None)

        def backward(programs_t, values_t, operators_t, upstream, *reps_t):
            with tf.GradientTape() as tape:
                tape.watch(values_t)
                out = forward(programs_t, values_t, operators_t, *reps_t)
            return tape.gradient(out, values_t, output_gradients=upstream)

        @tf.custom_gradient
        def simulate(values_t):  # the gradient reaches the symbol values only (strings have none)
            out = tf.py_function(forward, [programs, values_t, operators] + extra, tf.float32)
            out.set_shape([values.shape[0], operators.shape[-1]])
            return out, lambda upstream: tf.py_function(backward, [programs, values_t, operators, upstream] + extra,
                                                        tf.float32)

        return simulate(values)

    def state(self, programs, names, values):
        names = [str(n) for n in names]
        return tf.py_function(lambda p, v: self._state_eager(p, names, v), [programs, tf.cast(values, tf.float32)],
                              tf.complex64)

    def samples(self, programs, names, values, repetitions: int):
        names = [str(n) for n in names]
        repetitions = int(repetitions)
        return tf.py_function(lambda p, v: self._samples_eager(p, names, v, repetitions),
                              [programs, tf.stop_gradient(tf.cast(values, tf.float32))], tf.int8)


__all__ = ["EngineCircuitTensor", "TFQCircuitTensor", "TFQSimulation", "circuit_tensor", "decode", "expectation_op",
           "join_circuits", "make_differentiator"]
