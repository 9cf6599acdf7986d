"""Former home of the layers' TFQ plumbing; the one route into the simulators is now `layers.simulation`.

Kept as names only (``BatchedCircuit`` is `Simulation`), so code written against them still runs.
"""
from hybridkeras.layers.simulation import MAX_PROBS_QUBITS, VIAS, Readout, Simulation, make_differentiator

BatchedCircuit = Simulation

__all__ = ["BatchedCircuit", "MAX_PROBS_QUBITS", "Readout", "Simulation", "VIAS", "make_differentiator"]
