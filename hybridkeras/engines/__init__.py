"""Simulation engines other than TensorFlow Quantum: a batched state-vector compiler in plain TensorFlow ops."""
from hybridkeras.engines.statevector import MAX_ENGINE_QUBITS, StateVectorCircuit, UnsupportedGateError

__all__ = ["MAX_ENGINE_QUBITS", "StateVectorCircuit", "UnsupportedGateError"]
