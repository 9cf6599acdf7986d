"""Simulation engines other than TensorFlow Quantum: a batched state-vector compiler in plain TensorFlow ops.

`StateVectorCircuit` (in `statevector`) is the entry point; `compiler` turns Cirq operations
into `GateRecord`s, `plan` fuses them into run steps, `execute` runs the steps, `readout` and
`sampling` turn final states into expectations, probabilities and shots; `ops` holds the
selections and permutations they share (gradients without scatters).
"""
from hybridkeras.engines.compiler import GateRecord, UnsupportedGateError
from hybridkeras.engines.statevector import MAX_ENGINE_QUBITS, StateVectorCircuit, join_shared

__all__ = ["MAX_ENGINE_QUBITS", "GateRecord", "StateVectorCircuit", "UnsupportedGateError", "join_shared"]
