"""Data encoders: circuits whose rotation angles are sympy symbols fed with data values.

TFQ resolves only affine functions of symbols, so non-linear angle maps (such as
``2·arccos(x)``) are applied to the data before it becomes a symbol value; the helpers here
give the reference NumPy version of each map.
"""
from __future__ import annotations

from typing import Sequence

import cirq
import numpy as np
import sympy


def make_symbols(prefix: str, count: int) -> list[sympy.Symbol]:
    """Symbols ``prefix000, prefix001, ...`` whose string order equals their index order."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"`count` must be a positive int. Received: count={count!r}")
    width = max(3, len(str(count - 1)))
    return [sympy.Symbol(f"{prefix}{i:0{width}d}") for i in range(count)]


def arccos_angles(x: np.ndarray) -> np.ndarray:
    """The RY angle ``θ = 2·arccos(x)`` for features ``x`` in [0, 1] (clipped).

    RY(2·arccos x)|0⟩ = x|0⟩ + sqrt(1 − x²)|1⟩, so the feature becomes an amplitude.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return 2.0 * np.arccos(x)


def arccos_ry_encoding(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    """One RY rotation per qubit; feed ``arccos_angles(x)`` as the symbol values."""
    return angle_encoding(qubits, symbols, "Y")


_ROTATIONS = {"X": cirq.rx, "Y": cirq.ry, "Z": cirq.rz}


def rotation(axis: str):
    """The Cirq rotation gate factory for axis 'X', 'Y' or 'Z'."""
    if axis not in _ROTATIONS:
        raise ValueError(f"`axis` must be one of {tuple(_ROTATIONS)}. Received: axis={axis!r}")
    return _ROTATIONS[axis]


def angle_encoding(
    qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Basic], axis: str = "X"
) -> cirq.Circuit:
    """One rotation R_axis(s_i) per qubit (PennyLane's ``AngleEmbedding``); symbols may be expressions."""
    if len(qubits) != len(symbols):
        raise ValueError(
            f"`symbols` must have one symbol per qubit ({len(qubits)}). Received: {len(symbols)} symbols"
        )
    gate = rotation(axis)
    return cirq.Circuit(cirq.Moment(gate(s).on(q) for q, s in zip(qubits, symbols)))


def phase_encoding(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Basic], *, scale: float = 2.0) -> cirq.Circuit:
    """H on every qubit, then the phase U1(δ_i) = diag(1, e^{iδ_i}) with δ_i = scale·x_i.

    U1(δ) is ``cirq.ZPowGate(exponent=δ/π)`` exactly (no global phase), so the symbol enters
    through the affine exponent ``x·scale/π`` that TFQ resolves in the graph.
    """
    if len(qubits) != len(symbols):
        raise ValueError(
            f"`symbols` must have one symbol per qubit ({len(qubits)}). Received: {len(symbols)} symbols"
        )
    factor = float(scale) / np.pi
    return cirq.Circuit(
        cirq.Moment(cirq.H.on_each(*qubits)),
        cirq.Moment(cirq.ZPowGate(exponent=s * factor).on(q) for q, s in zip(qubits, symbols)),
    )


def amplitude_angles(x: np.ndarray) -> np.ndarray:
    """RY angles of :func:`amplitude_encoding` that prepare the L2-normalised real vector ``x`` (2^n values).

    Level l (qubit l, l = 0 … n−1) has 2^l angles, one per value b of qubits 0 … l−1; they are
    returned level by level, 2^n − 1 in all. Below the last level θ = 2·atan2(‖right half‖,
    ‖left half‖) of the block b addresses; on the last level θ = 2·atan2(x_{2b+1}, x_{2b}),
    which also sets the signs. A zero block gets θ = 0. Reference NumPy version; the layers
    compute the same in TensorFlow so gradients reach the features.
    """
    x = np.asarray(x, dtype=np.float64)
    size = x.shape[-1]
    n = int(round(np.log2(size)))
    if size < 2 or 2**n != size:
        raise ValueError(f"`x` must have 2^n ≥ 2 values in its last axis. Received shape {x.shape}")
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    angles = []
    for level in range(n):
        blocks = x.reshape(*x.shape[:-1], 2**level, 2, size // 2 ** (level + 1))
        if level == n - 1:
            angles.append(2.0 * np.arctan2(blocks[..., 1, 0], blocks[..., 0, 0]))
        else:
            norms = np.linalg.norm(blocks, axis=-1)
            angles.append(2.0 * np.arctan2(norms[..., 1], norms[..., 0]))
    return np.concatenate(angles, axis=-1)


def amplitude_encoding(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Basic]) -> cirq.Circuit:
    """State preparation of a real 2^n-vector from RY and uniformly controlled RY rotations.

    TFQ cannot run Cirq's state-preparation gates, so the state is built as a binary tree
    (Möttönen et al. 2004, real case): qubit l gets RY(θ_{l,b}) controlled on qubits 0 … l−1
    being in basis state b, for every b. Feed :func:`amplitude_angles` of the features as
    the 2^n − 1 symbol values (in this order). Qubit 0 is the most significant bit, as in
    ``cirq.Simulator`` state vectors.
    """
    n = len(qubits)
    if len(symbols) != 2**n - 1:
        raise ValueError(f"`symbols` must have 2^n − 1 = {2**n - 1} entries for {n} qubits. Received: {len(symbols)}")
    circuit = cirq.Circuit()
    index = 0
    for level in range(n):
        for b in range(2**level):
            gate = cirq.ry(symbols[index]).on(qubits[level])
            if level:
                bits = [(b >> (level - 1 - i)) & 1 for i in range(level)]
                gate = gate.controlled_by(*qubits[:level], control_values=bits)
            circuit.append(gate)
            index += 1
    return circuit


def hadamard_angle_encoding(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Basic], *, scale: float = np.pi) -> cirq.Circuit:
    """H on every qubit, then RY(scale·x_i) (the distillation authors' notebooks: RY(π·tanh x) on tanh features)."""
    if len(qubits) != len(symbols):
        raise ValueError(
            f"`symbols` must have one symbol per qubit ({len(qubits)}). Received: {len(symbols)} symbols"
        )
    return cirq.Circuit(
        cirq.Moment(cirq.H.on_each(*qubits)),
        cirq.Moment(cirq.ry(s * float(scale)).on(q) for q, s in zip(qubits, symbols)),
    )
