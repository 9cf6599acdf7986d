"""TFQ's circuit executors as Keras 3 layers: `Expectation`, `SampledExpectation`, `State`, `Sample`.

Call form (TFQ 0.7.6's)::

    layer(circuits, symbol_names=None, symbol_values=None, operators=None, repetitions=None, initializer=None)

``circuits`` is a `cirq.Circuit` (tiled to the batch of ``symbol_values``) or a list of them (one per
row). Python objects given at call time — circuits, ``symbol_names``, operators, shots — are bound
to the layer and saved in its config as Cirq JSON, so a functional model holding
``Expectation()(circuit, symbol_names=names, symbol_values=x)`` saves as `.keras` and reloads
whole; inside the model the layer's input is the ``symbol_values`` tensor. Rows holding different
circuits (or operators, or shot counts) run as one group each on the engine.

On Keras' TensorFlow backend, where TFQ is installed, circuits and operators may also arrive as
``tf.string`` tensors (``tfq.convert_to_tensor``; TFQ's parser reads them): ``simulator='tfq'`` runs
TFQ's ops on them, the engine runs each distinct circuit of a batch eagerly in a ``tf.py_function``
(`engines.tfq_adapter.EngineCircuitTensor`); either way the layer is not XLA-compiled. There are no
string tensors on JAX or PyTorch: circuits as data are a template plus values there, on every
backend (`hybridkeras.circuits.data.encode_circuits`). Not carried over from TFQ: the ragged
outputs of `State` and `Sample` (dense here; rows of circuits on fewer qubits are padded at the end
with -2, TFQ's padding value).
"""
from __future__ import annotations

import math

import cirq
import keras
import numpy as np
from keras import ops as K

from hybridkeras.circuits.noise import has_channels
from hybridkeras.circuits.serialization import from_json, to_json
from hybridkeras.layers.general.arguments import (as_circuits, check_model_circuit, check_names, check_operator_qubits,
                                                  check_operators, check_repetitions_value)
from hybridkeras.layers.general.base import (CircuitLayer, RowGroups, get_initializer, is_string_tensor, is_tensor,
                                             register)

DEFAULT_INITIALIZER = {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 2.0 * math.pi, "seed": None}}
PAD = -2  # TFQ's padding value for rows of circuits on fewer qubits


def _operator_rows(value) -> list:
    """Operators as one list per row: a PauliSum or a list (the same for every row), or a list of lists (per row)."""
    value = from_json(value, what="operators")
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple)) for v in value):
        per_row = [check_operators(list(v)) for v in value]
        widths = {len(v) for v in per_row}
        if len(widths) != 1:
            raise ValueError(f"Each row of `operators` must hold the same number of operators. Received widths "
                             f"{sorted(widths)}")
        return per_row
    return [check_operators(value)]


