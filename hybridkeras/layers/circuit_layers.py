"""Any Cirq circuit as a Keras layer: `PQC`, `ControlledPQC`, `Expectation`, `SampledExpectation`, `Sample`,
`State` and `AddCircuit`, with the constructor arguments and call forms of TFQ 0.7.6's layers of the same names.

A program written against ``tfq.layers`` runs when only the import changes::

    import hybridkeras as hk            # instead of: import tensorflow_quantum as tfq
    layer = hk.layers.PQC(model_circuit, cirq.Z(q), backend="statevector")   # or backend="tfq"

Two things are added. ``backend=`` picks the simulator: 'tfq' (TensorFlow Quantum) or
'statevector' (the state-vector engine; same numbers). TFQ's ``backend='noiseless'`` means
the default (`hybridkeras.set_backend`). And every layer saves and reloads: its circuits and
operators are kept in its config as Cirq JSON (data, never code), with its symbols,
initializer, regularizer, constraint and simulation settings. Python objects given at call
time (circuits, ``symbol_names``, operators, ``repetitions``) are bound to the layer and saved
with it, so a functional model holding ``Expectation()(circuit, symbol_names=..., symbol_values=x)``
reloads whole; the most recent call's objects are the ones saved.

Differentiators are given by name ('adjoint', 'parameter_shift') or as TFQ's
``tfq.differentiators.Adjoint()`` / ``ParameterShift()`` objects.
"""
from __future__ import annotations

import math

import cirq
import numpy as np

from hybridkeras._compat import keras, tf, tfq
from hybridkeras.circuits.serialization import from_json, to_json
from hybridkeras.layers.general.arguments import (as_circuits, check_model_circuit, check_names, check_operator_qubits,
                                                  check_operators, differentiator_name)
from hybridkeras.layers.base import QuantumLayer, serializable
from hybridkeras.layers.simulation import DynamicSimulation, Simulation, check_circuit_tensor, circuit_symbols

DEFAULT_INITIALIZER = {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 2.0 * math.pi, "seed": None}}


# ---------------------------------------------------------------------------------------------------------- checks
def backend_name(value):
    """The layer's ``backend``: TFQ's 'noiseless' (and None) mean the default backend."""
    return None if value == "noiseless" else value


def check_symbol_names(value, circuits=()) -> list:
    """Symbol names as strings (a list, or a constant tensor): distinct, and exactly the symbols of ``circuits``."""
    if tf.is_tensor(value):
        static = tf.get_static_value(value)
        if static is None:
            raise TypeError("`symbol_names` must be known when the layer is called (a list of names or sympy Symbols, "
                            "or a constant tensor). Received a tensor without a constant value")
        value = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(static).reshape(-1)]
    return check_names(value, circuits)


def _operators_value(value):
    """Operators given as a tensor: the Python list if the tensor is constant with one row for all, else None."""
    static = tf.get_static_value(value)
    if static is None:
        return None
    rows = np.asarray(static)
    rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
    if any(list(r) != list(rows[0]) for r in rows[1:]):
        return None
    return list(tfq.from_tensor(rows[:1])[0])


# ----------------------------------------------------------------------------------------------------------- base
class CircuitLayer(QuantumLayer):
    """What the general circuit layers share: TFQ-style arguments mapped onto `QuantumLayer`'s settings."""

    def __init__(self, *, repetitions=None, differentiator=None, backend=None, **kwargs):
        super().__init__(repetitions=repetitions, differentiator=differentiator_name(differentiator),
                         backend=backend_name(backend), **kwargs)

    def _simulation(self, circuit, operators, symbols, **kwargs) -> Simulation:
        return Simulation(circuit, operators, symbols, repetitions=kwargs.pop("repetitions", self.repetitions),
                          differentiator=self.differentiator, backend=self.backend, name=self.name, **kwargs)


class _ModelCircuitLayer(CircuitLayer):
    """A layer with a fixed model circuit and operators, fed input circuits (PQC, ControlledPQC)."""

    def __init__(self, model_circuit, operators, *, repetitions=None, backend=None, differentiator=None, **kwargs):
        super().__init__(repetitions=repetitions, differentiator=differentiator, backend=backend, **kwargs)
        self.model_circuit = check_model_circuit(model_circuit)
        self.operators = check_operators(operators)
        check_operator_qubits(self.operators, self.model_circuit)
        self._symbols = circuit_symbols(self.model_circuit)
        if not self._symbols:
            raise ValueError("`model_circuit` has no sympy.Symbols; give a circuit with symbols so that their values "
                             f"can be set (or use Expectation for a fixed circuit). Received: model_circuit with "
                             f"{len(list(self.model_circuit.all_operations()))} operations and no symbols")

    @property
    def symbols(self) -> list:
        """The model circuit's symbols, sorted by name (TFQ's order)."""
        return list(self._symbols)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape, (list, tuple)) and len(input_shape) == 2 \
            and isinstance(input_shape[0], (list, tuple, tf.TensorShape)) else input_shape
        return tf.TensorShape([tf.TensorShape(first)[0], len(self.operators)])

    def get_config(self):
        config = super().get_config()
        config.update(model_circuit=to_json(self.model_circuit), operators=to_json(self.operators))
        return config


