"""Fixed and trainable circuit blocks that follow an encoder."""
from __future__ import annotations

from typing import Sequence

import cirq
import sympy

from hybridkeras.circuits.encoders import angle_encoding, arccos_ry_encoding, phase_encoding


def hadamard_layer(qubits: Sequence[cirq.Qid]) -> cirq.Circuit:
    """H on every qubit."""
    return cirq.Circuit(cirq.Moment(cirq.H.on_each(*qubits)))


def cnot_chain(qubits: Sequence[cirq.Qid]) -> cirq.Circuit:
    """CNOT(0,1), CNOT(1,2), ..., CNOT(n−2, n−1)."""
    return cirq.Circuit(cirq.CNOT(a, b) for a, b in zip(qubits[:-1], qubits[1:]))


def reversed_cnot_chain(qubits: Sequence[cirq.Qid]) -> cirq.Circuit:
    """The CNOT chain in reverse order: CNOT(n−2, n−1), …, CNOT(1, 2), CNOT(0, 1)."""
    return cirq.Circuit(cirq.CNOT(a, b) for a, b in reversed(list(zip(qubits[:-1], qubits[1:]))))


def feature_map_circuit(
    qubits: Sequence[cirq.Qid],
    symbols: Sequence[sympy.Symbol],
    *,
    measure: bool = False,
) -> cirq.Circuit:
    """The first paper's quantum feature map.

    RY(θ_i) encoding (θ_i = 2·arccos x_i), Hadamard on every qubit, then a CNOT chain.
    With ``measure=True`` a computational-basis measurement (key ``"m"``) is appended, for
    drawing or sampling with Cirq; TFQ layers read the circuit out with operators instead.
    """
    circuit = arccos_ry_encoding(qubits, symbols) + hadamard_layer(qubits) + cnot_chain(qubits)
    if measure:
        circuit.append(cirq.measure(*qubits, key="m"))
    return circuit


def entangling_range(layer: int, n_qubits: int) -> int:
    """CNOT range r = l mod (n − 1) + 1 of strongly entangling layer l (1 for n ≤ 1)."""
    return layer % (n_qubits - 1) + 1 if n_qubits > 1 else 1


def strongly_entangling_layers(qubits: Sequence[cirq.Qid], weights) -> cirq.Circuit:
    """Strongly entangling layers (Schuld et al. 2020; PennyLane's ``StronglyEntanglingLayers``).

    Layer l: on each qubit j the rotation Rot(φ, θ, ω) = RZ(ω)·RY(θ)·RZ(φ) with
    (φ, θ, ω) = weights[l][j], then CNOT(j, (j + r) mod n) for j = 0..n−1 with
    r = l mod (n − 1) + 1. With one qubit there are no CNOTs.

    Args:
        qubits: The n qubits.
        weights: Nested sequence of shape (depth, n, 3) of numbers or sympy symbols.
    """
    n = len(qubits)
    circuit = cirq.Circuit()
    for layer, layer_weights in enumerate(weights):
        if len(layer_weights) != n:
            raise ValueError(f"`weights` layer {layer} must have {n} rows (one per qubit). Received: {len(layer_weights)}")
        for q, (phi, theta, omega) in zip(qubits, layer_weights):
            circuit.append([cirq.rz(phi).on(q), cirq.ry(theta).on(q), cirq.rz(omega).on(q)])
        if n > 1:
            r = entangling_range(layer, n)
            circuit.append(cirq.CNOT(qubits[j], qubits[(j + r) % n]) for j in range(n))
    return circuit


def parallel_pqc_circuit(
    qubits: Sequence[cirq.Qid], inputs: Sequence[sympy.Symbol], weights, *, embedding: str = "X"
) -> cirq.Circuit:
    """One circuit of HQNN-Parallel: angle embedding of the inputs, then strongly entangling layers."""
    return angle_encoding(qubits, inputs, embedding) + strongly_entangling_layers(qubits, weights)


def quanv_kernel_circuit(
    qubits: Sequence[cirq.Qid], pixels: Sequence[sympy.Symbol], weights: Sequence, *, rotation_axis: str = "X"
) -> cirq.Circuit:
    """HQNN-Quanv's quantum kernel on k² qubits, one per pixel of a k×k patch.

    RY(π·pixel_i) encodes each pixel (feed π·pixel as the symbol value), a trainable rotation
    R_axis(w_i) acts on every qubit, then a CNOT chain CNOT(0,1), …, CNOT(k²−2, k²−1)
    (3 CNOTs for k = 2). Read out with ⟨Z_i⟩ on each qubit (k² output channels).
    """
    if len(weights) != len(qubits):
        raise ValueError(f"`weights` must have one entry per qubit ({len(qubits)}). Received: {len(weights)}")
    return angle_encoding(qubits, pixels, "Y") + angle_encoding(qubits, weights, rotation_axis) + cnot_chain(qubits)


def lcqhnn_circuit(
    qubits: Sequence[cirq.Qid], inputs: Sequence[sympy.Basic], weights: Sequence, *, measure: bool = False
) -> cirq.Circuit:
    """The LCQHNN variational block (paper 3) on n qubits (the paper uses 4).

    H on every qubit; U1(2·x_i) on qubit i; CNOT(0,1), …, CNOT(n−2, n−1); trainable RY(θ_i) on
    every qubit; the CNOTs in reverse order; H on qubit 0. With ``measure=True`` a
    computational-basis measurement (key ``"m"``) is appended for drawing or sampling with Cirq.

    Args:
        qubits: The n qubits.
        inputs: One symbol (or expression) per qubit: the features x_i.
        weights: One symbol or number per qubit: the RY angles θ_i.
    """
    if len(weights) != len(qubits):
        raise ValueError(f"`weights` must have one entry per qubit ({len(qubits)}). Received: {len(weights)}")
    circuit = phase_encoding(qubits, inputs, scale=2.0) + cnot_chain(qubits)
    circuit += angle_encoding(qubits, weights, "Y")
    circuit += reversed_cnot_chain(qubits)
    circuit.append(cirq.H(qubits[0]))
    if measure:
        circuit.append(cirq.measure(*qubits, key="m"))
    return circuit


def ry_rz_layers(qubits: Sequence[cirq.Qid], weights) -> cirq.Circuit:
    """The quantum students' trainable layers: per layer RY(w) and RZ(w') on every qubit, then a CNOT ring.

    Args:
        qubits: The n qubits.
        weights: Nested sequence (depth, n, 2) of numbers or symbols: (RY angle, RZ angle).
    """
    n = len(qubits)
    circuit = cirq.Circuit()
    for layer, layer_weights in enumerate(weights):
        if len(layer_weights) != n:
            raise ValueError(f"`weights` layer {layer} must have {n} rows (one per qubit). Received: {len(layer_weights)}")
        circuit.append(cirq.ry(w[0]).on(q) for q, w in zip(qubits, layer_weights))
        circuit.append(cirq.rz(w[1]).on(q) for q, w in zip(qubits, layer_weights))
        circuit += cnot_chain(qubits)
        if n > 2:
            circuit.append(cirq.CNOT(qubits[-1], qubits[0]))
    return circuit