class _Executor(CircuitLayer):
    kind = "expectation"

    def __init__(self, backend=None, differentiator=None, *, circuits=None, broadcast=True, symbol_names=None,
                 operators=None, repetitions=None, learnable=False, learnable_initializer=None, circuit_tensor=False,
                 simulator=None, seed=None, check_inputs=True, **kwargs):
        super().__init__(backend, differentiator, simulator=simulator, seed=seed, check_inputs=check_inputs, **kwargs)
        circuits = from_json(circuits, what="circuits")
        self._circuits = None if circuits is None else [check_model_circuit(c, "circuits") for c in circuits]
        self._broadcast = bool(broadcast)
        self._names = None if symbol_names is None else check_names(symbol_names, self._circuits or (), unused_ok=True)
        self._operators = None if operators is None else _operator_rows(operators)
        self._repetitions = None if repetitions is None else check_repetitions_value(
            np.asarray(repetitions) if isinstance(repetitions, list) else repetitions)
        self._learnable_initializer = learnable_initializer
        self._w = None
        self._runs = {}
        self._shots_input = False
        self._dynamic = bool(circuit_tensor)  # circuits arrive as a tf.string tensor (TFQ's serialised circuits)
        if self._dynamic:
            self.supports_jit = False
        if learnable:
            self._make_weights(learnable_initializer)

    # ------------------------------------------------------------------ binding Python arguments
    def _make_weights(self, initializer):
        if self._w is None:
            init = get_initializer(initializer, DEFAULT_INITIALIZER)
            self._learnable_initializer = keras.initializers.serialize(init)
            self._w = self.add_weight(name="circuit_learnable_parameters", shape=(len(self._names),), initializer=init,
                                      dtype="float32", trainable=True)

    def __call__(self, inputs=None, *args, symbol_names=None, symbol_values=None, operators=None, repetitions=None,
                 initializer=None, **kwargs):
        layer = type(self).__name__
        if args:
            raise TypeError(f"{layer} takes the circuits as its one positional argument; give symbol_names=, "
                            "symbol_values=, operators= and repetitions= by name")
        if initializer is not None and not isinstance(initializer, keras.initializers.Initializer):
            get_initializer(initializer, DEFAULT_INITIALIZER)  # TFQ refuses an unknown one at call time
        if is_string_tensor(inputs):
            return self._call_circuit_tensor(inputs, symbol_names, symbol_values, operators, repetitions, initializer,
                                             **kwargs)
        circuits = as_circuits(inputs)
        values_first = None
        if circuits is not None:
            self._circuits = circuits
            self._broadcast = isinstance(inputs, (cirq.Circuit, cirq.FrozenCircuit))
        elif (is_tensor(inputs) or isinstance(inputs, np.ndarray)) and self._circuits is not None:
            values_first = inputs  # a reloaded model calls the layer on its symbol values
        elif inputs is None and self._circuits is not None:
            pass
        else:
            raise TypeError(f"{layer} expects `inputs` to be circuits: a cirq.Circuit or a list of them, or on the "
                            "TensorFlow backend a tf.string tensor (JAX and PyTorch have no string tensors; see "
                            "hybridkeras.circuits.encode_circuits for "
                            f"circuits as data). Received: inputs={type(inputs).__name__}")
        if symbol_names is not None:
            self._names = check_names(symbol_names, self._circuits, unused_ok=True)
        elif self._names is None:
            self._names = check_names([], self._circuits)
        if symbol_values is not None:
            if values_first is not None:
                raise TypeError(f"{layer}: give `symbol_values` once")
            values_first = symbol_values
        if values_first is not None and not is_tensor(values_first):
            values_first = self._values_array(values_first)
        if values_first is None and self._names and self._w is None:
            if self.kind != "expectation":
                raise ValueError(f"{layer} was given `symbol_names` {self._names} but no `symbol_values`: give "
                                 f"`symbol_values` of shape (batch, {len(self._names)}) (only Expectation makes "
                                 "missing values trainable weights)")
            self._make_weights(initializer)
        rows = None if self._broadcast else len(self._circuits)
        if values_first is not None and not self._broadcast and values_first.shape[0] is not None \
                and values_first.shape[0] != rows:
            raise ValueError(f"{layer}: the batch sizes of the circuits ({rows}) and of `symbol_values` "
                             f"({values_first.shape[0]}) do not match.")
        self._bind_operators(operators)
        self._bind_repetitions(repetitions)
        self._check_qubits()
        if values_first is None:
            values_first = np.zeros((len(self._circuits), 0), np.float32)
        return super().__call__(values_first, **kwargs)

    def _values_array(self, value):
        layer = type(self).__name__
        try:
            array = np.asarray(value, np.float32)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{layer}: `symbol_values` cannot be parsed to float32 values ({exc}). "
                            f"Received: symbol_values={value!r}") from exc
        if array.ndim != 2:
            raise ValueError(f"{layer}: `symbol_values` must be rank 2, (batch, {len(self._names)}). Received shape "
                             f"{array.shape}")
        if array.shape[1] != len(self._names):
            raise ValueError(f"{layer}: the widths of `symbol_names` ({len(self._names)}) and `symbol_values` "
                             f"({array.shape[1]}) do not match.")
        return array

    def _call_circuit_tensor(self, circuits, symbol_names, symbol_values, operators, repetitions, initializer,
                             **kwargs):
        """TFQ's call form with circuits as a ``tf.string`` tensor (``tfq.convert_to_tensor``): TFQ's ops run them."""
        layer = type(self).__name__
        self.takes_circuit_tensors("circuits")
        self._dynamic = True
        if symbol_names is not None:
            self._names = check_names(symbol_names)
        elif self._names is None:
            self._names = []
        tensors = {}
        if symbol_values is not None:
            tensors["symbol_values"] = symbol_values if is_tensor(symbol_values) else self._values_array(symbol_values)
        elif self._names and self._w is None:
            if self.kind != "expectation":
                raise ValueError(f"{layer} was given `symbol_names` {self._names} but no `symbol_values`")
            self._make_weights(initializer)
        if self.kind == "expectation":
            if operators is not None and is_string_tensor(operators):
                tensors["operators"] = operators
            elif operators is not None:
                self._operators = _operator_rows(operators)
            elif self._operators is None:
                raise RuntimeError(f"Value for operators not provided: {layer} needs `operators`")
        if self.sampled and self.kind == "expectation" and is_tensor(repetitions) and (
                keras.backend.is_keras_tensor(repetitions) or self._shots_input):
            self._shots_input = True  # shots as a model input (TFQ's int32 (batch, ops) form), passed on as a tensor
            tensors["repetitions"] = repetitions
        else:
            self._bind_repetitions(repetitions)
        return super().__call__(circuits, **tensors, **kwargs)

    def _run_circuit_tensor(self, circuits, symbol_values, operators, repetitions=None):
        run = self.circuit_tensor_run(expectation=self.kind == "expectation")
        rows = K.shape(circuits)[0]
        if symbol_values is not None:
            values = self.finite(symbol_values)
        elif self._w is not None:
            values = K.tile(K.expand_dims(K.cast(self._w, "float32"), 0), [rows, 1])
        else:
            values = K.zeros([rows, 0])
        if self.kind == "state":
            state = run.state(circuits, self._names, values)
            return K.einsum("ri,rj->rij", state, K.conj(state)) if self.backend_kind == "density_matrix" else state
        if self.kind == "sample":
            return run.samples(circuits, self._names, values, int(self._repetitions))
        if operators is None:
            operators = run.operators(self._operators, rows)
        return run.expectation(circuits, self._names, values, operators,
                               self._repetitions if repetitions is None else repetitions)

    def _bind_operators(self, operators):
        if self.kind != "expectation":
            if operators is not None:
                raise TypeError(f"{type(self).__name__} takes no `operators`")
            return
        if operators is not None:
            if is_tensor(operators):
                raise TypeError(f"{type(self).__name__}: `operators` must be Cirq Pauli operators (a cirq.PauliSum, a "
                                "list, or a list per row); operator tensors are TFQ's tf.string form, which Keras 3 "
                                "layers do not take")
            self._operators = _operator_rows(operators)
            nested = len(self._operators) > 1 or (isinstance(operators, (list, tuple)) and operators
                                                 and isinstance(operators[0], (list, tuple)))
            if nested and not self._broadcast and len(self._operators) != len(self._circuits):
                raise ValueError(f"{type(self).__name__}: the batch sizes of the circuits ({len(self._circuits)}) and "
                                 f"of `operators` (pauli sums, {len(self._operators)}) do not match.")
            if nested and self._broadcast and len(self._operators) != 1:
                raise ValueError(f"{type(self).__name__}: one circuit was given (tiled to the batch) but `operators` "
                                 f"holds {len(self._operators)} rows of pauli sums; the batch sizes do not match.")
        if self._operators is None:
            raise RuntimeError(f"Value for operators not provided: {type(self).__name__} needs `operators`, a "
                               "cirq.PauliSum / cirq.PauliString or a list of them")

    def _bind_repetitions(self, repetitions):
        layer = type(self).__name__
        if self.kind == "sample":
            if repetitions is None and self._repetitions is None:
                raise ValueError(f"Value for repetitions not specified: {layer} needs `repetitions`, a positive int "
                                 "(shots per circuit)")
            if repetitions is not None and (isinstance(repetitions, bool) or
                                            not isinstance(repetitions, (int, np.integer))):
                raise TypeError(f"{layer}: repetitions cannot be parsed to int32 tensor: give one positive int for the "
                                f"whole batch (Keras 3 outputs are dense). Received: repetitions={repetitions!r}")
            if repetitions is not None and repetitions < 1:
                raise ValueError(f"{layer}: repetitions must be greater than zero. Received: repetitions={repetitions!r}")
        elif self.sampled:
            if repetitions is None and self._repetitions is None:
                raise RuntimeError(f"Value for repetitions not provided: {layer} needs `repetitions`, a positive int "
                                   "(shots per circuit)")
        elif self.backend_kind == "noisy":
            if repetitions is None and self._repetitions is None:
                raise RuntimeError(f"Value for repetitions not provided: {layer}(backend='noisy') averages "
                                   "`repetitions` trajectories per circuit")
        elif repetitions is not None:
            raise ValueError(f"{layer}: `repetitions` is for backend='noisy' (trajectories) or sampled layers; this "
                             f"layer's backend is 'noiseless' (exact). Received: repetitions={repetitions!r}")
        if repetitions is not None:
            if is_tensor(repetitions):
                repetitions = np.asarray(K.convert_to_numpy(repetitions))
            repetitions = check_repetitions_value(repetitions)
            if self.kind == "sample" and np.ndim(repetitions):
                raise ValueError(f"{layer}: `repetitions` must be one int for the whole batch (Keras 3 outputs are "
                                 f"dense, not ragged). Received: repetitions={np.asarray(repetitions).tolist()}")
            self._repetitions = repetitions

    def _check_qubits(self):
        if self.kind == "expectation":
            for row, circuit in enumerate(self._circuits):
                ops = self._operators[row] if len(self._operators) > 1 else self._operators[0]
                check_operator_qubits(ops, circuit, "inputs")

    # ------------------------------------------------------------------ running
    def build(self, input_shape):
        self.built = True

    def _values(self, values):
        """The symbol values [batch, len(names)] of this call."""
        if values.shape[-1] == 0 and self._w is not None:
            rows = K.shape(values)[0]
            return K.tile(K.expand_dims(K.cast(self._w, "float32"), 0), [rows, 1])
        values = self.finite(values)
        if len(values.shape) != 2 or values.shape[-1] not in (None, len(self._names)):
            raise ValueError(f"{type(self).__name__}: `symbol_values` must be rank 2, (batch, {len(self._names)}): one "
                             f"value per name in symbol_names={self._names}. Received shape {tuple(values.shape)}")
        return values

    def _row_keys(self, rows):
        """One static key per row: (circuit index, operators row, shots row)."""
        circuits = list(range(len(self._circuits))) if not self._broadcast else [0] * rows
        ops = self._operators or [None]
        reps = self._repetitions
        keys = []
        for r, c in enumerate(circuits):
            op_row = 0 if len(ops) == 1 else r
            rep = reps if reps is None or np.ndim(reps) == 0 else (reps if np.ndim(reps) == 1 else reps[r])
            rep = rep if rep is None or np.ndim(rep) == 0 else tuple(int(v) for v in np.ravel(rep))
            keys.append((c, op_row, rep))
        return keys

    def call(self, inputs, symbol_values=None, operators=None, repetitions=None):
        if self._dynamic:
            return self._run_circuit_tensor(inputs, symbol_values, operators, repetitions)
        values = self._values(inputs)
        if self._broadcast:
            if self._operators and len(self._operators) == 1 and (self._repetitions is None or
                                                                 np.ndim(self._repetitions) <= 1):
                return self._run(self._row_keys(1)[0], values)
            rows = values.shape[0]
            if rows is None:
                raise ValueError(f"{type(self).__name__}: per-row operators or shots need a known batch size")
            groups = RowGroups(self._row_keys(rows))
        else:
            groups = RowGroups(self._row_keys(len(self._circuits)))
        return groups.run(values, self._run)

    def _simulation_for(self, key, readout, repetitions=None):
        circuit = self._circuits[key[0]]
        cache = (to_json(circuit), to_json(readout) if not isinstance(readout, str) else readout, repetitions)
        if cache not in self._runs:
            self._runs[cache] = self._simulation(circuit, self._names, readout,
                                                 qubits=sorted(circuit.all_qubits()) or None, repetitions=repetitions)
        return self._runs[cache]

    def _run(self, key, values):
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        operators = None
        if self._operators is not None:
            operators = to_json(self._operators[0]) if len(self._operators) == 1 else to_json(self._operators)
        reps = self._repetitions
        config.update(circuits=to_json(self._circuits), broadcast=self._broadcast, symbol_names=self._names,
                      operators=operators, repetitions=None if reps is None else np.asarray(reps).tolist(),
                      learnable=self._w is not None, learnable_initializer=self._learnable_initializer,
                      circuit_tensor=self._dynamic)
        return config