@serializable
class PQC(_ModelCircuitLayer):
    """A parameterised quantum circuit with trainable weights, fed input circuits: TFQ's ``PQC``.

    Every input circuit (symbol-free, as in TFQ) is followed by ``model_circuit``, whose
    symbols are the layer's weights, and the expectations of ``operators`` are returned.

    Args:
        model_circuit: `cirq.Circuit` with sympy symbols (the trainable model).
        operators: A `cirq.PauliSum` / `cirq.PauliString` or a list of them, measured at the end.
        repetitions: None for exact expectations, or shots per circuit and operator.
        backend: 'tfq' or 'statevector'; None (or TFQ's 'noiseless'): `hybridkeras.set_backend`'s default.
        differentiator: 'adjoint', 'parameter_shift', None, or a TFQ differentiator object.
        initializer, regularizer, constraint: Keras objects (or their names) for the weights.

    Input shape:
        (batch,) tf.string: circuits from ``tfq.convert_to_tensor`` (``keras.Input(shape=(), dtype=tf.string)``).

    Output shape:
        (batch, len(operators)).

    Weights:
        ``parameters`` of shape (len(symbols),): the value of each symbol, in `symbols` order.

    On the engine each distinct input circuit is simulated once and cached (see
    `layers.simulation.Simulation`); a training step runs only the model circuit.

    Example:
        >>> q = cirq.GridQubit(0, 0)
        >>> layer = PQC(cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q)), cirq.Z(q))
        >>> layer(tfq.convert_to_tensor([cirq.Circuit()])).shape
        TensorShape([1, 1])
    """

    def __init__(self, model_circuit, operators, *, repetitions=None, backend=None, differentiator=None,
                 initializer=None, regularizer=None, constraint=None, **kwargs):
        super().__init__(model_circuit, operators, repetitions=repetitions, backend=backend,
                         differentiator=differentiator, **kwargs)
        self.initializer = keras.initializers.get(DEFAULT_INITIALIZER if initializer is None else initializer)
        self.regularizer = keras.regularizers.get(regularizer)
        self.constraint = keras.constraints.get(constraint)
        self._run = self._simulation(self.model_circuit, self.operators, self._symbols, shared=len(self._symbols))
        self.parameters = self.add_weight("parameters", shape=(len(self._symbols),), initializer=self.initializer,
                                          regularizer=self.regularizer, constraint=self.constraint, dtype=tf.float32,
                                          trainable=True)

    def symbol_values(self) -> dict:
        """{symbol: current value} of the weights."""
        return dict(zip(self.symbols, self.get_weights()[0]))

    def call(self, inputs):
        circuits = check_circuit_tensor("PQC", inputs)
        rows = tf.shape(circuits)[0]
        weights = tf.debugging.check_numerics(self.parameters, f"PQC weights are NaN or Inf (layer {self.name!r})")
        return self._run(tf.zeros([rows, 0]), shared=weights[None, :], circuits=circuits)

    def get_config(self):
        config = super().get_config()
        config.update(initializer=keras.initializers.serialize(self.initializer),
                      regularizer=keras.regularizers.serialize(self.regularizer) if self.regularizer else None,
                      constraint=keras.constraints.serialize(self.constraint) if self.constraint else None)
        return config


