"""TensorFlow Quantum behind the simulator seam, for Keras 3 layers on Keras' TensorFlow backend.

TFQ's ops and differentiators need no tf_keras: `TFQSimulation` calls them directly
(``tfq.get_expectation_op``, ``get_sampled_expectation_op``, ``get_state_op``,
``get_sampling_op``, ``tfq.noise.expectation`` for ``backend='noisy'``), made differentiable by the chosen TFQ differentiator, with the same
interface as the engine's `StateVectorCircuit`: ``__call__(values, shared=None)``,
``state(values)`` and ``samples(values, repetitions)``. Imported only where TFQ is installed and
Keras runs on TensorFlow (`engines.simulators.check_tfq_available`).
"""
from __future__ import annotations

import cirq
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


def expectation_op(differentiator, backend, *, noisy: bool, analytic: bool):
    """TFQ's expectation op for these settings, made differentiable by the differentiator: trajectories
    (``noisy``: the average of exact values over noisy runs), exact values, or shot estimates."""
    if noisy:
        return make_differentiator(differentiator, analytic=False).generate_differentiable_op(
            sampled_op=tfq.noise.expectation)
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

    def __init__(self, circuit, symbols, readout, *, qubits=None, repetitions=None, noisy=False, differentiator=None,
                 backend=None):
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
                                     backend=backend, expectation=self.operators is not None)
        self.outputs = 2**self.n if readout == "probs" else (len(self.operators) if self.operators else None)

    def _inputs(self, values, shared):
        values = tf.cast(values, tf.float32)
        if shared is not None and shared.shape[-1] != 0:
            rows = tf.shape(values)[0]
            shared = tf.cast(shared, tf.float32)
            values = tf.concat([values, tf.tile(shared, [rows // tf.shape(shared)[0], 1])], axis=1)
        rows = tf.shape(values)[0]
        return tf.tile(self._program, [rows]), values, rows

    def __call__(self, values, shared=None, initial=None):
        if self.readout == "probs":
            flat = tf.reshape(self.state(values, shared), [tf.shape(values)[0], -1])
            return tf.math.real(flat * tf.math.conj(flat))
        if self.noisy and self.repetitions is None:
            raise ValueError("backend='noisy' needs `repetitions` (trajectories per circuit)")
        programs, values, rows = self._inputs(values, shared)
        return self._run.expectation(programs, self.names, values, tf.tile(self._ops, [rows, 1]), self.repetitions)

    def state(self, values, shared=None, initial=None):
        """Final states [rows, 2, …, 2] complex64 (TFQ's state op; not differentiable in TFQ)."""
        programs, values, rows = self._inputs(values, shared)
        return tf.reshape(self._run.state(programs, self.names, values), [rows] + [2] * self.n)

    def samples(self, values, repetitions: int, shared=None, initial=None, seed=None):
        """Measured bits [rows, repetitions, n] int8 (TFQ's sampling op)."""
        programs, values, rows = self._inputs(values, shared)
        return tf.reshape(self._run.samples(programs, self.names, values, repetitions), [rows, int(repetitions), self.n])


class TFQCircuitTensor:
    """TFQ's ops on circuits given as a ``tf.string`` tensor (``tfq.convert_to_tensor``), as TFQ's own layers run them:
    ``expectation(programs, names, values, operators[, repetitions])``, ``state(...)``, ``samples(...)`` (dense,
    padded with -2 where TFQ pads)."""

    def __init__(self, *, noisy=False, differentiator=None, backend=None, sampled=False, expectation=True):
        self.noisy, self.sampled = noisy, sampled
        backend = tfq_backend(backend)
        # only an expectation layer needs (and validates) a differentiator
        self._expectation = expectation_op(differentiator, backend, noisy=noisy, analytic=not sampled) \
            if expectation else None
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


__all__ = ["TFQCircuitTensor", "TFQSimulation", "expectation_op", "make_differentiator"]
