"""Pure Cirq circuit builders (no TensorFlow): encoders, ansatze and readouts."""
from hybridkeras.circuits.ansatze import cnot_chain, feature_map_circuit, hadamard_layer
from hybridkeras.circuits.encoders import arccos_angles, arccos_ry_encoding, make_symbols
from hybridkeras.circuits.readouts import (
    READOUTS,
    basis_state_projectors,
    pauli_readout,
    readout_operators,
    walsh_matrix,
    z_strings,
)

__all__ = [
    "READOUTS",
    "arccos_angles",
    "arccos_ry_encoding",
    "basis_state_projectors",
    "cnot_chain",
    "feature_map_circuit",
    "hadamard_layer",
    "make_symbols",
    "pauli_readout",
    "readout_operators",
    "walsh_matrix",
    "z_strings",
]