@serializable
class ControlledPQC(_ModelCircuitLayer):
    """A model circuit whose symbol values come as an input: TFQ's ``ControlledPQC``.

    Args:
        model_circuit, operators, repetitions, backend, differentiator: As for `PQC`.

    Input shape:
        ``[circuits, values]``: circuits (batch,) tf.string (symbol-free), values (batch, len(symbols))
        float32 in `symbols` order (sorted by name).

    Output shape:
        (batch, len(operators)).

    Example:
        >>> layer = ControlledPQC(cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q)), cirq.Z(q))
        >>> layer([tfq.convert_to_tensor([cirq.Circuit()]), tf.constant([[0.5]])])
    """

    def __init__(self, model_circuit, operators, *, repetitions=None, backend=None, differentiator=None, **kwargs):
        super().__init__(model_circuit, operators, repetitions=repetitions, backend=backend,
                         differentiator=differentiator, **kwargs)
        self._run = self._simulation(self.model_circuit, self.operators, self._symbols)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("ControlledPQC expects inputs [circuits, symbol_values]. Received: inputs of type "
                             f"{type(inputs).__name__}")
        circuits = check_circuit_tensor("ControlledPQC", inputs[0], "inputs[0]")
        values = self.finite_inputs(inputs[1])
        if values.shape.rank != 2 or values.shape[-1] not in (None, len(self._symbols)):
            raise ValueError(f"ControlledPQC expects `inputs[1]` of shape (batch, {len(self._symbols)}): one value per "
                             f"symbol {[str(s) for s in self._symbols]}. Received shape {values.shape}")
        return self._run(values, circuits=circuits)