@register
class Expectation(_Executor):
    """Expectation values of Pauli operators on circuits: TFQ's ``Expectation`` on Keras 3.

    Call: ``layer(circuits, symbol_names=None, symbol_values=None, operators=None, initializer=None,
    repetitions=None)`` (see the module docstring). Without ``symbol_values``, the ``symbol_names`` become
    trainable weights (``circuit_learnable_parameters``, drawn by ``initializer``).

    Args:
        backend: None/'noiseless' (exact), 'noisy' (needs ``repetitions``: trajectories per circuit; on the
            engine, for circuits without channels, the exact values), ``cirq.Simulator()``,
            ``cirq.DensityMatrixSimulator()``. A `cirq.Sampler` is refused (TypeError, as TFQ): use
            `SampledExpectation`.
        differentiator, simulator, seed: see `CircuitLayer`.

    Input: circuits (Python) and ``symbol_values`` (batch, len(symbol_names)).
    Output shape: (batch, len(operators)).

    Example:
        >>> q = cirq.GridQubit(0, 0)
        >>> Expectation()(cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q)), symbol_names=["a"],
        ...               symbol_values=np.array([[0.5]]), operators=cirq.Z(q)).shape
        (1, 1)
    """

    def _run(self, key, values):
        # backend='noisy' averages `repetitions` trajectories (TFQ's op); on the engine a circuit has no channel, so
        # every trajectory is the one exact state and the average is the exact value
        trajectories = None
        if self.backend_kind == "noisy" and self.simulator == "tfq":
            if np.ndim(key[2]):
                raise ValueError("Expectation(backend='noisy'): give one trajectory count for every operator")
            trajectories = int(key[2])
        return self._simulation_for(key, self._operators[key[1]], trajectories)(values)

    def compute_output_shape(self, inputs_shape, symbol_values_shape=None, operators_shape=None,
                             repetitions_shape=None):
        if self._dynamic:
            return (inputs_shape[0], len(self._operators[0]) if operators_shape is None else operators_shape[-1])
        return (inputs_shape[0] if not self._broadcast or inputs_shape[0] is not None else None,
                len(self._operators[0]))


