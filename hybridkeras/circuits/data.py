"""Circuits as data: a list of input circuits turned into numbers once — one template circuit with
symbols plus one row of values per circuit — so that backends without string tensors (JAX,
PyTorch) can feed them to a layer, and every backend gets the same numbers as from the circuits.

Each operation is placed by (moment, qubits, gate family). A `cirq.EigenGate` (X, Y, Z, H, CZ,
CNOT, XX, … and `cirq.rx/ry/rz`) whose exponent differs between circuits, or that some circuits
lack, becomes ``family(exponent=symbol)`` in the template: a circuit without it takes exponent 0,
which is the identity. Any other operation must appear, equal, in every circuit. A circuit that
does not fit raises `CircuitDataError` naming it and the operation.

Example (TFQ's MNIST tutorial encodes each image as X gates on the pixels that are on)::

    data = encode_circuits(x_circuits)               # data.template: X**in_k on each pixel qubit
    layer = hk.layers.PQC(model_circuit, readout, input_template=data.template)
    model.fit(data.values, y)                        # values [examples, len(data.symbols)]
"""
from __future__ import annotations

from dataclasses import dataclass

import cirq
import numpy as np
import sympy


class CircuitDataError(ValueError):
    """A circuit that cannot be written as the shared template plus values."""


@dataclass(frozen=True)
class CircuitData:
    """``template`` (a symbol-parameterised `cirq.Circuit`), ``symbols`` (its symbol names in column order) and
    ``values`` (float32 [circuits, len(symbols)]): circuit i is ``template`` resolved with row i."""

    template: cirq.Circuit
    symbols: tuple
    values: np.ndarray

    def resolve(self, index: int) -> cirq.Circuit:
        """Circuit ``index`` rebuilt from the template (to check the encoding against the original)."""
        return cirq.resolve_parameters(self.template, dict(zip(self.symbols, self.values[index].astype(float))))


def _family(op):
    """(key of the gate family, exponent) for an EigenGate operation, else (the operation itself, None)."""
    gate = op.gate
    if isinstance(gate, cirq.EigenGate) and not cirq.is_parameterized(gate):
        # the public `…PowGate` class the gate is an instance of (cirq.X is a _PauliX, cirq.rx(θ) an Rx: XPowGates)
        base = next((cls for cls in type(gate).__mro__ if cls.__name__.endswith("PowGate")), None)
        if base is not None:
            return (base, float(gate.global_shift)), float(gate.exponent)
    return op, None


def encode_circuits(circuits, *, prefix: str = "in") -> CircuitData:
    """``circuits`` (a list of symbol-free `cirq.Circuit`) as one template plus a row of values each (see the module
    docstring); the template's symbols are named ``{prefix}0``, ``{prefix}1``, … in placement order."""
    if isinstance(circuits, (cirq.Circuit, cirq.FrozenCircuit)):
        circuits = [circuits]
    if not isinstance(circuits, (list, tuple)) or not circuits:
        raise TypeError(f"`circuits` must be a non-empty list of cirq.Circuit. Received: circuits={circuits!r}")
    slots, order = {}, []  # (moment, qubits, family) -> {circuit index: exponent or None}
    for i, circuit in enumerate(circuits):
        if not isinstance(circuit, (cirq.Circuit, cirq.FrozenCircuit)):
            raise TypeError(f"`circuits[{i}]` must be a cirq.Circuit. Received: {type(circuit).__name__}")
        if cirq.is_parameterized(circuit):
            raise CircuitDataError(f"`circuits[{i}]` holds symbols {sorted(cirq.parameter_names(circuit))}; input "
                                   "circuits must be symbol-free (their numbers become the values)")
        for m, moment in enumerate(circuit):
            for op in moment.operations:
                family, exponent = _family(op)
                key = (m, tuple(op.qubits), family)
                if key not in slots:
                    slots[key] = {}
                    order.append(key)
                slots[key][i] = exponent
    everyone = set(range(len(circuits)))
    template_moments, symbols, columns = {}, [], []
    for key in order:
        m, qubits, family = key
        present = slots[key]
        if isinstance(family, cirq.Operation):
            lacking = sorted(everyone - set(present))
            if lacking:
                raise CircuitDataError(f"`circuits[{lacking[0]}]` lacks {family} (moment {m}), which circuit "
                                       f"{min(present)} has; only cirq.EigenGate operations (exponent 0 = identity) may "
                                       "be missing from some circuits")
            op = family
        else:
            exponents = np.array([present.get(i, 0.0) for i in range(len(circuits))], np.float64)
            gate_type, shift = family
            if len(present) == len(circuits) and np.all(exponents == exponents[0]):
                op = gate_type(exponent=exponents[0], global_shift=shift).on(*qubits) if shift else \
                    gate_type(exponent=exponents[0]).on(*qubits)
            else:
                symbol = sympy.Symbol(f"{prefix}{len(symbols)}")
                op = (gate_type(exponent=symbol, global_shift=shift) if shift else gate_type(exponent=symbol)).on(*qubits)
                symbols.append(str(symbol))
                columns.append(exponents)
        busy = template_moments.setdefault(m, [])
        clash = [other for other in busy if set(other.qubits) & set(op.qubits)]
        if clash:
            raise CircuitDataError(f"The circuits place {op} and {clash[0]} on the same qubits in moment {m}; give the "
                                   "circuits one structure (the same gate family on each qubit of each moment)")
        busy.append(op)
    moments = [cirq.Moment(template_moments.get(m, [])) for m in range(max(template_moments, default=-1) + 1)]
    values = np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((len(circuits), 0), np.float32)
    return CircuitData(cirq.Circuit(moments), tuple(symbols), values)


__all__ = ["CircuitData", "CircuitDataError", "encode_circuits"]
