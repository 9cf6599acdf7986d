"""TFQ's circuit-construction layer on Keras 3: `AddCircuit`.

It joins circuits held as ``tf.string`` tensors (TFQ's serialised circuits), so it runs where such
tensors exist: Keras' TensorFlow backend with TFQ installed (TFQ's append op does the work). On JAX
and PyTorch there are no string tensors; there the circuits are joined in Python before they
become data (``encode_circuits([c + extra for c in circuits])``, or the circuit goes into the
``input_template`` of `PQC` / `ControlledPQC`), and `AddCircuit` says so when it is made.
"""
from __future__ import annotations

import cirq
import keras
import numpy as np

from hybridkeras.circuits.serialization import from_json, to_json
from hybridkeras.engines.simulators import SimulatorUnavailableError, check_tfq_available
from hybridkeras.layers.general.base import is_string_tensor, is_tensor, register


def _is_circuits(value) -> bool:
    """A circuit, or a (nested) list of them; TFQ's op then checks the rank."""
    if isinstance(value, (cirq.Circuit, cirq.FrozenCircuit)):
        return True
    return isinstance(value, (list, tuple, np.ndarray)) and len(value) > 0 and all(_is_circuits(v) for v in value)


@register
class AddCircuit(keras.layers.Layer):
    """Appends or prepends circuits to every input circuit: TFQ's ``AddCircuit`` on Keras 3.

    Call: ``layer(inputs, append=None, prepend=None)``: ``inputs`` a `cirq.Circuit`, a list of them or
    a [batch] ``tf.string`` tensor (``tfq.convert_to_tensor``, e.g. a ``keras.Input(shape=(),
    dtype="string")``); exactly one of ``append`` / ``prepend``: a `cirq.Circuit` (joined to every
    row), a list of them (one per row) or a [batch] string tensor. Python circuits given here are
    bound to the layer and saved in its config as Cirq JSON, so a model holding
    ``AddCircuit()(circuit_input, prepend=cluster_state)`` saves as `.keras` and reloads whole.

    Output: a [batch] ``tf.string`` tensor of the joined circuits, for any general circuit layer on
    either simulator. Errors as TFQ's: TypeError for what is not a circuit, ValueError for neither or
    both of ``append``/``prepend``, ``tf.errors.InvalidArgumentError`` (from TFQ's op) for batches of
    different sizes or tensors not of rank 1.
    """

    def __init__(self, append=None, prepend=None, **kwargs):
        super().__init__(**kwargs)
        try:
            check_tfq_available("AddCircuit")
        except SimulatorUnavailableError as exc:
            raise SimulatorUnavailableError(
                f"{exc}. AddCircuit joins tf.string circuit tensors, which only TensorFlow has; elsewhere join the "
                "circuits in Python before they become data: encode_circuits([c + extra for c in circuits]), or "
                "give PQC / ControlledPQC an input_template= that already holds the extra circuit") from None
        self.supports_jit = False  # TFQ's append op has no XLA kernel
        self._append = from_json(append, what="append")
        self._prepend = from_json(prepend, what="prepend")

    def __call__(self, inputs=None, *args, append=None, prepend=None, **kwargs):
        if args:
            raise TypeError("AddCircuit takes the circuits as its one positional argument; give append= or prepend= "
                            "by name")
        if append is None and prepend is None:  # a reloaded model: the circuit bound when the layer was first called
            append, prepend = self._append, self._prepend
        if append is None and prepend is None:
            raise ValueError("AddCircuit: values must be provided for append or prepend (a cirq.Circuit, a list of "
                             "them, or a tf.string tensor)")
        if append is not None and prepend is not None:
            raise ValueError("AddCircuit: values cannot be given for both append and prepend")
        which, extra = ("append", append) if append is not None else ("prepend", prepend)
        for name, value in (("inputs", inputs), (which, extra)):
            if not (is_string_tensor(value) or _is_circuits(value)):
                raise TypeError(f"AddCircuit: {name} cannot be parsed as circuits: give a cirq.Circuit, a list of "
                                f"them or a tf.string tensor. Received: {name}={value!r}")
        tensors = {}
        if is_tensor(extra):
            tensors[which] = extra
            self._append = self._prepend = None
        else:
            self._append, self._prepend = (extra, None) if which == "append" else (None, extra)
        if not is_tensor(inputs):
            from hybridkeras.engines.tfq_adapter import circuit_tensor

            inputs = circuit_tensor(inputs)
        return super().__call__(inputs, **tensors, **kwargs)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, append=None, prepend=None):
        from hybridkeras.engines.tfq_adapter import join_circuits

        if append is None and prepend is None:
            append, prepend = self._append, self._prepend
        return join_circuits(inputs, append if append is not None else prepend, prepend=append is None)

    def compute_output_spec(self, inputs, append=None, prepend=None):
        return keras.KerasTensor(inputs.shape, dtype="string")

    def get_config(self):
        config = super().get_config()
        config.update(append=to_json(self._append), prepend=to_json(self._prepend))
        return config


__all__ = ["AddCircuit"]
