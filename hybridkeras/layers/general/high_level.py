"""TFQ's high-level layers as Keras 3 layers: `PQC` (a model circuit whose symbols are weights) and
`ControlledPQC` (whose symbol values are an input).

TFQ feeds these layers input circuits as ``tf.string`` tensors. Keras 3 has no string tensors on
JAX or PyTorch, so here an input circuit is data: ``input_template=`` (a circuit whose symbols
are filled per example; `hybridkeras.circuits.encode_circuits` turns a list of circuits into a
template plus values) runs before the model circuit, and the layer's input holds each example's
template values. Without a template, every example's input circuit is the empty circuit and the
input is (batch, 0).
"""
from __future__ import annotations

import cirq
import keras
import sympy
from keras import ops as K

from hybridkeras.circuits.serialization import to_json
from hybridkeras.layers.general.arguments import (check_model_circuit, check_operator_qubits, check_operators,
                                                  check_pqc_backend, check_pqc_repetitions)
from hybridkeras.layers.general.base import CircuitLayer, get_initializer, is_string_tensor, register
from hybridkeras.layers.general.executors import DEFAULT_INITIALIZER


def sorted_symbols(circuit) -> list:
    """The circuit's symbol names, sorted (TFQ's order)."""
    return sorted(cirq.parameter_names(circuit))


class _ModelCircuitLayer(CircuitLayer):
    sampled = True  # a cirq.Sampler backend is a valid value (with repetitions; checked by check_pqc_backend)
    def __init__(self, model_circuit, operators, *, repetitions=None, backend=None, differentiator=None,
                 input_template=None, simulator=None, seed=None, check_inputs=True, **kwargs):
        layer = type(self).__name__
        repetitions = check_pqc_repetitions(repetitions)
        check_pqc_backend(backend, layer, repetitions)
        super().__init__(backend, differentiator, simulator=simulator, seed=seed, check_inputs=check_inputs, **kwargs)
        self.model_circuit = check_model_circuit(model_circuit)
        self.operators = check_operators(operators)
        self.input_template = None if input_template is None else check_model_circuit(input_template, "input_template")
        check_operator_qubits(self.operators, self.model_circuit)
        self._symbols = sorted_symbols(self.model_circuit)
        if not self._symbols:
            raise ValueError(f"{layer}: model_circuit has no sympy.Symbols; give a circuit with symbols so that their "
                             "values can be set (or use Expectation for a fixed circuit)")
        self._inputs = [] if self.input_template is None else sorted_symbols(self.input_template)
        shared = sorted(set(self._inputs) & set(self._symbols))
        if shared:
            raise ValueError(f"{layer}: `input_template` and `model_circuit` share the symbols {shared}; rename the "
                             "template's (encode_circuits(prefix=...))")
        self.repetitions = repetitions
        circuit = (self.input_template or cirq.Circuit()) + self.model_circuit
        self._run = self._simulation(circuit, self._inputs + self._symbols, self.operators, repetitions=repetitions,
                                     qubits=sorted(circuit.all_qubits()), **self._shared())

    def _shared(self) -> dict:
        return {}

    def __call__(self, inputs, *args, **kwargs):
        first = inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs
        if is_string_tensor(first):  # TFQ's call form: input circuits as a tf.string tensor (TF backend, TFQ)
            if self.input_template is not None:
                raise ValueError(f"{type(self).__name__}: give input circuits either as a tf.string tensor or as values "
                                 "of `input_template`, not both")
            self.takes_circuit_tensors("input circuits")
        return super().__call__(inputs, *args, **kwargs)

    def _run_circuit_tensor(self, programs, values):
        """Each input circuit followed by the model circuit, with ``values`` [rows, len(symbols)]."""
        from hybridkeras.engines.tfq_adapter import join_circuits

        run = self.circuit_tensor_run(expectation=True, sampled=self.repetitions is not None)
        rows = K.shape(programs)[0]
        return run.expectation(join_circuits(programs, self.model_circuit), self._symbols, values,
                               run.operators([self.operators], rows), self.repetitions)

    @property
    def symbols(self) -> list:
        """The model circuit's symbols (sympy.Symbol), sorted by name: the order of weights and values."""
        return [sympy.Symbol(name) for name in self._symbols]

    def _template_values(self, inputs):
        layer = type(self).__name__
        if len(inputs.shape) != 2 or inputs.shape[-1] not in (None, len(self._inputs)):
            raise ValueError(f"{layer} expects input circuits as (batch, {len(self._inputs)}) values of "
                             f"`input_template`'s symbols {self._inputs}. Received shape {tuple(inputs.shape)}")
        return self.finite(inputs, "inputs")

    def get_config(self):
        config = super().get_config()
        config.update(model_circuit=to_json(self.model_circuit), operators=to_json(self.operators),
                      repetitions=self.repetitions, input_template=to_json(self.input_template))
        return config