@register
class SampledExpectation(_Executor):
    """Expectation values estimated from ``repetitions`` shots: TFQ's ``SampledExpectation`` on Keras 3.

    Call as `Expectation`, with ``repetitions``: shots per circuit and operator — an int, a list with one
    count per operator, or an array (batch, operators). On the engine, gradients are those of the exact
    expectations (the mean of the estimate); shots are new at every call and independent across rows.

    Output shape: (batch, len(operators)).
    """

    sampled = True

    def _run(self, key, values):
        c, op_row, rep = key
        operators = self._operators[op_row]
        if np.ndim(rep) == 0:
            return self._simulation_for(key, operators, int(rep))(values)
        rep = np.asarray(rep)
        if rep.shape != (len(operators),):
            raise ValueError(f"SampledExpectation: `repetitions` per operator must hold {len(operators)} counts per "
                             f"row. Received {rep.tolist()}")
        columns, order = [], []
        for count in np.unique(rep):
            which = np.flatnonzero(rep == count)
            columns.append(self._simulation_for(key, [operators[i] for i in which], int(count))(values))
            order.extend(which.tolist())
        return K.take(K.concatenate(columns, axis=1), np.argsort(order).astype(np.int32), axis=1)

    def compute_output_shape(self, inputs_shape, symbol_values_shape=None, operators_shape=None,
                             repetitions_shape=None):
        if self._dynamic and operators_shape is not None:
            return (inputs_shape[0], operators_shape[-1])
        return (inputs_shape[0], len(self._operators[0]))


