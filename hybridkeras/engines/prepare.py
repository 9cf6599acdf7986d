"""Preparing the state of a symbol-free circuit once, in NumPy, through the engine's compiler.

The general circuit layers feed each example as an input circuit (TFQ's data path). On the
engine, every distinct input circuit is prepared once by `prepare_state` (gate records from
`compiler`, applied to a complex128 state in NumPy) and kept by `StateCache`; later steps
start the compiled model circuit from the cached state (``initial=``). No TensorFlow runs
here, so it can be called from inside a ``tf.numpy_function``.
"""
from __future__ import annotations

from collections import OrderedDict

import cirq
import numpy as np

from hybridkeras.engines.compiler import Compiler


def prepare_state(circuit: cirq.AbstractCircuit, qubits) -> np.ndarray:
    """The final state [2^n] (complex128, qubit 0 of ``qubits`` most significant) of the symbol-free ``circuit``
    from |0…0⟩; raises `UnsupportedGateError` for an operation the engine cannot reproduce."""
    if cirq.is_parameterized(circuit):
        names = sorted(cirq.parameter_names(circuit))
        raise ValueError(f"Input circuits must not contain symbols here (as in TFQ's PQC and ControlledPQC); "
                         f"this one has {names}. Put parameterised gates in the model circuit")
    qubits = list(qubits)
    outside = sorted(set(circuit.all_qubits()) - set(qubits))
    if outside:
        raise ValueError(f"An input circuit acts on {outside!r}, outside the layer's register {qubits!r} (the model "
                         "circuit's and the operators' qubits); add identity gates (cirq.I) on them to the model circuit")
    n = len(qubits)
    state = np.zeros(2**n, np.complex128)
    state[0] = 1.0
    state = state.reshape((2,) * n)
    compiler = Compiler(qubits, [])
    for op in circuit.all_operations():
        for record in compiler.compile(op):
            k = record.width
            matrix = record.unitary(np.zeros(0)).reshape((2,) * (2 * k))
            axes = list(record.qubits)
            state = np.tensordot(matrix, state, axes=(list(range(k, 2 * k)), axes))
            state = np.moveaxis(state, list(range(k)), axes)
    return state.reshape(-1)


class StateCache:
    """States of input circuits, keyed by their serialised bytes, each computed once.

    A state is kept sparse (its nonzero amplitudes) when at most an eighth of its amplitudes
    are nonzero — basis-state encodings keep one number — and dense otherwise. The least
    recently used states are dropped once the cache holds more than ``max_bytes``.

    Args:
        qubits: The register the states are prepared on.
        decode: Turns one serialised circuit (bytes) into a `cirq.Circuit`.
        max_bytes: Memory the cache may hold.
    """

    def __init__(self, qubits, decode, *, max_bytes: int = 2**30):
        self.qubits = list(qubits)
        self.size = 2 ** len(self.qubits)
        self._decode = decode
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        self.max_bytes = int(max_bytes)
        self.prepared = 0  # how many states were computed (a test checks that repeats cost nothing)

    def _entry(self, key: bytes):
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        state = prepare_state(self._decode(key), self.qubits).astype(np.complex64)
        self.prepared += 1
        nonzero = np.flatnonzero(state)
        entry = (nonzero, state[nonzero]) if len(nonzero) * 8 <= self.size else state
        self._entries[key] = entry
        self._bytes += sum(a.nbytes for a in entry) if isinstance(entry, tuple) else entry.nbytes
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in old) if isinstance(old, tuple) else old.nbytes
        return entry

    def states(self, keys) -> np.ndarray:
        """[rows, 2^n] complex64: the state of each serialised circuit in ``keys``."""
        keys = [bytes(k) for k in np.asarray(keys).reshape(-1)]
        out = np.zeros((len(keys), self.size), np.complex64)
        for row, key in enumerate(keys):
            entry = self._entry(key)
            if isinstance(entry, tuple):
                out[row, entry[0]] = entry[1]
            else:
                out[row] = entry
        return out