@register
class PQC(_ModelCircuitLayer):
    """A parameterised quantum circuit with trainable weights: TFQ's ``PQC`` on Keras 3.

    Each example's input circuit (``input_template`` filled with its values) is followed by
    ``model_circuit``, whose symbols are the layer's weights; the expectations of ``operators``
    come out.

    Args:
        model_circuit: `cirq.Circuit` with sympy symbols (the trainable model).
        operators: A `cirq.PauliSum` / `cirq.PauliString` or a list of them.
        repetitions: None (exact) or shots per circuit and operator.
        backend, differentiator, simulator, seed: see `CircuitLayer`.
        initializer, regularizer, constraint: Keras objects (or names) for the weights.
        input_template: None (empty input circuits) or a `cirq.Circuit` whose symbols hold the inputs.

    Input shape: (batch, len(input_template symbols)); (batch, 0) without a template.
    Output shape: (batch, len(operators)).
    Weights: ``parameters`` (len(symbols),), in `symbols` order.

    Example:
        >>> q = cirq.GridQubit(0, 0)
        >>> layer = PQC(cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q)), cirq.Z(q))
        >>> layer(np.zeros((3, 0))).shape
        (3, 1)
    """

    def __init__(self, model_circuit, operators, *, repetitions=None, backend=None, differentiator=None,
                 initializer=None, regularizer=None, constraint=None, input_template=None, simulator=None, seed=None,
                 check_inputs=True, **kwargs):
        super().__init__(model_circuit, operators, repetitions=repetitions, backend=backend,
                         differentiator=differentiator, input_template=input_template, simulator=simulator, seed=seed,
                         check_inputs=check_inputs, **kwargs)
        self.initializer = get_initializer(initializer, DEFAULT_INITIALIZER)
        self.regularizer = keras.regularizers.get(regularizer)
        self.constraint = keras.constraints.get(constraint)
        self.parameters = self.add_weight(name="parameters", shape=(len(self._symbols),), initializer=self.initializer,
                                          regularizer=self.regularizer, constraint=self.constraint, dtype="float32",
                                          trainable=True)

    def _shared(self) -> dict:
        return {"shared": len(self._symbols)}

    def symbol_values(self) -> dict:
        """{symbol: current value} of the weights."""
        return dict(zip(self.symbols, K.convert_to_numpy(self.parameters).tolist()))

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        if is_string_tensor(inputs):
            rows = K.shape(inputs)[0]
            return self._run_circuit_tensor(inputs, K.tile(K.expand_dims(K.cast(self.parameters, "float32"), 0),
                                                           [rows, 1]))
        values = self._template_values(inputs)
        # the inputs are checked; the weights are not (they turn NaN only from NaN data, which the check stops, or
        # from a diverging optimiser, which the loss shows), so a step pays for one check, not two
        return self._run(values, shared=K.expand_dims(K.cast(self.parameters, "float32"), 0))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.operators))

    def get_config(self):
        config = super().get_config()
        config.update(initializer=keras.initializers.serialize(self.initializer),
                      regularizer=keras.regularizers.serialize(self.regularizer) if self.regularizer else None,
                      constraint=keras.constraints.serialize(self.constraint) if self.constraint else None)
        return config


@register
class ControlledPQC(_ModelCircuitLayer):
    """A model circuit whose symbol values are an input: TFQ's ``ControlledPQC`` on Keras 3.

    Args: as `PQC`, without the weights' initializer, regularizer and constraint.

    Input: ``[circuit_values, symbol_values]`` — (batch, len(input_template symbols)) and (batch,
    len(symbols)) — or, without ``input_template``, ``symbol_values`` alone.
    Output shape: (batch, len(operators)).

    Example:
        >>> layer = ControlledPQC(cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q)), cirq.Z(q))
        >>> layer(np.array([[0.5]])).shape
        (1, 1)
    """

    def build(self, input_shape):
        self.built = True

    def _split(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(f"ControlledPQC expects inputs [circuit_values, symbol_values]. Received {len(inputs)} "
                                 "inputs")
            return inputs[0], inputs[1]
        if self._inputs:
            raise ValueError("ControlledPQC with an `input_template` expects inputs [circuit_values, symbol_values]")
        return None, inputs

    def call(self, inputs):
        circuit_values, values = self._split(inputs)
        values = self.finite(values)
        if len(values.shape) != 2 or values.shape[-1] not in (None, len(self._symbols)):
            raise ValueError(f"ControlledPQC expects symbol values of shape (batch, {len(self._symbols)}): one per "
                             f"symbol {self._symbols}. Received shape {tuple(values.shape)}")
        if circuit_values is not None and is_string_tensor(circuit_values):
            return self._run_circuit_tensor(circuit_values, values)
        if circuit_values is not None:
            values = K.concatenate([K.cast(self._template_values(circuit_values), "float32"), values], axis=1)
        return self._run(values)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[-1]
        return (input_shape[0], len(self.operators))


__all__ = ["ControlledPQC", "PQC"]