@register
class State(_Executor):
    """Final states of circuits: TFQ's ``State`` on Keras 3.

    Call: ``layer(circuits, symbol_names=None, symbol_values=None)``. Output: complex64 (batch, 2^n) state
    vectors (qubits sorted, the first most significant), or (batch, 2^n, 2^n) density matrices with
    ``backend=cirq.DensityMatrixSimulator()``, with ``noise=`` and for circuits holding channels. Dense,
    not ragged: rows of circuits on fewer qubits are padded with -2. Gradients flow to the symbol values.
    """

    kind = "state"
    state_layer = True

    def _width(self):
        return max(2 ** len(c.all_qubits()) for c in self._circuits)

    def _run(self, key, values):
        circuit = self._circuits[key[0]]
        if not circuit.all_qubits():  # the empty circuit: the 0-qubit state [1]
            state = K.ones([K.shape(values)[0], 1], dtype="complex64")
        else:
            sim = self._simulation_for(key, "state")
            if sim.mixed:  # density matrices of a noisy circuit
                return self._pad_matrix(sim.state(values), self._width())
            state = K.reshape(sim.state(values), [-1, 2 ** len(circuit.all_qubits())])
        if self._density_output():
            return self._pad_matrix(K.einsum("ri,rj->rij", state, K.conj(state)), self._width())
        return self._pad(state, self._width())

    def _density_output(self) -> bool:
        """Whether the layer returns density matrices: a density-matrix backend, noise, or channels in a circuit."""
        return (self.backend_kind == "density_matrix" or self.noise is not None
                or any(has_channels(c) for c in self._circuits))

    @staticmethod
    def _pad_matrix(x, width):
        """[rows, d, d] density matrices padded with -2 to [rows, width, width]."""
        missing = width - int(x.shape[-1])
        if missing == 0:
            return x
        rows = K.shape(x)[0]
        x = K.concatenate([x, K.cast(K.full([rows, int(x.shape[1]), missing], PAD), x.dtype)], axis=2)
        return K.concatenate([x, K.cast(K.full([rows, missing, width], PAD), x.dtype)], axis=1)

    @staticmethod
    def _pad(x, width):
        missing = width - int(x.shape[-1])
        if missing == 0:
            return x
        pad = K.cast(K.full([K.shape(x)[0], missing], PAD), x.dtype)
        return K.concatenate([x, pad], axis=-1)

    def compute_output_shape(self, inputs_shape, symbol_values_shape=None, operators_shape=None,
                             repetitions_shape=None):
        width = None if self._dynamic else self._width()
        if self._density_output():
            return (inputs_shape[0], width, width)
        return (inputs_shape[0], width)

    def compute_output_spec(self, inputs, symbol_values=None, operators=None, repetitions=None):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="complex64")


