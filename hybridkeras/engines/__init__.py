"""Simulation engines other than TensorFlow Quantum: a batched state-vector compiler written against
`keras.ops`, so it runs on each of Keras 3's backends (TensorFlow, JAX, PyTorch) with the same numbers.

`StateVectorCircuit` (in `statevector`) is the entry point; `compiler` turns Cirq operations
into `GateRecord`s, `plan` fuses them into run steps, `execute` runs the steps, `readout` and
`sampling` turn final states into expectations, probabilities and shots; `ops` holds the
selections and permutations they share (gradients without scatters) and the few operations
`keras.ops` lacks, per backend. Tensors in and out are the backend's: TensorFlow tensors (inside
`tf.function` graphs), JAX or PyTorch arrays, under `jax.jit` and `torch.autograd` alike.
"""
from hybridkeras.engines.compiler import GateRecord, UnsupportedGateError
from hybridkeras.engines.statevector import MAX_ENGINE_QUBITS, StateVectorCircuit, join_shared

__all__ = ["MAX_ENGINE_QUBITS", "GateRecord", "StateVectorCircuit", "UnsupportedGateError", "join_shared"]
