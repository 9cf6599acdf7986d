"""Pure Cirq circuit builders (no TensorFlow): encoders, ansatze and readouts."""
from hybridkeras.circuits.ansatze import (
    cnot_chain,
    entangling_range,
    feature_map_circuit,
    hadamard_layer,
    lcqhnn_circuit,
    parallel_pqc_circuit,
    quanv_kernel_circuit,
    reversed_cnot_chain,
    strongly_entangling_layers,
)
from hybridkeras.circuits.encoders import angle_encoding, arccos_angles, arccos_ry_encoding, make_symbols, phase_encoding, rotation
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
    "angle_encoding",
    "entangling_range",
    "parallel_pqc_circuit",
    "quanv_kernel_circuit",
    "rotation",
    "strongly_entangling_layers",
    "arccos_angles",
    "arccos_ry_encoding",
    "basis_state_projectors",
    "cnot_chain",
    "feature_map_circuit",
    "hadamard_layer",
    "lcqhnn_circuit",
    "phase_encoding",
    "reversed_cnot_chain",
    "make_symbols",
    "pauli_readout",
    "readout_operators",
    "walsh_matrix",
    "z_strings",
]