@register
class Sample(_Executor):
    """Measured bitstrings: TFQ's ``Sample`` on Keras 3.

    Call: ``layer(circuits, symbol_names=None, symbol_values=None, repetitions=N)``. Output: int8
    (batch, repetitions, n), the qubits sorted; rows of circuits on fewer qubits are padded with -2 at the
    end (TFQ's ragged output densified by ``.to_tensor(default_value=-2)``). Shots are independent across
    rows and calls.
    """

    kind = "sample"
    sampled = True

    def _width(self):
        return max(len(c.all_qubits()) for c in self._circuits)

    def _run(self, key, values):
        circuit = self._circuits[key[0]]
        reps = int(key[2])
        rows = K.shape(values)[0]
        n = len(circuit.all_qubits())
        if n == 0:
            bits = K.zeros([rows, reps, 0], dtype="int8")
        else:
            bits = self._simulation_for(key, "state").samples(values, reps)
        missing = self._width() - n
        if missing:
            bits = K.concatenate([bits, K.cast(K.full([rows, reps, missing], PAD), "int8")], axis=-1)
        return bits

    def compute_output_shape(self, inputs_shape, symbol_values_shape=None, operators_shape=None,
                             repetitions_shape=None):
        reps = self._repetitions
        return (inputs_shape[0], None if reps is None or np.ndim(reps) else int(reps),
                None if self._dynamic else self._width())

    def compute_output_spec(self, inputs, symbol_values=None, operators=None, repetitions=None):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int8")


__all__ = ["Expectation", "Sample", "SampledExpectation", "State"]
