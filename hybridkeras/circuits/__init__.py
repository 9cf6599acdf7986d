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
    ry_rz_layers,
    strongly_entangling_layers,
)
from hybridkeras.circuits.encoders import (
    amplitude_angles,
    amplitude_encoding,
    angle_encoding,
    arccos_angles,
    arccos_ry_encoding,
    hadamard_angle_encoding,
    make_symbols,
    phase_encoding,
    rotation,
)
from hybridkeras.circuits.readouts import (
    READOUTS,
    basis_state_projectors,
    pauli_readout,
    readout_operators,
    register_of,
    walsh_matrix,
    z_strings,
)

__all__ = [
    "READOUTS",
    "register_of",
    "amplitude_angles",
    "amplitude_encoding",
    "hadamard_angle_encoding",
    "ry_rz_layers",
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

from hybridkeras.circuits.serialization import from_json, to_json  # noqa: E402

__all__ += ["from_json", "to_json"]

from hybridkeras.circuits.data import CircuitData, CircuitDataError, encode_circuits  # noqa: E402

__all__ += ["CircuitData", "CircuitDataError", "encode_circuits"]