# ------------------------------------------------------------------------------------------------------ executors
class _Executor(CircuitLayer):
    """Circuits as the input (Python circuits, or a tf.string tensor), symbol values as an argument."""

    _kind = "expectation"
    _sampled = False

    def __init__(self, backend=None, differentiator=None, *, circuits=None, symbol_names=None, operators=None,
                 learnable=False, learnable_initializer=None, **kwargs):
        super().__init__(backend=backend, differentiator=differentiator, **kwargs)
        circuits = from_json(circuits, what="circuits")
        self._circuits = None if circuits is None else [check_model_circuit(c, "circuits") for c in circuits]
        self._names = None if symbol_names is None else check_symbol_names(symbol_names, self._circuits or ())
        self._operators = None if operators is None else check_operators(operators)
        self._learnable_initializer = learnable_initializer
        self._w = None
        self._runs = {}
        if learnable:
            self._make_weights(learnable_initializer)

    # -- call-time arguments
    def _make_weights(self, initializer):
        if self._w is None:
            init = keras.initializers.get(DEFAULT_INITIALIZER if initializer is None else initializer)
            self._learnable_initializer = keras.initializers.serialize(init)
            self._w = self.add_weight("circuit_learnable_parameters", shape=(len(self._names),), initializer=init,
                                      dtype=tf.float32, trainable=True)

    def __call__(self, inputs, *args, symbol_names=None, symbol_values=None, operators=None, repetitions=None,
                 initializer=None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__} takes the circuits as its one positional argument; give "
                            "symbol_names=, symbol_values=, operators= and repetitions= by name")
        tensors = {}
        first = None
        circuits = as_circuits(inputs)
        if circuits is not None:
            self._circuits = circuits
        elif tf.is_tensor(inputs) or keras.backend.is_keras_tensor(inputs):
            first = inputs
            if inputs.dtype != tf.string and self._circuits is None:
                raise TypeError(f"{type(self).__name__} expects `inputs` to be circuits: a cirq.Circuit, a list of them, "
                                f"or a tf.string tensor from tfq.convert_to_tensor. Received: inputs of dtype "
                                f"{inputs.dtype.name}")
        else:
            raise TypeError(f"{type(self).__name__} expects `inputs` to be circuits: a cirq.Circuit, a list of them, or "
                            f"a tf.string tensor from tfq.convert_to_tensor. Received: inputs={inputs!r}")
        python_circuits = first is None or first.dtype != tf.string
        if symbol_names is not None:
            self._names = check_symbol_names(symbol_names, self._circuits if python_circuits else ())
        elif self._names is None:
            self._names = []
            if python_circuits:
                check_symbol_names([], self._circuits)
        if symbol_values is not None:
            if isinstance(symbol_values, (list, tuple, np.ndarray)):
                symbol_values = tf.constant(np.asarray(symbol_values, np.float32).reshape(-1, len(self._names)))
            if first is None:
                first = symbol_values
            else:
                tensors["symbol_values"] = symbol_values
        elif self._names and self._w is None and (first is None or first.dtype == tf.string):
            self._make_weights(initializer)
        if self._kind == "expectation":
            if operators is not None and not tf.is_tensor(operators):
                self._operators = check_operators(operators)
            elif operators is not None:
                ops = _operators_value(operators)
                if ops is not None:
                    self._operators = check_operators(ops)
                else:
                    tensors["operators"] = operators
            if self._operators is None and "operators" not in tensors:
                raise ValueError(f"{type(self).__name__} needs `operators`: a cirq.PauliSum or a list of them")
            if self._operators is not None and python_circuits:
                for circuit in self._circuits:
                    check_operator_qubits(self._operators, circuit, "inputs")
        if self._sampled:
            self._bind_repetitions(repetitions)
        if first is None:
            first = tf.zeros([len(self._circuits), 0])
        return super().__call__(first, **tensors, **kwargs)

    def _bind_repetitions(self, repetitions):
        if repetitions is None:
            if self.repetitions is None:
                raise ValueError(f"{type(self).__name__} needs `repetitions`: a positive int (shots per circuit)")
            return
        if tf.is_tensor(repetitions):
            static = tf.get_static_value(repetitions)
            values = None if static is None else np.unique(np.asarray(static))
            if values is None or len(values) != 1:
                raise ValueError("`repetitions` must be one positive int for the whole batch (a constant). Received "
                                 f"{'a tensor without a constant value' if values is None else values.tolist()}")
            repetitions = int(values[0])
        if isinstance(repetitions, bool) or not isinstance(repetitions, (int, np.integer)) or repetitions < 1:
            raise ValueError(f"`repetitions` must be a positive int. Received: repetitions={repetitions!r}")
        if self.differentiator == "adjoint":
            raise ValueError("`differentiator='adjoint'` needs exact expectations; use 'parameter_shift' with "
                             f"sampling. Received: differentiator='adjoint', repetitions={repetitions}")
        self.repetitions = int(repetitions)

    def call(self, inputs, symbol_values=None, operators=None):
        if inputs.dtype == tf.string:
            circuits = check_circuit_tensor(type(self).__name__, inputs)
            values, rows = symbol_values, tf.shape(circuits)[0]
        else:
            circuits, values, rows = None, inputs, tf.shape(inputs)[0]
        values = self._symbol_values(values, rows)
        if circuits is None and operators is None:
            return self._output(self._run_python(values))
        if circuits is None:
            circuits = tf.tile(tfq.convert_to_tensor(self._circuits), [rows // len(self._circuits)])
        if self._kind == "expectation" and operators is None:
            operators = tf.tile(tfq.convert_to_tensor([self._operators]), [rows, 1])
        return self._output(self._run_dynamic(circuits, values, operators))

    def _symbol_values(self, values, rows):
        if values is None or values.shape[-1] == 0:
            if self._w is not None:
                return tf.tile(self._w[None, :], [rows, 1])
            return tf.zeros([rows, len(self._names)])
        values = self.finite_inputs(values)
        if values.shape.rank != 2 or values.shape[-1] not in (None, len(self._names)):
            raise ValueError(f"`symbol_values` must have shape (batch, {len(self._names)}): one value per name in "
                             f"symbol_names={self._names}. Received shape {values.shape}")
        return values

    def _run_python(self, values):
        """The circuits given as Python objects: each distinct one compiled once (in the graph)."""
        distinct = {}
        for row, circuit in enumerate(self._circuits):
            distinct.setdefault(to_json(circuit), []).append(row)
        parts, indices = [], []
        for text, rows in distinct.items():
            run = self._python_run(text, self._circuits[rows[0]])
            part = values if len(self._circuits) == 1 else tf.gather(values, rows)
            parts.append(self._simulate(run, part))
            indices.append(rows)
        if len(parts) == 1:
            return parts[0]
        return tf.dynamic_stitch([tf.constant(r, tf.int32) for r in indices], parts)

    def _python_run(self, text, circuit):
        key = (text, to_json(self._operators) if self._kind == "expectation" else None, tuple(self._names),
               self.repetitions)
        if key not in self._runs:
            operators = self._operators if self._kind == "expectation" else None
            with tf.init_scope():  # built once, outside any graph being traced (its constants outlive the trace)
                self._runs[key] = self._simulation(circuit, operators, self._names,
                                                   repetitions=self.repetitions if self._kind == "expectation" else None)
        return self._runs[key]

    def _run_dynamic(self, circuits, values, operators):
        key = ("dynamic", self.repetitions)
        if key not in self._runs:
            with tf.init_scope():
                self._runs[key] = DynamicSimulation(self._kind, backend=self.backend, differentiator=self.differentiator,
                                                    repetitions=self.repetitions if self._kind == "expectation" else None)
        run = self._runs[key]
        if self._kind == "expectation":
            reps = None if self.repetitions is None else tf.fill(tf.shape(operators), self.repetitions)
            return run(circuits, self._names, values, operators, reps)
        return run(circuits, self._names, values, repetitions=self.repetitions)

    def _simulate(self, run: Simulation, values):
        return run(values)

    def _output(self, values):
        return values

    def get_config(self):
        config = super().get_config()
        config.update(circuits=to_json(self._circuits), symbol_names=self._names,
                      learnable=self._w is not None, learnable_initializer=self._learnable_initializer)
        if self._kind == "expectation":
            config["operators"] = to_json(self._operators)
        return config


@serializable
class Expectation(_Executor):
    """Expectation values of operators on circuits: TFQ's ``Expectation``.

    Call: ``layer(inputs, symbol_names=None, symbol_values=None, operators=None, initializer=None)``.
    ``inputs``: a `cirq.Circuit`, a list of them, or a tf.string tensor [batch]. ``symbol_values``:
    [batch, len(symbol_names)]; when omitted with ``symbol_names`` given, the layer makes them
    trainable weights (``circuit_learnable_parameters``). ``operators``: a PauliSum, a list, or a
    tf.string tensor [batch, ops]. Output: [batch, ops].

    Circuits given as Python objects are compiled once into the graph (one run per distinct
    circuit). Circuits given as a tensor (which may hold symbols) run through
    `layers.simulation.DynamicSimulation`: on the engine, each distinct circuit is compiled
    once and every call runs one group of rows per distinct circuit.

    Args:
        backend: 'tfq' or 'statevector'; None (or 'noiseless'): the default.
        differentiator: 'adjoint', 'parameter_shift', None or a TFQ differentiator object.
    """


@serializable
class SampledExpectation(_Executor):
    """Expectation values estimated from shots: TFQ's ``SampledExpectation``.

    Call as `Expectation`, plus ``repetitions``: shots per circuit and operator (an int, or a
    constant tensor holding one value). Gradients are those of the exact expectations on the
    engine (unbiased); TFQ's parameter-shift estimates them from shots.
    """

    _sampled = True

    def __init__(self, backend=None, differentiator=None, **kwargs):
        super().__init__(backend=backend, differentiator=differentiator, **kwargs)


@serializable
class State(_Executor):
    """The final state vectors of circuits: TFQ's ``State``.

    Call: ``layer(inputs, symbol_names=None, symbol_values=None)``. Output: a `tf.RaggedTensor`
    [batch, <2^n>] complex64 (qubits in sorted order, the first most significant), as TFQ's.
    """

    _kind = "state"

    def _simulate(self, run, values):
        return run.state(values)

    def _output(self, values):
        return tf.RaggedTensor.from_tensor(values)


@serializable
class Sample(_Executor):
    """Measured bitstrings of circuits: TFQ's ``Sample``.

    Call: ``layer(inputs, symbol_names=None, symbol_values=None, repetitions=N)``. Output: a
    `tf.RaggedTensor` [batch, repetitions, <n>] int8 (qubits in sorted order), as TFQ's. Shots
    are independent across rows and calls.
    """

    _kind = "sample"
    _sampled = True

    def _simulate(self, run, values):
        return run.sample(values, self.repetitions)

    def _output(self, values):
        return tf.RaggedTensor.from_tensor(values, ragged_rank=2)


@serializable
class AddCircuit(keras.layers.Layer):
    """Appends or prepends a circuit to every input circuit: TFQ's ``AddCircuit`` (a string op, no simulation).

    Call: ``layer(inputs, append=None, prepend=None)`` with ``inputs`` a tf.string tensor [batch] and
    one `cirq.Circuit` (bound to the layer and saved with it).
    """

    def __init__(self, *, append=None, prepend=None, **kwargs):
        super().__init__(**kwargs)
        self._append = None if append is None else check_model_circuit(append, "append")
        self._prepend = None if prepend is None else check_model_circuit(prepend, "prepend")

    def __call__(self, inputs, *args, append=None, prepend=None, **kwargs):
        if append is not None and prepend is not None:
            raise ValueError("Give `append` or `prepend`, not both")
        if append is not None:
            self._append, self._prepend = check_model_circuit(append, "append"), None
        if prepend is not None:
            self._prepend, self._append = check_model_circuit(prepend, "prepend"), None
        if self._append is None and self._prepend is None:
            raise ValueError("AddCircuit needs `append=` or `prepend=`: a cirq.Circuit")
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        circuits = check_circuit_tensor("AddCircuit", inputs)
        rows = tf.shape(circuits)[0]
        other = tf.tile(tfq.convert_to_tensor([self._append or self._prepend]), [rows])
        return tfq.append_circuit(circuits, other) if self._append is not None else tfq.append_circuit(other, circuits)

    def get_config(self):
        config = super().get_config()
        config.update(append=to_json(self._append), prepend=to_json(self._prepend))
        return config


__all__ = ["AddCircuit", "ControlledPQC", "Expectation", "PQC", "Sample", "SampledExpectation", "State"]
