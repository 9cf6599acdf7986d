"""Any Cirq circuit as a Keras 3 layer, on TensorFlow, JAX and PyTorch: TFQ 0.7.6's `PQC`,
`ControlledPQC`, `Expectation`, `SampledExpectation`, `Sample`, `State` and `AddCircuit` (TensorFlow
only: it joins string tensors), with TFQ's arguments,
defaults, call forms and error types, plus ``simulator=`` ('engine' or 'tfq'). `CircuitLayer`
holds what they share; `arguments` checks their values in pure Cirq. Split as TFQ splits its
layers: `executors` (circuits in, values out), `high_level` (a model circuit with weights or
an input of symbol values) and `elementary` (circuit construction).
"""
from hybridkeras.layers.general.base import CircuitLayer
from hybridkeras.layers.general.elementary import AddCircuit
from hybridkeras.layers.general.executors import Expectation, Sample, SampledExpectation, State
from hybridkeras.layers.general.high_level import ControlledPQC, PQC

GENERAL_LAYERS = (PQC, ControlledPQC, Expectation, SampledExpectation, Sample, State, AddCircuit)

__all__ = ["AddCircuit", "CircuitLayer", "ControlledPQC", "Expectation", "GENERAL_LAYERS", "PQC", "Sample", "SampledExpectation",
           "State"]
