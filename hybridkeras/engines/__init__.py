"""Simulation engines other than TensorFlow Quantum: a batched state-vector compiler in plain TensorFlow ops."""
from hybridkeras.engines.statevector import MAX_ENGINE_QUBITS, StateVectorCircuit, UnsupportedGateError, join_shared

__all__ = ["MAX_ENGINE_QUBITS", "StateVectorCircuit", "UnsupportedGateError", "join_shared"]
